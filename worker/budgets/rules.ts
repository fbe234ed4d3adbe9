// Budgets as a gate sees them: the rules that apply to a request, and the shape of what admission
// reserves and settlement spends. Pure data and functions; the counters live in the gates.
import type { Period } from './periods';

export type BudgetScope = 'enterprise' | 'department' | 'group' | 'member' | 'key';

export interface BudgetRule {
  id: string;
  scope: BudgetScope;
  /** The limited target: enterprise, department or group id, the member's user id, or the key id. */
  target: string;
  period: Period;
  limitMicros: number;
  mode: 'hard' | 'soft';
  timeZone: string;
}

/** Scopes wider than a group span many GroupGates: their money is held by the enterprise's ledger. */
export function isWide(rule: Pick<BudgetRule, 'scope'>): boolean {
  return rule.scope === 'enterprise' || rule.scope === 'department';
}

/** The rules a request of this key (held by this user) is subject to, in the group's config. */
export function applicable(rules: readonly BudgetRule[], keyId: string, userId: string): BudgetRule[] {
  return rules.filter(
    (r) =>
      r.scope === 'group' ||
      r.scope === 'enterprise' ||
      r.scope === 'department' ||
      (r.scope === 'member' && r.target === userId) ||
      (r.scope === 'key' && r.target === keyId),
  );
}

/** What one admission holds against one budget until it settles. */
export interface Reservation {
  budgetId: string;
  periodKey: string;
  micros: number;
}

/**
 * The slice of a wide budget an enterprise ledger hands a group at a time: a twentieth of the
 * limit, between a tenth of a cent and ten dollars. Small enough that money idle in groups stays small,
 * large enough that a group asks rarely.
 */
export function sliceOf(rule: Pick<BudgetRule, 'limitMicros'>): number {
  return Math.min(10_000_000, Math.max(1_000, Math.floor(rule.limitMicros / 20)));
}

/**
 * Whether spending from `before` to `after` moved the whole percent of the limit spent: the alert
 * rules (worker/alerts) decide which thresholds that crosses, so they hear of every step.
 */
export function percentMoved(limit: number, before: number, after: number): boolean {
  if (limit <= 0) return false;
  return Math.floor((before * 100) / limit) !== Math.floor((after * 100) / limit);
}
