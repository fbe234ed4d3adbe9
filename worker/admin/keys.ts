// Member API keys: the plaintext is in the creation response and nowhere else, ever.
import { and, desc, eq, type SQL } from 'drizzle-orm';
import { Hono } from 'hono';
import * as z from 'zod';
import { groupGate } from '../../durable-objects/address';
import { ApiError } from '../api/errors';
import { displayPrefix, generateApiKey, sha256Hex } from '../auth/api-key';
import { forgetKey } from '../auth/client-key';
import { keyRulesSchema } from '../auth/key-rules';
import type { AppEnv } from '../context';
import { db } from '../db/client';
import { type ApiKey, apiKeys } from '../db/schema';
import { audit } from './audit';
import { findGroup, isMember } from './groups';
import { notSupportedYet, validate } from './validate';

const createKeySchema = z.strictObject({
  groupId: z.string().min(1),
  userId: z.string().min(1),
  name: z.string().trim().max(100).default(''),
  /** A fixed deadline; with `activeForMs` too, the key stops at whichever comes first. */
  expiresAt: z.number().int().positive().nullable().default(null),
  ...keyRulesSchema,
  maxConcurrency: z.number().int().min(1).max(10_000).nullable().default(null),
  requestsPerWindow: z.number().int().min(1).nullable().default(null),
  windowMinutes: z.number().int().min(1).max(1440).nullable().default(null),
  // Stored but not enforced until budgets exist: refused rather than accepted and ignored.
  dailyBudgetMicros: notSupportedYet('key budgets are not enforced yet'),
  monthlyBudgetMicros: notSupportedYet('key budgets are not enforced yet'),
});

const listKeysSchema = z.object({ groupId: z.string().optional(), userId: z.string().optional() });

export type PublicKey = Omit<ApiKey, 'keyHash'>;

function publicKey({ keyHash: _hash, ...rest }: ApiKey): PublicKey {
  return rest;
}

export const keyRoutes = new Hono<AppEnv>();

keyRoutes.post('/', validate('json', createKeySchema), async (c) => {
  const input = c.req.valid('json');
  await findGroup(c.env, input.groupId);
  if (!(await isMember(c.env, input.groupId, input.userId))) {
    throw new ApiError('invalid_request', `User ${input.userId} is not a member of group ${input.groupId}.`);
  }
  const { dailyBudgetMicros: _daily, monthlyBudgetMicros: _monthly, ...fields } = input;
  const key = generateApiKey();
  const d = db(c.env);
  const [row] = await d
    .insert(apiKeys)
    .values({ id: crypto.randomUUID(), keyHash: await sha256Hex(key), prefix: displayPrefix(key), ...fields })
    .returning();
  await audit(d, 'key.create', 'key', row!.id, { groupId: input.groupId, userId: input.userId });
  return c.json({ ...publicKey(row!), key }, 201);
});

keyRoutes.get('/', validate('query', listKeysSchema), async (c) => {
  const { groupId, userId } = c.req.valid('query');
  const filters: SQL[] = [];
  if (groupId) filters.push(eq(apiKeys.groupId, groupId));
  if (userId) filters.push(eq(apiKeys.userId, userId));
  const rows = await db(c.env)
    .select()
    .from(apiKeys)
    .where(and(...filters))
    .orderBy(desc(apiKeys.createdAt));
  return c.json({ data: rows.map(publicKey) });
});

keyRoutes.get('/:id', async (c) => c.json(publicKey(await findKey(c.env, c.req.param('id')))));

keyRoutes.post('/:id/revoke', async (c) => {
  const existing = await findKey(c.env, c.req.param('id'));
  const d = db(c.env);
  const [row] = await d
    .update(apiKeys)
    .set({ status: 'revoked', revokedAt: existing.revokedAt ?? Date.now() })
    .where(eq(apiKeys.id, existing.id))
    .returning();
  // The group's gate refuses the key from now on, even where an isolate still caches it as active.
  await groupGate(c.env, existing.groupId).revokeKey(existing.id);
  forgetKey(existing.keyHash);
  await audit(d, 'key.revoke', 'key', existing.id);
  return c.json(publicKey(row!));
});

async function findKey(env: Env, id: string): Promise<ApiKey> {
  const [row] = await db(env).select().from(apiKeys).where(eq(apiKeys.id, id));
  if (!row) throw new ApiError('not_found', `No key ${id}.`);
  return row;
}
