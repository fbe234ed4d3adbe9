// Reconciliation: the gates' counters (what enforcement reads) against D1's usage (what reports
// read). Run by the cron, RECONCILE_LIMIT budgets a run in turn, for each one's current period:
// the settled spend the GroupGate's budget book holds for a group, member or key budget (or the
// spend groups have reported to the EnterpriseLedger for an enterprise or department budget) is
// compared with the cost D1 recorded for the same scope, from the later of the period's start and
// the budget's creation until now.
//
// Reservations of requests in flight are in neither number (settled spend only). What is left
// is transient — a usage event still in the queue, spend a gate has not yet reported to its
// ledger — or real: a lost event, a request whose cost the gate never learned, a counter that
// went wrong. A difference is therefore flagged (and logged) only when it persists: nonzero on
// this check and on the one before it in the same period. Every check's result is kept in
// `budget_reconciliations` and shown on GET /budgets/{id}.
import { and, asc, eq, gte, inArray, lt, type SQL, sql } from 'drizzle-orm';
import { enterpriseLedger, groupGate } from '../../durable-objects/address';
import { db } from '../db/client';
import { departmentGroupIds, enterpriseGroupIds } from '../db/group-scopes';
import {
  type Budget,
  type BudgetReconciliation,
  budgetReconciliations,
  budgets,
  budgetTurns,
  requestLog,
} from '../db/schema';
import { AGGREGATES, type ScopedColumns } from '../domain/usage';
import { ceilTo, coverage, floorTo, HOUR_MS } from '../usage/coverage';
import { periodKey, periodStart } from './periods';
import { isWide } from './rules';

/** What a budget's scope covers, on any table with the scoped columns. */
function scopeOn(b: Budget, t: ScopedColumns): SQL | undefined {
  switch (b.scope) {
    case 'key':
      return eq(t.keyId, b.keyId ?? '');
    case 'member':
      return and(eq(t.groupId, b.groupId ?? ''), eq(t.userId, b.userId ?? ''));
    case 'group':
      return eq(t.groupId, b.groupId ?? '');
    case 'department':
      return inArray(t.groupId, departmentGroupIds(b.departmentId ?? ''));
    case 'enterprise':
      return inArray(t.groupId, enterpriseGroupIds(b.enterpriseId ?? ''));
  }
}

/**
 * The cost D1 recorded for a budget's scope in [from, to), to the millisecond: whole hours, days
 * and months from the aggregates, the partial hours at either end from the request log (a period
 * in a zone like Asia/Kolkata starts on the half hour).
 */
export async function recordedSpend(env: Env, b: Budget, from: number, to: number): Promise<number> {
  const d = db(env);
  const inner = { from: ceilTo(from, HOUR_MS), to: floorTo(to, HOUR_MS) };
  const statements = [];
  const logSum = (a: number, z: number) =>
    d
      .select({ micros: sql<number>`coalesce(sum(${requestLog.costMicros}), 0)` })
      .from(requestLog)
      .where(and(scopeOn(b, requestLog), gte(requestLog.createdAt, a), lt(requestLog.createdAt, z)));
  if (inner.from >= inner.to) {
    statements.push(logSum(from, to));
  } else {
    if (from < inner.from) statements.push(logSum(from, inner.from));
    for (const s of coverage(inner.from, inner.to)) {
      const { table, bucket } = AGGREGATES[s.grain];
      statements.push(
        d
          .select({ micros: sql<number>`coalesce(sum(${table.costMicros}), 0)` })
          .from(table)
          .where(and(scopeOn(b, table), gte(bucket, s.from), lt(bucket, s.to))),
      );
    }
    if (inner.to < to) statements.push(logSum(inner.to, to));
  }
  const [first, ...rest] = statements;
  if (!first) return 0;
  const results = await d.batch([first, ...rest]);
  return results.reduce((sum, rows) => sum + (rows[0]?.micros ?? 0), 0);
}

/** The enforcing counters' settled spend, per budget id, for the periods they are in now. */
async function counters(
  env: Env,
  rows: Budget[],
): Promise<Map<string, { periodKey: string; micros: number }>> {
  const out = new Map<string, { periodKey: string; micros: number }>();
  const groupIds = new Set(rows.filter((b) => !isWide(b) && b.groupId).map((b) => b.groupId!));
  const enterpriseIds = new Set(rows.filter((b) => isWide(b) && b.enterpriseId).map((b) => b.enterpriseId!));
  await Promise.all([
    ...[...groupIds].map(async (id) => {
      for (const v of (await groupGate(env, id).state()).budgets)
        if (v.spentMicros !== null) out.set(v.budgetId, { periodKey: v.periodKey, micros: v.spentMicros });
    }),
    ...[...enterpriseIds].map(async (id) => {
      for (const v of await enterpriseLedger(env, id).state(id))
        out.set(v.budgetId, { periodKey: v.periodKey, micros: v.spentMicros });
    }),
  ]);
  return out;
}

