// The role × route matrix's world and table, shared by test/role-matrix.test.ts (who gets which
// status) and test/api-conformance.test.ts (whether each answer is the one the OpenAPI document
// declares). See role-matrix.test.ts for how the world is built and what an entry says.
import { env } from 'cloudflare:test';
import { db } from '../../worker/db/client';
import {
  type Action,
  can,
  type Memberships,
  type Resource,
  viewActionOf,
} from '../../worker/domain/permissions';
import { createPasswordUser } from '../../worker/domain/sessions';
import { newAddress } from './auth';
import { ADMIN_TOKEN, inIsolate, RELAY } from './relay';

export const PASSWORD = 'matrix password 1';

export const WHO = [
  'sys',
  'eOwner',
  'eAdmin',
  'eMember',
  'gOwner',
  'gMember',
  'cOwner',
  'cMember',
  'stranger',
  'anon',
] as const;
export type Who = (typeof WHO)[number];
export type Person = { id: string; email: string; token: string };
export const PEOPLE = [
  'eOwner',
  'eAdmin',
  'eMember',
  'gOwner',
  'gMember',
  'cOwner',
  'cMember',
  'spare',
] as const;

export interface World {
  people: Record<(typeof PEOPLE)[number], Person>;
  enterpriseId: string;
  departmentId: string;
  /** The enterprise group (gOwner, gMember) in the department. */
  groupId: string;
  poolAccountId: string;
  /** The carpool (cOwner, cMember) and its bound account. */
  carpoolId: string;
  carpoolAccountId: string;
  /** cMember's key in the carpool. */
  keyId: string;
  /** An invite into the enterprise group. */
  inviteId: string;
  inviteToken: string;
  /** A one-person-per-call sign-up invite into a roomy carpool. */
  signUpToken: string;
  budgetId: string;
  alerts: Record<
    'system' | 'enterprise' | 'group',
    { endpointId: string; ruleId: string; silenceId: string }
  >;
}

// ---- calling the API ----------------------------------------------------------------------------

export interface Answer {
  status: number;
  json: unknown;
  contentType?: string | null;
  headers?: Headers;
}

