// Splitting a group's monthly bill among its members: pure integer arithmetic on micro-dollars.
// Every amount is apportioned by the largest-remainder method (each part the floor of its exact
// quota, the leftover micro-dollars one each to the largest remainders, ties by member id), so the
// parts are never negative, always add up exactly to the whole, and depend only on the input's
// content, not its order. Products are taken in BigInt: a bill times a weight can pass 2^53.

export const SPLIT_MODES = ['even', 'usage', 'base_usage', 'window'] as const;
export type SplitMode = (typeof SPLIT_MODES)[number];

export interface SplitMember {
  userId: string;
  /** Local calendar days of the month the person was in the group (0 for someone who was not). */
  daysPresent: number;
  /** API-equivalent cost of their usage (micro-dollars): their weight when splitting by usage. */
  costMicros: number;
  /** The part of that billed at API price: their weight for the metered cost in base_usage. */
  meteredMicros: number;
  /**
   * Their summed share of the subscription's plan window (ppm of the window, over the period):
   * their weight when splitting by window share. 0 for usage on an account without windows.
   */
  windowPpm: number;
}

export interface SplitInput {
  mode: SplitMode;
  prorateByDays: boolean;
  /** The account's fixed fee for the month (micro-dollars, ≥ 0). */
  fixedFeeMicros: number;
  /** The metered API cost of the month (micro-dollars, ≥ 0). */
  meteredMicros: number;
  members: readonly SplitMember[];
}

export interface SplitPart {
  userId: string;
  feePartMicros: number;
  usagePartMicros: number;
  /** feePart + usagePart. */
  totalMicros: number;
}

/**
 * `total` shared in proportion to `weights` (non-negative integers, not all zero): the largest
 * remainder method, ties by id. The result is keyed like the input and sums exactly to `total`.
 */
export function apportion(total: number, weights: ReadonlyMap<string, number>): Map<string, number> {
  if (!Number.isSafeInteger(total) || total < 0)
    throw new RangeError(`total must be a safe integer ≥ 0: ${total}`);
  const ids = [...weights.keys()].sort(byId);
  let sum = 0n;
  for (const id of ids) {
    const w = weights.get(id)!;
    if (!Number.isSafeInteger(w) || w < 0)
      throw new RangeError(`weight of ${id} must be an integer ≥ 0: ${w}`);
    sum += BigInt(w);
  }
  const out = new Map<string, number>(ids.map((id) => [id, 0]));
  if (total === 0) return out;
  if (sum === 0n) throw new RangeError('cannot apportion an amount over weights that are all zero');
  const whole = BigInt(total);
  const remainders: { id: string; rest: bigint }[] = [];
  let given = 0n;
  for (const id of ids) {
    const exact = whole * BigInt(weights.get(id)!);
    const floor = exact / sum;
    out.set(id, Number(floor));
    given += floor;
    remainders.push({ id, rest: exact % sum });
  }
  // Fewer leftovers than members (each remainder is < 1 quota), so one pass gives them all out.
  remainders.sort((a, b) => (a.rest === b.rest ? byId(a.id, b.id) : a.rest > b.rest ? -1 : 1));
  for (let i = 0; i < Number(whole - given); i++) {
    const id = remainders[i]!.id;
    out.set(id, out.get(id)! + 1);
  }
  return out;
}

/** Code-unit order: the same everywhere (no locale). */
function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The bill's parts. The fixed fee and the metered cost are apportioned separately (each exactly):
 * - even: both by presence — one share each, or days present when prorating;
 * - usage: both by API-equivalent cost;
 * - base_usage: the fee by presence, the metered cost by each one's metered cost;
 * - window: both by share of the subscription's plan window (what the plan is sized by).
 * A usage weighting nobody has (no usage at all; for window, no window share, as on an API-key
 * account) falls back to presence (splitFallsBack says when); presence nobody has (no one was in
 * the group) to one share for every member listed. Members must be listed whenever there is
 * something to split.
 */
export function splitBill(input: SplitInput): SplitPart[] {
  const ids = new Set<string>();
  for (const m of input.members) {
    if (ids.has(m.userId)) throw new RangeError(`member ${m.userId} listed twice`);
    ids.add(m.userId);
  }
  if (input.members.length === 0) {
    if (input.fixedFeeMicros + input.meteredMicros > 0)
      throw new RangeError('a bill with no one to split it');
    return [];
  }
  const { feeWeights, usageWeights } = weightings(input);
  const fee = apportion(input.fixedFeeMicros, feeWeights);
  const usage = apportion(input.meteredMicros, usageWeights);
  return [...ids].sort(byId).map((userId) => {
    const feePartMicros = fee.get(userId)!;
    const usagePartMicros = usage.get(userId)!;
    return { userId, feePartMicros, usagePartMicros, totalMicros: feePartMicros + usagePartMicros };
  });
}

/**
 * Whether the mode's weighting was empty where it had something to split, so presence was used
 * instead: said on the statement.
 */
export function splitFallsBack(input: SplitInput): boolean {
  return weightings(input).fallback;
}

function weightings(input: SplitInput): {
  feeWeights: Map<string, number>;
  usageWeights: Map<string, number>;
  fallback: boolean;
} {
  const presence = atLeastOne(
    weightsOf(input.members, (m) => (input.prorateByDays ? m.daysPresent : m.daysPresent > 0 ? 1 : 0)),
  );
  const by = (weight: (m: SplitMember) => number) => {
    const weights = weightsOf(input.members, weight);
    const empty = ![...weights.values()].some((w) => w > 0);
    return { weights: empty ? presence : weights, empty };
  };
  const whole = input.fixedFeeMicros + input.meteredMicros > 0;
  switch (input.mode) {
    case 'even':
      return { feeWeights: presence, usageWeights: presence, fallback: false };
    case 'usage': {
      const byCost = by((m) => m.costMicros);
      return { feeWeights: byCost.weights, usageWeights: byCost.weights, fallback: whole && byCost.empty };
    }
    case 'base_usage': {
      const byMetered = by((m) => m.meteredMicros);
      return {
        feeWeights: presence,
        usageWeights: byMetered.weights,
        fallback: input.meteredMicros > 0 && byMetered.empty,
      };
    }
    case 'window': {
      const byWindow = by((m) => m.windowPpm);
      return {
        feeWeights: byWindow.weights,
        usageWeights: byWindow.weights,
        fallback: whole && byWindow.empty,
      };
    }
  }
}

function weightsOf(members: readonly SplitMember[], weight: (m: SplitMember) => number): Map<string, number> {
  return new Map(members.map((m) => [m.userId, Math.max(0, weight(m))]));
}

/** Nobody present at all: everyone listed takes one share, so the bill still has its payers. */
function atLeastOne(weights: Map<string, number>): Map<string, number> {
  return [...weights.values()].some((w) => w > 0)
    ? weights
    : new Map([...weights.keys()].map((id) => [id, 1]));
}
