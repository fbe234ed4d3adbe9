// Enterprises: account pools per provider shared by their groups, with scheduling policy per pool.
import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import * as z from 'zod';
import { ApiError } from '../api/errors';
import type { AppEnv } from '../context';
import { db } from '../db/client';
import { type Enterprise, enterprises, groups } from '../db/schema';
import { poolPoliciesSchema } from '../scheduling/policy';
import { audit } from './audit';
import { pushGroup } from './push';
import { validate } from './validate';

const enterpriseSchema = z.object({
  name: z.string().trim().min(1).max(100),
  /** Per provider pool, e.g. `{ "anthropic": { "strategy": "weighted", "maxAttempts": 3 } }`. */
  pools: poolPoliciesSchema.nullable().default(null),
});

export const enterpriseRoutes = new Hono<AppEnv>();

enterpriseRoutes.post('/', validate('json', enterpriseSchema), async (c) => {
  const input = c.req.valid('json');
  const d = db(c.env);
  const [row] = await d
    .insert(enterprises)
    .values({ id: crypto.randomUUID(), ...input })
    .returning();
  await audit(d, 'enterprise.create', 'enterprise', row!.id);
  return c.json(row, 201);
});

enterpriseRoutes.get('/', async (c) => c.json({ data: await db(c.env).select().from(enterprises) }));

enterpriseRoutes.get('/:id', async (c) => c.json(await findEnterprise(c.env, c.req.param('id'))));

enterpriseRoutes.patch('/:id', validate('json', enterpriseSchema.partial()), async (c) => {
  const existing = await findEnterprise(c.env, c.req.param('id'));
  const d = db(c.env);
  const [row] = await d
    .update(enterprises)
    .set(c.req.valid('json'))
    .where(eq(enterprises.id, existing.id))
    .returning();
  await audit(d, 'enterprise.update', 'enterprise', existing.id);
  const members = await d.select({ id: groups.id }).from(groups).where(eq(groups.enterpriseId, existing.id));
  await Promise.all(members.map((g) => pushGroup(c.env, g.id)));
  return c.json(row);
});

export async function findEnterprise(env: Env, id: string): Promise<Enterprise> {
  const [row] = await db(env).select().from(enterprises).where(eq(enterprises.id, id));
  if (!row) throw new ApiError('not_found', `No enterprise ${id}.`);
  return row;
}
