#!/usr/bin/env node
// Diagnostic: where the relay's JavaScript time goes under load. Runs the relay as the benchmark
// does (its bundle, unminified so that functions keep their names, in Miniflare with local D1,
// Durable Objects and the queue), drives it with the bench's load generator and records a V8 CPU
// profile of the relay's isolate through workerd's inspector. The worker, its three Durable Objects and
// the queue consumer share that isolate locally, so the profile covers all of the relay's
// JavaScript; native work (SQLite, stream pipes, sockets) shows as "(program)" or inside the
// JavaScript frame that started it. The inspector slows JavaScript down: read shares, not times.
//
//   npm run bench:profile -- [--concurrency 64] [--duration 10] [--chunks 5] [--budgets]
//
// Prints the functions with the most self time and the bundle's modules by total self time, and
// writes the profile to bench/results/<timestamp>.cpuprofile (open it in Chrome DevTools).
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { buildRelayBundle } from './bundle.mjs';
import { requestBody, requestHeaders, requestPath } from './claude-code-request.mjs';
import { startRelay } from './workers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '64' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    chunks: { type: 'string', default: '5' },
    'chunk-delay': { type: 'string', default: '20' },
    budgets: { type: 'boolean', default: false },
    top: { type: 'string', default: '40' },
  },
});

const cleanups = [];
async function cleanup() {
  for (const fn of cleanups.reverse()) await fn().catch((err) => console.error(`cleanup: ${err.message}`));
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  for (const listener of process.listeners(signal)) process.off(signal, listener);
  process.on(signal, () => cleanup().finally(() => process.exit(130)));
}

function child(file, env = {}) {
  const proc = fork(join(root, 'bench', file), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  cleanups.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return proc;
}

const message = (proc, type) =>
  new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m?.type === type) {
        proc.off('message', onMessage);
        resolve(m);
      }
    };
    proc.on('message', onMessage);
    proc.once('exit', (code) => reject(new Error(`bench/${type}: child exited with ${code}`)));
  });

/** A minimal Chrome DevTools Protocol client over workerd's inspector. */
async function inspect(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  // Miniflare's own entry worker has a target too; the relay's is the one named after it.
  const target =
    targets.find((t) => !t.id.includes('miniflare') && !t.title?.includes('miniflare')) ?? targets[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const pending = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data));
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  });
  return {
    title: target.title ?? target.id,
    send(method, params = {}) {
      id += 1;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve, reject) =>
        pending.set(id, (msg) => (msg.error ? reject(new Error(msg.error.message)) : resolve(msg.result))),
      );
    },
    close: () => ws.close(),
  };
}

function summarise(profile, top) {
  const total = new Map();
  const byModule = new Map();
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = profile.samples[i];
    dt.set(node, (dt.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let all = 0;
  for (const node of profile.nodes) {
    const us = dt.get(node.id) ?? 0;
    if (us === 0) continue;
    all += us;
    const f = node.callFrame;
    const where = f.url ? `${f.url.split('/').pop()}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    total.set(key, (total.get(key) ?? 0) + us);
    const module = f.url ? f.url.split('/').pop() : f.functionName;
    byModule.set(module, (byModule.get(module) ?? 0) + us);
  }
  const rows = (map) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `${((100 * us) / all).toFixed(1).padStart(5)} %  ${k}`);
  return { all, functions: rows(total), modules: rows(byModule) };
}

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), 'aicarpool-profile-'));
  cleanups.push(async () => rmSync(tmp, { recursive: true, force: true }));
  const bundle = await buildRelayBundle(root, join(tmp, 'bundle'), join(tmp, 'logs'), { minify: false });
  const upstream = child('upstream.mjs', { BENCH_TAG: 'bench' });
  const { port: upstreamPort } = await message(upstream, 'listening');
  const credential = `sk-fake.bench.slow.${args['chunk-delay']}.${args.chunks}`;
  const inspectorPort = 9300 + Math.floor(Math.random() * 500);
  const state = mkdtempSync(join('/dev/shm', 'aicarpool-profile-state-'));
  cleanups.push(async () => rmSync(state, { recursive: true, force: true }));
  const relay = await startRelay({
    root,
    bundle,
    persistRoot: state,
    upstreamOrigin: `http://127.0.0.1:${upstreamPort}`,
    upstreamCredentials: { profile: credential },
    budgeted: args.budgets ? ['profile'] : [],
    inspectorPort,
  });
  cleanups.push(() => relay.dispose());

  const load = child('load.mjs');
  load.send({
    type: 'run',
    spec: {
      host: '127.0.0.1',
      port: Number(new URL(relay.url).port),
      path: requestPath,
      headers: { ...requestHeaders, 'x-api-key': relay.apiKeys.profile },
      body: requestBody,
      concurrency: Number(args.concurrency),
      warmupMs: Number(args.warmup) * 1000,
      durationMs: Number(args.duration) * 1000,
      timeoutMs: 30_000,
    },
  });
  await message(load, 'warm');
  const inspector = await inspect(inspectorPort);
  await inspector.send('Profiler.enable');
  await inspector.send('Profiler.setSamplingInterval', { interval: 200 });
  await inspector.send('Profiler.start');
  load.send({ type: 'go' });
  const { result } = await message(load, 'done');
  const { profile } = await inspector.send('Profiler.stop');
  inspector.close();

  const out = join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, `${new Date().toISOString().replaceAll(':', '-')}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const { all, functions, modules } = summarise(profile, Number(args.top));
  console.log(
    `${inspector.title}: ${result.ok} requests (${result.errors} errors) at c=${args.concurrency}, ` +
      `${(all / 1000).toFixed(0)} ms sampled, ${(all / 1000 / Math.max(1, result.ok)).toFixed(2)} ms per request`,
  );
  console.log('\nself time by function:');
  for (const row of functions) console.log(row);
  console.log('\nself time by script:');
  for (const row of modules.slice(0, 10)) console.log(row);
  console.log(`\nprofile: ${file}`);
}

try {
  await main();
} finally {
  await cleanup();
}
process.exit(0);
