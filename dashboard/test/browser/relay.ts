// An `npm run dev`-equivalent relay for the browser tests: the dashboard built into dashboard/dist,
// `wrangler dev` on a free port with fresh local state (D1 migrated) in a temporary --persist-to
// directory, and the test suite's fake upstream over HTTP for accounts to point at, beside its
// fake authorization server for subscription accounts (the relay's `*_OAUTH_*` variables may name it).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'vite';
// @ts-expect-error: a plain .mjs script without type declarations
import { startFakes } from '../../../scripts/fake-upstream.mjs';

const root = join(import.meta.dirname, '..', '..', '..');
const wrangler = join(root, 'node_modules', '.bin', 'wrangler');

export interface Relay {
  /** The relay and dashboard, e.g. http://localhost:40123 */
  url: string;
  /** The fake upstream's base URL, for accounts' baseUrl. */
  upstream: string;
  /** The fake authorization server (test/fake-oauth): /claude/… and /codex/…, and its test control. */
  oauth: string;
  adminToken: string;
  setupToken: string;
  persistTo: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function buildDashboard() {
  // vitest runs with NODE_ENV=test; the dashboard ships React's production build.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: join(root, 'dashboard', 'vite.config.ts'),
      mode: 'production',
      logLevel: 'warn',
    });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
}

export interface RelayOptions {
  /** Variables for the relay beyond the secrets, given the fakes' base URLs (wrangler dev --var). */
  vars?: (fakes: { upstream: string; oauth: string }) => Record<string, string>;
}

const baseOf = (server: Server) => {
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
};

export async function startRelay(options: RelayOptions = {}): Promise<Relay> {
  await buildDashboard();
  const persistTo = mkdtempSync(join(tmpdir(), 'aicarpool-e2e-'));
  const migrate = spawnSync(
    wrangler,
    ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo],
    {
      cwd: root,
      env: { ...process.env, CI: 'true' },
      encoding: 'utf8',
    },
  );
  if (migrate.status !== 0) throw new Error(`migrations failed: ${migrate.stderr}`);

  const fakes: { upstream: Server; oauth: Server } = await startFakes('127.0.0.1');
  const upstream = baseOf(fakes.upstream);
  const oauth = baseOf(fakes.oauth);

  const port = await freePort();
  const adminToken = `cpadmin-${randomBytes(12).toString('hex')}`;
  const setupToken = randomBytes(12).toString('base64url');
  const vars = {
    ADMIN_TOKEN: adminToken,
    CREDENTIALS_KEY: randomBytes(32).toString('base64'),
    SETUP_TOKEN: setupToken,
    ...options.vars?.({ upstream, oauth }),
  };
  const dev: ChildProcess = spawn(
    wrangler,
    [
      'dev',
      '--port',
      String(port),
      '--ip',
      '127.0.0.1',
      '--inspector-port',
      String(await freePort()),
      '--persist-to',
      persistTo,
      '--show-interactive-dev-session=false',
      ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
    ],
    { cwd: root, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let log = '';
  dev.stdout?.on('data', (d) => {
    log += d;
  });
  dev.stderr?.on('data', (d) => {
    log += d;
  });
  const url = `http://localhost:${port}`;
  const stop = async () => {
    if (dev.exitCode === null && dev.pid) {
      const exited = new Promise((resolve) => dev.once('exit', resolve));
      process.kill(-dev.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (dev.exitCode === null) process.kill(-dev.pid, 'SIGKILL');
    }
    for (const server of [fakes.upstream, fakes.oauth]) await new Promise((resolve) => server.close(resolve));
    rmSync(persistTo, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (dev.exitCode !== null) break;
    try {
      const response = await fetch(`http://127.0.0.1:${port}/api/v1/setup`);
      if (response.ok) return { url, upstream, oauth, adminToken, setupToken, persistTo, stop };
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  await stop();
  throw new Error(`wrangler dev did not come up:\n${log}`);
}

/** The password hash the relay stores (worker/auth/password.ts: pbkdf2-sha256$100000$salt$hash). */
async function hashPassword(password: string) {
  const salt = webcrypto.getRandomValues(new Uint8Array(16));
  const key = await webcrypto.subtle.importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, [
    'deriveBits',
  ]);
  const bits = await webcrypto.subtle.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations: 100_000 },
    key,
    256,
  );
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
  return `pbkdf2-sha256$100000$${b64(salt)}$${b64(new Uint8Array(bits))}`;
}

/**
 * A person with a password who is in no group yet, as a returning user would be. Created by the
 * operator API; the password is written straight into local D1, because until
 * `POST /invites/{token}/sign-up` exists no API route gives a new person a password.
 */
/**
 * The operator's API (a system admin), for what a journey sets up before anyone signs in. Each call
 * on a connection of its own, as seedUser's: none left idle to go stale.
 */
export async function operatorCall<T>(
  relay: Relay,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${relay.url}/admin/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${relay.adminToken}`,
      'content-type': 'application/json',
      connection: 'close',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export async function seedUser(relay: Relay, person: { email: string; name: string; password: string }) {
  // A connection of its own: the D1 write below takes seconds on a busy machine, longer than the
  // relay keeps an idle connection open, and the next person's request would be sent on a closed one.
  const response = await fetch(`${relay.url}/admin/v1/users`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${relay.adminToken}`,
      'content-type': 'application/json',
      connection: 'close',
    },
    body: JSON.stringify({ email: person.email, name: person.name }),
  });
  if (!response.ok) throw new Error(`creating ${person.email}: ${response.status} ${await response.text()}`);
  const { id } = (await response.json()) as { id: string };
  const hash = await hashPassword(person.password);
  const update = spawnSync(
    wrangler,
    [
      'd1',
      'execute',
      'DB',
      '--local',
      '--persist-to',
      relay.persistTo,
      '--command',
      `UPDATE users SET password_hash = '${hash}' WHERE id = '${id}'`,
    ],
    { cwd: root, env: { ...process.env, CI: 'true' }, encoding: 'utf8' },
  );
  if (update.status !== 0) throw new Error(`setting the password: ${update.stderr}`);
  return id;
}

