// Usage read-outs from the aggregates (totals, and breakdowns by model, group, member, key, day and
// hour), scoped by who asks: a member sees their own usage and their groups' totals; whoever manages
// a group (its owner; the enterprise's owners and admins) sees all of it, and an enterprise's owners
// and admins read the whole enterprise, or one department, in one answer; a system admin sees
// everything. A filter naming something outside the caller's scope is a 404, like any other id.
// A range is answered from the coarsest aggregates that fit it (worker/usage/coverage.ts).
import { and, eq, gte, inArray, lt, or, type SQL, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { ApiError } from '../api/errors';
import type { Db } from '../db/client';
import { departmentGroupIds, enterpriseGroupIds } from '../db/group-scopes';
import {
  accounts,
  apiKeys,
  departments,
  groupMembers,
  groups,
  usageDaily,
  usageHourly,
  usageMonthly,
  users,
} from '../db/schema';
import { coverage, DAY_MS, type Grain, hourRange, type Segment } from '../usage/coverage';
import { type Caller, memberships } from './caller';
import { can, type Memberships, viewActionOf } from './permissions';

export interface UsageQuery {
  keyId?: string;
  groupId?: string;
  userId?: string;
  accountId?: string;
  /** The enterprise's groups (a carpool is in none). */
  enterpriseId?: string;
  /** The groups of one department of an enterprise. */
  departmentId?: string;
  model?: string;
  /** Milliseconds since the epoch; default: 30 days before `to`. */
  from?: number;
  /** Default: now. */
  to?: number;
}

/** Hour-by-hour breakdowns are given for ranges up to this long; longer ones have `byDay`. */
export const BY_HOUR_MAX_MS = 7 * DAY_MS;

type Aggregate = typeof usageHourly | typeof usageDaily | typeof usageMonthly;

export const AGGREGATES: Record<Grain, { table: Aggregate; bucket: SQLiteColumn }> = {
  hour: { table: usageHourly, bucket: usageHourly.hour },
  day: { table: usageDaily, bucket: usageDaily.day },
  month: { table: usageMonthly, bucket: usageMonthly.month },
};

/** The columns a scope or filter names, in any table that carries them. */
export interface ScopedColumns {
  keyId: SQLiteColumn;
  groupId: SQLiteColumn;
  userId: SQLiteColumn;
  accountId: SQLiteColumn;
  model: SQLiteColumn;
}

export function sumsOf(t: Aggregate) {
  return {
    requests: sql<number>`coalesce(sum(${t.requests}), 0)`,
    errors: sql<number>`coalesce(sum(${t.errors}), 0)`,
    inputTokens: sql<number>`coalesce(sum(${t.inputTokens}), 0)`,
    outputTokens: sql<number>`coalesce(sum(${t.outputTokens}), 0)`,
    cacheWrite5mTokens: sql<number>`coalesce(sum(${t.cacheWrite5mTokens}), 0)`,
    cacheWrite1hTokens: sql<number>`coalesce(sum(${t.cacheWrite1hTokens}), 0)`,
    cacheReadTokens: sql<number>`coalesce(sum(${t.cacheReadTokens}), 0)`,
    costMicros: sql<number>`coalesce(sum(${t.costMicros}), 0)`,
    unpricedRequests: sql<number>`coalesce(sum(${t.unpricedRequests}), 0)`,
  };
}

export type Sums = { [K in keyof ReturnType<typeof sumsOf>]: number };

const SUM_KEYS = Object.keys(sumsOf(usageHourly)) as (keyof Sums)[];

function zero(): Sums {
  return Object.fromEntries(SUM_KEYS.map((k) => [k, 0])) as Sums;
}

function add(into: Sums, row: Sums): void {
  for (const k of SUM_KEYS) into[k] += row[k];
}

/**
 * Rows of several segments merged by a key (a model, a member, an API key, a day), in key order.
 * Fields other than the sums (a key's name) are the same in every segment: the first row's stay.
 */
function merge<F extends string, R extends Sums & Record<F, string | number>>(field: F, rows: R[]): R[] {
  const by = new Map<R[F], R>();
  for (const row of rows) {
    const key = row[field];
    const into = by.get(key);
    if (into) add(into, row);
    else by.set(key, { ...row });
  }
  return [...by.values()].sort((a, b) => (a[field] < b[field] ? -1 : a[field] > b[field] ? 1 : 0));
}

/** Whether a query names what it is about: a usage read-out of everything is not one request. */
export function namesScope(q: UsageQuery): boolean {
  return Boolean(q.keyId || q.groupId || q.userId || q.accountId || q.enterpriseId || q.departmentId);
}

export const NAME_ONE = 'Name one of keyId, groupId, userId, accountId, enterpriseId or departmentId.';

/** The filters of a query, on any table with the scoped columns. */
export function filtersOn(t: ScopedColumns, q: UsageQuery): SQL[] {
  const out: SQL[] = [];
  if (q.keyId) out.push(eq(t.keyId, q.keyId));
  if (q.groupId) out.push(eq(t.groupId, q.groupId));
  if (q.userId) out.push(eq(t.userId, q.userId));
  if (q.accountId) out.push(eq(t.accountId, q.accountId));
  // The aggregates carry a group, not its enterprise or department: ask the groups which are theirs.
  if (q.enterpriseId) out.push(inArray(t.groupId, enterpriseGroupIds(q.enterpriseId)));
  // A department's groups include its sub-departments'.
  if (q.departmentId) out.push(inArray(t.groupId, departmentGroupIds(q.departmentId)));
  if (q.model) out.push(eq(t.model, q.model));
  return out;
}

/**
 * A column of the key behind an aggregate row, or null once the key is gone. A correlated
 * subquery rather than a join: in a grouped select SQLite runs it once per line of the answer (a
 * primary-key lookup), not once per aggregate row. Only display columns are named, never the hash.
 */
function keyColumn(t: Aggregate, column: typeof apiKeys.name | typeof apiKeys.prefix) {
  return sql<string | null>`(select ${column} from ${apiKeys} where ${apiKeys.id} = ${t.keyId})`;
}

/** The name of the group of an aggregate row, looked up per line of the answer like a key's. */
function groupName(t: Aggregate) {
  return sql<string | null>`(select ${groups.name} from ${groups} where ${groups.id} = ${t.groupId})`;
}

/** The display name of the member of an aggregate row (null for an unknown user), likewise. */
function memberName(t: Aggregate) {
  return sql<string | null>`(select ${users.name} from ${users} where ${users.id} = ${t.userId})`;
}

function byDay(d: Db, s: Segment, q: UsageQuery, scope: ScopeSql) {
  const { table, bucket } = AGGREGATES[s.grain === 'hour' ? 'hour' : 'day'];
  return (
    d
      // The day's length written into the SQL: a bound number reaches SQLite as a REAL, and the
      // division would not floor (each hourly row was a "day" of its own).
      .select({
        day: sql<number>`(${bucket} / ${sql.raw(String(DAY_MS))}) * ${sql.raw(String(DAY_MS))}`.as('d'),
        ...sumsOf(table),
      })
      .from(table)
      .where(and(...filtersOn(table, q), gte(bucket, s.from), lt(bucket, s.to), scope.rows(table)))
      .groupBy(sql`d`)
  );
}

/**
 * The statements answering a usage query, one per segment and breakdown, all in one D1 batch.
 * Exported so a test can ask SQLite for each one's plan.
 */
export function usageStatements(d: Db, q: UsageQuery & { from: number; to: number }, scope: ScopeSql) {
  const range = hourRange(q.from, q.to);
  const segments = coverage(range.from, range.to);
  const part = (s: Segment) => {
    const { table, bucket } = AGGREGATES[s.grain];
    const where = and(...filtersOn(table, q), gte(bucket, s.from), lt(bucket, s.to), scope.rows(table));
    const memberWhere = and(where, scope.memberRows(table));
    return {
      byModel: d
        .select({ model: table.model, ...sumsOf(table) })
        .from(table)
        .where(where)
        .groupBy(table.model),
      // Groups: every row the caller reads, so a plain member asking for their group sees its
      // total, and one asking for themself the groups they used; never a group outside their scope.
      byGroup: d
        .select({ groupId: table.groupId, name: groupName(table), ...sumsOf(table) })
        .from(table)
        .where(where)
        .groupBy(table.groupId),
      byMember: d
        .select({ userId: table.userId, name: memberName(table), ...sumsOf(table) })
        .from(table)
        .where(memberWhere)
        .groupBy(table.userId),
      // Keys are per member: scoped like the member lines, so a plain member sees only theirs.
      byKey: d
        .select({
          keyId: table.keyId,
          name: keyColumn(table, apiKeys.name),
          prefix: keyColumn(table, apiKeys.prefix),
          ...sumsOf(table),
        })
        .from(table)
        .where(memberWhere)
        .groupBy(table.keyId),
      // Days: the daily rows (also for a run of months: a report by day needs its days), or the
      // hourly ones folded into their day.
      byDay: byDay(d, s, q, scope),
    };
  };
  const parts = segments.map(part);
  const hourly =
    range.to - range.from <= BY_HOUR_MAX_MS
      ? d
          .select({ hour: usageHourly.hour, ...sumsOf(usageHourly) })
          .from(usageHourly)
          .where(
            and(
              ...filtersOn(usageHourly, q),
              gte(usageHourly.hour, range.from),
              lt(usageHourly.hour, range.to),
              scope.rows(usageHourly),
            ),
          )
          .groupBy(usageHourly.hour)
          .orderBy(usageHourly.hour)
      : null;
  return { range, segments, parts, hourly };
}

export async function readUsage(caller: Caller, q: UsageQuery) {
  if (!namesScope(q)) throw new ApiError('invalid_request', NAME_ONE);
  const to = q.to ?? Date.now();
  const from = q.from ?? to - 30 * DAY_MS;
  if (from > to) throw new ApiError('invalid_request', '`from` is after `to`.');
  const scope = await usageScope(caller, q);
  const d = caller.db;
  const { segments, parts, hourly } = usageStatements(d, { ...q, from, to }, scope);

  // One batch: every segment's breakdowns, then the hours. Totals are the sum of the models.
  const statements: BatchItem<'sqlite'>[] = parts.flatMap((p) => [
    p.byModel,
    p.byGroup,
    p.byMember,
    p.byKey,
    p.byDay,
  ]);
  if (hourly) statements.push(hourly);
  const results =
    statements.length > 0
      ? ((await d.batch(statements as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]])) as unknown[][])
      : [];
  let i = 0;
  const models: (Sums & { model: string })[] = [];
  const groupLines: (Sums & { groupId: string; name: string | null })[] = [];
  const members: (Sums & { userId: string; name: string | null })[] = [];
  const keys: (Sums & { keyId: string; name: string | null; prefix: string | null })[] = [];
  const days: (Sums & { day: number })[] = [];
  for (const _ of parts) {
    models.push(...(results[i++] as typeof models));
    groupLines.push(...(results[i++] as typeof groupLines));
    members.push(...(results[i++] as typeof members));
    keys.push(...(results[i++] as typeof keys));
    days.push(...(results[i++] as typeof days));
  }
  const byHour = hourly ? (results[i++] as (Sums & { hour: number })[]) : [];
  const byModel = merge('model', models);
  const totals = zero();
  for (const row of byModel) add(totals, row);
  return {
    from,
    to,
    totals,
    byModel,
    byGroup: merge('groupId', groupLines),
    byMember: merge('userId', members),
    byKey: merge('keyId', keys),
    byDay: merge('day', days),
    byHour,
    sources: segments,
  };
}

