// What a request reserves against its budgets while it runs: its input at the model's price
// (estimated from the body's size, four bytes a token) plus a bounded allowance of output, capped.
// An estimate, replaced by the actual cost when the request settles. Bounded so that a coding
// agent's `max_tokens: 64000` does not lock a budget with a worst case it will rarely reach.
import type { JsonObject } from '../convert/types';
import { isObject } from '../json';
import { costOf } from '../metering/cost';
import type { PriceTable } from '../metering/prices';

/** Output tokens reserved for, at most: a long answer, not a worst case. */
export const RESERVED_OUTPUT_TOKENS = 4096;

/** The output limit a request asks for, in whichever wire's field it uses. */
export function maxOutputTokens(json: JsonObject | null): number | null {
  if (!json) return null;
  for (const field of ['max_tokens', 'max_output_tokens', 'max_completion_tokens']) {
    const value = json[field];
    if (typeof value === 'number' && value > 0) return value;
  }
  const config = json.generationConfig;
  if (isObject(config) && typeof config.maxOutputTokens === 'number') return config.maxOutputTokens;
  return null;
}

export function reservationFor(
  model: string,
  bodyBytes: number,
  json: JsonObject | null,
  table: PriceTable,
  at: number,
  capMicros: number,
): number {
  const output = Math.min(maxOutputTokens(json) ?? RESERVED_OUTPUT_TOKENS, RESERVED_OUTPUT_TOKENS);
  const { costMicros } = costOf(
    model,
    {
      inputTokens: Math.ceil(bodyBytes / 4),
      outputTokens: output,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      cacheReadTokens: 0,
    },
    table,
    at,
  );
  return Math.min(costMicros, capMicros);
}
