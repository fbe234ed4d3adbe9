// Budgets: spending limits on an enterprise, a department, a group, a member within a group, or a
// key, over a day, an ISO week, a month (in the budget's time zone) or in total; hard (refuse
// once reached) or soft (alert only). Enterprise and department budgets are set by the
// enterprise's owners; group, member and key budgets by whoever manages the group, and a member
// may limit their own key. Every change reaches the counters at once: a group's gate learns its
// budgets, an enterprise's ledger its wide ones.
import { and, eq, inArray, or, type SQL } from 'drizzle-orm';
import { enterpriseLedger, groupGate } from '../../durable-objects/address';
import type { BudgetView } from '../../durable-objects/budget-book';
import type { LedgerView } from '../../durable-objects/enterprise-ledger';
import { budgetPeriodMoved, budgetReset } from '../alerts/fire';
import { ApiError, fieldRefusal } from '../api/errors';
import { budgetRule, loadWideBudgets } from '../budgets/config';
import { isTimeZone, type Period, periodKey, periodStart } from '../budgets/periods';
import { recordedSpend } from '../budgets/reconcile';
import { isWide } from '../budgets/rules';
import { db } from '../db/client';
import { departmentGroupIds } from '../db/group-scopes';
import {
  apiKeys,
  type Budget,
  type BudgetReconciliation,
  budgetReconciliations,
  budgets,
  departments,
  enterprises,
  groupMembers,
  groups,
} from '../db/schema';
import { audit } from './audit';
import { allows, authorize, type Caller, memberships } from './caller';
import { can, type Resource } from './permissions';
import { pushGroup } from './push';

export interface BudgetTarget {
  scope: Budget['scope'];
  enterpriseId?: string;
  departmentId?: string;
  groupId?: string;
  userId?: string;
  keyId?: string;
}

export interface BudgetInput extends BudgetTarget {
  period: Period;
  limitMicros: number;
  mode?: 'hard' | 'soft';
  timeZone?: string;
}

/** A target resolved to its ids, the resource whose managers set it, and its unique name. */
interface Resolved {
  scopeId: string;
  enterpriseId: string | null;
  departmentId: string | null;
  groupId: string | null;
  userId: string | null;
  keyId: string | null;
  resource: Resource;
  what: string;
  /** A key's holder may limit their own key. */
  holder: string | null;
}

async function resolve(caller: Caller, t: BudgetTarget): Promise<Resolved> {
  const d = caller.db;
  const none = { departmentId: null, groupId: null, userId: null, keyId: null, holder: null };
  switch (t.scope) {
    case 'enterprise': {
      const id = required(t.enterpriseId, 'enterpriseId');
      const [enterprise] = await d
        .select({ id: enterprises.id })
        .from(enterprises)
        .where(eq(enterprises.id, id));
      if (!enterprise) throw new ApiError('not_found', `No enterprise ${id}.`);
      return {
        ...none,
        scopeId: id,
        enterpriseId: id,
        resource: { type: 'enterprise', enterpriseId: id },
        what: `enterprise ${id}`,
      };
    }
    case 'department': {
      const id = required(t.departmentId, 'departmentId');
      const [dept] = await d.select().from(departments).where(eq(departments.id, id));
      if (!dept) throw new ApiError('not_found', `No department ${id}.`);
      return {
        ...none,
        scopeId: id,
        enterpriseId: dept.enterpriseId,
        departmentId: id,
        resource: { type: 'enterprise', enterpriseId: dept.enterpriseId },
        what: `department ${id}`,
      };
    }
    case 'group':
    case 'member': {
      const groupId = required(t.groupId, 'groupId');
      const group = await findGroup(caller, groupId);
      const base = {
        ...none,
        enterpriseId: group.enterpriseId,
        groupId,
        resource: { type: 'group' as const, groupId, enterpriseId: group.enterpriseId },
      };
      if (t.scope === 'group') return { ...base, scopeId: groupId, what: `group ${groupId}` };
      const userId = required(t.userId, 'userId');
      return {
        ...base,
        userId,
        scopeId: `${groupId}:${userId}`,
        what: `member ${userId} of group ${groupId}`,
      };
    }
    case 'key': {
      const keyId = required(t.keyId, 'keyId');
      const [key] = await d.select().from(apiKeys).where(eq(apiKeys.id, keyId));
      if (!key) throw new ApiError('not_found', `No key ${keyId}.`);
      const group = await findGroup(caller, key.groupId);
      return {
        ...none,
        scopeId: keyId,
        enterpriseId: group.enterpriseId,
        groupId: key.groupId,
        keyId,
        resource: { type: 'group', groupId: key.groupId, enterpriseId: group.enterpriseId },
        what: `key ${keyId}`,
        holder: key.userId,
      };
    }
  }
}

