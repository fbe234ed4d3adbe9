// Turns a benchmark run into the markdown tables the console and docs/performance.md show, and
// rewrites the "Latest results" block of that document between its markers.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Issue 08's targets: throughput at c = 16 and 64, added TTFB at c = 16, CPU against the floor. */
export const targetsToMeet = {
  throughputRatio: 0.9,
  throughputLevels: [16, 64],
  addedTtfbP50Ms: 2,
  ttfbLevels: [16],
  cpuRatio: 1.5,
};

const START = '<!-- bench:latest:start (written by `npm run bench`; edits here are overwritten) -->';
const END = '<!-- bench:latest:end -->';

const ms = (value, digits = 1) =>
  value === null || value === undefined ? '–' : `${value.toFixed(digits)} ms`;
const signedMs = (value, digits = 1) =>
  value === null || value === undefined
    ? '–'
    : `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)} ms`;
const percent = (share) => `${(100 * share).toFixed(0)}%`;
const mark = (ok) => (ok === null ? '' : ok ? ' ✅' : ' ❌');

function errorsCell(result) {
  if (result.errors === 0) return '0';
  const share = ((100 * result.errors) / Math.max(1, result.requests)).toFixed(1);
  return `${result.errors} (${share}%)`;
}

/** Relay against pass-through at one level, with each target checked. */
export function compare(results, level) {
  const at = (target) => results.find((r) => r.target === target && r.level === level);
  const relay = at('relay');
  const pass = at('pass-through');
  const floor = at('lease-floor');
  if (!relay || !pass) return null;
  const { concurrency, scenario } = relay;
  const diff = (a, b) => (a === null || b === null ? null : a - b);
  const ratio = pass.rps > 0 ? relay.rps / pass.rps : null;
  const addedP50 = diff(relay.ttfbMs.p50, pass.ttfbMs.p50);
  const addedP99 = diff(relay.ttfbMs.p99, pass.ttfbMs.p99);
  const checksThroughput = targetsToMeet.throughputLevels.includes(concurrency);
  const checksTtfb = targetsToMeet.ttfbLevels.includes(concurrency);
  const cpuRatio =
    relay.workerdCpuMsPerRequest !== null && pass.workerdCpuMsPerRequest
      ? relay.workerdCpuMsPerRequest / pass.workerdCpuMsPerRequest
      : null;
  return {
    concurrency,
    scenario,
    throughputRatio: ratio,
    addedTtfbP50Ms: addedP50,
    addedTtfbP99Ms: addedP99,
    addedTotalP50Ms: diff(relay.totalMs.p50, pass.totalMs.p50),
    relayCpuMsPerRequest: relay.workerdCpuMsPerRequest,
    passThroughCpuMsPerRequest: pass.workerdCpuMsPerRequest,
    addedCpuMsPerRequest: diff(relay.workerdCpuMsPerRequest, pass.workerdCpuMsPerRequest),
    cpuRatio,
    met: {
      throughput: checksThroughput && ratio !== null ? ratio >= targetsToMeet.throughputRatio : null,
      ttfbP50: checksTtfb && addedP50 !== null ? addedP50 <= targetsToMeet.addedTtfbP50Ms : null,
      cpu: cpuRatio === null ? null : cpuRatio <= targetsToMeet.cpuRatio,
    },
    relayErrors: relay.errors,
    work: relay.workPerRequest,
    floor: floor
      ? {
          throughputRatio: pass.rps > 0 ? floor.rps / pass.rps : null,
          addedTtfbP50Ms: diff(floor.ttfbMs.p50, pass.ttfbMs.p50),
          cpuMsPerRequest: floor.workerdCpuMsPerRequest,
          cpuRatio:
            floor.workerdCpuMsPerRequest !== null && pass.workerdCpuMsPerRequest
              ? floor.workerdCpuMsPerRequest / pass.workerdCpuMsPerRequest
              : null,
          relayOverFloorCpu:
            relay.workerdCpuMsPerRequest !== null && floor.workerdCpuMsPerRequest
              ? relay.workerdCpuMsPerRequest / floor.workerdCpuMsPerRequest
              : null,
        }
      : null,
  };
}

