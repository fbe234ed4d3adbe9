#!/usr/bin/env node
// `npm run bench`: the relay against a bare pass-through worker and against the upstream itself,
// in one run on one machine. Builds the deploy bundle, runs both workers in Miniflare (workerd,
// no inspector), the fake Anthropic upstream and the load generator in child processes, and
// measures throughput, latency, and the workerd processes' CPU and memory per concurrency level.
// Writes bench/results/<timestamp>.json, prints markdown, and rewrites the "Latest results" block
// of docs/performance.md. Exits non-zero only when the harness itself fails.
import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildRelayBundle } from './bundle.mjs';
import { requestBody, requestHeaders, requestPath } from './claude-code-request.mjs';
import { busiestThreadMs, cpuMs, machineBusyMs, memoryKiB, sampleRss, threadCpuMs } from './proc.mjs';
import { compare, markdown, writeLatestResults } from './report.mjs';
import { floorParts, startLeaseFloor, startPassThrough, startRelay } from './workers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const allTargets = ['relay', 'pass-through', 'lease-floor', 'direct'];

const usage = `usage: npm run bench -- [options]     (each option also reads the BENCH_* variable shown)
  --duration <s>         measured seconds per level and target      BENCH_DURATION    (10)
  --warmup <s>           warm-up seconds before each measurement     BENCH_WARMUP      (2)
  --levels <list>        concurrency levels                          BENCH_LEVELS      (1,16,64,128)
  --targets <list>       relay,pass-through,lease-floor,direct       BENCH_TARGETS     (all four)
  --chunks <n>           text deltas per upstream reply              BENCH_CHUNKS      (5)
  --chunk-delay <ms>     delay between upstream chunks               BENCH_CHUNK_DELAY (20)
  --long-chunks <n>      text deltas of the long-answer scenario     BENCH_LONG_CHUNKS (200; 0: off)
  --long-chunk-delay <ms> delay between its chunks                   BENCH_LONG_CHUNK_DELAY (5)
  --long-levels <list>   concurrency levels of the long answers      BENCH_LONG_LEVELS (16)
  --budget-levels <list> levels of the short answers under budgets   BENCH_BUDGET_LEVELS (64; 0: off)
  --repeat <n>           measure each level n times, the targets     BENCH_REPEAT      (1)
                         taking turns; report each figure's median
  --request-timeout <s>  a request slower than this is an error      BENCH_REQUEST_TIMEOUT (30)
  --state-dir <dir>      where D1/DO/queue state lives (a temp dir   BENCH_STATE_DIR   (/dev/shm)
                         is made inside it and removed)
  --no-queue-consumer    diagnostic: run the relay without its usage BENCH_QUEUE_CONSUMER=0
                         queue consumer (events pile up unconsumed)
  --assets               diagnostic: the relay behind the dashboard's BENCH_ASSETS=1
                         asset router, as \`wrangler dev\` runs it
  --floor-parts <list>   diagnostic: add relay work to the lease     BENCH_FLOOR_PARTS
                         floor (parse,tee,hold,settle,usage)
  --no-docs              do not rewrite docs/performance.md          BENCH_DOCS=0
  --out <dir>            where the JSON goes                         BENCH_OUT         (bench/results)`;

function parseFlags() {
  try {
    return parseArgs({ options: flags }).values;
  } catch (err) {
    throw new UsageError(err.message);
  }
}

