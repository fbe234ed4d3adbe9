// Cost of one request in integer micro-dollars. Prices are per million tokens, so the exact
// amount is Σ tokens × price / 10^6; it is summed exactly and rounded once, half up.
import { findPrice, type PriceTable } from './prices';
import type { Usage } from './usage';

const PER_MILLION = 1_000_000;

export interface Cost {
  costMicros: number;
  /** No price is known for the model: the request is recorded at cost 0 and flagged. */
  unpriced: boolean;
}

export function costOf(model: string, usage: Usage, table: PriceTable): Cost {
  const price = findPrice(model, table);
  if (!price) return { costMicros: 0, unpriced: true };
  // Each product stays far below 2^53 for any real request (10^9 tokens × $1000/MTok ≈ 10^18 would
  // not; a single request is bounded by the context window, ~10^6 tokens).
  const scaled =
    usage.inputTokens * price.inputMicros +
    usage.outputTokens * price.outputMicros +
    usage.cacheWrite5mTokens * price.cacheWrite5mMicros +
    usage.cacheWrite1hTokens * price.cacheWrite1hMicros +
    usage.cacheReadTokens * price.cacheReadMicros;
  const remainder = scaled % PER_MILLION;
  const whole = (scaled - remainder) / PER_MILLION;
  return { costMicros: remainder * 2 >= PER_MILLION ? whole + 1 : whole, unpriced: false };
}
