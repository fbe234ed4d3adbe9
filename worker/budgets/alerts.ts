// A budget's spending moved by a whole percent of its limit: the gate or ledger that counted it
// hands it to the alert rules (worker/alerts), which fire each threshold once per period.
import { budgetCrossed } from '../alerts/fire';
import type { BudgetRule } from './rules';

export async function budgetAlert(
  env: Env,
  rule: BudgetRule,
  scope: { enterpriseId: string | null; groupId: string | null },
  periodKey: string,
  spentMicros: number,
): Promise<void> {
  try {
    await budgetCrossed(
      env,
      { id: rule.id, name: `${rule.scope} ${rule.period} budget`, ...scope },
      periodKey,
      { spentMicros, limitMicros: rule.limitMicros },
    );
  } catch (err) {
    console.error('budget alert failed', { budgetId: rule.id, error: String(err) });
  }
}
