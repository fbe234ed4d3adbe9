// Upstream accounts: an enterprise's pool accounts, run by those who hold `ai.manage` in it, and a
// carpool's one account, bound and run by the group's owner (`group.manage`). An account is either
// one carpool's or one enterprise's, never both: D1's triggers keep that in every path (see
// migrations/), this module only words it first. Credentials are write-only: encrypted on the way
// in, never returned; the test connection checks one without storing it. Every change reaches the
// gates (pushAccount) before the call returns.
import { and, desc, eq, inArray, isNull, notExists, or, type SQL, sql } from 'drizzle-orm';
import { accountGate } from '../../durable-objects/address';
import { ApiError, fieldRefusal } from '../api/errors';
import { encryptCredential } from '../auth/credentials';
import { type Account, accounts, enterprises, type Group, groups } from '../db/schema';
import { isOAuthKind } from '../oauth/config';
import { PRESETS, type Preset } from '../providers/compatible';
import { probeUpstream } from '../providers/probe';
import { groupsUsingAccount } from '../scheduling/group-config';
import { audit } from './audit';
import { authorize, type Caller, memberships } from './caller';
import { type Resource, viewActionOf } from './permissions';
import { pushAccount, pushGroup } from './push';

/** An account as anyone may see it: never the credential. `groupId`: the carpool it is bound to. */
export type PublicAccount = Omit<Account, 'credentialsEnc' | 'credentialGeneration'> & {
  groupId: string | null;
};

export type Provider = Account['provider'];

/** Where an account is reached and how it is used; the credential comes separately. */
export interface AccountSettings {
  name: string;
  baseUrl?: string | null;
  modelMapping?: Record<string, string> | null;
  supportedModels?: string[] | null;
  priority?: number;
  weight?: number;
  maxConcurrency?: number;
  /** A fixed monthly fee, micro-dollars (worker/domain/billing.ts). */
  monthlyFeeMicros?: number;
  /** Whether usage is billed at API price; false for a fee-only subscription. */
  meteredBilling?: boolean;
}

export interface Endpoint {
  provider: Provider;
  authKind?: Account['authKind'];
  credential: string;
  baseUrl?: string | null;
  /** A vendor endpoint by name, for the compatible kinds: fills baseUrl. */
  preset?: Preset;
}

export type NewAccount = AccountSettings & Endpoint & { enterpriseId?: string | null };

export type AccountChanges = Partial<
  Omit<AccountSettings, 'name'> & {
    name: string;
    credential: string;
    enabled: boolean;
    disabledReason: string | null;
    enterpriseId: string | null;
  }
>;

const NEEDS_BASE_URL = new Set<Provider>(['openai-compatible', 'anthropic-compatible', 'azure-openai']);

function invalid(field: string, message: string, more: Parameters<typeof fieldRefusal>[2]): never {
  throw fieldRefusal(field, message, more, `Invalid json: ${field}: ${message}`);
}

/** The endpoint's rules: a preset only for the compatible kinds, a base URL where one is needed. */
function resolveEndpoint<T extends Endpoint>(
  input: T,
  viaOAuth = false,
): Omit<T, 'preset'> & { baseUrl: string | null } {
  const { preset, ...rest } = input;
  let baseUrl = rest.baseUrl ?? null;
  if (preset) {
    if (baseUrl) invalid('preset', 'send a baseUrl or a preset, not both', { rule: 'not_both' });
    if (rest.provider === 'anthropic-compatible') baseUrl = PRESETS[preset].anthropic;
    else if (rest.provider === 'openai-compatible') baseUrl = PRESETS[preset].openai;
    else
      invalid('preset', 'a preset is for the openai-compatible and anthropic-compatible providers', {
        rule: 'not_for_kind',
      });
  }
  if (NEEDS_BASE_URL.has(rest.provider) && !baseUrl)
    invalid('baseUrl', 'this provider needs a baseUrl (or, for the compatible kinds, a preset)', {
      code: 'invalid_type',
      required: true,
    });
  checkApiVersion(rest.provider, baseUrl);
  checkCredential(rest.provider, rest.credential, viaOAuth);
  return { ...rest, baseUrl };
}

/**
 * Azure's `api-version` (in the base URL's query) must know `stream_options`, which the relay sends
 * on every streamed chat to be told the usage: versions dated before 2024-09-01 refuse the whole
 * request, so an account set to one would fail every stream it is given.
 */
