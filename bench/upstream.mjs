// Child process: the test suite's fake Anthropic upstream on 127.0.0.1, for the benchmark. It runs
// apart from the load generator and the harness so its event loop and CPU are its own; it tells
// the parent its port over IPC and exits when the parent goes away.
import { request } from 'node:http';
import { startFakeUpstream } from '../scripts/fake-upstream.mjs';

const tag = process.env.BENCH_TAG ?? 'bench';
const server = await startFakeUpstream(0, '127.0.0.1');
const { port } = server.address();

// The fake keeps a log of every exchange per tag (tests read it); under load that is tens of MB a
// second, so it is dropped through the fake's own control API every couple of seconds.
function resetLog() {
  const req = request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: `/reset?tag=${encodeURIComponent(tag)}`,
    headers: { host: 'fake.control' },
    agent: false,
  });
  req.on('response', (res) => res.resume());
  req.on('error', () => {});
  req.end();
}
setInterval(resetLog, 2000).unref();

process.on('disconnect', () => process.exit(0));
process.send({ type: 'listening', port });
