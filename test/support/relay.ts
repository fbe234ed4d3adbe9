// Test helpers that drive the relay as its users do: the operator API to set things up, real
// SDK clients to call it, the fake upstream's control API to see what arrived upstream.

import { createExecutionContext, env, SELF, waitOnExecutionContext } from 'cloudflare:test';
import Anthropic from '@anthropic-ai/sdk';
import worker from '../../worker/index';
import type { LogEntry, Stats } from '../fake-upstream';

export const RELAY = 'http://relay.test';
export const ADMIN_TOKEN = 'test-admin-token';

/**
 * The Worker's own fetch handler, called in this isolate with the test's real bindings. Not
 * SELF.fetch: in vitest-pool-workers 0.15 every call through SELF is slower than the one before
 * (about 0.05 ms more per call already made in the file), which turns files of thousands of calls
 * from seconds into minutes. `done` settles once the request's waitUntil work has.
 */
export async function inIsolate(
  input: string | URL | Request,
  init?: RequestInit,
  /** Deployment settings that differ from the test config's, for this call only. */
  vars: Partial<Env> = {},
): Promise<Response & { done: Promise<void> }> {
  const ctx = createExecutionContext();
  const res = await worker.fetch!(
    new Request(input, init) as Request<unknown, IncomingRequestCfProperties>,
    { ...env, ...vars },
    ctx,
  );
  return Object.assign(res, { done: waitOnExecutionContext(ctx) });
}

/**
 * How tests reach the relay's client surfaces (the SDK clients' `fetch` too): through SELF, like a
 * client over the network, so that a client's abort reaches the Worker as a disconnect does.
 * Set-up calls to the API go `inIsolate`.
 */
export const relayFetch: typeof fetch = (input, init) => SELF.fetch(new Request(input, init));

