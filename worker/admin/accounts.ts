// Upstream accounts. Credentials are write-only: encrypted on the way in, never returned.
import { desc, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import * as z from 'zod';
import { accountGate } from '../../durable-objects/address';
import { ApiError } from '../api/errors';
import { encryptCredential } from '../auth/credentials';
import type { AppEnv } from '../context';
import { db } from '../db/client';
import { type Account, accounts } from '../db/schema';
import { MODEL_NAME_MAX } from '../limits';
import { PRESETS, type Preset } from '../providers/compatible';
import { audit } from './audit';
import { findEnterprise } from './enterprises';
import { pushAccount } from './push';
import { validate } from './validate';

// Names longer than a client may send (worker/limits.ts) could never match a request.
const modelName = z.string().min(1).max(MODEL_NAME_MAX);

const accountFields = {
  name: z.string().trim().min(1).max(100),
  baseUrl: z.url({ protocol: /^https?$/ }).nullable(),
  modelMapping: z.record(modelName, modelName).nullable(),
  supportedModels: z.array(modelName).nullable(),
  priority: z.number().int().min(0).max(1000),
  weight: z.number().int().min(1).max(1000),
  maxConcurrency: z.number().int().min(1).max(10_000),
  /** The enterprise pool this account joins; none for a carpool account. */
  enterpriseId: z.string().min(1).nullable(),
};

const createAccountSchema = z
  .object({
    ...accountFields,
    /** A vendor endpoint by name, for the compatible kinds: fills baseUrl. */
    preset: z.enum(Object.keys(PRESETS) as [Preset, ...Preset[]]).optional(),
    provider: z.enum(accounts.provider.enumValues),
    authKind: z.enum(accounts.authKind.enumValues).default('api_key'),
    credential: z.string().min(1).max(10_000),
    baseUrl: accountFields.baseUrl.optional(),
    modelMapping: accountFields.modelMapping.optional(),
    supportedModels: accountFields.supportedModels.optional(),
    priority: accountFields.priority.optional(),
    weight: accountFields.weight.optional(),
    maxConcurrency: accountFields.maxConcurrency.optional(),
    enterpriseId: accountFields.enterpriseId.optional(),
  })
  .transform(({ preset, ...account }) => {
    if (!preset || account.baseUrl) return account;
    const endpoints = PRESETS[preset];
    const baseUrl = account.provider === 'anthropic-compatible' ? endpoints.anthropic : endpoints.openai;
    return { ...account, baseUrl };
  })
  .refine((a) => !NEEDS_BASE_URL.has(a.provider) || a.baseUrl, {
    message: 'this provider needs a baseUrl (or, for the compatible kinds, a preset)',
    path: ['baseUrl'],
  })
  .refine((a) => a.provider !== 'bedrock' || isBedrockCredential(a.credential), {
    message: 'a Bedrock credential is JSON: {"accessKeyId","secretAccessKey","region","sessionToken"?}',
    path: ['credential'],
  });

const NEEDS_BASE_URL = new Set(['openai-compatible', 'anthropic-compatible', 'azure-openai']);

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

const updateAccountSchema = z
  .object({
    ...accountFields,
    credential: z.string().min(1).max(10_000),
    enabled: z.boolean(),
    disabledReason: z.string().max(500).nullable(),
  })
  .partial();

export type PublicAccount = Omit<Account, 'credentialsEnc'>;

export function publicAccount({ credentialsEnc: _secret, ...rest }: Account): PublicAccount {
  return rest;
}

export const accountRoutes = new Hono<AppEnv>();

accountRoutes.post('/', validate('json', createAccountSchema), async (c) => {
  const input = c.req.valid('json');
  if (input.enterpriseId) await findEnterprise(c.env, input.enterpriseId);
  const id = crypto.randomUUID();
  const d = db(c.env);
  const [row] = await d
    .insert(accounts)
    .values({
      id,
      name: input.name,
      provider: input.provider,
      authKind: input.authKind,
      credentialsEnc: await encryptCredential(c.env.CREDENTIALS_KEY, id, input.credential),
      baseUrl: input.baseUrl ?? null,
      modelMapping: input.modelMapping ?? null,
      supportedModels: input.supportedModels ?? null,
      priority: input.priority,
      weight: input.weight,
      maxConcurrency: input.maxConcurrency,
      enterpriseId: input.enterpriseId ?? null,
      updatedAt: Date.now(),
    })
    .returning();
  await audit(d, 'account.create', 'account', id, { provider: input.provider });
  await pushAccount(c.env, row!);
  return c.json(publicAccount(row!), 201);
});

accountRoutes.get('/', async (c) => {
  const rows = await db(c.env).select().from(accounts).orderBy(desc(accounts.createdAt));
  return c.json({ data: rows.map(publicAccount) });
});

accountRoutes.get('/:id', async (c) => {
  const row = await findAccount(c.env, c.req.param('id'));
  const live = await accountGate(c.env, row.id).state();
  return c.json({ ...publicAccount(row), live });
});

accountRoutes.patch('/:id', validate('json', updateAccountSchema), async (c) => {
  const existing = await findAccount(c.env, c.req.param('id'));
  const { credential, ...changes } = c.req.valid('json');
  if (changes.enterpriseId) await findEnterprise(c.env, changes.enterpriseId);
  const credentialsEnc =
    credential === undefined
      ? undefined
      : await encryptCredential(c.env.CREDENTIALS_KEY, existing.id, credential);
  return c.json(await updateAccount(c.env, existing.id, { ...changes, credentialsEnc }));
});

accountRoutes.post(
  '/:id/disable',
  validate('json', z.object({ reason: z.string().max(500).optional() })),
  async (c) => {
    const existing = await findAccount(c.env, c.req.param('id'));
    const reason = c.req.valid('json').reason ?? 'disabled by an operator';
    return c.json(await updateAccount(c.env, existing.id, { enabled: false, disabledReason: reason }));
  },
);

/** Live scheduler state: leases in use, queue, cooldown and its reason, recent errors, latency. */
accountRoutes.get('/:id/state', async (c) => {
  const row = await findAccount(c.env, c.req.param('id'));
  return c.json(await accountGate(c.env, row.id).state());
});

/** Clears cooldown, failure counts and an automatic disable (not an operator's own disable). */
accountRoutes.post('/:id/reset', async (c) => {
  const row = await findAccount(c.env, c.req.param('id'));
  const state = await accountGate(c.env, row.id).reset();
  await audit(db(c.env), 'account.reset', 'account', row.id);
  return c.json(state);
});

/** Asks the upstream whether the credential works; success lifts an automatic disable. */
accountRoutes.post('/:id/probe', async (c) => {
  const row = await findAccount(c.env, c.req.param('id'));
  return c.json(await accountGate(c.env, row.id).probe());
});

accountRoutes.post('/:id/enable', async (c) => {
  const existing = await findAccount(c.env, c.req.param('id'));
  return c.json(await updateAccount(c.env, existing.id, { enabled: true, disabledReason: null }));
});

async function updateAccount(env: Env, id: string, changes: Partial<Account>): Promise<PublicAccount> {
  const d = db(env);
  const [row] = await d
    .update(accounts)
    .set({ ...changes, updatedAt: Date.now() })
    .where(eq(accounts.id, id))
    .returning();
  const changed = Object.keys(changes).filter((k) => changes[k as keyof Account] !== undefined);
  await audit(d, 'account.update', 'account', id, { fields: changed });
  await pushAccount(env, row!);
  return publicAccount(row!);
}

export async function findAccount(env: Env, id: string): Promise<Account> {
  const [row] = await db(env).select().from(accounts).where(eq(accounts.id, id));
  if (!row) throw new ApiError('not_found', `No account ${id}.`);
  return row;
}
