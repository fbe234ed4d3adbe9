// /accounts (pool accounts, and any account for a system admin), /accounts/test (a credential
// checked before it is stored) and /groups/{id}/account (a carpool's one account): thin handlers
// over worker/domain/accounts.ts. No response ever carries a credential.
import { createSelectSchema } from 'drizzle-zod';
import { accounts } from '../../db/schema';
import {
  accountState,
  bindCarpoolAccount,
  createAccount,
  getAccount,
  getCarpoolAccount,
  listAccounts,
  probeAccount,
  resetAccount,
  setAccountEnabled,
  testConnection,
  unbindCarpoolAccount,
  updateAccount,
  updateCarpoolAccount,
} from '../../domain/accounts';
import { MODEL_NAME_MAX } from '../../limits';
import { PRESETS, type Preset } from '../../providers/compatible';
import {
  displayText,
  errorResponse,
  IdParam,
  jsonBody,
  jsonResponse,
  newRouter,
  route,
  UpstreamUrl,
  z,
} from '../openapi';
import { requireCaller } from '../principal';

// Names longer than a client may send (worker/limits.ts) could never match a request.
const modelName = z.string().min(1).max(MODEL_NAME_MAX);
const credential = z
  .string()
  .min(1)
  .max(10_000)
  .openapi({ description: 'The upstream secret: encrypted at rest, never returned.' });

const endpointFields = {
  provider: z.enum(accounts.provider.enumValues),
  authKind: z.enum(accounts.authKind.enumValues).optional(),
  credential,
  baseUrl: UpstreamUrl.nullable().optional(),
  preset: z
    .enum(Object.keys(PRESETS) as [Preset, ...Preset[]])
    .optional()
    .openapi({ description: 'A vendor endpoint by name (the compatible kinds): fills baseUrl.' }),
};

const settingsFields = {
  name: displayText(),
  modelMapping: z.record(modelName, modelName).nullable(),
  supportedModels: z.array(modelName).nullable(),
  priority: z.number().int().min(0).max(1000),
  weight: z.number().int().min(1).max(1000),
  maxConcurrency: z.number().int().min(1).max(10_000),
  monthlyFeeMicros: z.number().int().min(0).max(1_000_000_000_000).openapi({
    description: 'A fixed monthly fee (a subscription), micro-dollars: part of a carpool’s bill.',
  }),
  meteredBilling: z.boolean().openapi({
    description:
      'Whether usage is billed at API price (default true). False for a fee-only subscription: usage still has an API-equivalent cost, used to share the bill by usage.',
  }),
};

const optionalSettings = {
  name: settingsFields.name,
  modelMapping: settingsFields.modelMapping.optional(),
  supportedModels: settingsFields.supportedModels.optional(),
  priority: settingsFields.priority.optional(),
  weight: settingsFields.weight.optional(),
  maxConcurrency: settingsFields.maxConcurrency.optional(),
  monthlyFeeMicros: settingsFields.monthlyFeeMicros.optional(),
  meteredBilling: settingsFields.meteredBilling.optional(),
};

