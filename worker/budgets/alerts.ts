// A budget crossed one of its alert thresholds (50, 80, 100 % by default): the gate or ledger that
// counted it calls this, off its critical path.
import type { BudgetRule } from './rules';

export async function budgetAlert(
  _env: Env,
  rule: BudgetRule,
  periodKey: string,
  percent: number,
  spentMicros: number,
): Promise<void> {
  console.warn('budget threshold crossed', {
    budgetId: rule.id,
    scope: rule.scope,
    target: rule.target,
    periodKey,
    percent,
    spentMicros,
    limitMicros: rule.limitMicros,
  });
}
