#!/usr/bin/env node
// `npm run dev`: the whole relay on localhost with local D1, Durable Objects and Queues (Miniflare).
// First run: creates .dev.vars with a fresh ADMIN_TOKEN, CREDENTIALS_KEY and SETUP_TOKEN, and
// prints them. Once the relay answers, it asks it whether setup is still open (no user yet): if so
// it prints the one-time setup link, otherwise that setup is done.
// The dashboard (dashboard/) is built first when dashboard/dist is missing or older than its
// sources, and served by wrangler from the same origin as the API.
// Wrangler's own flags pass through (`npm run dev -- --port 8790 --inspector-port 9230`); the
// defaults below apply only to the flags not given.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const varsPath = join(root, '.dev.vars');
const wrangler = join(root, 'node_modules', '.bin', 'wrangler');
const args = process.argv.slice(2);

/** The value of `--name value`, `--name=value` (or a short alias) among the given flags. */
function flag(...names) {
  for (const [i, arg] of args.entries()) {
    for (const name of names) {
      if (arg === name) return args[i + 1];
      if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
    }
  }
  return undefined;
}

const has = (...names) => names.some((name) => args.some((a) => a === name || a.startsWith(`${name}=`)));
const port = flag('--port') ?? process.env.PORT ?? '8787';
const ip = flag('--ip') ?? '127.0.0.1';
const defaults = [...(has('--port') ? [] : ['--port', port]), ...(has('--ip') ? [] : ['--ip', ip])];
// The flags that choose which local database `wrangler dev` opens: migrations go to the same one.
const databaseFlags = [['--config', '-c'], ['--env', '-e'], ['--persist-to']].flatMap((names) => {
  const value = flag(...names);
  return value === undefined ? [] : [names[0], value];
});

function readVars() {
  if (!existsSync(varsPath)) return {};
  return Object.fromEntries(
    readFileSync(varsPath, 'utf8')
      .split('\n')
      .map((line) => line.match(/^\s*([A-Z_][A-Z0-9_]*)\s*=\s*"?(.*?)"?\s*$/))
      .filter(Boolean)
      .map((m) => [m[1], m[2]]),
  );
}

const vars = readVars();
let created = false;
if (!vars.ADMIN_TOKEN || !vars.CREDENTIALS_KEY || !vars.SETUP_TOKEN) {
  vars.ADMIN_TOKEN ||= `cpadmin-${randomBytes(24).toString('hex')}`;
  vars.CREDENTIALS_KEY ||= randomBytes(32).toString('base64');
  vars.SETUP_TOKEN ||= randomBytes(24).toString('base64url');
  const lines = Object.entries(vars).map(([k, v]) => `${k}="${v}"`);
  writeFileSync(
    varsPath,
    `# Local secrets for wrangler dev (never commit this file).\n${lines.join('\n')}\n`,
    {
      mode: 0o600,
    },
  );
  created = true;
}

// `--remote` runs against the deployed bindings, whose migrations are applied with `--remote`.
if (!has('--remote', '-r')) {
  const migrate = spawnSync(wrangler, ['d1', 'migrations', 'apply', 'DB', '--local', ...databaseFlags], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, CI: 'true' },
  });
  if (migrate.status !== 0) process.exit(migrate.status ?? 1);
}

buildDashboardIfStale();

const host = ip === '127.0.0.1' || ip === '0.0.0.0' ? 'localhost' : ip;
const base = `${flag('--local-protocol') ?? 'http'}://${host}:${port}`;
console.log(`
AiCarpool relay and dashboard: ${base}/
${created ? 'Created .dev.vars with a new operator token:' : 'Operator token (from .dev.vars):'} ${vars.ADMIN_TOKEN}

Create your first key once setup is done (in another terminal, with the upstream API key of the account to share):
  npm run first-key -- --credential sk-ant-...${base === 'http://localhost:8787' ? '' : ` --url ${base}`}
or by hand with the operator API: see README.md, "Your first key".
`);

const dev = spawn(wrangler, ['dev', ...defaults, ...args], {
  cwd: root,
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => dev.kill(signal));
dev.on('exit', (code) => process.exit(code ?? 0));

/** Asks the running relay whether setup is open, and prints the setup link (or that it is done). */
async function announceSetup() {
  const probe = `${base.replace('//localhost:', `//${ip === '0.0.0.0' ? '127.0.0.1' : ip}:`)}/api/v1/setup`;
  const link = `${base}/setup?token=${encodeURIComponent(vars.SETUP_TOKEN)}`;
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline && dev.exitCode === null) {
    try {
      const state = await (await fetch(probe, { signal: AbortSignal.timeout(2000) })).json();
      if (state.open) {
        console.log(`
First run: create the first user (a system admin) with this one-time setup link:
  ${link}
(or the same with curl:)
  curl ${base}/api/v1/setup -H 'content-type: application/json' \\
    -d '{"token":"${vars.SETUP_TOKEN}","email":"you@example.com","name":"You","password":"at least 8 characters"}'
`);
      } else {
        console.log(`\nSetup is done: the first user exists. Sign in at ${base}/login\n`);
      }
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  console.log(
    `\nCould not ask the relay whether setup is open. While no user exists, the setup link is:\n  ${link}\n`,
  );
}
announceSetup().then(runCronLocally);

/**
 * The cron of wrangler.jsonc (every tenth minute), run here: Miniflare fires no cron by itself, and
 * its `/cdn-cgi/handler/scheduled` fails when the Worker serves static assets (workers-sdk#9882,
 * fixed only in wranglers that need a newer Node). POST /admin/v1/maintenance runs the same work
 * as the scheduled handler (worker/maintenance.ts): once now, for what came due while the relay
 * was down, then at every tenth minute. Quiet unless it did something or failed.
 */
function runCronLocally() {
  if (has('--remote', '-r')) return;
  const origin = base.replace('//localhost:', `//${ip === '0.0.0.0' ? '127.0.0.1' : ip}:`);
  const run = async () => {
    try {
      const res = await fetch(`${origin}/admin/v1/maintenance`, {
        method: 'POST',
        headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}` },
        signal: AbortSignal.timeout(120_000),
      });
      const report = await res.json();
      if (!res.ok) console.log(`[cron] maintenance answered ${res.status}: ${report.error?.message ?? ''}`);
      else if (report.failed.length > 0)
        console.log(`[cron] maintenance: ${report.failed.join(', ')} failed`);
      else if (report.monthsClosed > 0)
        console.log(`[cron] closed last month for ${report.monthsClosed} group(s)`);
    } catch (err) {
      if (dev.exitCode === null) console.log(`[cron] maintenance did not run: ${err.message}`);
    }
  };
  const tenMinutes = 600_000;
  const schedule = () => {
    const timer = setTimeout(() => run().then(schedule), tenMinutes - (Date.now() % tenMinutes));
    timer.unref();
  };
  run().then(schedule);
}

/** The newest modification time under a path (a file, or a directory walked recursively). */
function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

function buildDashboardIfStale() {
  const built = newest(join(root, 'dashboard', 'dist', 'index.html'));
  const sources = Math.max(
    ...['dashboard/src', 'dashboard/index.html', 'dashboard/vite.config.ts', 'package-lock.json'].map((p) =>
      newest(join(root, p)),
    ),
  );
  if (built > sources) return;
  console.log('Building the dashboard (dashboard/ → dashboard/dist)…');
  const build = spawnSync(
    join(root, 'node_modules', '.bin', 'vite'),
    ['build', '--config', 'dashboard/vite.config.ts', '--logLevel', 'warn'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (build.status !== 0) process.exit(build.status ?? 1);
}
