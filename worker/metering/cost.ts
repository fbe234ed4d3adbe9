// Cost of one request in integer micro-dollars. Prices are per million tokens, so the exact
// amount is Σ tokens × price / 10^6; it is summed exactly and rounded once, half up.
//
// Context tiers apply per request, on its whole prompt: uncached input plus cache writes plus
// cache reads, as Anthropic counts "input tokens" for its 200k tier (and genai-prices for every
// provider). Past a tier's threshold every token of the request, output too, is billed at the
// tier's rates.
import { findPrice, type ModelPrice, type PriceTable, type Rates } from './prices';
import type { Usage } from './usage';

const PER_MILLION = 1_000_000;

export interface Cost {
  costMicros: number;
  /** No price is known for the model: the request is recorded at cost 0 and flagged. */
  unpriced: boolean;
}

/** `at` is when the request was made (ms): a price may change on a date or by time of day. */
export function costOf(model: string, usage: Usage, table: PriceTable, at: number = Date.now()): Cost {
  const found = findPrice(model, table, at);
  if (!found) return { costMicros: 0, unpriced: true };
  const rates = ratesFor(found.price, promptTokens(usage));
  const terms = [
    [usage.inputTokens, rates.inputMicros],
    [usage.outputTokens, rates.outputMicros],
    [usage.cacheWrite5mTokens, rates.cacheWrite5mMicros],
    [usage.cacheWrite1hTokens, rates.cacheWrite1hMicros],
    [usage.cacheReadTokens, rates.cacheReadMicros],
  ] as const;
  let scaled = 0;
  for (const [tokens, micros] of terms) scaled += tokens * micros;
  // Real requests stay far below 2^53 (10^6 tokens × $100/MTok is 10^14); past it, exact BigInt.
  if (!Number.isSafeInteger(scaled)) return { costMicros: bigCost(terms), unpriced: false };
  const remainder = scaled % PER_MILLION;
  const whole = (scaled - remainder) / PER_MILLION;
  return { costMicros: remainder * 2 >= PER_MILLION ? whole + 1 : whole, unpriced: false };
}

/** The tokens a context tier is decided on. */
export function promptTokens(usage: Usage): number {
  return usage.inputTokens + usage.cacheWrite5mTokens + usage.cacheWrite1hTokens + usage.cacheReadTokens;
}

export function ratesFor(price: ModelPrice, prompt: number): Rates {
  let rates: Rates = price;
  for (const tier of price.tiers) if (prompt > tier.aboveTokens) rates = tier;
  return rates;
}

function bigCost(terms: readonly (readonly [number, number])[]): number {
  let scaled = 0n;
  for (const [tokens, micros] of terms) scaled += BigInt(tokens) * BigInt(micros);
  const million = BigInt(PER_MILLION);
  const whole = scaled / million;
  return Number((scaled % million) * 2n >= million ? whole + 1n : whole);
}
