// The carpool bill as people use it: a group's usage for a month (the design documents' shape),
// the live preview of an open month, closing a month into an immutable statement, adjustments to
// an open month, settled marks, and the cron job that closes last month for groups that did not.
// Reading needs `group.view` — in a carpool, members seeing each other's shares is the point — and
// everything that changes a bill needs `group.manage`. The arithmetic is in worker/billing/.
import { and, asc, count, eq, inArray, sql } from 'drizzle-orm';
import { ApiError, fieldRefusal } from '../api/errors';
import { monthBounds, monthOf, previousMonth } from '../billing/months';
import {
  billingBounds,
  bucketBounds,
  computeStatement,
  previewStatement,
  readStatement,
  type StatementView,
  statementWrites,
  usageByUser,
} from '../billing/statement';
import { type Db, db } from '../db/client';
import { failedOn } from '../db/constraints';
import {
  accounts,
  auditLog,
  billAdjustments,
  closeFailures,
  type Group,
  groupMembers,
  groups,
  membershipPeriods,
  statementSettlements,
  statements,
  users,
} from '../db/schema';
import { auditInsert } from './audit';
import { actorId, type Caller } from './caller';
import { authorizedGroup } from './groups';

/** `YYYY-MM`: the month asked for, or the current one in the group's time zone. */
function monthFor(group: Group, month: string | undefined, now: number): string {
  return month ?? monthOf(now, group.timeZone);
}

function notStarted(group: Group, month: string, now: number): boolean {
  return monthBounds(month, group.timeZone).start > now;
}

/**
 * A month that ended before the group was made has no bill: previewing, closing and adjusting it
 * are all the same 409 (a preview would otherwise charge the whole fee to the owner).
 */
function requireExisted(group: Group, month: string, what: string): void {
  if (monthBounds(month, group.timeZone).end <= group.createdAt)
    throw new ApiError('conflict', `Group ${group.id} did not exist in ${month}: ${what}.`);
}

function actorOf(caller: Caller): string {
  const id = actorId(caller);
  return id ? `user:${id}` : 'operator';
}

// ---------------------------------------------------------------------------------------------
// Usage, in the design documents' shape

export interface GroupUsage {
  month: string;
  timeZone: string;
  from: number;
  to: number;
  groupInfo: {
    name: string;
    memberCount: number;
    boundAccount: { id: string; name: string; provider: string } | null;
  };
  currentPeriod: { totalRequests: number; totalTokens: number; totalCost: number; costPerMember: number };
  memberBreakdown: { userId: string; userName: string; requests: number; tokens: number; cost: number }[];
}

/**
 * A group's usage for a month (default the current one, in its time zone): every current member
 * (with zeros if idle) and anyone else who used it in the month. Costs are API-equivalent,
 * integer micro-dollars; costPerMember is the total over the current members, rounded down.
 */
export async function groupUsage(caller: Caller, groupId: string, month?: string): Promise<GroupUsage> {
  const group = await authorizedGroup(caller, groupId, 'group.view');
  const m = monthFor(group, month, Date.now());
  const d = caller.db;
  // The same window as the month's statement (billingBounds), so that the usage page and the bill
  // agree after a time-zone change.
  const bounds = await billingBounds(d, group, m);
  const [usage, members, account] = await Promise.all([
    usageByUser(d, group.id, ...bucketBounds(bounds.start, bounds.end)),
    d
      .select({ userId: groupMembers.userId, name: users.name })
      .from(groupMembers)
      .innerJoin(users, eq(users.id, groupMembers.userId))
      .where(eq(groupMembers.groupId, group.id))
      .orderBy(asc(groupMembers.createdAt)),
    group.boundAccountId
      ? d
          .select({ id: accounts.id, name: accounts.name, provider: accounts.provider })
          .from(accounts)
          .where(eq(accounts.id, group.boundAccountId))
      : Promise.resolve([]),
  ]);
  const names = new Map(members.map((x) => [x.userId, x.name]));
  const others = [...usage.keys()].filter((id) => !names.has(id));
  if (others.length)
    for (const u of await d
      .select({ id: users.id, name: users.name })
      .from(users)
      .where(inArray(users.id, others)))
      names.set(u.id, u.name);
  const breakdown = [...members.map((x) => x.userId), ...others.sort()].map((userId) => {
    const u = usage.get(userId);
    const tokens = u
      ? u.inputTokens + u.outputTokens + u.cacheWrite5mTokens + u.cacheWrite1hTokens + u.cacheReadTokens
      : 0;
    return {
      userId,
      userName: names.get(userId) ?? '(deleted user)',
      requests: u?.requests ?? 0,
      tokens,
      cost: u?.costMicros ?? 0,
    };
  });
  const totalCost = breakdown.reduce((s, b) => s + b.cost, 0);
  return {
    month: m,
    timeZone: group.timeZone,
    from: bounds.start,
    to: bounds.end,
    groupInfo: { name: group.name, memberCount: members.length, boundAccount: account[0] ?? null },
    currentPeriod: {
      totalRequests: breakdown.reduce((s, b) => s + b.requests, 0),
      totalTokens: breakdown.reduce((s, b) => s + b.tokens, 0),
      totalCost,
      costPerMember: members.length ? Math.floor(totalCost / members.length) : 0,
    },
    memberBreakdown: breakdown,
  };
}

