// Operator price overrides (D1 model_prices): the input schema, the price table the queue consumer
// bills with, and writing overrides. The table is cached per isolate for PRICE_CACHE_MS: a change
// prices the usage consumed after it at once in the isolate that made it, and everywhere within
// PRICE_CACHE_MS. Usage already recorded keeps the cost it was recorded at.
import { eq } from 'drizzle-orm';
import * as z from 'zod';
import { type Db, db } from '../db/client';
import { modelPrices } from '../db/schema';
import { type ModelPrice, type PriceTable, SHIPPED_PRICES } from './prices';

export const PRICE_CACHE_MS = 60_000;

// $100 000 per million tokens: a typo guard far above any real price (costOf stays exact at any size).
const micros = z.number().int().nonnegative().max(100_000_000_000);

const ratesSchema = z.strictObject({
  inputMicros: micros,
  outputMicros: micros,
  cacheWrite5mMicros: micros,
  cacheWrite1hMicros: micros,
  cacheReadMicros: micros,
});

export const priceInputSchema = ratesSchema.extend({
  tiers: z
    .array(ratesSchema.extend({ aboveTokens: z.number().int().positive() }))
    .max(8)
    .default([])
    .refine((tiers) => tiers.every((t, i) => i === 0 || t.aboveTokens > tiers[i - 1]!.aboveTokens), {
      message: 'tiers must be in ascending order of aboveTokens, each threshold once',
      params: { rule: 'ascending_tiers' },
    }),
});
export type PriceInput = z.infer<typeof priceInputSchema>;

/** Model names are matched in lower case; `models/` (Gemini's resource form) is not part of one. */
export const modelNameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .min(1)
  .max(200)
  .refine((name) => !name.startsWith('models/'), {
    message: 'name the model without models/',
    params: { rule: 'models_prefix' },
  });

export type PriceOverride = typeof modelPrices.$inferSelect;

let cached: { table: PriceTable; until: number } | null = null;

/** The shipped table with every override laid over it, cached briefly per isolate. */
export async function priceTable(env: { DB: D1Database }, now = Date.now()): Promise<PriceTable> {
  if (cached && cached.until > now) return cached.table;
  return readPriceTable(env);
}

async function readPriceTable(env: { DB: D1Database }): Promise<PriceTable> {
  const overrides: Record<string, ModelPrice> = {};
  for (const { model, updatedAt: _, ...price } of await listOverrides(db(env))) overrides[model] = price;
  const table = { ...SHIPPED_PRICES, overrides };
  cached = { table, until: Date.now() + PRICE_CACHE_MS };
  return table;
}

let refreshing: Promise<PriceTable> | null = null;

/**
 * The price table for the request path: the isolate's copy at once, even a stale one (refreshed
 * behind the request, in `waitUntil`), so a warm request makes no D1 query; a cold isolate reads
 * it once.
 */
export function pricesNow(
  env: { DB: D1Database },
  waitUntil: (promise: Promise<unknown>) => void,
  now = Date.now(),
): PriceTable | Promise<PriceTable> {
  if (!cached) return priceTable(env, now);
  if (cached.until <= now && !refreshing) {
    cached.until = now + PRICE_CACHE_MS;
    refreshing = readPriceTable(env).finally(() => {
      refreshing = null;
    });
    waitUntil(refreshing.catch(() => {}));
  }
  return cached.table;
}

export function listOverrides(d: Db): Promise<PriceOverride[]> {
  return d.select().from(modelPrices).orderBy(modelPrices.model);
}

export async function setOverride(d: Db, model: string, input: PriceInput): Promise<PriceOverride> {
  const row = { model, ...input, updatedAt: Date.now() };
  const [saved] = await d
    .insert(modelPrices)
    .values(row)
    .onConflictDoUpdate({ target: modelPrices.model, set: row })
    .returning();
  cached = null;
  return saved!;
}

/** True when there was an override to remove. */
export async function deleteOverride(d: Db, model: string): Promise<boolean> {
  const removed = await d.delete(modelPrices).where(eq(modelPrices.model, model)).returning();
  cached = null;
  return removed.length > 0;
}