export async function call(
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  const res = await inIsolate(`${RELAY}/api/v1${path}`, {
    method,
    redirect: 'manual',
    // A hung route is a failure with its name, not a timed-out suite.
    signal: AbortSignal.timeout(30_000),
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      'cf-connecting-ip': newAddress(),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  await res.done;
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json, contentType: res.headers.get('content-type'), headers: res.headers };
}

export async function must<T = { id: string }>(
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await call(token, method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json as T;
}

export function sys<T = { id: string }>(method: string, path: string, body?: unknown): Promise<T> {
  return must<T>(ADMIN_TOKEN, method, path, body);
}
export const uniqueEmail = () => `${crypto.randomUUID().slice(0, 12)}@matrix.test`;

export async function person(name: string): Promise<Person> {
  const email = uniqueEmail();
  const user = await createPasswordUser(db(env), { email, name, password: PASSWORD });
  const { token } = await sys<{ token: string }>('POST', `/users/${user.id}/tokens`, { name: 'matrix' });
  return { id: user.id, email, token };
}

// ---- the world ----------------------------------------------------------------------------------

export const HOOK = 'https://hooks.test/hooks/role-matrix';
export const account = (tag: string) => ({
  provider: 'anthropic',
  credential: `sk-fake.${tag}.ok`,
  maxConcurrency: 5,
});

export async function alertSet(token: string, base: string) {
  const endpoint = await must(token, 'POST', `${base}/endpoints`, {
    name: 'hook',
    url: HOOK,
    format: 'json',
  });
  const rule = await must(token, 'POST', `${base}/rules`, {
    kind: 'budget.threshold',
    name: 'rule',
    endpointIds: [endpoint.id],
  });
  const silence = await must(token, 'POST', `${base}/silences`, {
    ruleId: rule.id,
    endsAt: Date.now() + 3_600_000,
  });
  return { endpointId: endpoint.id, ruleId: rule.id, silenceId: silence.id };
}

/** An enterprise group like the world's: gOwner owns it, gMember is in it. */
export async function enterpriseGroup(
  w: Pick<World, 'people' | 'enterpriseId' | 'departmentId'>,
): Promise<string> {
  const group = await sys('POST', '/groups', {
    name: 'Platform',
    kind: 'enterprise',
    enterpriseId: w.enterpriseId,
    departmentId: w.departmentId,
  });
  await sys('POST', `/groups/${group.id}/members`, { userId: w.people.gOwner.id, role: 'owner' });
  await sys('POST', `/groups/${group.id}/members`, { userId: w.people.gMember.id, role: 'member' });
  return group.id;
}

/** A carpool like the world's: cOwner made it, cMember is in it; with its own account when asked. */
export async function carpool(
  w: Pick<World, 'people'>,
  options: { bound?: boolean; maxMembers?: number } = {},
) {
  const group = await must(w.people.cOwner.token, 'POST', '/groups', {
    name: 'Night owls',
    kind: 'carpool',
    maxMembers: options.maxMembers ?? 10,
  });
  await sys('POST', `/groups/${group.id}/members`, { userId: w.people.cMember.id, role: 'member' });
  const bound =
    options.bound === false
      ? null
      : await must(
          w.people.cOwner.token,
          'POST',
          `/groups/${group.id}/account`,
          account(group.id.slice(0, 8)),
        );
  return { groupId: group.id, accountId: bound?.id ?? '' };
}

export async function buildWorld(): Promise<World> {
  const people = Object.fromEntries(
    await Promise.all(PEOPLE.map(async (p) => [p, await person(p)] as const)),
  ) as World['people'];
  const enterprise = await sys('POST', '/enterprises', { name: 'Acme', ownerId: people.eOwner.id });
  const enterpriseId = enterprise.id;
  const eOwner = people.eOwner.token;
  await must(eOwner, 'POST', `/enterprises/${enterpriseId}/members`, {
    userId: people.eAdmin.id,
    role: 'admin',
  });
  await must(eOwner, 'POST', `/enterprises/${enterpriseId}/members`, {
    userId: people.eMember.id,
    role: 'member',
  });
  const department = await must(eOwner, 'POST', `/enterprises/${enterpriseId}/departments`, { name: 'R&D' });
  const base = { people, enterpriseId, departmentId: department.id };
  const groupId = await enterpriseGroup(base);
  const pool = await must(eOwner, 'POST', '/accounts', { name: 'Pool', enterpriseId, ...account('pool') });
  const car = await carpool(base);
  const key = await must(people.cMember.token, 'POST', `/groups/${car.groupId}/keys`, { name: 'laptop' });
  const invite = await must<{ id: string; token: string }>(
    people.gOwner.token,
    'POST',
    `/groups/${groupId}/invites`,
    {
      maxUses: 5,
    },
  );
  const roomy = await carpool(base, { bound: false, maxMembers: 1000 });
  const signUp = await must<{ token: string }>(
    people.cOwner.token,
    'POST',
    `/groups/${roomy.groupId}/invites`,
    {
      maxUses: 1000,
    },
  );
  const budget = await must(people.gOwner.token, 'POST', '/budgets', {
    scope: 'group',
    groupId,
    period: 'month',
    limitMicros: 1_000_000,
  });
  return {
    ...base,
    groupId,
    poolAccountId: pool.id,
    carpoolId: car.groupId,
    carpoolAccountId: car.accountId,
    keyId: key.id,
    inviteId: invite.id,
    inviteToken: invite.token,
    signUpToken: signUp.token,
    budgetId: budget.id,
    alerts: {
      system: await alertSet(ADMIN_TOKEN, '/alerts'),
      enterprise: await alertSet(eOwner, `/enterprises/${enterpriseId}/alerts`),
      group: await alertSet(people.gOwner.token, `/groups/${groupId}/alerts`),
    },
  };
}

// ---- what a route is about ----------------------------------------------------------------------

/** What a route's ids (or body) name: the resource the permission table is asked about. */
export type Target =
  | 'none'
  | 'system'
  | 'self'
  | 'enterprise'
  | 'department'
  | 'egroup'
  | 'carpool'
  | 'poolAccount'
  | 'carpoolAccount'
  | 'cMemberUser';

/**
 * Who calls with the stranger's ids: the owners of the world's enterprise, group and carpool (the
 * roles that may do the most in their own tenant) and a plain member. The reverse, the stranger
 * with this world's ids, is a row of the matrix itself.
 */
export const CROSS = ['eOwner', 'gOwner', 'cOwner', 'cMember'] as const;

/** Targets that belong to a tenant: called with the stranger's ids, they are a 404 for everyone but the system admin. */
export const TENANT_TARGETS: readonly Target[] = [
  'enterprise',
  'department',
  'egroup',
  'carpool',
  'poolAccount',
  'carpoolAccount',
  'cMemberUser',
];

export function resourceOf(target: Target, w: World, who: Who, self: string | null): Resource | null {
  switch (target) {
    case 'none':
      return null;
    case 'system':
      return { type: 'system' };
    case 'self':
      return self ? { type: 'user', userId: self } : null;
    case 'enterprise':
    case 'department':
      return { type: 'enterprise', enterpriseId: w.enterpriseId };
    case 'egroup':
      return { type: 'group', groupId: w.groupId, enterpriseId: w.enterpriseId };
    case 'carpool':
      return { type: 'group', groupId: w.carpoolId, enterpriseId: null };
    case 'poolAccount':
      return { type: 'account', accountId: w.poolAccountId, enterpriseId: w.enterpriseId, groupId: null };
    case 'carpoolAccount':
      return { type: 'account', accountId: w.carpoolAccountId, enterpriseId: null, groupId: w.carpoolId };
    case 'cMemberUser':
      return who === 'anon' ? null : { type: 'user', userId: w.people.cMember.id };
  }
}

export type Params = Record<string, string>;

export interface Entry {
  on: Target;
  /** The status when allowed. */
  ok: number;
  /** The path's parameters in a world (the caller's own, or the stranger's). */
  params?: (w: World) => Params;
  body?: (w: World, p: Params) => unknown;
  query?: (w: World) => string;
  /** The action the domain checks, for a `signed-in` route that names a resource. */
  as?: Action;
  /** Where the table alone does not say it: the status, and why in a comment at the entry. */
  except?: Partial<Record<Who, number>>;
  /**
   * For a route that removes or hands over its object: a fresh one for each caller allowed to, or
   * for `always`, for every caller (a route whose success changes the caller's own memberships).
   */
  fresh?: (w: World, who: Who) => Promise<Params>;
  always?: boolean;
  /** The status for a person allowed to, who comes (as everyone here does) with a personal access token. */
  viaToken?: number;
}

export const OPERATOR_HAS_NO_SELF = { sys: 400 } as const;

// ---- fresh objects ------------------------------------------------------------------------------

export let A: World;
export let B: World;

export const freshEGroup = async (w: World): Promise<Params> => ({ id: await enterpriseGroup(w) });
export const freshCarpool = async (w: World): Promise<Params> => {
  const c = await carpool(w);
  return { id: c.groupId, accountId: c.accountId };
};
/** An enterprise like the world's, its people in the same roles, for a caller who leaves it. */
export const freshEnterprise = async (w: World): Promise<Params> => {
  const { id } = await sys('POST', '/enterprises', { name: 'Acme too', ownerId: w.people.eOwner.id });
  await sys('POST', `/enterprises/${id}/members`, { userId: w.people.eAdmin.id, role: 'admin' });
  await sys('POST', `/enterprises/${id}/members`, { userId: w.people.eMember.id, role: 'member' });
  const department = await sys('POST', `/enterprises/${id}/departments`, { name: 'R&D' });
  await enterpriseGroup({ people: w.people, enterpriseId: id, departmentId: department.id });
  return { id };
};
export const freshUnboundCarpool = async (w: World): Promise<Params> => ({
  id: (await carpool(w, { bound: false })).groupId,
});

export const freshPasswordLink = async (): Promise<Params> => {
  const person = await sys<{ id: string }>('POST', '/users', { email: uniqueEmail(), name: 'Forgetful' });
  return { token: (await sys<{ token: string }>('POST', `/users/${person.id}/password-link`)).token };
};

export function alertEntries(scope: 'system' | 'enterprise' | 'group'): Record<string, Entry> {
  const base = { system: '/alerts', enterprise: '/enterprises/{id}/alerts', group: '/groups/{id}/alerts' }[
    scope
  ];
  const on: Target = { system: 'system', enterprise: 'enterprise', group: 'egroup' }[scope] as Target;
  const scopeId = (w: World): Params =>
    scope === 'system' ? {} : { id: scope === 'enterprise' ? w.enterpriseId : w.groupId };
  const set = (w: World) => w.alerts[scope];
  const ids = (w: World): Params => ({ ...scopeId(w), ...set(w) });
  const basePath = (w: World) => base.replace('{id}', scopeId(w).id ?? '');
  const token = (w: World) =>
    scope === 'system' ? ADMIN_TOKEN : scope === 'enterprise' ? w.people.eOwner.token : w.people.gOwner.token;
  const freshEndpoint = async (w: World) => ({
    ...scopeId(w),
    endpointId: (
      await must(token(w), 'POST', `${basePath(w)}/endpoints`, { name: 'x', url: HOOK, format: 'json' })
    ).id,
  });
  const freshRule = async (w: World) => ({
    ...scopeId(w),
    ruleId: (
      await must(token(w), 'POST', `${basePath(w)}/rules`, {
        kind: 'budget.threshold',
        name: 'x',
        endpointIds: [set(w).endpointId],
      })
    ).id,
  });
  const freshSilence = async (w: World) => ({
    ...scopeId(w),
    silenceId: (
      await must(token(w), 'POST', `${basePath(w)}/silences`, {
        ruleId: set(w).ruleId,
        endsAt: Date.now() + 60_000,
      })
    ).id,
  });
  return {
    [`GET ${base}/endpoints`]: { on, ok: 200, params: scopeId },
    [`POST ${base}/endpoints`]: {
      on,
      ok: 201,
      params: scopeId,
      body: () => ({ name: 'more', url: HOOK, format: 'slack' }),
    },
    [`GET ${base}/endpoints/{endpointId}`]: { on, ok: 200, params: ids },
    [`PATCH ${base}/endpoints/{endpointId}`]: { on, ok: 200, params: ids, body: () => ({ name: 'hook' }) },
    [`DELETE ${base}/endpoints/{endpointId}`]: { on, ok: 200, params: ids, fresh: freshEndpoint },
    [`POST ${base}/endpoints/{endpointId}/rotate-secret`]: { on, ok: 200, params: ids },
    [`POST ${base}/endpoints/{endpointId}/test`]: { on, ok: 200, params: ids },
    [`GET ${base}/endpoints/{endpointId}/deliveries`]: { on, ok: 200, params: ids },
    [`GET ${base}/rules`]: { on, ok: 200, params: scopeId },
    [`POST ${base}/rules`]: {
      on,
      ok: 201,
      params: scopeId,
      body: (w) => ({ kind: 'budget.threshold', name: 'more', endpointIds: [set(w).endpointId] }),
    },
    [`GET ${base}/rules/{ruleId}`]: { on, ok: 200, params: ids },
    [`PATCH ${base}/rules/{ruleId}`]: { on, ok: 200, params: ids, body: () => ({ name: 'rule' }) },
    [`DELETE ${base}/rules/{ruleId}`]: { on, ok: 200, params: ids, fresh: freshRule },
    [`GET ${base}/silences`]: { on, ok: 200, params: scopeId },
    [`POST ${base}/silences`]: {
      on,
      ok: 201,
      params: scopeId,
      body: (w) => ({ ruleId: set(w).ruleId, endsAt: Date.now() + 60_000 }),
    },
    [`DELETE ${base}/silences/{silenceId}`]: { on, ok: 200, params: ids, fresh: freshSilence },
    [`GET ${base}/firings`]: { on, ok: 200, params: scopeId },
  };
}

// ---- the table ----------------------------------------------------------------------------------

export const egroup = (w: World): Params => ({ id: w.groupId });
export const car = (w: World): Params => ({ id: w.carpoolId });
export const ent = (w: World): Params => ({ id: w.enterpriseId });
export const pool = (w: World): Params => ({ id: w.poolAccountId });
export const SONNET_LIKE = {
  inputMicros: 2_000_000,
  outputMicros: 8_000_000,
  cacheWrite5mMicros: 2_500_000,
  cacheWrite1hMicros: 4_000_000,
  cacheReadMicros: 200_000,
};

export const TABLE: Record<string, Entry> = {
  // Accounts: a pool's are the enterprise's (ai.manage to change), a carpool's its group's.
  'POST /accounts': {
    on: 'enterprise',
    as: 'ai.manage',
    ok: 201,
    body: (w) => ({ name: 'More', enterpriseId: w.enterpriseId, ...account('more') }),
  },
  // Scoped: everyone signed in gets the accounts they may see.
  'GET /accounts': { on: 'none', ok: 200 },
  'POST /accounts/test': {
    on: 'none',
    ok: 200,
    body: () => ({ provider: 'anthropic', credential: 'sk-fake.t.ok' }),
  },
  'GET /accounts/{id}': { on: 'poolAccount', ok: 200, params: pool },
  'PATCH /accounts/{id}': { on: 'poolAccount', ok: 200, params: pool, body: () => ({ name: 'Pool' }) },
  'POST /accounts/{id}/disable': {
    on: 'poolAccount',
    ok: 200,
    params: pool,
    body: () => ({ reason: 'matrix' }),
  },
  'POST /accounts/{id}/enable': { on: 'poolAccount', ok: 200, params: pool },
  'GET /accounts/{id}/state': { on: 'poolAccount', ok: 200, params: pool },
  'POST /accounts/{id}/reset': { on: 'poolAccount', ok: 200, params: pool },
  'POST /accounts/{id}/probe': { on: 'poolAccount', ok: 200, params: pool },
  'GET /groups/{id}/account': { on: 'carpool', ok: 200, params: car },
  'POST /groups/{id}/account': {
    on: 'carpool',
    ok: 201,
    params: car,
    body: (_w, p) => account(`bind-${p.id!.slice(0, 6)}`),
    fresh: freshUnboundCarpool,
  },
  'PATCH /groups/{id}/account': { on: 'carpool', ok: 200, params: car, body: () => ({ maxConcurrency: 5 }) },
  'DELETE /groups/{id}/account': { on: 'carpool', ok: 200, params: car, fresh: freshCarpool },

  // Subscription accounts: who may sign one in is decided by its target (a carpool's: its owner).
  // The world's carpool has its account already, which those who may manage it are told (409).
  'POST /accounts/oauth/start': {
    on: 'carpool',
    as: 'group.manage',
    ok: 409,
    body: (w) => ({ kind: 'claude-oauth', groupId: w.carpoolId, acceptTerms: true }),
  },
  'GET /accounts/oauth/kinds': { on: 'none', ok: 200 },
  // No sign-in was started under this state: nobody can finish it.
  'POST /accounts/oauth/finish': {
    on: 'none',
    ok: 404,
    body: () => ({ code: 'matrix-code', state: 'no-such-state' }),
  },
  // Bills: members read them, owners change them.
  'GET /groups/{id}/usage': { on: 'carpool', ok: 200, params: car },
  'GET /groups/{id}/statements': { on: 'carpool', ok: 200, params: car },
  'GET /groups/{id}/statements/current': { on: 'carpool', ok: 200, params: car },
  // The world's carpool was made this month: no month of it is over to close, nor closed to read
  // or settle (closing is tested in billing.test.ts); the answer still shows who got past the check.
  'POST /groups/{id}/statements': {
    on: 'carpool',
    ok: 409,
    params: car,
    body: () => ({ month: lastMonth() }),
  },
  'GET /groups/{id}/statements/{month}': {
    on: 'carpool',
    ok: 404,
    params: (w) => ({ id: w.carpoolId, month: lastMonth() }),
  },
  'PUT /groups/{id}/statements/{month}/settlements/{userId}': {
    on: 'carpool',
    ok: 404,
    params: (w) => ({ id: w.carpoolId, month: lastMonth(), userId: w.people.cMember.id }),
    body: () => ({ settled: true }),
  },
  'POST /groups/{id}/adjustments': {
    on: 'carpool',
    ok: 201,
    params: car,
    body: (w) => ({ userId: w.people.cMember.id, amountMicros: 1, reason: 'matrix' }),
  },
  // Enterprises.
  'POST /enterprises': { on: 'system', ok: 201, body: () => ({ name: 'Another' }) },
  'GET /enterprises': { on: 'none', ok: 200 },
  'GET /enterprises/{id}': { on: 'enterprise', ok: 200, params: ent },
  'PATCH /enterprises/{id}': { on: 'enterprise', ok: 200, params: ent, body: () => ({ name: 'Acme' }) },
  'GET /enterprises/{id}/members': { on: 'enterprise', ok: 200, params: ent },
  'POST /enterprises/{id}/members': {
    on: 'enterprise',
    ok: 201,
    params: ent,
    body: () => ({ email: uniqueEmail(), role: 'member' }),
  },
  'PATCH /enterprises/{id}/members/{userId}': {
    on: 'enterprise',
    ok: 200,
    params: (w) => ({ id: w.enterpriseId, userId: w.people.eMember.id }),
    body: () => ({ role: 'member' }),
  },
  'DELETE /enterprises/{id}/members/{userId}': {
    on: 'enterprise',
    ok: 200,
    params: (w) => ({ id: w.enterpriseId, userId: w.people.eMember.id }),
    fresh: async (w) => {
      const p = await person('leaver');
      await sys('POST', `/enterprises/${w.enterpriseId}/members`, { userId: p.id, role: 'member' });
      return { id: w.enterpriseId, userId: p.id };
    },
  },
  // Each member who may leave leaves a copy of the world's enterprise; its only owner may not (409).
  'POST /enterprises/{id}/leave': {
    on: 'enterprise',
    ok: 200,
    params: ent,
    fresh: freshEnterprise,
    except: { ...OPERATOR_HAS_NO_SELF, eOwner: 409 },
  },
  'GET /enterprises/{id}/departments': { on: 'enterprise', ok: 200, params: ent },
  'POST /enterprises/{id}/departments': {
    on: 'enterprise',
    ok: 201,
    params: ent,
    body: () => ({ name: 'Ops' }),
  },
  'PATCH /departments/{id}': {
    on: 'department',
    ok: 200,
    params: (w) => ({ id: w.departmentId }),
    body: () => ({ name: 'R&D' }),
  },
  'DELETE /departments/{id}': {
    on: 'department',
    ok: 200,
    params: (w) => ({ id: w.departmentId }),
    fresh: async (w) => ({
      id: (await sys('POST', `/enterprises/${w.enterpriseId}/departments`, { name: 'Gone soon' })).id,
    }),
  },

  // Groups: a carpool anyone may make; an enterprise group needs group.create in its enterprise.
  'POST /groups': {
    on: 'enterprise',
    as: 'group.create',
    ok: 201,
    body: (w) => ({ name: 'New team', kind: 'enterprise', enterpriseId: w.enterpriseId }),
  },
  'GET /groups': { on: 'none', ok: 200 },
  'GET /groups/{id}': { on: 'egroup', ok: 200, params: egroup },
  'PATCH /groups/{id}': { on: 'egroup', ok: 200, params: egroup, body: () => ({ name: 'Platform' }) },
  // Deleting an enterprise group is for those who may create one there (group.create: its owners),
  // checked on the enterprise: an admin sees it (403); a group owner does not (404).
  'DELETE /groups/{id}': {
    on: 'egroup',
    ok: 200,
    params: egroup,
    fresh: freshEGroup,
    except: { eAdmin: 403, gOwner: 404 },
  },
  'GET /groups/{id}/state': { on: 'egroup', ok: 200, params: egroup },
  'GET /groups/{id}/members': { on: 'egroup', ok: 200, params: egroup },
  'POST /groups/{id}/members': {
    on: 'egroup',
    ok: 201,
    params: (w) => ({ id: w.groupId, userId: w.people.spare.id }),
    body: (_w, p) => ({ userId: p.userId }),
    // An enterprise group takes the enterprise's people only: the joiner joins the enterprise first.
    fresh: async (w) => {
      const joiner = await person('joiner');
      await sys('POST', `/enterprises/${w.enterpriseId}/members`, { userId: joiner.id, role: 'member' });
      return { id: w.groupId, userId: joiner.id };
    },
  },
  'PATCH /groups/{id}/members/{userId}': {
    on: 'egroup',
    ok: 200,
    params: (w) => ({ id: w.groupId, userId: w.people.gMember.id }),
    body: () => ({ role: 'member' }),
  },
  'DELETE /groups/{id}/members/{userId}': {
    on: 'egroup',
    ok: 200,
    params: (w) => ({ id: w.groupId, userId: w.people.gMember.id }),
    fresh: async (w) => ({ id: await enterpriseGroup(w), userId: w.people.gMember.id }),
  },
  // Leaving is for members: the carpool's only owner must hand it over first (409); the operator
  // is nobody's member (400); people who see the carpool without being in it: none.
  'POST /groups/{id}/leave': {
    on: 'carpool',
    ok: 200,
    params: car,
    fresh: freshCarpool,
    except: { sys: 400, cOwner: 409 },
  },
  'POST /groups/{id}/transfer': {
    on: 'carpool',
    ok: 200,
    params: car,
    body: (w) => ({ userId: w.people.cMember.id }),
    fresh: freshCarpool,
  },

  // Keys: a member's own (ai.use), or any in a group they manage.
  'POST /keys': {
    on: 'carpool',
    ok: 201,
    body: (w) => ({ groupId: w.carpoolId, name: 'cli' }),
    // The operator token is no person: it names whose key (userId).
    except: OPERATOR_HAS_NO_SELF,
  },
  'GET /keys': { on: 'none', ok: 200 },
  'GET /keys/{id}': { on: 'carpool', as: 'ai.use', ok: 200, params: (w) => ({ id: w.keyId }) },
  'PATCH /keys/{id}': {
    on: 'carpool',
    ok: 200,
    params: (w) => ({ id: w.keyId }),
    body: () => ({ name: 'laptop' }),
  },
  'POST /keys/{id}/revoke': {
    on: 'carpool',
    ok: 200,
    params: (w) => ({ id: w.keyId }),
    fresh: async (w) => ({
      id: (await must(w.people.cMember.token, 'POST', `/groups/${w.carpoolId}/keys`, { name: 'spare' })).id,
    }),
  },
  'GET /groups/{id}/keys': { on: 'carpool', ok: 200, params: car },
  'POST /groups/{id}/keys': {
    on: 'carpool',
    ok: 201,
    params: car,
    body: () => ({ name: 'cli' }),
    except: OPERATOR_HAS_NO_SELF,
  },

  // Invites.
  'POST /groups/{id}/invites': { on: 'egroup', ok: 201, params: egroup, body: () => ({ maxUses: 1 }) },
  'GET /groups/{id}/invites': { on: 'egroup', ok: 200, params: egroup },
  'DELETE /groups/{id}/invites/{inviteId}': {
    on: 'egroup',
    ok: 200,
    params: (w) => ({ id: w.groupId, inviteId: w.inviteId }),
    fresh: async (w) => ({
      id: w.groupId,
      inviteId: (await sys('POST', `/groups/${w.groupId}/invites`, {})).id,
    }),
  },
  'GET /invites/{token}': { on: 'none', ok: 200, params: (w) => ({ token: w.inviteToken }) },
  // Anyone signed in may accept a link they hold (into a fresh carpool each time); its members are
  // already in (409); the operator is no person (400).
  'POST /invites/{token}/accept': {
    on: 'none',
    ok: 200,
    params: (w) => ({ token: w.inviteToken }),
    always: true,
    fresh: async (w) => {
      const c = await carpool(w, { bound: false });
      return {
        token: (
          await must<{ token: string }>(w.people.cOwner.token, 'POST', `/groups/${c.groupId}/invites`, {})
        ).token,
      };
    },
    except: { sys: 400, cOwner: 409, cMember: 409 },
  },
  // Public: whoever calls, a newcomer signs up (a new email each call).
  'POST /invites/{token}/sign-up': {
    on: 'none',
    ok: 201,
    params: (w) => ({ token: w.signUpToken }),
    body: () => ({ email: uniqueEmail(), name: 'Newcomer', password: PASSWORD }),
  },

  // Budgets: decided by the domain on the budget's target (a group's: group.manage; seen with group.view).
  // One budget per group and period: each caller allowed makes it in a fresh group.
  'POST /budgets': {
    on: 'egroup',
    as: 'group.manage',
    ok: 201,
    params: egroup,
    body: (_w, p) => ({ scope: 'group', groupId: p.id, period: 'day', limitMicros: 5_000 }),
    fresh: freshEGroup,
  },
  'GET /budgets': { on: 'none', ok: 200 },
  'GET /budgets/{id}': { on: 'egroup', as: 'group.view', ok: 200, params: (w) => ({ id: w.budgetId }) },
  'PATCH /budgets/{id}': {
    on: 'egroup',
    as: 'group.manage',
    ok: 200,
    params: (w) => ({ id: w.budgetId }),
    body: () => ({ limitMicros: 1_000_000 }),
  },
  // Each fresh budget is the group owner's, so every manager may remove it (one set by the
  // enterprise's admins is beyond the group's owner: test/budget-authority.test.ts).
  'DELETE /budgets/{id}': {
    on: 'egroup',
    as: 'group.manage',
    ok: 204,
    params: (w) => ({ id: w.budgetId }),
    fresh: async (w) => {
      const groupId = await enterpriseGroup(w);
      return {
        id: (
          await must<{ id: string }>(w.people.gOwner.token, 'POST', '/budgets', {
            scope: 'group',
            groupId,
            period: 'week',
            limitMicros: 1,
          })
        ).id,
      };
    },
  },

  ...alertEntries('system'),
  ...alertEntries('enterprise'),
  ...alertEntries('group'),

  // People.
  'POST /users': { on: 'system', ok: 201, body: () => ({ email: uniqueEmail(), name: 'Made' }) },
  'GET /users': { on: 'system', ok: 200 },
  'GET /users/{id}': { on: 'cMemberUser', ok: 200, params: (w) => ({ id: w.people.cMember.id }) },
  'PATCH /users/{id}': {
    on: 'cMemberUser',
    ok: 200,
    params: (w) => ({ id: w.people.cMember.id }),
    body: () => ({ name: 'cMember' }),
  },
  // Making a token takes a recent sign-in: the operator may, a person's token may not (auth.test.ts).
  'POST /users/{id}/tokens': {
    on: 'cMemberUser',
    ok: 201,
    viaToken: 403,
    params: (w) => ({ id: w.people.cMember.id }),
    body: () => ({ name: 'script' }),
  },
  // Only a system admin makes password links; a link made here voids cMember's older ones, nothing more.
  'POST /users/{id}/password-link': {
    on: 'cMemberUser',
    ok: 201,
    params: (w) => ({ id: w.people.cMember.id }),
  },
  // Public: whoever holds a link looks at it and uses it (each caller a fresh person's link).
  'GET /password-links/{token}': { on: 'none', ok: 200, always: true, fresh: freshPasswordLink },
  'POST /password-links/{token}': {
    on: 'none',
    ok: 200,
    always: true,
    fresh: freshPasswordLink,
    body: () => ({ password: PASSWORD }),
  },
  'GET /me': { on: 'none', ok: 200 },
  'PATCH /me': { on: 'self', ok: 200, body: () => ({ name: 'Renamed' }), except: OPERATOR_HAS_NO_SELF },
  'GET /me/tokens': { on: 'self', ok: 200, except: OPERATOR_HAS_NO_SELF },
  'POST /me/tokens': {
    on: 'self',
    ok: 201,
    viaToken: 403,
    body: () => ({ name: 'script' }),
    except: OPERATOR_HAS_NO_SELF,
  },
  'DELETE /me/tokens/{tokenId}': {
    on: 'self',
    ok: 200,
    params: () => ({ tokenId: 'no-such-token' }),
    fresh: async (_w, who) => ({
      tokenId: (await sys('POST', `/users/${personOf(who)!.id}/tokens`, { name: 'gone soon' })).id,
    }),
    except: OPERATOR_HAS_NO_SELF,
  },
  // Usage names what it is about: a group's is for those who see the group.
  'GET /usage': { on: 'egroup', as: 'group.view', ok: 200, query: (w) => `?groupId=${w.groupId}` },
  'GET /usage.csv': { on: 'egroup', as: 'group.view', ok: 200, query: (w) => `?groupId=${w.groupId}` },
  'GET /usage/requests': { on: 'egroup', as: 'group.view', ok: 200, query: (w) => `?groupId=${w.groupId}` },
  'GET /usage/requests.csv': {
    on: 'egroup',
    as: 'group.view',
    ok: 200,
    query: (w) => `?groupId=${w.groupId}`,
  },
  // Scoped by the domain: what the caller manages; a plain member of nothing manages nothing to read.
  'GET /audit': { on: 'none', ok: 200 },
  'GET /prices': { on: 'system', ok: 200 },
  'GET /prices/{model}': { on: 'system', ok: 200, params: () => ({ model: 'claude-sonnet-4-5' }) },
  'PUT /prices/{model}': {
    on: 'system',
    ok: 200,
    params: () => ({ model: 'matrix-model' }),
    body: () => SONNET_LIKE,
  },
  'DELETE /prices/{model}': {
    on: 'system',
    ok: 200,
    params: () => ({ model: 'matrix-model' }),
    fresh: async () => {
      const model = `matrix-${crypto.randomUUID().slice(0, 8)}`;
      await sys('PUT', `/prices/${model}`, SONNET_LIKE);
      return { model };
    },
  },
  'GET /metrics': { on: 'system', ok: 200 },
  'POST /maintenance': { on: 'system', ok: 200 },

  // Signing in.
  'GET /auth/methods': { on: 'none', ok: 200 },
  'POST /auth/login': {
    on: 'none',
    ok: 401,
    body: () => ({ email: uniqueEmail(), password: 'wrong password' }),
  },
  'POST /auth/logout': { on: 'none', ok: 204 },
  'POST /auth/logout-all': { on: 'self', ok: 200, except: OPERATOR_HAS_NO_SELF },
  'PUT /me/password': {
    on: 'self',
    ok: 200,
    body: () => ({ currentPassword: PASSWORD, newPassword: PASSWORD }),
    except: OPERATOR_HAS_NO_SELF,
  },
  'GET /me/sessions': { on: 'self', ok: 200, except: OPERATOR_HAS_NO_SELF },
  'DELETE /me/sessions/{sessionId}': {
    on: 'self',
    ok: 200,
    params: () => ({ sessionId: 'no-such-session' }),
    fresh: async (_w, who) => {
      const p = personOf(who)!;
      const res = await call(null, 'POST', '/auth/login', { email: p.email, password: PASSWORD });
      return { sessionId: (res.json as { session: { id: string } }).session.id };
    },
    except: OPERATOR_HAS_NO_SELF,
  },
  'GET /auth/oidc/start': { on: 'none', ok: 302 },
  // A callback without the provider's state is refused, whoever calls.
  'GET /auth/oidc/callback': { on: 'none', ok: 400 },
  'GET /setup': { on: 'none', ok: 200 },
  // Setup is over once the first user exists, whoever calls and whatever they send.
  'POST /setup': {
    on: 'none',
    ok: 409,
    body: () => ({ token: 'not-the-setup-token', email: uniqueEmail(), name: 'Admin', password: PASSWORD }),
  },
};

/** Last calendar month in UTC, `YYYY-MM`. */
export function lastMonth(): string {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
}

// ---- who is calling -----------------------------------------------------------------------------

export function personOf(who: Who): Person | null {
  if (who === 'sys' || who === 'anon') return null;
  if (who === 'stranger') return B.people.eOwner;
  return A.people[who];
}

export function tokenOf(who: Who): string | null {
  if (who === 'sys') return ADMIN_TOKEN;
  return personOf(who)?.token ?? null;
}

export const memberships = new Map<Who, Memberships>();

export async function readMemberships(who: Who): Promise<Memberships> {
  if (who === 'sys') return { system: true, userId: null, enterprises: new Map(), groups: new Map() };
  const p = personOf(who);
  if (!p) return { system: false, userId: null, enterprises: new Map(), groups: new Map() };
  const [e, g] = await env.DB.batch([
    env.DB.prepare('SELECT enterprise_id AS id, role FROM enterprise_members WHERE user_id = ?').bind(p.id),
    env.DB.prepare('SELECT group_id AS id, role FROM group_members WHERE user_id = ?').bind(p.id),
  ]);
  const rows = (r: D1Result) =>
    (r.results as { id: string; role: string }[]).map((x) => [x.id, x.role] as const);
  return {
    system: false,
    userId: p.id,
    enterprises: new Map(rows(e!)) as Memberships['enterprises'],
    groups: new Map(rows(g!)) as Memberships['groups'],
  };
}

// ---- the document -------------------------------------------------------------------------------

export interface Operation {
  key: string;
  method: string;
  path: string;
  permission: string;
}

export async function operations(): Promise<Operation[]> {
  const doc = JSON.parse(await (await inIsolate(`${RELAY}/api/v1/openapi.json`)).text()) as {
    paths: Record<string, Record<string, { 'x-permission': string }>>;
  };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      key: `${method.toUpperCase()} ${path}`,
      method: method.toUpperCase(),
      path,
      permission: op['x-permission'],
    })),
  );
}