function checkApiVersion(provider: Provider, baseUrl: string | null): void {
  if (provider !== 'azure-openai' || !baseUrl) return;
  const version = new URL(baseUrl).searchParams.get('api-version');
  const dated = version?.match(/^(\d{4}-\d{2}-\d{2})/)?.[1];
  if (dated && dated < '2024-09-01')
    invalid(
      'baseUrl',
      `api-version ${version} predates stream_options (2024-09-01-preview), which streamed chats need for their usage: use 2024-10-21 or later, or leave it out`,
      { rule: 'api_version' },
    );
}

function checkCredential(provider: Provider, credential: string, viaOAuth = false): void {
  // A subscription's tokens come from the provider's sign-in, after the terms were confirmed.
  if (isOAuthKind(provider) && !viaOAuth)
    invalid(
      'provider',
      `${provider} accounts are added by signing in: POST /accounts/oauth/start, then POST /accounts/oauth/finish`,
      { rule: 'sign_in_instead' },
    );
  if (provider === 'bedrock' && !isBedrockCredential(credential))
    invalid(
      'credential',
      'a Bedrock credential is JSON: {"accessKeyId","secretAccessKey","region","sessionToken"?}',
      { rule: 'bedrock_credential' },
    );
}

function isBedrockCredential(text: string): boolean {
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    return ['accessKeyId', 'secretAccessKey', 'region'].every(
      (k) => typeof parsed[k] === 'string' && parsed[k],
    );
  } catch {
    return false;
  }
}

/** The account row and the carpool it is bound to, if any. */
interface Scoped {
  account: Account;
  groupId: string | null;
}

function publicAccount({ account, groupId }: Scoped): PublicAccount {
  const { credentialsEnc: _secret, credentialGeneration: _generation, ...rest } = account;
  return { ...rest, groupId };
}

/** Whose account it is: its enterprise's (a pool) or its carpool's (then its group's). */
function resourceOf({ account, groupId }: Scoped): Resource {
  return { type: 'account', accountId: account.id, enterpriseId: account.enterpriseId, groupId };
}

function selectScoped(caller: Caller) {
  return caller.db
    .select({ account: accounts, groupId: groups.id })
    .from(accounts)
    .leftJoin(groups, eq(groups.boundAccountId, accounts.id));
}

/** The account, if the caller may see it (404 otherwise) and do `action` with it (403 otherwise). */
async function accountFor(caller: Caller, id: string, action: 'view' | 'ai.manage'): Promise<Scoped> {
  const [row] = await selectScoped(caller).where(eq(accounts.id, id));
  const what = `account ${id}`;
  // Not there at all: the same answer as not visible.
  if (!row) throw new ApiError('not_found', `No ${what}.`);
  const resource = resourceOf(row);
  await authorize(caller, action === 'view' ? viewActionOf(resource) : action, resource, what);
  return row;
}

// ---------------------------------------------------------------------------------------------
// Pool accounts (and, for a system admin, any account)

/** An account joins an enterprise's pool only by someone who holds `ai.manage` there. */
async function mayJoinPool(caller: Caller, enterpriseId: string): Promise<void> {
  await authorize(caller, 'ai.manage', { type: 'enterprise', enterpriseId }, `enterprise ${enterpriseId}`);
  await requireEnterprise(caller, enterpriseId);
}

/**
 * A new account. With `enterpriseId`: a pool account, for those who hold `ai.manage` there.
 * Without: an account of no one yet, which only a system admin creates (to bind it to a carpool
 * through POST /groups); people bind a carpool's account through POST /groups/{id}/account.
 */