const flags = {
  duration: { type: 'string' },
  warmup: { type: 'string' },
  levels: { type: 'string' },
  targets: { type: 'string' },
  chunks: { type: 'string' },
  'chunk-delay': { type: 'string' },
  'long-chunks': { type: 'string' },
  'long-chunk-delay': { type: 'string' },
  'long-levels': { type: 'string' },
  'budget-levels': { type: 'string' },
  'request-timeout': { type: 'string' },
  repeat: { type: 'string' },
  'no-docs': { type: 'boolean' },
  'state-dir': { type: 'string' },
  'no-queue-consumer': { type: 'boolean' },
  assets: { type: 'boolean' },
  'floor-parts': { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

function options() {
  const values = parseFlags();
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const env = process.env;
  const number = (name, flag, fallback, min, max, integer = false) => {
    const text = values[flag] ?? env[name] ?? String(fallback);
    const value = Number(text);
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      const what = integer ? 'an integer' : 'a number';
      throw new UsageError(`--${flag} must be ${what} from ${min} to ${max}, got "${text}"`);
    }
    return value;
  };
  const levelList = (text, flag) => {
    const list = text.split(',').map(Number);
    if (list.some((c) => !Number.isInteger(c) || c < 1 || c > 1024))
      throw new UsageError(`--${flag} must be integers from 1 to 1024`);
    return list;
  };
  const levels = levelList(values.levels ?? env.BENCH_LEVELS ?? '1,16,64,128', 'levels');
  const longLevels = levelList(values['long-levels'] ?? env.BENCH_LONG_LEVELS ?? '16', 'long-levels');
  const budgetText = values['budget-levels'] ?? env.BENCH_BUDGET_LEVELS ?? '64';
  const budgetLevels = budgetText === '0' ? [] : levelList(budgetText, 'budget-levels');
  const queueConsumer = !(values['no-queue-consumer'] ?? env.BENCH_QUEUE_CONSUMER === '0');
  const assets = values.assets ?? env.BENCH_ASSETS === '1';
  const floorPartsText = values['floor-parts'] ?? env.BENCH_FLOOR_PARTS ?? '';
  const parts = floorPartsText === '' ? [] : floorPartsText.split(',');
  if (parts.some((p) => !floorParts.includes(p)))
    throw new UsageError(`--floor-parts takes ${floorParts.join(', ')}`);
  if (parts.includes('hold') && !parts.includes('tee')) throw new UsageError('--floor-parts: hold needs tee');
  const targets = (values.targets ?? env.BENCH_TARGETS ?? allTargets.join(',')).split(',');
  if (targets.some((t) => !allTargets.includes(t)))
    throw new UsageError(`--targets takes ${allTargets.join(', ')}`);
  return {
    durationSec: number('BENCH_DURATION', 'duration', 10, 0.5, 300),
    warmupSec: number('BENCH_WARMUP', 'warmup', 2, 0, 60),
    levels,
    targets: allTargets.filter((t) => targets.includes(t)),
    // Whole numbers: they travel in the fake upstream's credential, `sk-fake.<tag>.slow.<ms>.<n>`.
    chunks: number('BENCH_CHUNKS', 'chunks', 5, 1, 1000, true),
    chunkDelayMs: number('BENCH_CHUNK_DELAY', 'chunk-delay', 20, 0, 10_000, true),
    // A long answer: CPU per request must not grow with the number of streamed chunks.
    longChunks: number('BENCH_LONG_CHUNKS', 'long-chunks', 200, 0, 1000, true),
    longChunkDelayMs: number('BENCH_LONG_CHUNK_DELAY', 'long-chunk-delay', 5, 0, 10_000, true),
    longLevels,
    budgetLevels,
    requestTimeoutSec: number('BENCH_REQUEST_TIMEOUT', 'request-timeout', 30, 1, 600),
    // Run-to-run noise on a shared VM is ~20 %: medians of interleaved runs see smaller changes.
    repeat: number('BENCH_REPEAT', 'repeat', 1, 1, 20, true),
    // tmpfs by default: SQLite's fsyncs on this machine's disk would otherwise dominate the relay's
    // latency, and they say nothing about Durable Object storage in production.
    stateDir: values['state-dir'] ?? env.BENCH_STATE_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir()),
    queueConsumer,
    assets,
    floorParts: parts,
    // A diagnostic run (no consumer, the asset router, a floor with parts) never replaces the
    // documented results.
    docs: queueConsumer && !assets && parts.length === 0 && !(values['no-docs'] ?? env.BENCH_DOCS === '0'),
    out: values.out ?? env.BENCH_OUT ?? join(root, 'bench', 'results'),
  };
}