export interface DriftLine {
  event: 'budget.drift';
  budgetId: string;
  scope: Budget['scope'];
  scopeId: string;
  period: Budget['period'];
  periodKey: string;
  counterMicros: number;
  recordedMicros: number;
  driftMicros: number;
  previousDriftMicros: number;
}

/**
 * Budgets one cron run checks at most. A check is one D1 batch, and reading the counters is one
 * Durable Object call per group or enterprise among them, so 100 checks stay near 200 calls: with
 * the month close (CLOSE_LIMIT) and the log trim in the same invocation, well under its 1,000 D1
 * queries. The least recently checked go first, so with N budgets each is checked every
 * ceil(N / 100) runs, ten minutes apart.
 */
export const RECONCILE_LIMIT = 100;

/**
 * Checks the `limit` budgets taken least recently (never-taken first); logs each persistent
 * drift as one JSON line. A budget's previous check is its own last one, however many runs ago,
 * so a drift is flagged on the second check in a row that finds it, as without the rotation.
 * A budget skipped (its gate has not learned it) records no check, but its turn is taken all the
 * same (budget_turns): it goes to the back of the line like the others.
 */
export async function reconcileBudgets(
  env: Env,
  now = Date.now(),
  limit = RECONCILE_LIMIT,
): Promise<BudgetReconciliation[]> {
  const d = db(env);
  const picked = await d
    .select({ budget: budgets, last: budgetReconciliations })
    .from(budgets)
    .leftJoin(budgetReconciliations, eq(budgetReconciliations.budgetId, budgets.id))
    .leftJoin(budgetTurns, eq(budgetTurns.budgetId, budgets.id))
    .orderBy(sql`${budgetTurns.takenAt} ASC NULLS FIRST`, asc(budgets.id))
    .limit(limit);
  if (picked.length === 0) return [];
  const turns = d.insert(budgetTurns).select(
    sql`SELECT value, ${now} FROM json_each(${JSON.stringify(picked.map((p) => p.budget.id))}) WHERE true
      ON CONFLICT (budget_id) DO UPDATE SET taken_at = excluded.taken_at`,
  );
  const rows = picked.map((p) => p.budget);
  const live = await counters(env, rows);
  const before = new Map(picked.map((p) => [p.budget.id, p.last]));
  const results: BudgetReconciliation[] = [];
  for (const b of rows) {
    const counter = live.get(b.id);
    const key = periodKey(b.period, now, b.timeZone);
    // A gate that has not learned the budget yet, or a period that turned while we looked.
    if (!counter || counter.periodKey !== key) continue;
    const from = Math.max(periodStart(b.period, now, b.timeZone), b.createdAt);
    const recorded = await recordedSpend(env, b, from, now);
    const drift = recorded - counter.micros;
    const last = before.get(b.id);
    const lastDrift = last && last.periodKey === key ? last.driftMicros : 0;
    const result: BudgetReconciliation = {
      budgetId: b.id,
      periodKey: key,
      checkedAt: now,
      counterMicros: counter.micros,
      recordedMicros: recorded,
      driftMicros: drift,
      flagged: drift !== 0 && lastDrift !== 0,
    };
    results.push(result);
    if (result.flagged) {
      const line: DriftLine = {
        event: 'budget.drift',
        budgetId: b.id,
        scope: b.scope,
        scopeId: b.scopeId,
        period: b.period,
        periodKey: key,
        counterMicros: counter.micros,
        recordedMicros: recorded,
        driftMicros: drift,
        previousDriftMicros: lastDrift,
      };
      console.warn(JSON.stringify(line));
    }
  }
  // One upsert per budget, all in one batch: a row binds seven parameters, and D1 binds at most
  // 100 to a statement.
  const [first, ...rest] = results.map((r) =>
    d
      .insert(budgetReconciliations)
      .values(r)
      .onConflictDoUpdate({
        target: budgetReconciliations.budgetId,
        set: {
          periodKey: sql`excluded.period_key`,
          checkedAt: sql`excluded.checked_at`,
          counterMicros: sql`excluded.counter_micros`,
          recordedMicros: sql`excluded.recorded_micros`,
          driftMicros: sql`excluded.drift_micros`,
          flagged: sql`excluded.flagged`,
        },
      }),
  );
  await d.batch([turns, ...(first ? [first, ...rest] : [])]);
  return results;
}
