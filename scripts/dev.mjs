#!/usr/bin/env node
// `npm run dev`: the whole relay on localhost with local D1, Durable Objects and Queues (Miniflare).
// First run: creates .dev.vars with a fresh ADMIN_TOKEN and CREDENTIALS_KEY, and prints them.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const varsPath = join(root, '.dev.vars');
const port = process.env.PORT ?? '8787';
const wrangler = join(root, 'node_modules', '.bin', 'wrangler');

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
if (!vars.ADMIN_TOKEN || !vars.CREDENTIALS_KEY) {
  vars.ADMIN_TOKEN ||= `cpadmin-${randomBytes(24).toString('hex')}`;
  vars.CREDENTIALS_KEY ||= randomBytes(32).toString('base64');
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

const migrate = spawnSync(wrangler, ['d1', 'migrations', 'apply', 'DB', '--local'], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, CI: 'true' },
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const base = `http://localhost:${port}`;
console.log(`
AiCarpool relay: ${base}
${created ? 'Created .dev.vars with a new operator token:' : 'Operator token (from .dev.vars):'} ${vars.ADMIN_TOKEN}

Create your first key (in another terminal, with the upstream API key of the account to share):
  npm run first-key -- --credential sk-ant-...
or by hand with the operator API: see README.md, "Operator API".
`);

const dev = spawn(wrangler, ['dev', '--port', port, '--ip', '127.0.0.1', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => dev.kill(signal));
dev.on('exit', (code) => process.exit(code ?? 0));