/** What rows a caller reads, as SQL on any table with the scoped columns. */
export interface ScopeSql {
  /** The rows the caller may read at all. */
  rows: (t: ScopedColumns) => SQL | undefined;
  /** Of those, the ones they may see per member (a plain member: only theirs). */
  memberRows: (t: ScopedColumns) => SQL | undefined;
}

/** Checks the query's ids against the caller's scope (404 outside it) and says what they read. */
export async function usageScope(caller: Caller, q: UsageQuery): Promise<ScopeSql> {
  const m = await memberships(caller);
  if (m.system) return { rows: () => undefined, memberRows: () => undefined };
  return scopeOf(caller, m, q);
}

/** The groups whose every row the caller may read: those they manage, directly or through an enterprise. */
export function managedGroups(caller: Caller, m: Memberships) {
  const owned = [...m.groups.keys()].filter((groupId) =>
    can(m, 'group.manage', { type: 'group', groupId, enterpriseId: null }),
  );
  const run = [...m.enterprises.keys()].filter((enterpriseId) =>
    can(m, 'group.manage', { type: 'enterprise', enterpriseId }),
  );
  return {
    owned,
    enterprises: run,
    enterpriseGroups: caller.db
      .select({ id: groups.id })
      .from(groups)
      .where(inArray(groups.enterpriseId, run)),
  };
}