export async function createAccount(
  caller: Caller,
  input: NewAccount,
  options: { viaOAuth?: boolean } = {},
): Promise<PublicAccount> {
  if (input.enterpriseId) {
    await mayJoinPool(caller, input.enterpriseId);
  } else if (!(await memberships(caller)).system) {
    throw new ApiError(
      'invalid_request',
      "Name the enterprise whose pool the account joins (enterpriseId), or bind a carpool's account with POST /groups/{id}/account.",
    );
  }
  const { enterpriseId, ...rest } = input;
  const endpoint = resolveEndpoint(rest, options.viaOAuth);
  const id = crypto.randomUUID();
  const now = Date.now();
  const [row] = await caller.db
    .insert(accounts)
    .values({
      ...settingsOf(endpoint),
      id,
      provider: endpoint.provider,
      authKind: endpoint.authKind,
      credentialsEnc: await encryptCredential(caller.env.CREDENTIALS_KEY, id, endpoint.credential),
      enterpriseId: enterpriseId ?? null,
      // One clock for both (the column's default is D1's, every later update the Worker's).
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  await audit(caller, {
    action: 'account.create',
    target: { type: 'account', id },
    enterpriseId: enterpriseId ?? null,
    detail: {
      name: row!.name,
      provider: row!.provider,
      baseUrl: row!.baseUrl,
      monthlyFeeMicros: row!.monthlyFeeMicros,
      meteredBilling: row!.meteredBilling,
    },
  });
  await pushAccount(caller.env, row!);
  return publicAccount({ account: row!, groupId: null });
}

function settingsOf(input: AccountSettings & { baseUrl: string | null }) {
  return {
    name: input.name,
    baseUrl: input.baseUrl,
    modelMapping: input.modelMapping ?? null,
    supportedModels: input.supportedModels ?? null,
    priority: input.priority,
    weight: input.weight,
    maxConcurrency: input.maxConcurrency,
    monthlyFeeMicros: input.monthlyFeeMicros,
    meteredBilling: input.meteredBilling,
  };
}

export async function requireEnterprise(caller: Caller, id: string): Promise<void> {
  const [row] = await caller.db
    .select({ id: enterprises.id })
    .from(enterprises)
    .where(eq(enterprises.id, id));
  if (!row) throw new ApiError('not_found', `No enterprise ${id}.`);
}

/**
 * The accounts the caller may see, newest first: every one for a system admin; else the pool
 * accounts of the enterprises they belong to and the accounts of the carpools they are in.
 */
export async function listAccounts(
  caller: Caller,
  filter: { enterpriseId?: string } = {},
): Promise<PublicAccount[]> {
  const m = await memberships(caller);
  const where: SQL[] = [];
  if (filter.enterpriseId) where.push(eq(accounts.enterpriseId, filter.enterpriseId));
  if (!m.system) {
    const enterpriseIds = [...m.enterprises.keys()];
    const groupIds = [...m.groups.keys()];
    if (enterpriseIds.length === 0 && groupIds.length === 0) return [];
    where.push(
      or(
        enterpriseIds.length ? inArray(accounts.enterpriseId, enterpriseIds) : undefined,
        groupIds.length ? inArray(groups.id, groupIds) : undefined,
      )!,
    );
  }
  const rows = await selectScoped(caller)
    .where(and(...where))
    .orderBy(desc(accounts.createdAt));
  return rows.map(publicAccount);
}

/** One account, with its gate's live state (load, health, why it cannot serve). */
export async function getAccount(caller: Caller, id: string) {
  const row = await accountFor(caller, id, 'view');
  return { ...publicAccount(row), live: await accountGate(caller.env, id).state() };
}

export async function updateAccount(
  caller: Caller,
  id: string,
  changes: AccountChanges,
): Promise<PublicAccount> {
  const row = await accountFor(caller, id, 'ai.manage');
  if (changes.enterpriseId !== undefined && changes.enterpriseId !== row.account.enterpriseId) {
    // Joining a pool needs `ai.manage` there too; an account bound to a carpool joins none (409).
    if (changes.enterpriseId) {
      await mayJoinPool(caller, changes.enterpriseId);
    } else if (!(await memberships(caller)).system) {
      // Out of every pool and bound to no carpool, an account would be no one's but the system's.
      throw fieldRefusal(
        'enterpriseId',
        'only a system admin takes an account out of its pool; disable it instead.',
        { rule: 'system_admin_only' },
        'Invalid json: enterpriseId: only a system admin takes an account out of its pool; disable it instead.',
      );
    }
  }
  return applyChanges(caller, row, changes);
}

export async function setAccountEnabled(
  caller: Caller,
  id: string,
  enabled: boolean,
  reason?: string,
): Promise<PublicAccount> {
  const row = await accountFor(caller, id, 'ai.manage');
  return applyChanges(
    caller,
    row,
    enabled
      ? { enabled: true, disabledReason: null }
      : { enabled: false, disabledReason: reason ?? 'disabled' },
  );
}

/** Live scheduler state: leases in use, queue, cooldown and its reason, recent errors, latency. */
export async function accountState(caller: Caller, id: string) {
  await accountFor(caller, id, 'view');
  return accountGate(caller.env, id).state();
}

/** Clears cooldown, failure counts and an automatic disable (not a person's own disable). */
export async function resetAccount(caller: Caller, id: string) {
  const row = await accountFor(caller, id, 'ai.manage');
  const state = await accountGate(caller.env, id).reset();
  await audit(caller, {
    action: 'account.reset',
    target: { type: 'account', id },
    enterpriseId: row.account.enterpriseId,
    groupId: row.groupId,
  });
  return state;
}

/** Asks the upstream whether the stored credential works; success lifts an automatic disable. */
export async function probeAccount(caller: Caller, id: string) {
  const row = await accountFor(caller, id, 'ai.manage');
  const result = await accountGate(caller.env, id).probe();
  await audit(caller, {
    action: 'account.probe',
    target: { type: 'account', id },
    enterpriseId: row.account.enterpriseId,
    groupId: row.groupId,
    detail: { ok: result.ok, status: result.status },
  });
  return result;
}

/** The fields an audit entry may show of an account: everything but the credential. */
const SHOWN = [
  'name',
  'baseUrl',
  'modelMapping',
  'supportedModels',
  'priority',
  'weight',
  'maxConcurrency',
  'monthlyFeeMicros',
  'meteredBilling',
  'enabled',
  'disabledReason',
  'enterpriseId',
] as const;

const originOf = (url: string | null) => (url ? new URL(url).origin : null);

async function applyChanges(caller: Caller, before: Scoped, changes: AccountChanges): Promise<PublicAccount> {
  const { credential, ...fields } = changes;
  const id = before.account.id;
  if (credential !== undefined && isOAuthKind(before.account.provider))
    invalid(
      'credential',
      "a subscription account's tokens come from signing in to the provider, not from a field",
      { rule: 'sign_in_instead' },
    );
  if (credential !== undefined) checkCredential(before.account.provider, credential);
  // A credential goes only to the host it was given for: whoever may edit an account may not read
  // its credential, and pointing the account elsewhere would have sent it there.
  if (fields.baseUrl !== undefined && originOf(fields.baseUrl) !== originOf(before.account.baseUrl)) {
    if (isOAuthKind(before.account.provider))
      invalid(
        'baseUrl',
        "a subscription account's tokens go only to its provider; sign in again as a new account",
        { rule: 'sign_in_instead' },
      );
    if (credential === undefined)
      invalid('baseUrl', 'a base URL on another host takes the credential again: send credential with it', {
        rule: 'credential_again',
      });
  }
  const baseUrl = fields.baseUrl === undefined ? before.account.baseUrl : fields.baseUrl;
  if (NEEDS_BASE_URL.has(before.account.provider) && !baseUrl)
    invalid('baseUrl', 'this provider needs a baseUrl', { code: 'invalid_type', required: true });
  checkApiVersion(before.account.provider, baseUrl);
  const credentialsEnc =
    credential === undefined
      ? undefined
      : await encryptCredential(caller.env.CREDENTIALS_KEY, id, credential);
  const [row] = await caller.db
    .update(accounts)
    .set({ ...fields, credentialsEnc, updatedAt: Date.now() })
    .where(eq(accounts.id, id))
    .returning();
  const after: Scoped = { account: row!, groupId: before.groupId };
  const changed = SHOWN.filter((k) => fields[k] !== undefined);
  await audit(caller, {
    action: 'account.update',
    target: { type: 'account', id },
    enterpriseId: row!.enterpriseId ?? before.account.enterpriseId,
    groupId: before.groupId,
    detail: {
      fields: credential === undefined ? changed : [...changed, 'credential'],
      before: Object.fromEntries(changed.map((k) => [k, before.account[k]])),
      after: Object.fromEntries(changed.map((k) => [k, row![k]])),
    },
  });
  await pushAccount(caller.env, row!);
  // Leaving a pool: the groups of the pool it left must stop scheduling over it.
  if (before.account.enterpriseId && before.account.enterpriseId !== row!.enterpriseId) {
    const left = await groupsUsingAccount(caller.env, before.account);
    await Promise.all(left.map((groupId) => pushGroup(caller.env, groupId)));
  }
  // A new credential is a fresh start: failures and an automatic disable were the old one's.
  if (credential !== undefined) await accountGate(caller.env, id).reset();
  return publicAccount(after);
}

/** The account, for someone about to change it (404 / 403 as for any change). */
export async function accountToManage(caller: Caller, id: string): Promise<PublicAccount> {
  return publicAccount(await managed(caller, id));
}

/** A pool account is changed with ai.manage; a carpool's by its owner (group.manage), as on /groups/{id}/account. */
async function managed(caller: Caller, id: string): Promise<Scoped> {
  // Seen first (404 otherwise), so an account id never reveals its carpool to a stranger.
  const row = await accountFor(caller, id, 'view');
  if (row.groupId) {
    await carpoolFor(caller, row.groupId, 'group.manage');
    return row;
  }
  return accountFor(caller, id, 'ai.manage');
}

/**
 * A subscription account signed in again (after its grant was revoked, or to move it to another
 * login): new tokens, enabled again, its failures forgotten.
 */
export async function reauthorizeAccount(
  caller: Caller,
  id: string,
  credential: string,
): Promise<PublicAccount> {
  const before = await managed(caller, id);
  if (!isOAuthKind(before.account.provider))
    invalid(
      'accountId',
      'only a subscription account (claude-oauth, codex-oauth, gemini-oauth) is signed in again',
      { rule: 'not_for_kind' },
    );
  const [row] = await caller.db
    .update(accounts)
    .set({
      credentialsEnc: await encryptCredential(caller.env.CREDENTIALS_KEY, id, credential),
      // A new grant: a refresh of the old one still in flight must not write over it.
      credentialGeneration: sql`${accounts.credentialGeneration} + 1`,
      enabled: true,
      disabledReason: null,
      updatedAt: Date.now(),
    })
    .where(eq(accounts.id, id))
    .returning();
  await audit(caller, {
    action: 'account.reauthorize',
    target: { type: 'account', id },
    enterpriseId: row!.enterpriseId,
    groupId: before.groupId,
    detail: {
      fields: ['credential', 'enabled', 'disabledReason'],
      before: { enabled: before.account.enabled, disabledReason: before.account.disabledReason },
      after: { enabled: true, disabledReason: null },
    },
  });
  await pushAccount(caller.env, row!);
  await accountGate(caller.env, id).reset();
  return publicAccount({ account: row!, groupId: before.groupId });
}

// ---------------------------------------------------------------------------------------------
// Test connection

export interface ConnectionTest {
  ok: boolean;
  /** The upstream's HTTP status for a model list; null when it did not answer. */
  status: number | null;
  message: string;
}

/**
 * Checks a credential before it is stored: the adapter's model-list probe against the upstream.
 * Nothing is kept, and the answer never repeats the credential or the upstream's body (which may).
 */
export async function testConnection(_caller: Caller, input: Endpoint): Promise<ConnectionTest> {
  const endpoint = resolveEndpoint(input);
  const status = await probeUpstream(
    {
      id: 'connection-test',
      provider: endpoint.provider,
      authKind: endpoint.authKind ?? 'api_key',
      baseUrl: endpoint.baseUrl,
      credentialsEnc: '',
      modelMapping: null,
    },
    endpoint.credential,
  );
  if (status === null)
    return {
      ok: false,
      status,
      message: 'The upstream did not answer (unreachable, or no answer within 10 s).',
    };
  if (status < 400)
    return { ok: true, status, message: `The upstream accepted the credential (HTTP ${status}).` };
  if (status === 401 || status === 403)
    return { ok: false, status, message: `The upstream refused the credential (HTTP ${status}).` };
  return { ok: false, status, message: `The upstream answered HTTP ${status} to a model list.` };
}

// ---------------------------------------------------------------------------------------------
// A carpool's account

export async function carpoolFor(
  caller: Caller,
  groupId: string,
  action: 'group.view' | 'group.manage',
): Promise<Group> {
  const [group] = await caller.db.select().from(groups).where(eq(groups.id, groupId));
  const what = `group ${groupId}`;
  if (!group) throw new ApiError('not_found', `No ${what}.`);
  await authorize(caller, action, { type: 'group', groupId, enterpriseId: group.enterpriseId }, what);
  return group;
}

async function boundAccount(caller: Caller, group: Group): Promise<Scoped> {
  if (!group.boundAccountId) throw new ApiError('not_found', `Group ${group.id} has no account yet.`);
  const [account] = await caller.db.select().from(accounts).where(eq(accounts.id, group.boundAccountId));
  if (!account) throw new ApiError('not_found', `Group ${group.id} has no account yet.`);
  return { account, groupId: group.id };
}

/**
 * Creates the carpool's account and binds it, in one D1 transaction: if the group gained an
 * account meanwhile (another request), the new account is deleted in the same batch and the
 * answer is a 409.
 */
export async function bindCarpoolAccount(
  caller: Caller,
  groupId: string,
  input: Omit<AccountSettings, 'name'> & Endpoint & { name?: string },
  options: { viaOAuth?: boolean } = {},
): Promise<PublicAccount> {
  const group = await carpoolFor(caller, groupId, 'group.manage');
  if (group.kind !== 'carpool')
    throw new ApiError(
      'invalid_request',
      `Group ${groupId} is an enterprise group: it schedules over its enterprise's pool and has no account of its own.`,
    );
  if (group.boundAccountId)
    throw new ApiError(
      'conflict',
      `Group ${groupId} already has an account: change it (PATCH) or unbind it (DELETE) first.`,
    );
  const endpoint = resolveEndpoint({ ...input, name: input.name ?? group.name }, options.viaOAuth);
  const id = crypto.randomUUID();
  const d = caller.db;
  const now = Date.now();
  const [, bound] = await d.batch([
    d.insert(accounts).values({
      ...settingsOf(endpoint),
      id,
      provider: endpoint.provider,
      authKind: endpoint.authKind,
      credentialsEnc: await encryptCredential(caller.env.CREDENTIALS_KEY, id, endpoint.credential),
      enterpriseId: null,
      createdAt: now,
      updatedAt: now,
    }),
    d
      .update(groups)
      .set({ boundAccountId: id })
      .where(and(eq(groups.id, groupId), eq(groups.kind, 'carpool'), isNull(groups.boundAccountId)))
      .returning({ id: groups.id }),
    d
      .delete(accounts)
      .where(
        and(
          eq(accounts.id, id),
          notExists(d.select({ id: groups.id }).from(groups).where(eq(groups.boundAccountId, id))),
        ),
      ),
  ]);
  if (bound.length === 0)
    throw new ApiError(
      'conflict',
      `Group ${groupId} already has an account: change it (PATCH) or unbind it (DELETE) first.`,
    );
  const [row] = await d.select().from(accounts).where(eq(accounts.id, id));
  await audit(caller, {
    action: 'account.bind',
    target: { type: 'account', id },
    groupId,
    detail: {
      name: row!.name,
      provider: row!.provider,
      baseUrl: row!.baseUrl,
      monthlyFeeMicros: row!.monthlyFeeMicros,
      meteredBilling: row!.meteredBilling,
    },
  });
  await pushAccount(caller.env, row!);
  return publicAccount({ account: row!, groupId });
}

/** The carpool's account as its members see it: settings (no credential) and live status. */
export async function getCarpoolAccount(caller: Caller, groupId: string) {
  const scoped = await boundAccount(caller, await carpoolFor(caller, groupId, 'group.view'));
  return { ...publicAccount(scoped), live: await accountGate(caller.env, scoped.account.id).state() };
}

export async function updateCarpoolAccount(
  caller: Caller,
  groupId: string,
  changes: Omit<AccountChanges, 'enterpriseId'>,
): Promise<PublicAccount> {
  const scoped = await boundAccount(caller, await carpoolFor(caller, groupId, 'group.manage'));
  return applyChanges(caller, scoped, changes);
}

/**
 * Unbinds the carpool's account and deletes it: the credential was the owner's to share with this
 * group and with no one else, so it does not outlive the binding. The group and its keys stay;
 * requests are refused (no account) until a new one is bound. Usage keeps the account's id.
 */
export async function unbindCarpoolAccount(caller: Caller, groupId: string): Promise<PublicAccount> {
  const scoped = await boundAccount(caller, await carpoolFor(caller, groupId, 'group.manage'));
  const id = scoped.account.id;
  const d = caller.db;
  const [unbound] = await d.batch([
    d
      .update(groups)
      .set({ boundAccountId: null })
      .where(and(eq(groups.id, groupId), eq(groups.boundAccountId, id)))
      .returning({ id: groups.id }),
    d
      .delete(accounts)
      .where(
        and(
          eq(accounts.id, id),
          notExists(d.select({ id: groups.id }).from(groups).where(eq(groups.boundAccountId, id))),
        ),
      ),
  ]);
  if (unbound.length === 0) throw new ApiError('not_found', `Group ${groupId} has no account yet.`);
  await audit(caller, {
    action: 'account.unbind',
    target: { type: 'account', id },
    groupId,
    detail: { name: scoped.account.name, provider: scoped.account.provider, deleted: true },
  });
  // The group schedules over nothing now; the gate refuses anything still addressed to the account.
  await pushGroup(caller.env, groupId);
  const gone = { ...scoped.account, enabled: false, disabledReason: 'unbound from its carpool and deleted' };
  await pushAccount(caller.env, gone);
  return publicAccount({ account: gone, groupId: null });
}
