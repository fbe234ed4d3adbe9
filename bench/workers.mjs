// The two workerd-hosted targets, each in its own Miniflare instance (so each has its own workerd
// process whose CPU and memory can be read from /proc): the relay, configured from the project's
// own wrangler config and run from the bundle `wrangler deploy` would upload, and a bare
// pass-through worker with the same compatibility settings and no bindings.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { childPids, isAlive } from './proc.mjs';

const require = createRequire(import.meta.url);
// The Miniflare that wrangler itself depends on, whatever else is hoisted next to it.
const { Miniflare, NoOpLog } = require(createRequire(require.resolve('wrangler')).resolve('miniflare'));
const { unstable_getMiniflareWorkerOptions, unstable_readConfig } = require('wrangler');

/** Keeps the last lines a workerd printed and counts them, so worker errors show in the report. */
function runtimeLog() {
  const lines = [];
  let count = 0;
  const take = (stream) => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (line.trim() === '') continue;
        count += 1;
        lines.push(line.slice(0, 500));
        if (lines.length > 50) lines.shift();
      }
    });
  };
  return {
    handleRuntimeStdio(stdout, stderr) {
      take(stdout);
      take(stderr);
    },
    snapshot: () => ({ lines: count, last: [...lines] }),
  };
}

// Options both instances share. No inspector (wrangler dev opens one, and with it every isolate
// runs with the V8 inspector attached), no request logging, no dev registry, no cf.json download.
function sharedOptions(persistRoot, log, inspectorPort) {
  return {
    ...(inspectorPort ? { inspectorPort } : {}),
    host: '127.0.0.1',
    port: 0,
    log: new NoOpLog(),
    logRequests: false,
    cf: false,
    telemetry: { enabled: false },
    liveReload: false,
    defaultPersistRoot: persistRoot,
    handleRuntimeStdio: log.handleRuntimeStdio,
  };
}

/** Starts a Miniflare and finds the workerd process it spawned (a direct child of this process). */
async function startInstance(options, log) {
  const before = new Set(childPids(process.pid, 'workerd'));
  const mf = new Miniflare(options);
  let url;
  try {
    url = await mf.ready;
  } catch (err) {
    await mf.dispose().catch(() => {});
    throw new Error(`${err.message}\nworkerd said:\n${log.snapshot().last.join('\n')}`);
  }
  const pids = childPids(process.pid, 'workerd').filter((pid) => !before.has(pid));
  if (pids.length === 0) throw new Error('could not find the workerd process Miniflare started');
  return {
    mf,
    url,
    pids,
    async dispose() {
      await mf.dispose().catch(() => {});
      // dispose() waits for workerd to exit; this only guards against a runtime that ignores it.
      for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    },
  };
}

async function applyMigrations(db, dir) {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort();
  for (const file of files) {
    const statements = readFileSync(join(dir, file), 'utf8')
      .split('--> statement-breakpoint')
      .map((sql) => sql.trim())
      .filter(Boolean);
    for (const sql of statements) await db.prepare(sql).run();
  }
  return files;
}

