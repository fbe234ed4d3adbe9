// The shipped price table: integer micro-dollars per million tokens (so $3.00/MTok is 3_000_000).
// Published list prices as of November 2026; admins override any row through model_prices in D1.
// Matching is by longest prefix, so dated ids such as `claude-sonnet-4-5-20250929` find their family.
export interface ModelPrice {
  inputMicros: number;
  outputMicros: number;
  cacheWrite5mMicros: number;
  cacheWrite1hMicros: number;
  cacheReadMicros: number;
}

const usd = (dollarsPerMTok: number) => Math.round(dollarsPerMTok * 1_000_000);

/** Anthropic: 5-minute cache writes cost 1.25× input, 1-hour writes 2×, cache reads 0.1×. */
function anthropic(input: number, output: number): ModelPrice {
  return {
    inputMicros: usd(input),
    outputMicros: usd(output),
    cacheWrite5mMicros: usd(input * 1.25),
    cacheWrite1hMicros: usd(input * 2),
    cacheReadMicros: usd(input * 0.1),
  };
}

/** OpenAI and Google bill cached input at a discount and have no separate cache-write price. */
function cachedInput(input: number, output: number, cacheRead: number): ModelPrice {
  return {
    inputMicros: usd(input),
    outputMicros: usd(output),
    cacheWrite5mMicros: usd(input),
    cacheWrite1hMicros: usd(input),
    cacheReadMicros: usd(cacheRead),
  };
}

export const SHIPPED_PRICES: Readonly<Record<string, ModelPrice>> = {
  'claude-opus-4-5': anthropic(5, 25),
  'claude-opus-4-6': anthropic(5, 25),
  'claude-opus-4-1': anthropic(15, 75),
  'claude-opus-4': anthropic(15, 75),
  'claude-sonnet-4-5': anthropic(3, 15),
  'claude-sonnet-4-6': anthropic(3, 15),
  'claude-sonnet-4': anthropic(3, 15),
  'claude-3-7-sonnet': anthropic(3, 15),
  'claude-haiku-4-5': anthropic(1, 5),
  'claude-3-5-haiku': anthropic(0.8, 4),
  'gpt-5': cachedInput(1.25, 10, 0.125),
  'gpt-5.1': cachedInput(1.25, 10, 0.125),
  'gpt-5-codex': cachedInput(1.25, 10, 0.125),
  'gpt-5.1-codex': cachedInput(1.25, 10, 0.125),
  'gpt-5-mini': cachedInput(0.25, 2, 0.025),
  'gpt-5.1-codex-mini': cachedInput(0.25, 2, 0.025),
  'gpt-5-nano': cachedInput(0.05, 0.4, 0.005),
  'gpt-5-pro': cachedInput(15, 120, 15),
  'gpt-4.1': cachedInput(2, 8, 0.5),
  'gpt-4o': cachedInput(2.5, 10, 1.25),
  'gemini-2.5-pro': cachedInput(1.25, 10, 0.125),
  'gemini-2.5-flash': cachedInput(0.3, 2.5, 0.03),
  'gemini-2.5-flash-lite': cachedInput(0.1, 0.4, 0.01),
};

export type PriceTable = Readonly<Record<string, ModelPrice>>;

/** Longest-prefix match of a model id against a price table; exact ids win over families. */
export function findPrice(model: string, table: PriceTable): ModelPrice | undefined {
  const exact = table[model];
  if (exact) return exact;
  let best: string | undefined;
  for (const prefix of Object.keys(table)) {
    if (
      model.startsWith(prefix) &&
      isFamilyBoundary(model, prefix) &&
      (!best || prefix.length > best.length)
    ) {
      best = prefix;
    }
  }
  return best === undefined ? undefined : table[best];
}

// `gpt-5` must not price `gpt-50`, but must price `gpt-5-2025-08-07`; `claude-sonnet-4` must
// price `claude-sonnet-4-20250514` yet leave `claude-sonnet-4-5` to its own row.
function isFamilyBoundary(model: string, prefix: string): boolean {
  const next = model[prefix.length];
  return next === undefined || next === '-' || next === '@' || next === ':';
}