function required(value: string | undefined, field: string): string {
  if (!value)
    throw fieldRefusal(
      field,
      'is required for this scope.',
      { code: 'invalid_type', required: true },
      `${field} is required for this scope.`,
    );
  return value;
}

async function findGroup(caller: Caller, id: string) {
  const [group] = await caller.db.select().from(groups).where(eq(groups.id, id));
  if (!group) throw new ApiError('not_found', `No group ${id}.`);
  return group;
}

type Authority = Budget['authority'];

/**
 * Enterprise owners set wide budgets; group managers the group's; a key's holder their own key's.
 * Answers the authority the budget gets: the highest the caller holds over its target, so that
 * someone below (a group owner under the enterprise's admins, a key's holder under the group's
 * managers) cannot lift what was set above them.
 */
async function authorizeTarget(caller: Caller, target: Resolved): Promise<Authority> {
  const m = await memberships(caller);
  if (target.resource.type === 'enterprise') {
    await authorize(caller, 'enterprise.manage', target.resource, target.what);
    return 'enterprise';
  }
  // Who manages groups through the enterprise (its owners and admins, a system admin), not as
  // the group's own owner: the permission table asked about the enterprise, not the group.
  if (
    target.enterpriseId !== null &&
    can(m, 'group.manage', { type: 'enterprise', enterpriseId: target.enterpriseId })
  )
    return 'enterprise';
  if (can(m, 'group.manage', target.resource)) return 'group';
  if (target.holder !== null && target.holder === m.userId) {
    await authorize(caller, 'ai.use', target.resource, target.what);
    return 'holder';
  }
  await authorize(caller, 'group.manage', target.resource, target.what);
  return 'group';
}

/**
 * A stored budget's target, named as the budget: whoever may not see it learns nothing of what it
 * limits (a 404 naming its group, key or department would give away another tenant's ids).
 */
async function targetOfBudget(caller: Caller, row: Budget): Promise<Resolved> {
  try {
    return { ...(await resolve(caller, targetOf(row))), what: `budget ${row.id}` };
  } catch (error) {
    if (error instanceof ApiError && error.code === 'not_found')
      throw new ApiError('not_found', `No budget ${row.id}.`);
    throw error;
  }
}

/** Loosening or removing a budget takes the authority it was set with (or one above it). */
async function authorizeChange(caller: Caller, before: Budget): Promise<void> {
  const target = await targetOfBudget(caller, before);
  const holds = await authorizeTarget(caller, target);
  const rank: Record<Authority, number> = { holder: 0, group: 1, enterprise: 2 };
  if (rank[holds] < rank[before.authority])
    throw new ApiError(
      'forbidden',
      before.authority === 'enterprise'
        ? 'This budget was set by the enterprise’s owners or admins: only they may change or remove it.'
        : 'This budget was set by the group’s managers: only they may change or remove it.',
    );
}

export async function createBudget(caller: Caller, input: BudgetInput): Promise<Budget> {
  const target = await resolve(caller, input);
  const authority = await authorizeTarget(caller, target);
  // Asked only of those who may set it, so that nobody else learns who is in the group.
  if (target.userId !== null) {
    const [member] = await caller.db
      .select({ userId: groupMembers.userId })
      .from(groupMembers)
      .where(and(eq(groupMembers.groupId, target.groupId!), eq(groupMembers.userId, target.userId)));
    if (!member)
      throw new ApiError(
        'invalid_request',
        `User ${target.userId} is not a member of group ${target.groupId}.`,
      );
  }
  const timeZone = input.timeZone ?? 'UTC';
  if (!isTimeZone(timeZone))
    throw fieldRefusal(
      'timeZone',
      `unknown time zone ${timeZone}.`,
      { rule: 'time_zone' },
      `Unknown time zone ${timeZone}.`,
    );
  const id = crypto.randomUUID();
  const [row] = await caller.db
    .insert(budgets)
    .values({
      id,
      scope: input.scope,
      scopeId: target.scopeId,
      enterpriseId: target.enterpriseId,
      departmentId: target.departmentId,
      groupId: target.groupId,
      userId: target.userId,
      keyId: target.keyId,
      period: input.period,
      limitMicros: input.limitMicros,
      mode: input.mode ?? 'hard',
      authority,
      timeZone,
    })
    .onConflictDoNothing()
    .returning();
  if (!row) {
    throw new ApiError('conflict', `${target.what} already has a ${input.period} budget; change that one.`);
  }
  await audit(caller, {
    action: 'budget.create',
    target: { type: 'budget', id },
    enterpriseId: target.enterpriseId,
    groupId: target.groupId,
    detail: { scope: input.scope, period: input.period, limitMicros: input.limitMicros, mode: row.mode },
  });
  await pushBudgets(caller.env, row);
  return row;
}