/**
 * Moves a group back in time in local D1, as test/billing.test.ts does with env.DB: created, and
 * everyone in it since `at`, its usage so far shifted into the hours from `usageAt` (an hour
 * boundary). A month can be closed only once it is over; this makes last month one to close.
 */
export function backdateGroup(relay: Relay, groupId: string, at: number, usageAt: number) {
  const id = groupId.replace(/'/g, "''");
  const sql = [
    `UPDATE groups SET created_at = ${at} WHERE id = '${id}'`,
    `UPDATE group_members SET created_at = ${at} WHERE group_id = '${id}'`,
    `UPDATE membership_periods SET joined_at = ${at} WHERE group_id = '${id}'`,
    `UPDATE usage_hourly SET hour = hour - ((SELECT min(hour) FROM usage_hourly WHERE group_id = '${id}') - ${usageAt}) WHERE group_id = '${id}'`,
  ].join('; ');
  const update = spawnSync(
    wrangler,
    ['d1', 'execute', 'DB', '--local', '--persist-to', relay.persistTo, '--command', sql],
    { cwd: root, env: { ...process.env, CI: 'true' }, encoding: 'utf8' },
  );
  if (update.status !== 0) throw new Error(`backdating the group: ${update.stderr}`);
}

/** Moves every sign-in of a person back by `ms` in local D1, as test/auth.test.ts does with env.DB. */
export function backdateSignIns(relay: Relay, email: string, ms: number) {
  const sql = `UPDATE sessions SET created_at = created_at - ${Math.trunc(ms)} WHERE user_id = (SELECT id FROM users WHERE email = '${email.replace(/'/g, "''")}')`;
  const update = spawnSync(
    wrangler,
    ['d1', 'execute', 'DB', '--local', '--persist-to', relay.persistTo, '--command', sql],
    { cwd: root, env: { ...process.env, CI: 'true' }, encoding: 'utf8' },
  );
  if (update.status !== 0) throw new Error(`backdating the sign-ins: ${update.stderr}`);
}