// ---------------------------------------------------------------------------------------------
// Statements

/** The live preview of an open month (default the current one). */
export async function previewBill(caller: Caller, groupId: string, month?: string): Promise<StatementView> {
  const group = await authorizedGroup(caller, groupId, 'group.view');
  const now = Date.now();
  const m = monthFor(group, month, now);
  if (notStarted(group, m, now)) throw new ApiError('invalid_request', `Month ${m} has not begun.`);
  requireExisted(group, m, 'that month has no bill');
  if (await isClosed(caller.db, group.id, m))
    throw new ApiError(
      'conflict',
      `Month ${m} of group ${group.id} is closed: GET /groups/${group.id}/statements/${m} for its statement.`,
    );
  return previewStatement(caller.db, group, m);
}

async function isClosed(d: Db, groupId: string, month: string): Promise<boolean> {
  const [row] = await d
    .select({ id: statements.id })
    .from(statements)
    .where(and(eq(statements.groupId, groupId), eq(statements.month, month)));
  return Boolean(row);
}

export interface StatementSummary {
  month: string;
  closedAt: number;
  closedBy: string;
  billMicros: number;
  totalMicros: number;
}

export async function listStatements(caller: Caller, groupId: string): Promise<StatementSummary[]> {
  const group = await authorizedGroup(caller, groupId, 'group.view');
  return caller.db
    .select({
      month: statements.month,
      closedAt: statements.closedAt,
      closedBy: statements.closedBy,
      billMicros: statements.billMicros,
      totalMicros: statements.totalMicros,
    })
    .from(statements)
    .where(eq(statements.groupId, group.id))
    .orderBy(asc(statements.month));
}

export async function getStatement(caller: Caller, groupId: string, month: string): Promise<StatementView> {
  const group = await authorizedGroup(caller, groupId, 'group.view');
  const view = await readStatement(caller.db, group.id, month);
  if (!view)
    throw new ApiError(
      'not_found',
      `No statement for ${month} of group ${group.id}: the month is not closed (GET /groups/${group.id}/statements/current?month=${month} previews it).`,
    );
  return view;
}

/**
 * Closes a month that is over: its bill is computed once more and frozen. A month closed already
 * (by the owner or the cron job, even at the same moment) is a 409, as is one not over yet.
 * A month before a closed one may still be closed: the cron job only closes last month, so a
 * month it missed (its close failed until the next month was due, or the owner closed the next
 * one by hand first) could otherwise never be billed, and its fee was paid all the same. Its
 * period ends where the later statement starts (billingBounds), so the two never overlap.
 */
export async function closeMonth(caller: Caller, groupId: string, month: string): Promise<StatementView> {
  const group = await authorizedGroup(caller, groupId, 'group.manage');
  const now = Date.now();
  const bounds = monthBounds(month, group.timeZone);
  if (bounds.end > now)
    throw new ApiError(
      'conflict',
      `Month ${month} is not over in ${group.timeZone} (it ends ${new Date(bounds.end).toISOString()}): only a past month can be closed.`,
    );
  requireExisted(group, month, 'there is nothing to close');
  const closing = await computeStatement(caller.db, group, month);
  const { view } = closing;
  const { id, writes } = statementWrites(caller.db, closing, actorOf(caller), now);
  await runClose(caller.db, group, month, [
    ...writes,
    auditInsert(caller, {
      action: 'statement.close',
      target: { type: 'statement', id },
      enterpriseId: group.enterpriseId,
      groupId: group.id,
      detail: { month, billMicros: view.totals.billMicros, totalMicros: view.totals.totalMicros },
    }),
  ]);
  return (await readStatement(caller.db, group.id, month))!;
}