/**
 * Checks every filter against the caller's scope (404 when it names something they may not see)
 * and says which rows they read: those of the groups they manage and their own; a group they are a
 * plain member of, asked for by id, in total, with only their own line per member.
 */
async function scopeOf(caller: Caller, m: Memberships, q: UsageQuery): Promise<ScopeSql> {
  const self = m.userId;
  const managed = managedGroups(caller, m);
  const inManaged = (t: ScopedColumns) =>
    or(
      managed.owned.length ? inArray(t.groupId, managed.owned) : undefined,
      managed.enterprises.length ? inArray(t.groupId, managed.enterpriseGroups) : undefined,
    );
  const own = (t: ScopedColumns) => (self ? eq(t.userId, self) : sql`0`);
  // What they read: 'mine' = the groups they manage and their own rows; 'group' = a group's every
  // row (asked by id, seen as its member), its members' lines limited to their own; 'managed'.
  let reads: 'mine' | 'group' | 'managed' = 'mine';
  const d = caller.db;

  if (q.groupId) {
    const [group] = await d.select().from(groups).where(eq(groups.id, q.groupId));
    const resource = group && { type: 'group' as const, groupId: group.id, enterpriseId: group.enterpriseId };
    if (!resource || !can(m, 'group.view', resource))
      throw new ApiError('not_found', `No group ${q.groupId}.`);
    // A member sees the group's totals, and of its members only themself.
    if (!can(m, 'group.manage', resource)) reads = 'group';
  }
  if (q.keyId) {
    const [key] = await d
      .select({ userId: apiKeys.userId, groupId: apiKeys.groupId, enterpriseId: groups.enterpriseId })
      .from(apiKeys)
      .innerJoin(groups, eq(groups.id, apiKeys.groupId))
      .where(eq(apiKeys.id, q.keyId));
    const visible =
      key &&
      (key.userId === self ||
        can(m, 'group.manage', { type: 'group', groupId: key.groupId, enterpriseId: key.enterpriseId }));
    if (!visible) throw new ApiError('not_found', `No key ${q.keyId}.`);
  }
  // An enterprise's or department's usage is for who runs the enterprise: a member of one of its
  // groups sees that group's, not its neighbours'.
  if (q.enterpriseId && !managed.enterprises.includes(q.enterpriseId))
    throw new ApiError('not_found', `No enterprise ${q.enterpriseId}.`);
  if (q.departmentId) {
    const [department] = await d
      .select({ enterpriseId: departments.enterpriseId })
      .from(departments)
      .where(eq(departments.id, q.departmentId));
    if (!department || !managed.enterprises.includes(department.enterpriseId))
      throw new ApiError('not_found', `No department ${q.departmentId}.`);
  }
  if (q.userId && q.userId !== self) {
    // Someone else: only a person in a group the caller manages, and only there.
    const [member] = await d
      .select({ userId: groupMembers.userId })
      .from(groupMembers)
      .innerJoin(groups, eq(groups.id, groupMembers.groupId))
      .where(
        and(
          eq(groupMembers.userId, q.userId),
          or(
            managed.owned.length ? inArray(groups.id, managed.owned) : undefined,
            managed.enterprises.length ? inArray(groups.enterpriseId, managed.enterprises) : undefined,
          ) ?? sql`0`,
        ),
      )
      .limit(1);
    if (!member) throw new ApiError('not_found', `No user ${q.userId}.`);
    reads = 'managed';
  }
  if (q.accountId) {
    const [account] = await d
      .select({ enterpriseId: accounts.enterpriseId, groupId: groups.id })
      .from(accounts)
      .leftJoin(groups, eq(groups.boundAccountId, accounts.id))
      .where(eq(accounts.id, q.accountId));
    const resource = account && {
      type: 'account' as const,
      accountId: q.accountId,
      enterpriseId: account.enterpriseId,
      groupId: account.groupId,
    };
    if (!resource || !can(m, viewActionOf(resource), resource))
      throw new ApiError('not_found', `No account ${q.accountId}.`);
  }
  return {
    rows: (t) =>
      reads === 'group'
        ? undefined
        : reads === 'managed'
          ? (inManaged(t) ?? sql`0`)
          : (or(inManaged(t), own(t)) ?? sql`0`),
    memberRows: (t) => (reads === 'group' ? own(t) : undefined),
  };
}
