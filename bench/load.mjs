// Child process: the load generator. A fixed number of connections each send one streaming
// request after another, read every stream to its end and check it closes with `message_stop`.
// node:http rather than fetch: it costs the generator less CPU per request, and the generator
// shares the machine with what it measures.
//
// Protocol with the parent (IPC): it sends `run`; we warm up, drain, send `warm`; it samples and
// sends `go`; we run for the measured duration, drain, and send `done` with the results.
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function summary(values) {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length > 0 ? sorted[sorted.length - 1] : null,
  };
}

/** The kind of a failed response, from its status and (Anthropic-dialect) error body. */
function httpFailure(status, text) {
  try {
    const error = JSON.parse(text).error ?? {};
    return { kind: `HTTP ${status} ${error.type ?? ''}`.trim(), message: String(error.message ?? '') };
  } catch {
    return { kind: `HTTP ${status}`, message: text.slice(0, 200) };
  }
}

/** A 200 stream is whole when its last event is `message_stop` and nothing dangles after it. */
function streamFailure(tail) {
  const events = [...tail.matchAll(/^event: *(\S+)/gm)].map((m) => m[1]);
  const last = events.at(-1) ?? '(none)';
  if (last === 'message_stop' && tail.endsWith('\n\n')) return null;
  if (last === 'error') {
    const data = tail.slice(tail.lastIndexOf('event: error'));
    const type = data.match(/"type":\s*"(\w+_error)"/)?.[1] ?? 'unknown';
    return { kind: `stream error event ${type}`, message: data.slice(0, 300) };
  }
  return { kind: `stream ended after ${last}`, message: tail.slice(-200) };
}

function sendOne(agent, spec) {
  return new Promise((resolve) => {
    const started = performance.now();
    let firstByte = null;
    let done = false;
    const finish = (failure) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const end = performance.now();
      resolve({ failure, ttfb: firstByte === null ? null : firstByte - started, total: end - started });
    };
    const req = request({
      agent,
      host: spec.host,
      port: spec.port,
      method: 'POST',
      path: spec.path,
      headers: { ...spec.headers, 'content-length': String(Buffer.byteLength(spec.body)) },
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy(new Error(`no end within ${spec.timeoutMs} ms`));
    }, spec.timeoutMs);
    req.on('error', (err) => {
      finish({ kind: timedOut ? 'timeout' : `socket ${err.code ?? err.message}`, message: err.message });
    });
    req.on('response', (res) => {
      let tail = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        firstByte ??= performance.now();
        tail = (tail + chunk).slice(-4096);
      });
      res.on('error', () => {});
      res.on('close', () => {
        if (!res.complete) {
          return finish({ kind: timedOut ? 'timeout' : 'response cut off', message: tail.slice(-200) });
        }
        if (res.statusCode !== 200) return finish(httpFailure(res.statusCode, tail));
        if (!String(res.headers['content-type']).startsWith('text/event-stream')) {
          return finish({
            kind: `200 not a stream (${res.headers['content-type']})`,
            message: tail.slice(0, 200),
          });
        }
        finish(streamFailure(tail));
      });
    });
    req.end(spec.body);
  });
}

/** Runs `concurrency` back-to-back request loops until `ms` have passed, then waits for them all. */
async function phase(agent, spec, ms) {
  const ok = { ttfb: [], total: [] };
  const failures = new Map();
  let failed = 0;
  const started = performance.now();
  const deadline = started + ms;
  const loop = async () => {
    while (performance.now() < deadline) {
      const result = await sendOne(agent, spec);
      if (result.failure === null) {
        ok.ttfb.push(result.ttfb);
        ok.total.push(result.total);
      } else {
        failed += 1;
        const seen = failures.get(result.failure.kind);
        if (seen) seen.count += 1;
        else failures.set(result.failure.kind, { count: 1, sample: result.failure.message });
      }
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, loop));
  return { ok, failed, failures, elapsedMs: performance.now() - started };
}

function waitFor(type) {
  return new Promise((resolve) => {
    const listener = (message) => {
      if (message?.type !== type) return;
      process.off('message', listener);
      resolve(message);
    };
    process.on('message', listener);
  });
}

process.on('disconnect', () => process.exit(0));

const { spec } = await waitFor('run');
const agent = new Agent({ keepAlive: true, maxSockets: spec.concurrency, maxFreeSockets: spec.concurrency });
const warm = spec.warmupMs > 0 ? await phase(agent, spec, spec.warmupMs) : null;
const warmupRequests = warm === null ? 0 : warm.ok.total.length + warm.failed;
process.send({ type: 'warm' });
await waitFor('go');
const cpuBefore = process.cpuUsage();
const measured = await phase(agent, spec, spec.durationMs);
const cpu = process.cpuUsage(cpuBefore);
agent.destroy();
const okCount = measured.ok.total.length;
process.send({
  type: 'done',
  result: {
    warmupRequests,
    requests: okCount + measured.failed,
    ok: okCount,
    errors: measured.failed,
    errorKinds: Object.fromEntries(measured.failures),
    elapsedMs: measured.elapsedMs,
    rps: okCount / (measured.elapsedMs / 1000),
    ttfbMs: summary(measured.ok.ttfb),
    totalMs: summary(measured.ok.total),
    loadgenCpuMs: (cpu.user + cpu.system) / 1000,
  },
});
