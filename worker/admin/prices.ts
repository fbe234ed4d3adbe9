// Model prices: the shipped table, operator overrides (PUT/DELETE by model name) and what one model
// is billed at. Matching and the cache live in worker/metering; this file parses, calls, renders.
import { Hono } from 'hono';
import * as z from 'zod';
import { ApiError } from '../api/errors';
import type { AppEnv } from '../context';
import { db } from '../db/client';
import {
  deleteOverride,
  listOverrides,
  modelNameSchema,
  priceInputSchema,
  priceTable,
  setOverride,
} from '../metering/price-overrides';
import { findPrice, shippedPrices } from '../metering/prices';
import { audit } from './audit';
import { validate } from './validate';

// A model name may hold `/`, `.` and `:` (Bedrock's `us.anthropic.claude-…-v1:0`): take the rest.
const MODEL = '/:model{.+}';
const modelParam = z.object({ model: modelNameSchema });
/** A look-up takes any name the relay might record, `models/…` included. */
const anyModelParam = z.object({ model: z.string().min(1).max(200) });
const atQuery = z.object({ at: z.coerce.number().int().optional() });

export const priceRoutes = new Hono<AppEnv>();

priceRoutes.get('/', validate('query', atQuery), async (c) => {
  const at = c.req.valid('query').at ?? Date.now();
  const { shipped } = await priceTable(c.env);
  return c.json({
    source: shipped.source,
    asOf: shipped.asOf,
    overrides: await listOverrides(db(c.env)),
    shipped: shippedPrices(shipped, at),
  });
});

/** What usage of this model made at `at` (default now) is billed at, and which name matched. */
priceRoutes.get(MODEL, validate('param', anyModelParam), validate('query', atQuery), async (c) => {
  const { model } = c.req.valid('param');
  return c.json(await effectivePrice(c.env, model, c.req.valid('query').at ?? Date.now()));
});

priceRoutes.put(MODEL, validate('param', modelParam), validate('json', priceInputSchema), async (c) => {
  const { model } = c.req.valid('param');
  const input = c.req.valid('json');
  const d = db(c.env);
  const row = await setOverride(d, model, input);
  await audit(d, 'price.set', 'model_price', model, { ...input });
  return c.json(row);
});

priceRoutes.delete(MODEL, validate('param', modelParam), async (c) => {
  const { model } = c.req.valid('param');
  const d = db(c.env);
  if (!(await deleteOverride(d, model))) throw new ApiError('not_found', `No price override for ${model}.`);
  await audit(d, 'price.delete', 'model_price', model);
  return c.json(await effectivePrice(c.env, model, Date.now()));
});

async function effectivePrice(env: Env, model: string, at: number) {
  const found = findPrice(model, await priceTable(env), at);
  if (!found) return { model, unpriced: true, matched: null, source: null, price: null };
  return { model, unpriced: false, ...found };
}
