// Model prices as a system admin runs them: the shipped table, overrides by model name, and what
// one model is billed at. Matching and the cache live in worker/metering; this module authorizes
// and audits.
import { ApiError } from '../api/errors';
import {
  deleteOverride,
  listOverrides,
  type PriceInput,
  type PriceOverride,
  priceTable,
  setOverride,
} from '../metering/price-overrides';
import { findPrice, shippedPrices } from '../metering/prices';
import { metrics } from '../metrics';
import { audit } from './audit';
import { authorize, type Caller } from './caller';

const SYSTEM = { type: 'system' } as const;

export async function listPrices(caller: Caller, at: number) {
  await authorize(caller, 'system.admin', SYSTEM, 'such route');
  const { shipped } = await priceTable(caller.env);
  return {
    source: shipped.source,
    asOf: shipped.asOf,
    overrides: await listOverrides(caller.db),
    shipped: shippedPrices(shipped, at),
  };
}

/** What usage of this model made at `at` is billed at, and which name matched. */
export async function effectivePrice(caller: Caller, model: string, at: number) {
  await authorize(caller, 'system.admin', SYSTEM, 'such route');
  const found = findPrice(model, await priceTable(caller.env), at);
  if (!found) return { model, unpriced: true as const, matched: null, source: null, price: null };
  return { model, unpriced: false as const, ...found };
}

export async function setPrice(caller: Caller, model: string, input: PriceInput): Promise<PriceOverride> {
  await authorize(caller, 'system.admin', SYSTEM, 'such route');
  const row = await setOverride(caller.db, model, input);
  await audit(caller, {
    action: 'price.set',
    target: { type: 'model_price', id: model },
    detail: { ...input },
  });
  return row;
}

export async function deletePrice(caller: Caller, model: string) {
  await authorize(caller, 'system.admin', SYSTEM, 'such route');
  if (!(await deleteOverride(caller.db, model)))
    throw new ApiError('not_found', `No price override for ${model}.`);
  await audit(caller, { action: 'price.delete', target: { type: 'model_price', id: model } });
  return effectivePrice(caller, model, Date.now());
}

/** This isolate's counters of Durable Object calls, storage writes, queue sends and D1 statements. */
export async function isolateMetrics(caller: Caller) {
  await authorize(caller, 'system.admin', SYSTEM, 'such route');
  return metrics;
}
