#!/usr/bin/env node
// `npm run first-key -- --credential sk-ant-...`: against a running `npm run dev` (or any relay
// with --url and --token), creates an account, a member, a carpool group and the member's key.
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    credential: { type: 'string' },
    provider: { type: 'string', default: 'anthropic' },
    'base-url': { type: 'string' },
    // A compatible vendor's endpoint and model family by name (deepseek, kimi, qwen, glm).
    preset: { type: 'string' },
    // supportedModels, comma-separated: a compatible account with a custom endpoint serves only these.
    models: { type: 'string' },
    email: { type: 'string', default: 'me@example.com' },
    name: { type: 'string', default: 'Me' },
    url: { type: 'string', default: `http://localhost:${process.env.PORT ?? '8787'}` },
    token: { type: 'string' },
  },
});

const token =
  opts.token ??
  (existsSync('.dev.vars')
    ? readFileSync('.dev.vars', 'utf8').match(/^ADMIN_TOKEN="?([^"\n]+)"?/m)?.[1]
    : undefined);
if (!opts.credential || !token) {
  console.error(
    'usage: npm run first-key -- --credential <upstream API key> [--provider anthropic] [--base-url URL] [--preset deepseek] [--models "m1,m2*"] [--url http://localhost:8787]',
  );
  console.error('       (the operator token comes from .dev.vars, or pass --token)');
  process.exit(2);
}

async function call(path, body) {
  const res = await fetch(`${opts.url}/admin/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) {
    console.error(`${path}: ${res.status} ${JSON.stringify(json.error ?? json)}`);
    process.exit(1);
  }
  return json;
}

// The member made below is a user, and setup stays open only while no user exists: run first, this
// would close it with nobody able to sign in to the dashboard as system admin.
const setup = await fetch(`${opts.url}/api/v1/setup`)
  .then((res) => (res.ok ? res.json() : null))
  .catch((err) => {
    console.error(
      `Cannot reach the relay at ${opts.url} (${err.cause?.code ?? err.message}): is it running? Another port: --url.`,
    );
    process.exit(1);
  });
if (setup?.open) {
  console.error(
    `Setup is still open at ${opts.url}: create the first user (the system admin) first, with the setup link npm run dev printed\n(or POST /api/v1/setup). The member this script makes is a user too, and would close setup.`,
  );
  process.exit(1);
}

const account = await call('/accounts', {
  name: `${opts.provider} account`,
  provider: opts.provider,
  credential: opts.credential,
  ...(opts['base-url'] ? { baseUrl: opts['base-url'] } : {}),
  ...(opts.preset ? { preset: opts.preset } : {}),
  ...(opts.models ? { supportedModels: opts.models.split(',').map((m) => m.trim()) } : {}),
});
const user = await call('/users', { email: opts.email, name: opts.name });
const group = await call('/groups', {
  name: `${opts.name}'s carpool`,
  kind: 'carpool',
  accountId: account.id,
});
await call(`/groups/${group.id}/members`, { userId: user.id, role: 'owner' });
const key = await call('/keys', { groupId: group.id, userId: user.id, name: 'first key' });

console.log(
  `account ${account.id}\ngroup   ${group.id}\nuser    ${user.id}\n\nYour key (shown once): ${key.key}\n`,
);
console.log(`Claude Code:\n  ANTHROPIC_BASE_URL=${opts.url} ANTHROPIC_AUTH_TOKEN=${key.key} claude`);