export function markdown(run) {
  const { config, bundle, results, comparisons, machine } = run;
  const lines = [];
  lines.push(
    `Run ${run.startedAt} on ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, workerd ${machine.workerd}` +
      `${run.commit ? `, commit ${run.commit}${run.dirty ? ' (with uncommitted changes)' : ''}` : ''}.`,
  );
  lines.push(
    `Upstream: fake Anthropic streams: ${(run.scenarios ?? [{ name: 'short', chunks: config.chunks, chunkDelayMs: config.chunkDelayMs }]).map((sc) => `*${sc.name}*${sc.budgets ? ' (hard budgets on its group, member and key)' : ''}, ${sc.chunks} text deltas ${sc.chunkDelayMs} ms apart`).join('; ')}; ` +
      `request body ${config.requestBytes} B (\`stream: true\`); ${config.durationSec} s per level after ` +
      `${config.warmupSec} s of warm-up${config.repeat > 1 ? `; each figure the median of ${config.repeat} runs, the targets taking turns` : ''}; ` +
      `D1, Durable Object and queue state in \`${config.stateDir}\`` +
      `${config.queueConsumer ? '' : '; **relay queue consumer off** (diagnostic)'}` +
      `${config.assets ? '; **relay behind the asset router** (diagnostic)' : ''}` +
      `${config.floorParts?.length ? `; **lease floor with ${config.floorParts.join(', ')}** (diagnostic)` : ''}.`,
  );
  const wranglerFigure = bundle.wrangler ? ` (wrangler reports ${bundle.wrangler.gzipKiB} KiB gzip)` : '';
  lines.push(
    `Relay bundle: ${bundle.bytes.toLocaleString('en')} B, gzip ${bundle.gzipBytes.toLocaleString('en')} B = ` +
      `${(bundle.gzipBytes / 1024).toFixed(2)} KiB${wranglerFigure}.`,
  );
  lines.push('');
  lines.push(
    '| answer | c | target | req/s | TTFB p50 | TTFB p99 | total p50 | total p99 | errors | workerd CPU/req | hottest workerd thread | peak RSS | machine busy |',
  );
  lines.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    lines.push(
      `| ${r.scenario ?? 'short'} | ${r.concurrency} | ${r.target} | ${r.rps.toFixed(1)} | ${ms(r.ttfbMs.p50)} | ${ms(r.ttfbMs.p99)} | ` +
        `${ms(r.totalMs.p50)} | ${ms(r.totalMs.p99)} | ${errorsCell(r)} | ${ms(r.workerdCpuMsPerRequest, 2)} | ` +
        `${r.hottestThreadBusy === null ? '–' : percent(r.hottestThreadBusy)} | ` +
        `${r.peakRssMiB === null ? '–' : `${r.peakRssMiB.toFixed(0)} MiB`} | ${percent(r.machineBusy)} |`,
    );
  }
  if (comparisons.length > 0) {
    const t = targetsToMeet;
    lines.push('');
    lines.push(
      `| answer | c | relay ÷ pass-through req/s (≥ ${t.throughputRatio} at c=${t.throughputLevels.join(', ')}) | ` +
        `added TTFB p50 (≤ ${t.addedTtfbP50Ms} ms at c=${t.ttfbLevels.join(', ')}) | added TTFB p99 | ` +
        `relay CPU/req | pass-through CPU/req | added CPU/req | relay ÷ pass-through CPU (≤ ${t.cpuRatio}) |`,
    );
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const c of comparisons) {
      lines.push(
        `| ${c.scenario ?? 'short'} | ${c.concurrency} | ${c.throughputRatio === null ? '–' : c.throughputRatio.toFixed(3)}${mark(c.met.throughput)} | ` +
          `${signedMs(c.addedTtfbP50Ms, 2)}${mark(c.met.ttfbP50)} | ${signedMs(c.addedTtfbP99Ms, 2)} | ` +
          `${ms(c.relayCpuMsPerRequest, 2)} | ${ms(c.passThroughCpuMsPerRequest, 2)} | ` +
          `${signedMs(c.addedCpuMsPerRequest, 2)} | ${c.cpuRatio === null ? '–' : c.cpuRatio.toFixed(2)}${mark(c.met.cpu)} |`,
      );
    }
  }
  const withFloor = comparisons.filter((c) => c.floor);
  if (withFloor.length > 0) {
    const x = (value, digits = 2) => (value === null ? '–' : value.toFixed(digits));
    lines.push('');
    lines.push(
      '*lease floor*: the pass-through plus the one thing no relay keeping these guarantees can skip, a ' +
        'blocking Durable Object call that commits a lease before it answers, released (batched) when the ' +
        'body ends. Its cost over the pass-through is what the guarantees cost here, where the Durable ' +
        "Object shares the worker's workerd thread; the relay's over it is what the rest of the relay costs.",
    );
    lines.push('');
    lines.push(
      '| answer | c | lease floor ÷ pass-through req/s | lease floor added TTFB p50 | lease floor CPU/req | ' +
        'lease floor ÷ pass-through CPU | relay ÷ lease floor CPU |',
    );
    lines.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const c of withFloor) {
      const f = c.floor;
      lines.push(
        `| ${c.scenario} | ${c.concurrency} | ${x(f.throughputRatio, 3)} | ${signedMs(f.addedTtfbP50Ms, 2)} | ` +
          `${ms(f.cpuMsPerRequest, 2)} | ${x(f.cpuRatio)} | ${x(f.relayOverFloorCpu)} |`,
      );
    }
  }
  const withWork = comparisons.filter((c) => c.work);
  if (withWork.length > 0) {
    const n = (value) => (value === undefined ? '–' : value.toFixed(2));
    lines.push('');
    lines.push(
      "Work per relayed request (the relay's own counters over the window): Durable Object calls the " +
        'worker waited on before the upstream fetch, all Durable Object calls (worker → gate and gate → gate), ' +
        'Durable Object storage write statements, Queue sends (one `sendBatch` carries many events), and D1 ' +
        'statements (the consumer writes a batch in one).',
    );
    lines.push('');
    lines.push(
      '| answer | c | blocking DO calls | DO calls | storage writes | queue sends | D1 statements |',
    );
    lines.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const c of withWork) {
      const w = c.work;
      lines.push(
        `| ${c.scenario} | ${c.concurrency} | ${n(w.blockingGateCalls)} | ${n(w.gateCalls)} | ${n(w.storageWrites)} | ` +
          `${n(w.queueSends)} | ${n(w.d1Statements)} |`,
      );
    }
  }
  const disturbed = results.filter((r) => r.otherBusy > 0.1);
  if (disturbed.length > 0) {
    lines.push('');
    lines.push(
      `Other processes kept the machine busy during ${disturbed
        .map((r) => `c=${r.concurrency} ${r.target} (${percent(r.otherBusy)})`)
        .join(', ')}: those rows are disturbed.`,
    );
  }
  const failures = results.filter((r) => r.errors > 0);
  if (failures.length > 0) {
    lines.push('');
    lines.push('Errors:');
    for (const r of failures) {
      for (const [kind, { count, sample }] of Object.entries(r.errorKinds)) {
        const text = sample ? `: ${sample.replace(/\s+/g, ' ').slice(0, 160)}` : '';
        lines.push(`- c=${r.concurrency} ${r.target}: ${count} × ${kind}${text}`);
      }
    }
  }
  if (run.usage) {
    lines.push('');
    lines.push(
      `Usage pipeline: ${run.usage.rows} request_log rows for ${run.usage.relayRequests} relay requests ` +
        `(warm-up, smoke test and measured).`,
    );
  }
  return lines.join('\n');
}

/** Replaces the block between the markers, or appends a "Latest results" section with them. */
export function writeLatestResults(path, table, jsonPath) {
  const block = `${START}\n\n${table}\n\nRaw numbers: \`${jsonPath}\` (not committed).\n\n${END}`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Performance\n';
  const start = current.indexOf(START.slice(0, 24));
  const end = current.indexOf(END);
  const next =
    start !== -1 && end > start
      ? `${current.slice(0, start)}${block}${current.slice(end + END.length)}`
      : `${current.trimEnd()}\n\n## Latest results\n\n${block}\n`;
  writeFileSync(path, next);
}