async function operatorCall(url, token, path, body) {
  const res = await fetch(new URL(`/admin/v1${path}`, url), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`seeding ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/**
 * The relay from its built bundle, with local D1, SQLite-backed Durable Objects and the usage
 * queue (its consumer included) as the wrangler config declares them; migrated and seeded with
 * one account pointing at the fake upstream, one carpool group, its member and a key.
 */
export async function startRelay({
  root,
  bundle,
  persistRoot,
  upstreamOrigin,
  upstreamCredentials,
  budgeted = [],
  queueConsumer = true,
  assets = false,
  inspectorPort,
}) {
  const configPath = join(root, 'wrangler.jsonc');
  const config = unstable_readConfig({ config: configPath });
  // Quiet: wrangler would announce the .dev.vars it reads (whose values are replaced below anyway).
  const level = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = 'error';
  const { workerOptions } = unstable_getMiniflareWorkerOptions(configPath);
  if (level === undefined) delete process.env.WRANGLER_LOG;
  else process.env.WRANGLER_LOG = level;
  const adminToken = `bench-${randomBytes(16).toString('hex')}`;
  const log = runtimeLog();
  const instance = await startInstance(
    {
      ...sharedOptions(persistRoot, log, inspectorPort),
      workers: [
        {
          ...workerOptions,
          // Without the consumer the usage events pile up in the local queue: a diagnostic, to see
          // the consumer's (and its D1 writes') share of the relay's CPU.
          ...(queueConsumer ? {} : { queueConsumers: {} }),
          // The dashboard's static assets put Cloudflare's asset router in front of the Worker. On
          // Cloudflare it runs before the Worker and is not the Worker's CPU; Miniflare runs it as
          // JavaScript in this same workerd (~0.3 ms per request at c = 64). The bare pass-through
          // has none, so by default neither target pays for it; `--assets` measures it.
          ...(assets ? {} : { assets: undefined }),
          name: config.name,
          modules: true,
          scriptPath: bundle.mainModule,
          modulesRoot: dirname(bundle.mainModule),
          // The config's vars and the two secrets; a developer's .dev.vars does not leak in.
          bindings: {
            ...config.vars,
            ADMIN_TOKEN: adminToken,
            CREDENTIALS_KEY: randomBytes(32).toString('base64'),
          },
        },
      ],
    },
    log,
  );
  try {
    const db = await instance.mf.getD1Database('DB');
    const migrations = await applyMigrations(db, join(root, 'migrations'));
    const call = (path, body) => operatorCall(instance.url, adminToken, path, body);
    const user = await call('/users', { email: 'bench@example.com', name: 'Bench' });
    // One carpool per reply shape, each with its own account on the fake upstream and its own key.
    const apiKeys = {};
    for (const [name, credential] of Object.entries(upstreamCredentials)) {
      const account = await call('/accounts', {
        name: `bench upstream (${name})`,
        provider: 'anthropic',
        credential,
        baseUrl: upstreamOrigin,
        // High enough that the AccountGate never turns a benchmark request away.
        maxConcurrency: 1000,
      });
      const group = await call('/groups', { name: `Bench ${name}`, kind: 'carpool', accountId: account.id });
      await call(`/groups/${group.id}/members`, { userId: user.id, role: 'owner' });
      const key = await call('/keys', { groupId: group.id, userId: user.id, name: `bench ${name}` });
      apiKeys[name] = key.key;
      if (budgeted.includes(name)) {
        // Hard monthly budgets far above what a run spends: every request reserves and settles
        // against all three, none is refused.
        const budget = { period: 'month', limitMicros: 1_000_000_000_000, mode: 'hard' };
        await call('/budgets', { ...budget, scope: 'group', groupId: group.id });
        await call('/budgets', { ...budget, scope: 'member', groupId: group.id, userId: user.id });
        await call('/budgets', { ...budget, scope: 'key', keyId: key.id });
      }
    }
    const consumer = Object.values(workerOptions.queueConsumers ?? {})[0];
    return {
      ...instance,
      name: 'relay',
      apiKeys,
      migrations,
      /** The relay isolate's work counters (Durable Object calls, storage writes, queue sends…). */
      async metrics() {
        const res = await fetch(new URL('/admin/v1/metrics', instance.url), {
          headers: { authorization: `Bearer ${adminToken}` },
        });
        return res.json();
      },
      queueBatchTimeoutMs: (consumer?.maxBatchTimeout ?? 1) * 1000,
      compatibility: {
        compatibilityDate: workerOptions.compatibilityDate,
        compatibilityFlags: workerOptions.compatibilityFlags,
      },
      log: log.snapshot,
      async countRequestLog() {
        const row = await db.prepare('SELECT count(*) AS n FROM request_log').first();
        return Number(row?.n ?? 0);
      },
    };
  } catch (err) {
    await instance.dispose();
    throw err;
  }
}

/** A module worker that forwards the request as it came and streams the answer back untouched. */
export async function startPassThrough({ persistRoot, upstreamOrigin, compatibility }) {
  const script = `export default {
  async fetch(request) {
    const url = new URL(request.url);
    const upstream = await fetch(${JSON.stringify(upstreamOrigin)} + url.pathname + url.search, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
    return new Response(upstream.body, upstream);
  },
};
`;
  const log = runtimeLog();
  const instance = await startInstance(
    {
      ...sharedOptions(persistRoot, log),
      workers: [{ name: 'pass-through', modules: true, script, ...compatibility }],
    },
    log,
  );
  return { ...instance, name: 'pass-through', log: log.snapshot };
}

/** What `--floor-parts` can add to the lease floor, one relay component each (a diagnostic). */
export const floorParts = ['parse', 'tee', 'hold', 'settle', 'usage'];

/**
 * The least any relay that keeps issue 08's guarantees does on top of the pass-through: one
 * blocking Durable Object call that commits a lease row before it answers (the output gate holds
 * the answer until the write is durable), the body piped natively, and the lease released when
 * the body ends, releases batched per isolate every 25 ms as the relay's are. No authentication,
 * no parsing, no metering, no usage event: a floor, not a relay. The relay's CPU over this
 * target's is what its own design costs; this target's over the pass-through's is what the
 * guarantees cost here, where the Durable Object runs on the worker's own thread.
 *
 * `parts` (`--floor-parts`, a diagnostic that never rewrites the docs) adds pieces of the relay's
 * work, each in its plainest form, to see what each costs on top of the floor:
 * - parse: the body read whole and parsed, the key hashed (SHA-256), the bytes forwarded;
 * - tee: the body split, the client's branch piped, the other read in large blocks at the end;
 * - hold: (with tee) the metered branch read until the first content event before answering;
 * - settle: an AbortController per attempt tied to the fetch and the client's signal, a watchdog
 *   timer per request, and the request's context held until it has settled;
 * - usage: a usage event per request, sent in batches every 25 ms to a queue whose consumer acks.
 */
export async function startLeaseFloor({ persistRoot, upstreamOrigin, compatibility, parts = [] }) {
  const has = (part) => parts.includes(part);
  if (has('hold') && !has('tee')) throw new Error('--floor-parts: hold needs tee');
  const script = `import { DurableObject } from 'cloudflare:workers';
export class Lease extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS leases (id TEXT PRIMARY KEY, at INTEGER NOT NULL)');
  }
  acquire(id) {
    this.ctx.storage.sql.exec('INSERT INTO leases (id, at) VALUES (?, ?)', id, Date.now());
    return true;
  }
  releaseMany(ids) {
    for (const id of ids) this.ctx.storage.sql.exec('DELETE FROM leases WHERE id = ?', id);
  }
}
let released = [];
let events = [];
let flush = null;
function settle(env, gate, id, event) {
  released.push(id);
  if (event) events.push(event);
  flush ??= new Promise((resolve) => setTimeout(resolve, 25)).then(() => {
    const ids = released;
    const sent = events;
    released = [];
    events = [];
    flush = null;
    return Promise.all([
      gate.releaseMany(ids),
      sent.length ? env.USAGE.sendBatch(sent.map((body) => ({ body, contentType: 'json' }))) : null,
    ]);
  });
  return flush;
}
const PART = ${JSON.stringify(Object.fromEntries(floorParts.map((p) => [p, has(p)])))};
export default {
  async fetch(request, env, ctx) {
    const startedAt = Date.now();
    const gate = env.LEASE.get(env.LEASE.idFromName('account'));
    const id = crypto.randomUUID();
    let body = request.body;
    let model = null;
    if (PART.parse) {
      body = await request.arrayBuffer();
      const json = JSON.parse(new TextDecoder().decode(body));
      model = json.model;
      const key = new TextEncoder().encode(request.headers.get('x-api-key') ?? '');
      await crypto.subtle.digest('SHA-256', key);
    }
    let done = () => {};
    let timer = null;
    let attempt = null;
    if (PART.settle) {
      const settled = new Promise((resolve) => (done = resolve));
      ctx.waitUntil(settled);
      attempt = new AbortController();
      request.signal.addEventListener('abort', () => attempt.abort(), { once: true });
      timer = setTimeout(() => attempt.abort(), 15000);
    }
    await gate.acquire(id);
    const url = new URL(request.url);
    const upstream = await fetch(${JSON.stringify(upstreamOrigin)} + url.pathname + url.search, {
      method: request.method,
      headers: request.headers,
      body,
      ...(attempt ? { signal: attempt.signal } : {}),
    });
    const finish = (bytes) => {
      if (timer !== null) clearTimeout(timer);
      const event = PART.usage
        ? { requestId: id, at: startedAt, model, status: upstream.status, bytes, durationMs: Date.now() - startedAt }
        : null;
      return settle(env, gate, id, event).then(done, done);
    };
    const out = new IdentityTransformStream();
    if (!PART.tee) {
      ctx.waitUntil(upstream.body.pipeTo(out.writable).catch(() => {}).then(() => finish(0)));
      return new Response(out.readable, upstream);
    }
    const [client, metered] = upstream.body.tee();
    const reader = metered.getReader({ mode: 'byob' });
    let seen = 0;
    if (PART.hold) {
      const decoder = new TextDecoder();
      let text = '';
      for (;;) {
        const { done: ended, value } = await reader.readAtLeast(1, new Uint8Array(16384));
        if (value) {
          seen += value.byteLength;
          text += decoder.decode(value, { stream: true });
        }
        if (ended || text.includes('content_block_')) break;
      }
    }
    ctx.waitUntil(
      client
        .pipeTo(out.writable)
        .catch(() => {})
        .then(async () => {
          for (;;) {
            const { done: ended, value } = await reader.readAtLeast(65536, new Uint8Array(65536));
            if (value) seen += value.byteLength;
            if (ended) break;
          }
        })
        .catch(() => {})
        .then(() => finish(seen)),
    );
    return new Response(out.readable, upstream);
  },
  async queue(batch) {
    batch.ackAll();
  },
};
`;
  const log = runtimeLog();
  const instance = await startInstance(
    {
      ...sharedOptions(persistRoot, log),
      workers: [
        {
          name: 'lease-floor',
          modules: true,
          script,
          durableObjects: { LEASE: { className: 'Lease', useSQLite: true } },
          ...(has('usage')
            ? {
                queueProducers: { USAGE: { queueName: 'floor-usage' } },
                queueConsumers: { 'floor-usage': { maxBatchSize: 100, maxBatchTimeout: 2 } },
              }
            : {}),
          ...compatibility,
        },
      ],
    },
    log,
  );
  return { ...instance, name: 'lease-floor', log: log.snapshot };
}
