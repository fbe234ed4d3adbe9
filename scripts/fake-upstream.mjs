#!/usr/bin/env node
// Serves the test suite's fake AI provider (test/fake-upstream) over plain HTTP on localhost, for
// trying the relay without a real provider key and for the benchmark. Credentials look like
// `sk-fake.<tag>.<scenario>`; see test/fake-upstream/scenarios.ts.
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function loadFake() {
  const code = buildSync({
    entryPoints: [join(root, 'test/fake-upstream/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    write: false,
  }).outputFiles[0].text;
  return (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)).default;
}

/**
 * Serves the loaded fake over HTTP. With `as`, every request is presented as sent to that origin:
 * the fake routes by host (`https://oauth.test` is its authorization server).
 */
async function serve(fake, port, host, as) {
  const server = createServer(async (req, res) => {
    const controller = new AbortController();
    res.on('close', () => controller.abort());
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
    const request = new Request(`${as ?? `http://${req.headers.host ?? host}`}${req.url}`, {
      method: req.method,
      headers: Object.entries(req.headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])),
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
    });
    // The controller's own signal, not one that follows it: undici's Request follows its init
    // signal through a WeakRef, and after a garbage collection a long exchange (a stall) never
    // heard that its client had gone, though the connection was closed.
    Object.defineProperty(request, 'signal', { value: controller.signal });
    const response = await fake.fetch(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (!response.body) return res.end();
    Readable.fromWeb(response.body)
      .on('error', () => res.destroy())
      .pipe(res);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(port, host, resolve));
  return server;
}

export async function startFakeUpstream(port = 0, host = '127.0.0.1') {
  return serve(await loadFake(), port, host);
}

/**
 * The fake upstream and, on a port of its own, the fake authorization server of the subscription
 * accounts (test/fake-oauth), from one loaded fake: the access tokens the one issues are the ones
 * the other accepts, with the usage windows set for the person.
 */
export async function startFakes(host = '127.0.0.1') {
  const fake = await loadFake();
  return {
    upstream: await serve(fake, 0, host),
    oauth: await serve(fake, 0, host, 'https://oauth.test'),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.FAKE_PORT ?? 9100);
  await startFakeUpstream(port);
  console.log(`fake upstream on http://127.0.0.1:${port} (credentials: sk-fake.<tag>.<scenario>)`);
}