export async function updateBudget(
  caller: Caller,
  id: string,
  changes: { limitMicros?: number; mode?: 'hard' | 'soft'; timeZone?: string },
): Promise<Budget> {
  const before = await findBudget(caller, id);
  await authorizeChange(caller, before);
  if (Object.keys(changes).length === 0) return before;
  if (changes.timeZone !== undefined && !isTimeZone(changes.timeZone))
    throw new ApiError('invalid_request', `Unknown time zone ${changes.timeZone}.`);
  const [row] = await caller.db.update(budgets).set(changes).where(eq(budgets.id, id)).returning();
  await audit(caller, {
    action: 'budget.update',
    target: { type: 'budget', id },
    enterpriseId: before.enterpriseId,
    groupId: before.groupId,
    detail: {
      before: { limitMicros: before.limitMicros, mode: before.mode, timeZone: before.timeZone },
      after: { limitMicros: row!.limitMicros, mode: row!.mode, timeZone: row!.timeZone },
    },
  });
  await pushBudgets(caller.env, row!);
  if (changes.timeZone !== undefined && changes.timeZone !== before.timeZone)
    await seedMovedPeriod(caller.env, before, row!);
  // A new limit is a new measure: its thresholds may fire again.
  if (changes.limitMicros !== undefined && changes.limitMicros !== before.limitMicros)
    await budgetReset(caller.env, id);
  return row!;
}

export async function deleteBudget(caller: Caller, id: string): Promise<void> {
  const before = await findBudget(caller, id);
  await authorizeChange(caller, before);
  await caller.db.delete(budgets).where(eq(budgets.id, id));
  await audit(caller, {
    action: 'budget.delete',
    target: { type: 'budget', id },
    enterpriseId: before.enterpriseId,
    groupId: before.groupId,
    detail: { scope: before.scope, period: before.period, limitMicros: before.limitMicros },
  });
  await pushBudgets(caller.env, before);
}

export interface BudgetWithState extends Budget {
  /** The counters that enforce it, as they stand: a group's gate, or the enterprise's ledger. */
  live: BudgetView | LedgerView | null;
  /** The cron's last reconciliation of those counters with D1 (worker/budgets/reconcile.ts). */
  reconciliation: Omit<BudgetReconciliation, 'budgetId'> | null;
}

/** One budget and its live counters; seen by those who may see its target. */
export async function getBudget(caller: Caller, id: string): Promise<BudgetWithState> {
  const row = await findBudget(caller, id);
  const target = await targetOfBudget(caller, row);
  const view = target.resource.type === 'enterprise' ? 'enterprise.view' : 'group.view';
  await authorize(caller, view, target.resource, target.what);
  const [live, [checked]] = await Promise.all([
    liveState(caller.env, row),
    caller.db.select().from(budgetReconciliations).where(eq(budgetReconciliations.budgetId, id)),
  ]);
  return { ...row, live, reconciliation: checked ? withoutId(checked) : null };
}

function withoutId({ budgetId: _, ...rest }: BudgetReconciliation) {
  return rest;
}

