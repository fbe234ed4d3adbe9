// A budget's spending moved by a whole percent of its limit: the gate or ledger that counted it
// hands it to the alert rules (worker/alerts), which fire each threshold once per period. The
// alert names the budget as people know it ("Sales bots, monthly"), read from D1 only when a
// threshold is crossed.
import { eq } from 'drizzle-orm';
import { budgetCrossed } from '../alerts/fire';
import { db } from '../db/client';
import { apiKeys, budgets, departments, enterprises, groups, users } from '../db/schema';
import type { BudgetRule } from './rules';

export async function budgetAlert(
  env: Env,
  rule: BudgetRule,
  scope: { enterpriseId: string | null; groupId: string | null },
  periodKey: string,
  spentMicros: number,
): Promise<void> {
  try {
    await budgetCrossed(env, { id: rule.id, describe: () => budgetName(env, rule.id), ...scope }, periodKey, {
      spentMicros,
      limitMicros: rule.limitMicros,
    });
  } catch (err) {
    console.error('budget alert failed', { budgetId: rule.id, error: String(err) });
  }
}

const PERIOD_WORDS = { day: 'daily', week: 'weekly', month: 'monthly', total: 'in total' } as const;

/**
 * What the budget limits, in words, and its period: "Sales bots, monthly", "Olga in Sales bots,
 * daily", "key “laptop” (cp-ab12…) in Sales bots, weekly", "department Sales, monthly",
 * "Acme, in total". Null for a budget gone since.
 */
export async function budgetName(env: Env, budgetId: string): Promise<string | null> {
  const [row] = await db(env)
    .select({
      scope: budgets.scope,
      period: budgets.period,
      group: groups.name,
      department: departments.name,
      enterprise: enterprises.name,
      user: users.name,
      key: apiKeys.name,
      prefix: apiKeys.prefix,
    })
    .from(budgets)
    .leftJoin(groups, eq(groups.id, budgets.groupId))
    .leftJoin(departments, eq(departments.id, budgets.departmentId))
    .leftJoin(enterprises, eq(enterprises.id, budgets.enterpriseId))
    .leftJoin(users, eq(users.id, budgets.userId))
    .leftJoin(apiKeys, eq(apiKeys.id, budgets.keyId))
    .where(eq(budgets.id, budgetId));
  if (!row) return null;
  const group = row.group ?? 'a group';
  const target = {
    group,
    member: `${row.user ?? 'a member'} in ${group}`,
    key: `${row.key ? `key “${row.key}” (${row.prefix}…)` : `key ${row.prefix}…`} in ${group}`,
    department: `department ${row.department ?? ''}`.trim(),
    enterprise: row.enterprise ?? 'the enterprise',
  }[row.scope];
  return `${target}, ${PERIOD_WORDS[row.period]}`;
}
