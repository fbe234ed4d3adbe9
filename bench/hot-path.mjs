#!/usr/bin/env node
// `npm run bench:hot-path`: times the relay's own per-request JavaScript, step by step, in Node
// (workerd's clock does not advance during computation, so it cannot time itself). Together with
// `npm run bench` (the whole relay in workerd) this splits the relay's cost into its own code and
// the Durable Object / Queue / storage work around it.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { requestBody, requestHeaders } from './claude-code-request.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const code = buildSync({
  entryPoints: [join(root, 'bench/hot-path/steps.ts')],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  mainFields: ['module', 'main'],
  write: false,
}).outputFiles[0].text;
const steps = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);

const body = new TextEncoder().encode(requestBody).buffer;
const headers = new Headers(requestHeaders);
const upstreamHeaders = new Headers({
  'content-type': 'text/event-stream; charset=utf-8',
  'request-id': 'req_1',
});
const sse = (event, data) => new TextEncoder().encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
const usage = {
  input_tokens: 1200,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 9000,
  output_tokens: 1,
};
const chunks = [
  sse('message_start', {
    type: 'message_start',
    message: { id: 'msg_1', model: 'claude-sonnet-4-5', usage },
  }),
  sse('content_block_start', {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'text', text: '' },
  }),
  sse('ping', { type: 'ping' }),
  ...Array.from({ length: 5 }, (_, i) =>
    sse('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: `piece ${i} ` },
    }),
  ),
  sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
  sse('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn' },
    usage: { ...usage, output_tokens: 80 },
  }),
  sse('message_stop', { type: 'message_stop' }),
];

const cases = {
  'key hash (sha256 of the key)': () => steps.keyHash('cp-0123456789012345678901234567890123456789012345678'),
  'parse body (5 KB) + session key': () => steps.parseAndSession(body, headers),
  'upstream request (headers, URL)': () => steps.buildUpstreamRequest(body, headers),
  'metering tap over a 10-event stream': () => steps.tapStream(chunks, upstreamHeaders),
  'usage event (cost + schema)': () => steps.usageEvent(),
};

const iterations = Number(process.env.HOT_PATH_ITERATIONS ?? 20_000);
const rows = [];
for (const [name, fn] of Object.entries(cases)) {
  for (let i = 0; i < 2000; i++) await fn();
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) await fn();
  const spent = process.cpuUsage(start);
  rows.push([name, (spent.user + spent.system) / iterations]);
}
const total = rows.reduce((n, [, us]) => n + us, 0);
console.log(`| step | CPU µs per request |\n|---|---:|`);
for (const [name, us] of rows) console.log(`| ${name} | ${us.toFixed(1)} |`);
console.log(`| **total of these steps** | **${total.toFixed(1)}** |`);