class UsageError extends Error {}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with the first IPC message of `type` from `child`; rejects if it exits or times out first. */
function message(child, type, timeoutMs) {
  return new Promise((resolve, reject) => {
    const done = (fn, value) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      fn(value);
    };
    const onMessage = (msg) => msg?.type === type && done(resolve, msg);
    const onExit = (code, signal) =>
      done(reject, new Error(`${child.spawnfile} child exited (${signal ?? code}) before "${type}"`));
    const timer = setTimeout(
      () => done(reject, new Error(`no "${type}" from child within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

// Everything started is registered here and torn down in reverse order, whatever happens.
const cleanups = [];
let cleaning = null;
function cleanup() {
  cleaning ??= (async () => {
    for (const fn of [...cleanups].reverse()) {
      try {
        await fn();
      } catch (err) {
        console.error(`cleanup: ${err.message}`);
      }
    }
  })();
  return cleaning;
}
let signalled = false;
function onSignal(signal) {
  if (signalled) process.exit(130);
  signalled = true;
  console.error(`\n${signal}: stopping`);
  cleanup().finally(() => process.exit(130));
}
/**
 * Ours must be the only signal handler: wrangler installs one on import that exits at once, which
 * would leave workerd, the children and the temp dirs behind.
 */
function takeOverSignals() {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    for (const listener of process.listeners(signal))
      if (listener !== onSignal) process.off(signal, listener);
    if (!process.listeners(signal).includes(onSignal)) process.on(signal, onSignal);
  }
}
takeOverSignals();

function forkChild(file, env = {}) {
  const child = fork(join(root, 'bench', file), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  return { child, stop };
}

/** The fake upstream in its own process: its CPU is its own and it never waits on the generator. */
async function startUpstream() {
  const { child, stop } = forkChild('upstream.mjs', { BENCH_TAG: 'bench' });
  cleanups.push(stop);
  const { port } = await message(child, 'listening', 30_000);
  return { pid: child.pid, port, origin: `http://127.0.0.1:${port}` };
}

/** One streaming request outside the load generator, to fail fast on a broken setup. */
async function smoke(target) {
  try {
    const res = await fetch(`http://127.0.0.1:${target.port}${requestPath}`, {
      method: 'POST',
      headers: target.headers,
      body: requestBody,
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    const ok = res.status === 200 && /event: message_stop\s*\ndata: [^\n]*\n\n$/.test(text);
    return ok ? 'ok' : `HTTP ${res.status}: ${text.slice(-300)}`;
  } catch (err) {
    return `failed: ${err.message}`;
  }
}

const sum = (values) => values.reduce((a, b) => a + (b ?? 0), 0);

async function measure(target, concurrency, config, upstream) {
  const { child, stop } = forkChild('load.mjs');
  cleanups.push(stop);
  try {
    const warmupMs = config.warmupSec * 1000;
    const durationMs = config.durationSec * 1000;
    const timeoutMs = config.requestTimeoutSec * 1000;
    child.send({
      type: 'run',
      spec: {
        host: '127.0.0.1',
        port: target.port,
        path: requestPath,
        headers: target.headers,
        body: requestBody,
        concurrency,
        warmupMs,
        durationMs,
        timeoutMs,
      },
    });
    await message(child, 'warm', warmupMs + timeoutMs + 30_000);
    // Deferred work of the warm-up (the relay's usage batches) lands before the window opens...
    if (target.settleMs > 0) await sleep(target.settleMs);
    const workStart = target.metrics ? await target.metrics() : null;
    const cpuStart = sum(target.pids.map(cpuMs));
    const upstreamStart = cpuMs(upstream.pid);
    const stopRss = target.pids.length > 0 ? sampleRss(target.pids) : () => null;
    const threadsStart = target.pids.map(threadCpuMs);
    const machineStart = machineBusyMs();
    const harnessStart = process.cpuUsage();
    const started = performance.now();
    child.send({ type: 'go' });
    const { result } = await message(child, 'done', durationMs + timeoutMs + 30_000);
    const windowMs = performance.now() - started;
    const cpuAtDone = sum(target.pids.map(cpuMs));
    const upstreamCpu = cpuMs(upstream.pid) - upstreamStart;
    const harness = process.cpuUsage(harnessStart);
    const machine = machineBusyMs() - machineStart;
    const hottestThread = Math.max(
      0,
      ...target.pids.map((pid, i) => busiestThreadMs(threadsStart[i], threadCpuMs(pid))),
    );
    const oursMs =
      cpuAtDone - cpuStart + upstreamCpu + result.loadgenCpuMs + harness.user / 1000 + harness.system / 1000;
    const capacityMs = windowMs * cpus().length;
    // ...and the measured requests' deferred work lands inside it, so CPU/request includes it.
    if (target.settleMs > 0) await sleep(target.settleMs);
    const cpuEnd = sum(target.pids.map(cpuMs));
    const workEnd = target.metrics ? await target.metrics() : null;
    const peakRssKiB = stopRss();
    const answered = Math.max(1, result.requests);
    return {
      target: target.name,
      concurrency,
      ...result,
      workerdCpuMs: target.pids.length > 0 ? cpuEnd - cpuStart : null,
      workerdCpuMsPerRequest: target.pids.length > 0 ? (cpuEnd - cpuStart) / answered : null,
      upstreamCpuMsPerRequest: upstreamCpu / answered,
      loadgenCpuMsPerRequest: result.loadgenCpuMs / answered,
      // Miniflare's Node side should be idle during load: this shows it if anything goes through it.
      harnessCpuMsPerRequest: (harness.user + harness.system) / 1000 / answered,
      // Share of one core the busiest workerd thread used: near 100 % means the target is bound by
      // that thread, whatever the rest of the machine is doing.
      hottestThreadBusy: target.pids.length > 0 ? hottestThread / windowMs : null,
      // Share of all cores the three processes kept busy during the measured window...
      machineBusy: (cpuAtDone - cpuStart + upstreamCpu + result.loadgenCpuMs) / capacityMs,
      // ...and what everything else on the machine took meanwhile (a disturbed run if large).
      otherBusy: Math.max(0, machine - oursMs) / capacityMs,
      peakRssMiB: peakRssKiB === null ? null : peakRssKiB / 1024,
      // What each relayed request caused, from the relay's own counters over the window.
      workPerRequest:
        workStart && workEnd
          ? Object.fromEntries(
              Object.keys(workEnd).map((k) => [
                k,
                (workEnd[k] - workStart[k]) / Math.max(1, workEnd.relayRequests - workStart.relayRequests),
              ]),
            )
          : null,
    };
  } finally {
    await stop();
    cleanups.splice(cleanups.indexOf(stop), 1);
  }
}

const median = (values) => {
  const sorted = values.filter((v) => typeof v === 'number').sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * One target's runs at one level as one result: every measured figure is the median of the runs
 * (each column on its own), the counts are their sums, and `runs` keeps each run's main figures.
 */
function medianOf(runs) {
  if (runs.length === 1) return runs[0];
  const out = { ...runs[0] };
  for (const [key, value] of Object.entries(runs[0])) {
    if (typeof value === 'number') out[key] = median(runs.map((r) => r[key]));
    else if (value && typeof value === 'object' && !Array.isArray(value) && key !== 'errorKinds') {
      out[key] = Object.fromEntries(Object.keys(value).map((k) => [k, median(runs.map((r) => r[key]?.[k]))]));
    }
  }
  for (const key of ['requests', 'ok', 'errors', 'warmupRequests']) out[key] = sum(runs.map((r) => r[key]));
  out.errorKinds = {};
  for (const run of runs) {
    for (const [kind, { count, sample }] of Object.entries(run.errorKinds ?? {})) {
      const seen = out.errorKinds[kind];
      out.errorKinds[kind] = { count: (seen?.count ?? 0) + count, sample: seen?.sample ?? sample };
    }
  }
  out.runs = runs.map((r) => ({
    rps: r.rps,
    ttfbP50Ms: r.ttfbMs.p50,
    workerdCpuMsPerRequest: r.workerdCpuMsPerRequest,
  }));
  return out;
}

function versionOf(pkg, from = root) {
  try {
    return createRequire(join(from, 'package.json'))(`${pkg}/package.json`).version;
  } catch {
    return 'unknown';
  }
}

function gitState() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
        cwd: root,
        encoding: 'utf8',
      }).trim() !== '';
    return { commit, dirty };
  } catch {
    return { commit: null, dirty: null };
  }
}

async function main() {
  const config = options();
  const startedAt = new Date();
  const levelSec = config.warmupSec + config.durationSec + 1;
  // Each scenario is an upstream reply shape, served by its own carpool account in the relay.
  const scenarios = [
    {
      name: 'short',
      chunks: config.chunks,
      chunkDelayMs: config.chunkDelayMs,
      levels: config.levels,
    },
    ...(config.longChunks > 0
      ? [
          {
            name: 'long',
            chunks: config.longChunks,
            chunkDelayMs: config.longChunkDelayMs,
            levels: config.longLevels,
          },
        ]
      : []),
    // The short answers again, from a key that hard budgets at every group-level scope apply to
    // (group, member, key): admission must still be one blocking Durable Object call.
    ...(config.budgetLevels.length > 0
      ? [
          {
            name: 'budget',
            chunks: config.chunks,
            chunkDelayMs: config.chunkDelayMs,
            levels: config.budgetLevels,
            budgets: true,
          },
        ]
      : []),
  ].map((scenario) => ({
    ...scenario,
    budgets: scenario.budgets ?? false,
    credential: `sk-fake.bench.slow.${scenario.chunkDelayMs}.${scenario.chunks}`,
  }));
  const allLevels = scenarios.flatMap((sc) => sc.levels);
  const estimateSec =
    20 + config.repeat * (allLevels.length * config.targets.length * levelSec + allLevels.length * 6);
  console.log(
    `bench: ${scenarios.map((sc) => `${sc.name} answers (${sc.chunks} deltas) at c = ${sc.levels.join(', ')}`).join('; ')}` +
      ` × ${config.targets.join(', ')}; ${config.durationSec} s each after ${config.warmupSec} s warm-up; ` +
      `about ${Math.ceil(estimateSec / 60)} min`,
  );
  // A hung harness must not outlive its budget.
  const watchdogMs = (estimateSec + 180 + config.requestTimeoutSec * 2) * 1000;
  const watchdog = setTimeout(() => {
    console.error(`bench: still running after ${watchdogMs / 1000} s, giving up`);
    cleanup().finally(() => process.exit(1));
  }, watchdogMs);
  watchdog.unref();

  const idleFrom = machineBusyMs();
  await sleep(1000);
  const busyBefore = (machineBusyMs() - idleFrom) / (1000 * cpus().length);
  if (busyBefore > 0.2) {
    console.log(
      `bench: warning: the machine is ${Math.round(100 * busyBefore)}% busy before the run; ` +
        'the results will be disturbed (see "Other processes" below the tables)',
    );
  }

  const tmp = mkdtempSync(join(tmpdir(), 'aicarpool-bench-'));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));

  const bundle = await buildRelayBundle(root, join(tmp, 'bundle'), join(tmp, 'wrangler-logs'));
  console.log(
    `bundle: ${bundle.bytes} B, gzip ${bundle.gzipBytes} B (${(bundle.gzipBytes / 1024).toFixed(2)} KiB)` +
      (bundle.wrangler
        ? `; wrangler: ${bundle.wrangler.totalKiB} KiB / gzip ${bundle.wrangler.gzipKiB} KiB`
        : ''),
  );

  const state = mkdtempSync(join(config.stateDir, 'aicarpool-bench-state-'));
  cleanups.push(() => rmSync(state, { recursive: true, force: true }));

  const upstream = await startUpstream();
  const relay = await startRelay({
    root,
    bundle,
    persistRoot: join(state, 'relay'),
    upstreamOrigin: upstream.origin,
    upstreamCredentials: Object.fromEntries(scenarios.map((sc) => [sc.name, sc.credential])),
    budgeted: scenarios.filter((sc) => sc.budgets).map((sc) => sc.name),
    queueConsumer: config.queueConsumer,
    assets: config.assets,
  });
  cleanups.push(() => relay.dispose());
  const passThrough = await startPassThrough({
    persistRoot: join(state, 'pass-through'),
    upstreamOrigin: upstream.origin,
    compatibility: relay.compatibility,
  });
  cleanups.push(() => passThrough.dispose());
  const leaseFloor = config.targets.includes('lease-floor')
    ? await startLeaseFloor({
        persistRoot: join(state, 'lease-floor'),
        upstreamOrigin: upstream.origin,
        compatibility: relay.compatibility,
        parts: config.floorParts,
      })
    : null;
  if (leaseFloor) cleanups.push(() => leaseFloor.dispose());
  takeOverSignals();

  const header = (key) => ({ ...requestHeaders, 'x-api-key': key });
  const port = (url) => Number(new URL(url).port);
  const targetsFor = (scenario) => ({
    relay: {
      name: 'relay',
      port: port(relay.url),
      headers: header(relay.apiKeys[scenario.name]),
      pids: relay.pids,
      settleMs: config.queueConsumer ? relay.queueBatchTimeoutMs + 500 : 0,
      metrics: relay.metrics,
    },
    'pass-through': {
      name: 'pass-through',
      port: port(passThrough.url),
      headers: header(scenario.credential),
      pids: passThrough.pids,
      settleMs: 0,
    },
    'lease-floor': leaseFloor && {
      name: 'lease-floor',
      port: port(leaseFloor.url),
      headers: header(scenario.credential),
      pids: leaseFloor.pids,
      // Its usage batches, like the relay's, land inside the window they belong to.
      settleMs: config.floorParts.includes('usage') ? 2500 : 0,
    },
    direct: {
      name: 'direct',
      port: upstream.port,
      headers: header(scenario.credential),
      pids: [],
      settleMs: 0,
    },
  });
  console.log(
    `relay ${relay.url} (workerd ${relay.pids.join(',')}), pass-through ${passThrough.url} ` +
      `(workerd ${passThrough.pids.join(',')}), upstream ${upstream.origin} (pid ${upstream.pid})`,
  );
  let relayRequests = 0;
  for (const scenario of scenarios) {
    const targets = targetsFor(scenario);
    for (const name of config.targets) {
      const verdict = await smoke(targets[name]);
      if (name === 'relay') relayRequests += 1;
      console.log(`smoke ${scenario.name} ${name}: ${verdict}`);
    }
  }

  const results = [];
  let level = 0;
  for (const scenario of scenarios) {
    const targets = targetsFor(scenario);
    for (const concurrency of scenario.levels) {
      const runs = Object.fromEntries(config.targets.map((name) => [name, []]));
      // Round after round, each target in turn: a slow phase of the machine hits both alike.
      for (let round = 1; round <= config.repeat; round++) {
        for (const name of config.targets) {
          const measured = await measure(targets[name], concurrency, config, upstream);
          runs[name].push(measured);
          if (name === 'relay') relayRequests += measured.requests + measured.warmupRequests;
          const cpu =
            measured.workerdCpuMsPerRequest === null
              ? ''
              : `, ${measured.workerdCpuMsPerRequest.toFixed(2)} ms CPU/req`;
          const turn = config.repeat > 1 ? ` (${round}/${config.repeat})` : '';
          console.log(
            `${scenario.name.padEnd(6)} c=${String(concurrency).padStart(3)} ${name.padEnd(12)} ` +
              `${measured.rps.toFixed(1).padStart(7)} req/s, ` +
              `TTFB p50 ${measured.ttfbMs.p50?.toFixed(1) ?? '–'} p99 ${measured.ttfbMs.p99?.toFixed(1) ?? '–'} ms, ` +
              `total p50 ${measured.totalMs.p50?.toFixed(1) ?? '–'} ms, ${measured.errors} errors${cpu}${turn}`,
          );
        }
      }
      for (const name of config.targets) {
        results.push({ level, scenario: scenario.name, chunks: scenario.chunks, ...medianOf(runs[name]) });
      }
      level += 1;
    }
  }

  const comparisons = Array.from({ length: level }, (_, i) => compare(results, i)).filter(Boolean);
  const usage = config.targets.includes('relay')
    ? { rows: await relay.countRequestLog(), relayRequests }
    : null;
  const run = {
    startedAt: startedAt.toISOString(),
    machineBusyBefore: busyBefore,
    finishedAt: new Date().toISOString(),
    ...gitState(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model?.trim() ?? 'unknown',
      node: process.versions.node,
      wrangler: versionOf('wrangler'),
      miniflare: versionOf(
        'miniflare',
        dirname(createRequire(import.meta.url).resolve('wrangler/package.json')),
      ),
      workerd: versionOf('workerd', dirname(createRequire(import.meta.url).resolve('wrangler/package.json'))),
    },
    config: { ...config, out: undefined, requestBytes: Buffer.byteLength(requestBody), requestPath },
    scenarios,
    bundle: {
      bytes: bundle.bytes,
      gzipBytes: bundle.gzipBytes,
      modules: bundle.modules,
      wrangler: bundle.wrangler,
    },
    results,
    comparisons,
    usage,
    peakRssKiB: {
      relay: memoryKiB(relay.pids[0])?.hwm ?? null,
      passThrough: memoryKiB(passThrough.pids[0])?.hwm ?? null,
      leaseFloor: leaseFloor ? (memoryKiB(leaseFloor.pids[0])?.hwm ?? null) : null,
    },
    workerdLog: { relay: relay.log(), passThrough: passThrough.log(), leaseFloor: leaseFloor?.log() ?? null },
  };

  mkdirSync(config.out, { recursive: true });
  const jsonPath = join(config.out, `${startedAt.toISOString().replaceAll(':', '-')}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(run, null, 2)}\n`);
  const table = markdown(run);
  console.log(`\n${table}\n`);
  console.log(`wrote ${relative(process.cwd(), jsonPath)}`);
  if (run.workerdLog.relay.lines > 0) {
    console.log(`relay workerd printed ${run.workerdLog.relay.lines} lines; last ones:`);
    for (const line of run.workerdLog.relay.last.slice(-10)) console.log(`  ${line}`);
  }
  if (config.docs) {
    const doc = join(root, 'docs', 'performance.md');
    writeLatestResults(doc, table, relative(root, jsonPath));
    console.log(`updated ${relative(process.cwd(), doc)}`);
  }
  clearTimeout(watchdog);
}

try {
  await main();
  await cleanup();
  process.exit(0);
} catch (err) {
  // After Ctrl-C the children die with us and whatever waited on them fails: not worth a word.
  if (signalled) await new Promise(() => {});
  if (err instanceof UsageError) console.error(`${err.message}\n\n${usage}`);
  else console.error(`bench: harness failure: ${err.stack ?? err}`);
  await cleanup();
  process.exit(err instanceof UsageError ? 2 : 1);
}