// biome-ignore lint/suspicious/noExplicitAny: drizzle's batch takes a tuple of its own query types.
async function runClose(d: Db, group: Group, month: string, writes: any[]): Promise<void> {
  try {
    await d.batch(writes as [never, ...never[]]);
  } catch (err) {
    if (failedOn(err, 'statements.group_id'))
      throw new ApiError('conflict', `Month ${month} of group ${group.id} is closed already.`);
    if (failedOn(err, 'statement_adjustments_changed'))
      throw new ApiError('conflict', `An adjustment to ${month} was added while closing it: close it again.`);
    throw err;
  }
}

export interface AdjustmentInput {
  userId: string;
  amountMicros: number;
  reason: string;
  /** Default: the current month. */
  month?: string;
}

/**
 * Adds an adjustment (signed micro-dollars, with a reason) to a person's line of an open month:
 * someone who was in the group at some time. Closed months refuse it (a trigger, 409).
 */
export async function addAdjustment(caller: Caller, groupId: string, input: AdjustmentInput) {
  const group = await authorizedGroup(caller, groupId, 'group.manage');
  const now = Date.now();
  const month = monthFor(group, input.month, now);
  if (notStarted(group, month, now))
    throw fieldRefusal('month', `${month} has not begun; adjust the current month or an open past one.`, {
      rule: 'month_not_begun',
    });
  requireExisted(group, month, 'that month has no bill');
  const d = caller.db;
  // Each adjustment is at most ±10^12 µ$: a bounded number keeps a month's sum exact (< 2^53).
  const [{ n } = { n: 0 }] = await d
    .select({ n: count() })
    .from(billAdjustments)
    .where(and(eq(billAdjustments.groupId, group.id), eq(billAdjustments.month, month)));
  if (n >= MAX_ADJUSTMENTS)
    throw new ApiError(
      'conflict',
      `${month} has ${MAX_ADJUSTMENTS} adjustments already: correct with the ones there rather than add more.`,
    );
  const [stay] = await d
    .select({ id: membershipPeriods.id })
    .from(membershipPeriods)
    .where(and(eq(membershipPeriods.groupId, group.id), eq(membershipPeriods.userId, input.userId)))
    .limit(1);
  if (!stay) throw new ApiError('not_found', `No member ${input.userId} in group ${group.id}.`);
  const id = crypto.randomUUID();
  try {
    const [[row]] = await d.batch([
      d
        .insert(billAdjustments)
        .values({
          id,
          groupId: group.id,
          month,
          userId: input.userId,
          amountMicros: input.amountMicros,
          reason: input.reason,
          createdBy: actorOf(caller),
        })
        .returning(),
      auditInsert(caller, {
        action: 'bill.adjust',
        target: { type: 'user', id: input.userId },
        enterpriseId: group.enterpriseId,
        groupId: group.id,
        detail: { month, amountMicros: input.amountMicros, reason: input.reason, adjustmentId: id },
      }),
    ]);
    return { ...row!, month };
  } catch (err) {
    if (failedOn(err, 'month_closed'))
      throw new ApiError(
        'conflict',
        `Month ${month} of group ${group.id} is closed: its statement cannot change.`,
      );
    throw err;
  }
}

/** Marks a person's line of a closed statement settled or not (the one thing about it that changes). */
export async function setSettled(
  caller: Caller,
  groupId: string,
  month: string,
  userId: string,
  settled: boolean,
): Promise<StatementView> {
  const group = await authorizedGroup(caller, groupId, 'group.manage');
  const view = await readStatement(caller.db, group.id, month);
  if (!view) throw new ApiError('not_found', `No statement for ${month} of group ${group.id}.`);
  const line = view.lines.find((l) => l.userId === userId);
  if (!line)
    throw new ApiError('not_found', `No line for ${userId} in the ${month} statement of group ${group.id}.`);
  const d = caller.db;
  const [s] = await d
    .select({ id: statements.id })
    .from(statements)
    .where(and(eq(statements.groupId, group.id), eq(statements.month, month)));
  const values = { statementId: s!.id, userId, settled, updatedAt: Date.now(), updatedBy: actorOf(caller) };
  await d.batch([
    d
      .insert(statementSettlements)
      .values(values)
      .onConflictDoUpdate({
        target: [statementSettlements.statementId, statementSettlements.userId],
        set: { settled, updatedAt: values.updatedAt, updatedBy: values.updatedBy },
      }),
    auditInsert(caller, {
      action: settled ? 'statement.settle' : 'statement.unsettle',
      target: { type: 'user', id: userId },
      enterpriseId: group.enterpriseId,
      groupId: group.id,
      detail: { month, before: line.settled, after: settled, amountMicros: line.amountMicros },
    }),
  ]);
  return (await readStatement(d, group.id, month))!;
}

// ---------------------------------------------------------------------------------------------
// The cron job

