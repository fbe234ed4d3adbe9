// Budgets from D1 into the shape the gates enforce: a group's own (group, member, key) and the
// wide ones over it (its enterprise's, its department's and that one's parent's), and an
// enterprise ledger's.
import { and, eq, inArray, or } from 'drizzle-orm';
import { db } from '../db/client';
import { departmentAndParent } from '../db/group-scopes';
import { type Budget, budgets } from '../db/schema';
import type { BudgetRule } from './rules';

export function budgetRule(row: Budget): BudgetRule {
  const target =
    row.scope === 'member'
      ? (row.userId ?? '')
      : row.scope === 'key'
        ? (row.keyId ?? '')
        : row.scope === 'group'
          ? (row.groupId ?? '')
          : row.scope === 'department'
            ? (row.departmentId ?? '')
            : (row.enterpriseId ?? '');
  return {
    id: row.id,
    scope: row.scope,
    target,
    period: row.period,
    limitMicros: row.limitMicros,
    mode: row.mode,
    timeZone: row.timeZone,
  };
}

/** Every budget a group's admissions answer to. */
export async function loadGroupBudgets(
  env: Env,
  group: { id: string; enterpriseId: string | null; departmentId: string | null },
): Promise<BudgetRule[]> {
  const clauses = [eq(budgets.groupId, group.id)];
  if (group.enterpriseId)
    clauses.push(and(eq(budgets.scope, 'enterprise'), eq(budgets.enterpriseId, group.enterpriseId))!);
  // Its department's and, for a sub-department, the department above it.
  if (group.departmentId)
    clauses.push(
      and(
        eq(budgets.scope, 'department'),
        inArray(budgets.departmentId, departmentAndParent(group.departmentId)),
      )!,
    );
  const rows = await db(env)
    .select()
    .from(budgets)
    .where(or(...clauses));
  return rows.map(budgetRule);
}

/** The enterprise's own and its departments' budgets: what its ledger counts. */
export async function loadWideBudgets(env: Env, enterpriseId: string): Promise<BudgetRule[]> {
  const rows = await db(env)
    .select()
    .from(budgets)
    .where(and(eq(budgets.enterpriseId, enterpriseId), inArray(budgets.scope, ['enterprise', 'department'])));
  return rows.map(budgetRule);
}