/** Unknown fields are refused by name; so are those an account cannot change once created. */
const IMMUTABLE = new Set(['provider', 'authKind', 'preset']);
function strictChanges<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      const fixed = issue.keys.filter((k) => IMMUTABLE.has(k));
      const unknown = issue.keys.filter((k) => !IMMUTABLE.has(k));
      return [
        fixed.length ? `${fixed.join(', ')} cannot change: create another account` : '',
        unknown.length ? `unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; ');
    },
  });
}

const changeFields = {
  name: settingsFields.name,
  baseUrl: UpstreamUrl.nullable(),
  modelMapping: settingsFields.modelMapping,
  supportedModels: settingsFields.supportedModels,
  priority: settingsFields.priority,
  weight: settingsFields.weight,
  maxConcurrency: settingsFields.maxConcurrency,
  monthlyFeeMicros: settingsFields.monthlyFeeMicros,
  meteredBilling: settingsFields.meteredBilling,
  credential,
  enabled: z.boolean(),
  disabledReason: z.string().max(500).nullable(),
};

const AccountInput = z
  .strictObject({
    ...endpointFields,
    ...optionalSettings,
    enterpriseId: z
      .string()
      .min(1)
      .max(64)
      .nullable()
      .optional()
      .openapi({ description: 'The enterprise pool it joins (ai.manage there); none: a system admin’s.' }),
  })
  .openapi('AccountInput');

const CarpoolAccountInput = z
  .strictObject({
    ...endpointFields,
    ...optionalSettings,
    name: optionalSettings.name.optional().openapi({ description: "Default: the group's name." }),
  })
  .openapi('CarpoolAccountInput');

const AccountChanges = strictChanges({
  ...changeFields,
  enterpriseId: z.string().min(1).max(64).nullable(),
})
  .partial()
  .openapi('AccountChanges');

const CarpoolAccountChanges = strictChanges(changeFields).partial().openapi('CarpoolAccountChanges');

const ConnectionTestInput = z
  .strictObject({
    provider: endpointFields.provider,
    authKind: endpointFields.authKind,
    credential,
    baseUrl: endpointFields.baseUrl,
    preset: endpointFields.preset,
  })
  .openapi('ConnectionTestInput');

export const AccountSchema = createSelectSchema(accounts, {
  modelMapping: z.record(z.string(), z.string()).nullable(),
  supportedModels: z.array(z.string()).nullable(),
})
  .omit({ credentialsEnc: true, credentialGeneration: true })
  .extend({ groupId: z.string().nullable().openapi({ description: 'The carpool it is bound to, if any.' }) })
  .openapi('Account');

const AccountStateSchema = z
  .object({
    accountId: z.string().nullable(),
    enabled: z.boolean(),
    reason: z
      .string()
      .nullable()
      .openapi({ description: 'Why it cannot serve now, in words; null when it can.' }),
    inUse: z.number().int(),
    max: z.number().int(),
    queued: z.number().int(),
    health: z.number(),
    unavailableUntil: z.number().nullable(),
    windowUsedPercent: z.number().nullable().openapi({
      description: "A subscription's most used live usage window (0–100); null without windows.",
    }),
    nearLimitUntil: z.number().nullable().openapi({
      description:
        "Near a usage window's limit until this time (epoch ms): routing prefers other accounts until then. Null when every window has room.",
    }),
    cooldownUntil: z.number().nullable(),
    consecutiveFailures: z.number().int(),
    latencyEwmaMs: z.number().nullable().openapi({
      description:
        "Moving average of the account's time to first byte, from each call sent to it (a request's wait in a queue and earlier attempts on other accounts excluded).",
    }),
    lastSuccessAt: z.number().nullable(),
    leases: z.array(z.object({ leaseId: z.string(), expiresAt: z.number(), seenAt: z.number() })),
    recentErrors: z.array(z.object({ at: z.number(), kind: z.string(), status: z.number().nullable() })),
    windows: z
      .array(
        z.object({
          name: z.string().openapi({ description: '`5h`, `7d`… named by length, not position.' }),
          windowMinutes: z.number().int().nullable(),
          usedPercent: z.number(),
          resetAt: z.number().nullable().openapi({ description: 'Epoch ms: the countdown’s end.' }),
          exhausted: z.boolean(),
        }),
      )
      .openapi({
        description: "A subscription's usage windows, from its latest response; empty for API keys.",
      }),
    oauth: z
      .object({
        expiresAt: z.number().nullable(),
        refreshedAt: z.number().nullable(),
        lastRefreshError: z.string().nullable(),
      })
      .nullable()
      .openapi({ description: "A subscription's sign-in: token expiry, last refresh and its error." }),
  })
  .openapi('AccountState');

const AccountWithState = AccountSchema.extend({ live: AccountStateSchema }).openapi('AccountWithState');

const ProbeSchema = z
  .object({ ok: z.boolean(), status: z.number().int().nullable(), state: AccountStateSchema })
  .openapi('AccountProbe');

const ConnectionTestSchema = z
  .object({ ok: z.boolean(), status: z.number().int().nullable(), message: z.string() })
  .openapi('ConnectionTest');

const DisableInput = z.strictObject({ reason: z.string().max(500).optional() }).openapi('AccountDisable');

const ListQuery = z.object({ enterpriseId: z.string().min(1).max(64).optional() });

const one = (description: string) => ({ 200: jsonResponse(AccountSchema, description) });

export const accountRoutes = newRouter()
  .openapi(
    route('ai.manage', {
      method: 'post',
      path: '/accounts',
      summary: 'Add an account to an enterprise pool (ai.manage there; without enterpriseId: system admin)',
      request: jsonBody(AccountInput),
      responses: { 201: jsonResponse(AccountSchema, 'The account (never its credential).') },
    }),
    async (c) => c.json(await createAccount(requireCaller(c), c.req.valid('json')), 201),
  )
  .openapi(
    route('signed-in', {
      method: 'get',
      path: '/accounts',
      summary:
        "The accounts the caller sees: their enterprises' pools and their carpools' accounts (all, for a system admin)",
      request: { query: ListQuery },
      responses: { 200: jsonResponse(z.object({ data: z.array(AccountSchema) }), 'The accounts.') },
    }),
    async (c) => c.json({ data: await listAccounts(requireCaller(c), c.req.valid('query')) }, 200),
  )
  .openapi(
    route('signed-in', {
      method: 'post',
      path: '/accounts/test',
      summary: 'Test a credential against the upstream (a model list) before saving it; nothing is stored',
      request: jsonBody(ConnectionTestInput),
      responses: { 200: jsonResponse(ConnectionTestSchema, 'Whether the upstream accepted the credential.') },
    }),
    async (c) => c.json(await testConnection(requireCaller(c), c.req.valid('json')), 200),
  )
  .openapi(
    route('enterprise.view', {
      method: 'get',
      path: '/accounts/{id}',
      summary: "One account and its live state (a pool's: enterprise.view; a carpool's: group.view)",
      request: { params: IdParam },
      responses: { 200: jsonResponse(AccountWithState, 'The account and its gate’s state.') },
    }),
    async (c) => c.json(await getAccount(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('ai.manage', {
      method: 'patch',
      path: '/accounts/{id}',
      summary: 'Change an account (provider and authKind are fixed); a new credential clears its failures',
      request: { params: IdParam, ...jsonBody(AccountChanges) },
      responses: one('The account.'),
    }),
    async (c) =>
      c.json(await updateAccount(requireCaller(c), c.req.valid('param').id, c.req.valid('json')), 200),
  )
  .openapi(
    route('ai.manage', {
      method: 'post',
      path: '/accounts/{id}/disable',
      summary: 'Take an account out of service, with a reason',
      request: {
        params: IdParam,
        body: { content: { 'application/json': { schema: DisableInput } }, required: false },
      },
      responses: one('The account.'),
    }),
    async (c) =>
      c.json(
        await setAccountEnabled(requireCaller(c), c.req.valid('param').id, false, c.req.valid('json').reason),
        200,
      ),
  )
  .openapi(
    route('ai.manage', {
      method: 'post',
      path: '/accounts/{id}/enable',
      summary: 'Put an account back in service',
      request: { params: IdParam },
      responses: one('The account.'),
    }),
    async (c) => c.json(await setAccountEnabled(requireCaller(c), c.req.valid('param').id, true), 200),
  )
  .openapi(
    route('enterprise.view', {
      method: 'get',
      path: '/accounts/{id}/state',
      summary: 'Live state: leases in use, queue, cooldown and its reason, recent errors, latency',
      request: { params: IdParam },
      responses: { 200: jsonResponse(AccountStateSchema, 'The gate’s state.') },
    }),
    async (c) => c.json(await accountState(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('ai.manage', {
      method: 'post',
      path: '/accounts/{id}/reset',
      summary: 'Clear cooldown, failure counts and an automatic disable',
      request: { params: IdParam },
      responses: { 200: jsonResponse(AccountStateSchema, 'The gate’s state.') },
    }),
    async (c) => c.json(await resetAccount(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('ai.manage', {
      method: 'post',
      path: '/accounts/{id}/probe',
      summary: 'Ask the upstream whether the stored credential works; success lifts an automatic disable',
      request: { params: IdParam },
      responses: { 200: jsonResponse(ProbeSchema, 'The upstream’s answer and the gate’s state.') },
    }),
    async (c) => c.json(await probeAccount(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('group.view', {
      method: 'get',
      path: '/groups/{id}/account',
      summary: "The carpool's account and its live status, as its members see it",
      request: { params: IdParam },
      responses: { 200: jsonResponse(AccountWithState, 'The account and its gate’s state.') },
    }),
    async (c) => c.json(await getCarpoolAccount(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('group.manage', {
      method: 'post',
      path: '/groups/{id}/account',
      summary: "Create the carpool's account and bind it (a carpool without one)",
      request: { params: IdParam, ...jsonBody(CarpoolAccountInput) },
      responses: {
        409: errorResponse('The group has an account already, or the account is bound or pooled elsewhere.'),
        201: jsonResponse(AccountSchema, 'The account (never its credential).'),
      },
    }),
    async (c) =>
      c.json(await bindCarpoolAccount(requireCaller(c), c.req.valid('param').id, c.req.valid('json')), 201),
  )
  .openapi(
    route('group.manage', {
      method: 'patch',
      path: '/groups/{id}/account',
      summary: "Change the carpool's account (provider and authKind are fixed)",
      request: { params: IdParam, ...jsonBody(CarpoolAccountChanges) },
      responses: one('The account.'),
    }),
    async (c) =>
      c.json(await updateCarpoolAccount(requireCaller(c), c.req.valid('param').id, c.req.valid('json')), 200),
  )
  .openapi(
    route('group.manage', {
      method: 'delete',
      path: '/groups/{id}/account',
      summary: "Unbind the carpool's account and delete it (its credential with it); the group stays",
      request: { params: IdParam },
      responses: one('The account as it was, now disabled and gone.'),
    }),
    async (c) => c.json(await unbindCarpoolAccount(requireCaller(c), c.req.valid('param').id), 200),
  );
