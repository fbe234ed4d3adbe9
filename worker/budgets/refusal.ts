// What a member is told when a hard budget refuses a request. Two different things: a budget
// that is spent (402, no retry until it resets) and a budget whose rest is committed to requests
// in flight, or for a wide budget set aside for other groups (429 with retry-after: it frees up
// as they settle, and the clients retry a 429 on their own). Worded here once for every gate.
import type { Admission } from '../../durable-objects/group-gate';
import type { BudgetRule } from './rules';

/**
 * Micro-dollars as dollars, to the micro-dollar: at least two decimals, trailing zeros trimmed
 * beyond them. A limit of 100 µ$ reads `$0.0001`, not `$0.00`; nothing is rounded away.
 */
export function formatMicros(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(micros));
  const fraction = String(abs % 1_000_000)
    .padStart(6, '0')
    .replace(/0{1,4}$/, '');
  return `${sign}$${Math.floor(abs / 1_000_000)}.${fraction.padEnd(2, '0')}`;
}

const SCOPE_WORDS: Record<BudgetRule['scope'], string> = {
  enterprise: "the enterprise's",
  department: "the department's",
  group: "the group's",
  member: 'your',
  key: "this key's",
};

/**
 * A spent budget, in words a member can act on: which budget, its limit, what was spent, when it
 * resets. A retry cannot help until then (`x-should-retry: false`).
 */
export function budgetRefusal(rule: BudgetRule, spent: number, resetsAt: number | null): Admission {
  const period = periodWord(rule);
  const spentText = `spent (${formatMicros(spent)} used)`;
  const reset =
    resetsAt === null
      ? 'It does not reset; ask an owner to raise it.'
      : `It resets at ${new Date(resetsAt).toISOString().slice(0, 16).replace('T', ' ')} UTC.`;
  return {
    ok: false,
    kind: 'budget',
    code: 'budget_exhausted',
    message: `${capitalise(SCOPE_WORDS[rule.scope])} ${period} budget of ${formatMicros(rule.limitMicros)} is ${spentText}. ${reset}`,
  };
}

/** Seconds a client is asked to wait when a budget is committed to requests in flight. */
export const COMMITTED_RETRY_AFTER_SEC = 5;

/**
 * Not spent, but what is left is reserved by requests in flight (`reserved` non-null), or — for
 * a budget wider than the group — granted to this group's requests in flight or to other groups.
 * They settle for less than they reserved or lapse, so a retry may well pass: a 429, not a 402.
 */
export function committedRefusal(rule: BudgetRule, spent: number, reserved: number | null): Admission {
  const where =
    reserved === null
      ? 'committed to requests in flight or set aside for other groups'
      : 'committed to requests in flight';
  const amounts =
    reserved === null
      ? `${formatMicros(spent)} used so far`
      : `${formatMicros(spent)} used, ${formatMicros(reserved)} reserved`;
  return {
    ok: false,
    kind: 'rate_limited',
    code: 'budget_committed',
    retryAfterSec: COMMITTED_RETRY_AFTER_SEC,
    message: `${capitalise(SCOPE_WORDS[rule.scope])} ${periodWord(rule)} budget of ${formatMicros(rule.limitMicros)} is ${where} (${amounts}). Retry in a few seconds.`,
  };
}

function periodWord(rule: BudgetRule): string {
  return rule.period === 'total' ? 'total' : rule.period === 'day' ? 'daily' : `${rule.period}ly`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