export function expected(op: Operation, entry: Entry, who: Who): number {
  if (entry.except?.[who] !== undefined && !(who === 'anon' && op.permission !== 'public'))
    return entry.except[who]!;
  if (op.permission === 'public') return entry.ok;
  if (who === 'anon') return 401;
  const resource = resourceOf(entry.on, A, who, personOf(who)?.id ?? null);
  const action = op.permission === 'signed-in' ? entry.as : (op.permission as Action);
  if (!resource || !action) return entry.ok;
  const m = memberships.get(who)!;
  if (can(m, action, resource)) return who === 'sys' ? entry.ok : (entry.viaToken ?? entry.ok);
  return can(m, viewActionOf(resource), resource) ? 403 : 404;
}

export function fill(path: string, params: Params): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no ${name} for ${path}`);
    return encodeURIComponent(value);
  });
}

export async function request(
  op: Operation,
  entry: Entry,
  w: World,
  who: Who,
  params: Params,
): Promise<Answer> {
  const path = fill(op.path, params) + (entry.query ? entry.query(w) : '');
  const body = entry.body
    ? entry.body(w, params)
    : ['POST', 'PUT', 'PATCH'].includes(op.method)
      ? {}
      : undefined;
  try {
    return await call(tokenOf(who), op.method, path, body);
  } catch (error) {
    // A route that hangs or breaks the connection is a row of the failure list, named.
    return { status: 0, json: String(error) };
  }
}

/** Builds both worlds (the caller's and the stranger's) and reads who is what in them. */
export async function buildWorlds(): Promise<void> {
  [A, B] = await Promise.all([buildWorld(), buildWorld()]);
  for (const who of WHO) memberships.set(who, await readMemberships(who));
}