/** Budgets the caller may see, optionally of one enterprise or group. */
export async function listBudgets(
  caller: Caller,
  filter: { enterpriseId?: string; groupId?: string },
): Promise<Budget[]> {
  const clauses: SQL[] = [];
  if (filter.enterpriseId) {
    await authorize(
      caller,
      'enterprise.view',
      { type: 'enterprise', enterpriseId: filter.enterpriseId },
      `enterprise ${filter.enterpriseId}`,
    );
    clauses.push(eq(budgets.enterpriseId, filter.enterpriseId));
  }
  if (filter.groupId) {
    const group = await findGroup(caller, filter.groupId);
    await authorize(
      caller,
      'group.view',
      { type: 'group', groupId: group.id, enterpriseId: group.enterpriseId },
      `group ${group.id}`,
    );
    clauses.push(eq(budgets.groupId, filter.groupId));
  }
  const m = await memberships(caller);
  if (!m.system && clauses.length === 0) {
    const enterpriseIds = [...m.enterprises.keys()];
    const groupIds = [...m.groups.keys()];
    if (enterpriseIds.length === 0 && groupIds.length === 0) return [];
    const scopes: SQL[] = [];
    if (enterpriseIds.length > 0) scopes.push(inArray(budgets.enterpriseId, enterpriseIds));
    if (groupIds.length > 0) scopes.push(inArray(budgets.groupId, groupIds));
    clauses.push(or(...scopes)!);
  }
  const rows = await caller.db
    .select()
    .from(budgets)
    .where(and(...clauses));
  // An enterprise member who is not an admin sees the enterprise's budgets, not every group's.
  const visible: Budget[] = [];
  for (const row of rows) {
    const resource: Resource = row.groupId
      ? { type: 'group', groupId: row.groupId, enterpriseId: row.enterpriseId }
      : { type: 'enterprise', enterpriseId: row.enterpriseId ?? '' };
    if (await allows(caller, resource.type === 'group' ? 'group.view' : 'enterprise.view', resource))
      visible.push(row);
  }
  return visible;
}

function targetOf(row: Budget): BudgetTarget {
  return {
    scope: row.scope,
    enterpriseId: row.enterpriseId ?? undefined,
    departmentId: row.departmentId ?? undefined,
    groupId: row.groupId ?? undefined,
    userId: row.userId ?? undefined,
    keyId: row.keyId ?? undefined,
  };
}

async function findBudget(caller: Caller, id: string): Promise<Budget> {
  const [row] = await caller.db.select().from(budgets).where(eq(budgets.id, id));
  if (!row) throw new ApiError('not_found', `No budget ${id}.`);
  return row;
}

async function liveState(env: Env, row: Budget): Promise<BudgetView | LedgerView | null> {
  const rule = budgetRule(row);
  if (isWide(rule)) {
    const views = await enterpriseLedger(env, row.enterpriseId!).state(row.enterpriseId!);
    return views.find((v) => v.budgetId === row.id) ?? null;
  }
  const state = await groupGate(env, row.groupId!).state();
  return state.budgets.find((v) => v.budgetId === row.id) ?? null;
}

/**
 * A budget's time zone changed, so its current period is another window (another key) that no
 * counter has counted: it starts from what D1 recorded in that window, not from zero — what was
 * spent today stays spent today, whatever the zone. What the usage queue has not delivered yet
 * (seconds) is missed, as is the cost of requests in flight across the change. The thresholds
 * its alerts fired in the old period count as fired in the new one, so they do not fire twice.
 */
async function seedMovedPeriod(env: Env, before: Budget, row: Budget): Promise<void> {
  if (row.period === 'total') return;
  const now = Date.now();
  const key = periodKey(row.period, now, row.timeZone);
  const oldKey = periodKey(before.period, now, before.timeZone);
  if (key !== oldKey) await budgetPeriodMoved(env, row.id, oldKey, key);
  const from = Math.max(periodStart(row.period, now, row.timeZone), row.createdAt);
  const spent = await recordedSpend(env, row, from, now + 1);
  if (isWide(row)) await enterpriseLedger(env, row.enterpriseId!).seed(row.id, key, spent, row.enterpriseId!);
  else await groupGate(env, row.groupId!).seedBudget(row.id, key, spent);
}

/** A budget changed: the gates that count it learn at once. */
async function pushBudgets(env: Env, row: Budget): Promise<void> {
  if (row.scope === 'enterprise' || row.scope === 'department') {
    const enterpriseId = row.enterpriseId!;
    await enterpriseLedger(env, enterpriseId).configure(await loadWideBudgets(env, enterpriseId));
    const affected = await db(env)
      .select({ id: groups.id })
      .from(groups)
      .where(
        row.scope === 'enterprise'
          ? eq(groups.enterpriseId, enterpriseId)
          : inArray(groups.id, departmentGroupIds(row.departmentId!)),
      );
    await Promise.all(affected.map((g) => pushGroup(env, g.id)));
    return;
  }
  if (row.groupId) await pushGroup(env, row.groupId);
}