export async function admin<T = Record<string, unknown>>(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const res = await inIsolate(`${RELAY}/admin/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as T };
}

/** A call to /api/v1 with a bearer token (a personal access token, or the operator token). */
export async function api<T = Record<string, unknown>>(
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const res = await inIsolate(`${RELAY}/api/v1${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as T };
}

/** A new user and a personal access token to act as them (minted by the operator). */
export async function newUser(name = 'Person'): Promise<{ id: string; email: string; token: string }> {
  const email = `${crypto.randomUUID().slice(0, 12)}@example.com`;
  const user = await admin<{ id: string }>('POST', '/users', { email, name });
  if (user.status !== 201) throw new Error(`user: ${JSON.stringify(user.json)}`);
  const token = await admin<{ token: string }>('POST', `/users/${user.json.id}/tokens`, { name: 'test' });
  if (token.status !== 201) throw new Error(`token: ${JSON.stringify(token.json)}`);
  return { id: user.json.id, email, token: token.json.token };
}

export interface Carpool {
  tag: string;
  accountId: string;
  groupId: string;
  userId: string;
  keyId: string;
  key: string;
}

/** An account on the fake upstream, a carpool group bound to it, one member and their key. */
export function seedCarpool(
  options: {
    scenario?: string;
    maxConcurrency?: number;
    keyLimits?: Record<string, unknown>;
    scheduling?: Record<string, unknown>;
  } = {},
): Promise<Carpool> {
  return seedCarpoolWith(
    {
      provider: 'anthropic',
      credential: `sk-fake.{tag}.${options.scenario ?? 'ok'}`,
      maxConcurrency: options.maxConcurrency ?? 5,
    },
    { keyLimits: options.keyLimits, scheduling: options.scheduling },
  );
}

export function anthropicClient(key: string, options: { authToken?: boolean } = {}): Anthropic {
  return new Anthropic({
    baseURL: RELAY,
    ...(options.authToken ? { authToken: key, apiKey: null } : { apiKey: key }),
    fetch: relayFetch,
    maxRetries: 0,
  });
}

export async function fakeLog(tag: string): Promise<LogEntry[]> {
  return (await (await fetch(`http://fake.control/log?tag=${tag}`)).json()) as LogEntry[];
}

export async function fakeStats(tag: string): Promise<Stats> {
  return (await (await fetch(`http://fake.control/stats?tag=${tag}`)).json()) as Stats;
}

export async function scriptFake(tag: string, scenarios: string[]): Promise<void> {
  const res = await fetch('http://fake.control/script', {
    method: 'POST',
    body: JSON.stringify({ tag, scenarios }),
  });
  await res.body?.cancel();
}

/** Polls until `probe` returns a value (usage goes through the real Queue, so it lands a little later). */
export async function eventually<T>(
  probe: () => Promise<T | undefined | null>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RequestLogRecord {
  request_id: string;
  status: number;
  outcome: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  cache_read_tokens: number;
  cost_micros: number;
  unpriced: number;
  error_type: string | null;
  ttfb_ms: number | null;
  account_id: string;
}

/**
 * A key's request-log rows, once there are `count`: those of requests that reached an upstream,
 * or with `refused` every row, refusals included (worker/relay/refusals.ts).
 */
export function requestLogFor(
  keyId: string,
  count = 1,
  { refused = false } = {},
): Promise<RequestLogRecord[]> {
  const which = refused ? '' : " AND outcome <> 'refused'";
  return eventually(async () => {
    const { results } = await env.DB.prepare(
      `SELECT * FROM request_log WHERE key_id = ?${which} ORDER BY created_at`,
    )
      .bind(keyId)
      .all<RequestLogRecord>();
    return results.length >= count ? results : undefined;
  });
}

/** Waits until every lease of an account has been released (release happens in waitUntil). */
export async function leasesInUse(accountId: string): Promise<number> {
  const stub = env.ACCOUNT_GATE.get(env.ACCOUNT_GATE.idFromName(`account:${accountId}`));
  return (await stub.state()).inUse;
}

export interface PoolAccountSpec {
  /** The account's kind (default `anthropic`); every kind's calls land on the fake upstream. */
  provider?: string;
  scenario?: string;
  maxConcurrency?: number;
  priority?: number;
  weight?: number;
  supportedModels?: string[];
  modelMapping?: Record<string, string>;
  baseUrl?: string;
  preset?: string;
}

export interface Enterprise {
  enterpriseId: string;
  groupId: string;
  userId: string;
  keyId: string;
  key: string;
  accounts: { id: string; tag: string }[];
}

/** An enterprise pool of fake accounts, one enterprise group over it, one member and their key. */
export async function seedEnterprise(
  specs: PoolAccountSpec[],
  options: {
    pools?: Record<string, unknown>;
    scheduling?: Record<string, unknown>;
    keyLimits?: Record<string, unknown>;
  } = {},
): Promise<Enterprise> {
  const run = crypto.randomUUID().replaceAll('-', '');
  const enterprise = await admin<{ id: string }>('POST', '/enterprises', {
    name: `ent ${run}`,
    pools: options.pools,
  });
  if (enterprise.status !== 201) throw new Error(`enterprise: ${JSON.stringify(enterprise.json)}`);
  const accounts: { id: string; tag: string }[] = [];
  for (const [i, spec] of specs.entries()) {
    const tag = `${run}a${i}`;
    const account = await admin<{ id: string }>('POST', '/accounts', {
      name: `pool-${i}`,
      provider: spec.provider ?? 'anthropic',
      credential: `sk-fake.${tag}.${spec.scenario ?? 'ok'}`,
      maxConcurrency: spec.maxConcurrency ?? 10,
      priority: spec.priority,
      weight: spec.weight,
      supportedModels: spec.supportedModels,
      modelMapping: spec.modelMapping,
      baseUrl: spec.baseUrl,
      preset: spec.preset,
      enterpriseId: enterprise.json.id,
    });
    if (account.status !== 201) throw new Error(`account: ${JSON.stringify(account.json)}`);
    accounts.push({ id: account.json.id, tag });
  }
  const user = await admin<{ id: string }>('POST', '/users', { email: `${run}@example.com`, name: 'Member' });
  const group = await admin<{ id: string }>('POST', '/groups', {
    name: `dept ${run}`,
    kind: 'enterprise',
    enterpriseId: enterprise.json.id,
    scheduling: options.scheduling,
  });
  if (group.status !== 201) throw new Error(`group: ${JSON.stringify(group.json)}`);
  await admin('POST', `/groups/${group.json.id}/members`, { userId: user.json.id, role: 'member' });
  const key = await admin<{ id: string; key: string }>('POST', '/keys', {
    groupId: group.json.id,
    userId: user.json.id,
    ...options.keyLimits,
  });
  return {
    enterpriseId: enterprise.json.id,
    groupId: group.json.id,
    userId: user.json.id,
    keyId: key.json.id,
    key: key.json.key,
    accounts,
  };
}

/** Another group of an enterprise, with a member of its own and the member's key. */
export async function addEnterpriseGroup(
  enterpriseId: string,
): Promise<{ groupId: string; userId: string; keyId: string; key: string }> {
  const group = await admin<{ id: string }>('POST', '/groups', {
    name: 'second',
    kind: 'enterprise',
    enterpriseId,
  });
  const user = await admin<{ id: string }>('POST', '/users', {
    email: `${crypto.randomUUID().slice(0, 8)}@example.com`,
    name: 'Two',
  });
  await admin('POST', `/groups/${group.json.id}/members`, { userId: user.json.id, role: 'member' });
  const key = await admin<{ id: string; key: string }>('POST', '/keys', {
    groupId: group.json.id,
    userId: user.json.id,
  });
  return { groupId: group.json.id, userId: user.json.id, keyId: key.json.id, key: key.json.key };
}

/** A streaming /v1/messages call as Claude Code makes it, with an optional session id. */
export function streamMessage(
  key: string,
  options: {
    session?: string;
    text?: string;
    model?: string;
    signal?: AbortSignal;
    /** How the request reaches the Worker: SELF by default, `inIsolate` for files of many calls. */
    via?: typeof fetch | typeof inIsolate;
    headers?: Record<string, string>;
  } = {},
): Promise<Response> {
  return (options.via ?? relayFetch)(`${RELAY}/v1/messages?beta=true`, {
    method: 'POST',
    signal: options.signal,
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      ...(options.session ? { 'x-claude-code-session-id': options.session } : {}),
      ...options.headers,
    },
    body: JSON.stringify({
      model: options.model ?? 'claude-sonnet-4-5',
      max_tokens: 100,
      stream: true,
      messages: [{ role: 'user', content: options.text ?? 'hello' }],
    }),
  });
}

/** How many requests each account's fake received. */
export async function countsByAccount(accounts: { tag: string }[]): Promise<number[]> {
  return Promise.all(accounts.map(async (a) => (await fakeLog(a.tag)).length));
}

/**
 * A carpool over any provider: the account is created from `account` (provider, credential,
 * baseUrl…; `{tag}` in the credential becomes the run's fake-upstream tag), then a group, a member
 * and the member's key.
 */
export async function seedCarpoolWith(
  account: Record<string, unknown>,
  options: { keyLimits?: Record<string, unknown>; scheduling?: Record<string, unknown> } = {},
): Promise<Carpool> {
  const tag = crypto.randomUUID().replaceAll('-', '');
  const credential = String(account.credential ?? `sk-fake.${tag}.ok`).replaceAll('{tag}', tag);
  const created = await admin<{ id: string }>('POST', '/accounts', {
    name: `acct ${tag}`,
    ...account,
    credential,
  });
  if (created.status !== 201) throw new Error(`account: ${JSON.stringify(created.json)}`);
  const user = await admin<{ id: string }>('POST', '/users', { email: `${tag}@example.com`, name: 'Member' });
  const group = await admin<{ id: string }>('POST', '/groups', {
    name: `carpool ${tag}`,
    kind: 'carpool',
    accountId: created.json.id,
    scheduling: options.scheduling,
  });
  await admin('POST', `/groups/${group.json.id}/members`, { userId: user.json.id, role: 'owner' });
  const key = await admin<{ id: string; key: string }>('POST', '/keys', {
    groupId: group.json.id,
    userId: user.json.id,
    ...options.keyLimits,
  });
  if (key.status !== 201) throw new Error(`key: ${JSON.stringify(key.json)}`);
  return {
    tag,
    accountId: created.json.id,
    groupId: group.json.id,
    userId: user.json.id,
    keyId: key.json.id,
    key: key.json.key,
  };
}

/**
 * Runs `fn` with the isolate's global fetch sending relay URLs to the relay, for SDKs (like
 * @google/genai) that take no fetch option. Everything else still reaches the fake upstream.
 */
export async function withRelayFetch<T>(fn: () => Promise<T>): Promise<T> {
  const original = globalThis.fetch;
  globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    return url.startsWith(RELAY) ? relayFetch(input, init) : original(input, init);
  };
  try {
    return await fn();
  } finally {
    globalThis.fetch = original;
  }
}