/** The cron job waits this long after a month ends, so usage still in the queue lands in it. */
export const CLOSE_GRACE_MS = 3_600_000;

/**
 * Groups one cron run closes at most. A close is 8 D1 queries, up to 20 for a group with earlier
 * statements to look for late usage in, so 25 closes stay under 500 of the 1,000 D1 queries a
 * Workers Paid invocation may make, leaving room for the budget reconciliation and the log trim
 * that share it. The cron runs every 10 minutes: a month with N groups due is closed within
 * ceil(N / 25) runs (1,000 groups in under seven hours).
 */
export const CLOSE_LIMIT = 25;

/** Adjustments per group and month. */
export const MAX_ADJUSTMENTS = 1000;

interface DueMonth {
  zone: string;
  month: string;
  /** Groups created at or after the month's end did not exist in it. */
  end: number;
}

/**
 * The groups that existed in their zone's due month and have no statement for it: oldest first,
 * those whose close failed last after all the others (the longest ago first).
 * Due months come per zone in one JSON parameter, so SQL matches each group to its own month
 * whatever the number of zones (D1 binds at most 100 parameters).
 */
async function unclosedGroups(d: Db, due: DueMonth[], limit: number) {
  return d.all<{ id: string; month: string }>(sql`
    SELECT ${groups.id} AS id, due.value ->> 'month' AS month
    FROM ${groups} JOIN json_each(${JSON.stringify(due)}) AS due
      ON ${groups.timeZone} = due.value ->> 'zone'
    LEFT JOIN ${closeFailures} AS failed
      ON failed.group_id = ${groups.id} AND failed.month = due.value ->> 'month'
    WHERE ${groups.createdAt} < due.value ->> 'end'
      AND NOT EXISTS (
        SELECT 1 FROM ${statements}
        WHERE ${statements.groupId} = ${groups.id} AND ${statements.month} = due.value ->> 'month')
    ORDER BY failed.failed_at IS NOT NULL, failed.failed_at, ${groups.createdAt}, ${groups.id}
    LIMIT ${limit}`);
}

/**
 * Closes last month (in each group's time zone) for up to `limit` groups that have not closed it
 * and existed then, once the month has been over for CLOSE_GRACE_MS; the rest wait for the next
 * runs. With nothing due, a run reads the groups' zones and an empty list: no group row is loaded.
 * A group its owner closes at the same moment is a 409 here, skipped. Returns how many statements
 * it wrote.
 *
 * Oldest groups go first. A group whose close fails is logged, spends its place in this run's
 * limit, stays due, and is recorded (close_failures): the next runs take every group that has not
 * failed first, then the failed ones, longest ago first. So groups that fail every time are still
 * tried whenever there is room, and however many there are, they never hold the others back.
 */
export async function closeLastMonths(env: Env, now = Date.now(), limit = CLOSE_LIMIT): Promise<number> {
  const d = db(env);
  const zones = await d.selectDistinct({ timeZone: groups.timeZone }).from(groups);
  const due = zones.map(({ timeZone: zone }): DueMonth => {
    const month = previousMonth(monthOf(now - CLOSE_GRACE_MS, zone));
    return { zone, month, end: monthBounds(month, zone).end };
  });
  if (due.length === 0) return 0;
  const todo = await unclosedGroups(d, due, limit);
  if (todo.length === 0) return 0;
  const ids = todo.map((x) => x.id);
  const rows = await d.select().from(groups).where(inArray(groups.id, ids));
  const byId = new Map(rows.map((g) => [g.id, g]));
  let closed = 0;
  for (const { id: groupId, month } of todo) {
    const group = byId.get(groupId);
    if (!group) continue; // deleted since it was listed
    try {
      const closing = await computeStatement(d, group, month);
      const { view } = closing;
      const { id, writes } = statementWrites(d, closing, 'cron', now);
      await runClose(d, group, month, [
        ...writes,
        d.insert(auditLog).values({
          at: now,
          actor: 'cron',
          actorId: null,
          action: 'statement.close',
          targetType: 'statement',
          targetId: id,
          enterpriseId: group.enterpriseId,
          groupId: group.id,
          detail: { month, billMicros: view.totals.billMicros, totalMicros: view.totals.totalMicros },
          ip: null,
        }),
      ]);
      closed++;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'conflict') continue;
      console.error(`closing ${month} of group ${group.id} failed`, err);
      await d
        .insert(closeFailures)
        .values({ groupId: group.id, month, failedAt: now })
        .onConflictDoUpdate({ target: [closeFailures.groupId, closeFailures.month], set: { failedAt: now } })
        .catch((e: unknown) => console.error(`recording the failed close of group ${group.id}`, e));
    }
  }
  return closed;
}
