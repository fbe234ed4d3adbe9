// Member keys: thin handlers over worker/domain/keys.ts. `/keys` is the operator's path of old
// (and anyone's own keys); `/groups/{id}/keys` is a group's keys as the dashboard shows them.
import { createSelectSchema } from 'drizzle-zod';
import { clientRuleSchema, KEY_SERVICES, keyRulesSchema } from '../../auth/key-rules';
import { apiKeys } from '../../db/schema';
import { createKey, getKey, listGroupKeys, listKeys, revokeKey, updateKey } from '../../domain/keys';
import { errorResponse, IdParam, jsonBody, jsonResponse, newRouter, route, z } from '../openapi';
import { requireCaller } from '../principal';

const KeySchema = createSelectSchema(apiKeys, {
  allowedModels: z.array(z.string()).nullable(),
  allowedServices: z.array(z.enum(KEY_SERVICES)).nullable(),
  allowedClients: z.array(clientRuleSchema).nullable(),
})
  .omit({ keyHash: true })
  .openapi('Key');

const NewKeySchema = KeySchema.extend({
  key: z.string().openapi({ description: 'The key itself (`cp-…`): shown once, never again.' }),
}).openapi('NewKey');

const id = z.string().min(1).max(64);

/** The rules of a key (worker/auth/key-rules.ts); null: no restriction, or the group's bound. */
const rules = {
  // May be empty (a key needs no name); never control characters.
  name: z
    .string()
    .trim()
    .max(100)
    .refine((s) => !/\p{Cc}/u.test(s), {
      message: 'must not contain control characters',
      params: { rule: 'control_characters' },
    }),
  /** A fixed deadline; with `activeForMs` too, the key stops at whichever comes first. */
  expiresAt: z.number().int().positive().nullable(),
  allowedModels: keyRulesSchema.allowedModels.unwrap(),
  allowedServices: keyRulesSchema.allowedServices.unwrap(),
  allowedClients: keyRulesSchema.allowedClients.unwrap(),
  activeForMs: keyRulesSchema.activeForMs.unwrap(),
  maxConcurrency: z.number().int().min(1).max(10_000).nullable(),
  requestsPerWindow: z.number().int().min(1).nullable(),
  windowMinutes: z.number().int().min(1).max(1440).nullable(),
};

// The fields of the old per-key budgets (their columns are gone: migration 0026), still refused
// by name so that a client sending them learns where a key's budget went (null, no budget, is
// still let through, as it always was).
const keyBudget = z
  .literal(null, { error: "a key's budget is a budget with scope `key` (POST /budgets); leave this out" })
  .optional();
const budgets = { dailyBudgetMicros: keyBudget, monthlyBudgetMicros: keyBudget };

const keyRulesShape = {
  name: rules.name.optional(),
  expiresAt: rules.expiresAt.optional(),
  allowedModels: rules.allowedModels.optional(),
  allowedServices: rules.allowedServices.optional(),
  allowedClients: rules.allowedClients.optional(),
  activeForMs: rules.activeForMs.optional(),
  maxConcurrency: rules.maxConcurrency.optional(),
  requestsPerWindow: rules.requestsPerWindow.optional(),
  windowMinutes: rules.windowMinutes.optional(),
  ...budgets,
};

// Whole objects, not one extending another: an extended strict object is documented as an
// `allOf` of two parts that each forbid the other's properties, which no body satisfies.
const groupKeyShape = {
  ...keyRulesShape,
  /** Whose key: the caller's own when left out (someone else's needs group.manage). */
  userId: id.optional(),
};
const GroupKeyInput = z.strictObject(groupKeyShape).openapi('GroupKeyInput');

const KeyInput = z.strictObject({ ...groupKeyShape, groupId: id }).openapi('KeyInput');

const KeyChanges = z.strictObject(keyRulesShape).openapi('KeyChanges');

const KeyQuery = z.object({
  groupId: id.optional().openapi({ param: { name: 'groupId', in: 'query' } }),
  userId: id.optional().openapi({ param: { name: 'userId', in: 'query' } }),
});

const keyList = jsonResponse(z.object({ data: z.array(KeySchema) }), 'The keys.');
const created = { 201: jsonResponse(NewKeySchema, 'The key, with its plaintext this once.') };

function withoutBudgets<T extends { dailyBudgetMicros?: unknown; monthlyBudgetMicros?: unknown }>(input: T) {
  const { dailyBudgetMicros: _daily, monthlyBudgetMicros: _monthly, ...rest } = input;
  return rest;
}

export const keyRoutes = newRouter()
  .openapi(
    route('ai.use', {
      method: 'post',
      path: '/keys',
      summary:
        'Create a key in a group: one’s own (ai.use), or a member’s (group.manage); within the group’s keyBounds',
      request: jsonBody(KeyInput),
      responses: created,
    }),
    async (c) => c.json(await createKey(requireCaller(c), withoutBudgets(c.req.valid('json'))), 201),
  )
  .openapi(
    route('signed-in', {
      method: 'get',
      path: '/keys',
      summary: 'The caller’s own keys and every key of the groups they manage (all, for a system admin)',
      request: { query: KeyQuery },
      responses: { 200: keyList },
    }),
    async (c) => c.json({ data: await listKeys(requireCaller(c), c.req.valid('query')) }, 200),
  )
  .openapi(
    route('signed-in', {
      method: 'get',
      path: '/keys/{id}',
      summary: 'One key: the holder’s own, or any of a group the caller manages',
      request: { params: IdParam },
      responses: { 200: jsonResponse(KeySchema, 'The key (never its plaintext).') },
    }),
    async (c) => c.json(await getKey(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('ai.use', {
      method: 'patch',
      path: '/keys/{id}',
      summary:
        'Rename a key or change its rules, within the group’s keyBounds: one’s own (ai.use), or any of a group one manages (group.manage)',
      request: { params: IdParam, ...jsonBody(KeyChanges) },
      responses: { 409: errorResponse('The key is revoked.'), 200: jsonResponse(KeySchema, 'The key.') },
    }),
    async (c) =>
      c.json(
        await updateKey(requireCaller(c), c.req.valid('param').id, withoutBudgets(c.req.valid('json'))),
        200,
      ),
  )
  .openapi(
    route('ai.use', {
      method: 'post',
      path: '/keys/{id}/revoke',
      summary: 'Revoke a key, at once everywhere: one’s own, or any of a group one manages (group.manage)',
      request: { params: IdParam },
      responses: { 200: jsonResponse(KeySchema, 'The revoked key.') },
    }),
    async (c) => c.json(await revokeKey(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('group.view', {
      method: 'get',
      path: '/groups/{id}/keys',
      summary: 'A group’s keys: all of them for those who manage it, one’s own for a member',
      request: { params: IdParam },
      responses: { 200: keyList },
    }),
    async (c) => c.json({ data: await listGroupKeys(requireCaller(c), c.req.valid('param').id) }, 200),
  )
  .openapi(
    route('ai.use', {
      method: 'post',
      path: '/groups/{id}/keys',
      summary: 'Create a key in this group: one’s own (ai.use), or a member’s (group.manage)',
      request: { params: IdParam, ...jsonBody(GroupKeyInput) },
      responses: created,
    }),
    async (c) =>
      c.json(
        await createKey(requireCaller(c), {
          ...withoutBudgets(c.req.valid('json')),
          groupId: c.req.valid('param').id,
        }),
        201,
      ),
  );
