// Which price a model is billed at. The shipped table (price-table.ts) is generated from
// @pydantic/genai-prices by `npm run prices:update`; operators override any model in D1
// (model_prices, through /admin/v1/prices). Prices are integer micro-dollars per million tokens.
//
// Matching never guesses: a model is priced by its exact name, or by a name it extends only with a
// version or date suffix (`-20250929`, `-2025-08-07`, `@20250929`, `-latest`, `-001`, Bedrock's
// `-v1:0`). `claude-opus-4-8` is not `claude-opus-4`: a model nobody priced is recorded unpriced.
import { SHIPPED_TABLE } from './price-table';

/** Micro-dollars per million tokens of each kind. */
export interface Rates {
  inputMicros: number;
  outputMicros: number;
  cacheWrite5mMicros: number;
  cacheWrite1hMicros: number;
  cacheReadMicros: number;
}

/** Rates that replace the base ones for a request whose prompt is longer than `aboveTokens`. */
export interface PriceTier extends Rates {
  aboveTokens: number;
}

export interface ModelPrice extends Rates {
  /** Ascending by `aboveTokens`; the last one a request's prompt exceeds applies. */
  tiers: readonly PriceTier[];
}

type RateTuple = readonly [
  input: number,
  output: number,
  cacheWrite5m: number,
  cacheWrite1h: number,
  cacheRead: number,
];
interface ShippedRates {
  rates: RateTuple;
  tiers?: readonly (readonly [aboveTokens: number, rates: RateTuple])[];
}
interface ShippedRow extends ShippedRates {
  /** In force from this UTC day on. */
  from?: string;
  /** In force between these seconds of the UTC day (the end excluded; may wrap past midnight). */
  utc?: readonly [start: number, end: number];
}
type ShippedPrice = { provider: string } & (ShippedRates | { schedule: readonly ShippedRow[] });

/** The generated table's shape: prices stored once, names pointing at them. */
export interface ShippedTable {
  source: string;
  asOf: string;
  prices: readonly ShippedPrice[];
  names: Readonly<Record<string, number>>;
}

export interface PriceTable {
  shipped: ShippedTable;
  /** Operator overrides by model name (lower case); they win over the shipped table. */
  overrides: Readonly<Record<string, ModelPrice>>;
}

export const SHIPPED_PRICES: PriceTable = { shipped: SHIPPED_TABLE, overrides: {} };

export interface FoundPrice {
  price: ModelPrice;
  /** The name that matched: the model itself, or the model without its date or version suffix. */
  matched: string;
  /** `override`, or the provider whose list the shipped price comes from (`anthropic`, `bedrock`, …). */
  source: string;
}

/** The price of `model` for usage at time `at` (ms), or undefined when nobody priced it. */
export function findPrice(model: string, table: PriceTable, at: number): FoundPrice | undefined {
  const names = candidateNames(model);
  // An operator's override of a name covers its dated forms, even those the shipped table lists.
  for (const name of names) {
    const price = table.overrides[name];
    if (price) return { price, matched: name, source: 'override' };
  }
  for (const name of names) {
    const index = table.shipped.names[name];
    const entry = index === undefined ? undefined : table.shipped.prices[index];
    if (entry) return { price: priceAt(entry, at), matched: name, source: entry.provider };
  }
  return undefined;
}

// A version or date suffix, as the providers' own ids carry them: Bedrock's `-v1:0`, a date as
// `-20250929`, `@20250929`, `-2025-08-07`, `-250414` or `-0613`, `-latest` and Gemini's `-001`.
const SUFFIX =
  /(?:-v\d+:\d+|[-@]20\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])|-20\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])|-\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])|-(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])|[-@]latest|-0\d\d)$/;
// A Bedrock cross-region inference profile (`us.`, `eu.`, `apac.`, `us-gov.`…) is priced as the
// model in its region; the `global.` profile has prices of its own, so it is not folded.
const BEDROCK_GEO = /^(?!global\.)[a-z-]+\.(?=anthropic\.)/;

// Every request prices its model, and a deployment sees a few dozen models: their candidate names
// are worked out once per isolate (bounded, in case a client sends a new name each time).
const CANDIDATES_KEPT = 512;
const candidates = new Map<string, readonly string[]>();

/** The names to try, most specific first: the id, then the id less one suffix at a time. */
export function candidateNames(model: string): readonly string[] {
  let names = candidates.get(model);
  if (!names) {
    names = namesOf(model);
    if (candidates.size >= CANDIDATES_KEPT) candidates.clear();
    candidates.set(model, names);
  }
  return names;
}

function namesOf(model: string): string[] {
  // Gemini's resource name form (`models/gemini-…`) names the same model.
  let name = model
    .trim()
    .toLowerCase()
    .replace(/^models\//, '');
  const names: string[] = [];
  for (;;) {
    names.push(name);
    if (BEDROCK_GEO.test(name)) names.push(name.replace(BEDROCK_GEO, ''));
    const stripped = name.replace(SUFFIX, '');
    if (stripped === name || stripped === '') return names;
    name = stripped;
  }
}

const decoded = new Map<ShippedRates, ModelPrice>();

function priceAt(entry: ShippedPrice, at: number): ModelPrice {
  return decode('schedule' in entry ? rowAt(entry.schedule, at) : entry);
}

/** As genai-prices reads a schedule: the last row whose condition holds, else the first. */
function rowAt(schedule: readonly ShippedRow[], at: number): ShippedRow {
  const secondOfDay = Math.floor((at % 86_400_000) / 1000);
  for (let i = schedule.length - 1; i > 0; i--) {
    const row = schedule[i]!;
    if (row.from !== undefined && at >= Date.parse(row.from)) return row;
    if (row.utc !== undefined) {
      const [start, end] = row.utc;
      const inside =
        start <= end ? secondOfDay >= start && secondOfDay < end : secondOfDay >= start || secondOfDay < end;
      if (inside) return row;
    }
  }
  return schedule[0]!;
}

function decode(shipped: ShippedRates): ModelPrice {
  let price = decoded.get(shipped);
  if (!price) {
    price = {
      ...rates(shipped.rates),
      tiers: (shipped.tiers ?? []).map(([aboveTokens, r]) => ({ aboveTokens, ...rates(r) })),
    };
    decoded.set(shipped, price);
  }
  return price;
}

function rates([input, output, cacheWrite5m, cacheWrite1h, cacheRead]: RateTuple): Rates {
  return {
    inputMicros: input,
    outputMicros: output,
    cacheWrite5mMicros: cacheWrite5m,
    cacheWrite1hMicros: cacheWrite1h,
    cacheReadMicros: cacheRead,
  };
}

/** Every shipped price with the names it answers to, for the operator API. */
export function shippedPrices(table: ShippedTable, at: number) {
  const names = new Map<number, string[]>();
  for (const [name, index] of Object.entries(table.names)) {
    const list = names.get(index);
    if (list) list.push(name);
    else names.set(index, [name]);
  }
  return table.prices.map((entry, index) => ({
    names: names.get(index) ?? [],
    provider: entry.provider,
    ...priceAt(entry, at),
    scheduled: 'schedule' in entry,
  }));
}
