// Usage read-outs from the hourly aggregates (totals, and breakdowns by model, member and hour),
// scoped by who asks: a member sees their own usage and their groups' totals; whoever manages a
// group (its owner; the enterprise's owners and admins) sees all of it; a system admin sees
// everything. A filter naming something outside the caller's scope is a 404, like any other id.
import { and, eq, gte, inArray, lt, or, type SQL, sql } from 'drizzle-orm';
import { ApiError } from '../api/errors';
import { accounts, apiKeys, groupMembers, groups, usageHourly } from '../db/schema';
import { type Caller, memberships } from './caller';
import { can, type Memberships, viewActionOf } from './permissions';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

export interface UsageQuery {
  keyId?: string;
  groupId?: string;
  userId?: string;
  accountId?: string;
  /** Milliseconds since the epoch; default: 30 days before `to`. */
  from?: number;
  /** Default: now. */
  to?: number;
}

const sums = {
  requests: sql<number>`coalesce(sum(${usageHourly.requests}), 0)`,
  errors: sql<number>`coalesce(sum(${usageHourly.errors}), 0)`,
  inputTokens: sql<number>`coalesce(sum(${usageHourly.inputTokens}), 0)`,
  outputTokens: sql<number>`coalesce(sum(${usageHourly.outputTokens}), 0)`,
  cacheWrite5mTokens: sql<number>`coalesce(sum(${usageHourly.cacheWrite5mTokens}), 0)`,
  cacheWrite1hTokens: sql<number>`coalesce(sum(${usageHourly.cacheWrite1hTokens}), 0)`,
  cacheReadTokens: sql<number>`coalesce(sum(${usageHourly.cacheReadTokens}), 0)`,
  costMicros: sql<number>`coalesce(sum(${usageHourly.costMicros}), 0)`,
  unpricedRequests: sql<number>`coalesce(sum(${usageHourly.unpricedRequests}), 0)`,
};

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

export async function readUsage(caller: Caller, q: UsageQuery) {
  if (!q.keyId && !q.groupId && !q.userId && !q.accountId)
    throw new ApiError('invalid_request', 'Name one of keyId, groupId, userId or accountId.');
  const to = q.to ?? Date.now();
  const from = q.from ?? to - 30 * DAY_MS;
  const filters: SQL[] = [gte(usageHourly.hour, from - (from % HOUR_MS)), lt(usageHourly.hour, to)];
  if (q.keyId) filters.push(eq(usageHourly.keyId, q.keyId));
  if (q.groupId) filters.push(eq(usageHourly.groupId, q.groupId));
  if (q.userId) filters.push(eq(usageHourly.userId, q.userId));
  if (q.accountId) filters.push(eq(usageHourly.accountId, q.accountId));

  // The rows the caller may read, and those they may see per member (a plain member: only theirs).
  let rows: SQL | undefined;
  let memberRows: SQL | undefined;
  const m = await memberships(caller);
  if (!m.system) {
    const scope = await scopeOf(caller, m, q);
    rows = scope.rows;
    memberRows = scope.memberRows;
  }
  const where = and(...filters, rows);
  const byMemberWhere = and(...filters, rows, memberRows);
  const d = caller.db;
  const [totals, byModel, byMember, byHour] = await d.batch([
    d.select(sums).from(usageHourly).where(where),
    d
      .select({ model: usageHourly.model, ...sums })
      .from(usageHourly)
      .where(where)
      .groupBy(usageHourly.model),
    d
      .select({ userId: usageHourly.userId, ...sums })
      .from(usageHourly)
      .where(byMemberWhere)
      .groupBy(usageHourly.userId),
    d
      .select({ hour: usageHourly.hour, ...sums })
      .from(usageHourly)
      .where(where)
      .groupBy(usageHourly.hour)
      .orderBy(usageHourly.hour),
  ]);
  return { from, to, totals: totals[0]!, byModel, byMember, byHour };
}

/**
 * Checks every filter against the caller's scope (404 when it names something they may not see)
 * and says which rows they read: those of the groups they manage and their own; a group they are a
 * plain member of, asked for by id, in total, with only their own line per member.
 */
async function scopeOf(caller: Caller, m: Memberships, q: UsageQuery) {
  const self = m.userId;
  const managed = managedGroups(caller, m);
  const inManaged = or(
    managed.owned.length ? inArray(usageHourly.groupId, managed.owned) : undefined,
    managed.enterprises.length ? inArray(usageHourly.groupId, managed.enterpriseGroups) : undefined,
  );
  const own = self ? eq(usageHourly.userId, self) : undefined;
  let rows: SQL | undefined = or(inManaged, own) ?? sql`0`;
  let memberRows: SQL | undefined;
  const d = caller.db;

  if (q.groupId) {
    const [group] = await d.select().from(groups).where(eq(groups.id, q.groupId));
    const resource = group && { type: 'group' as const, groupId: group.id, enterpriseId: group.enterpriseId };
    if (!resource || !can(m, 'group.view', resource))
      throw new ApiError('not_found', `No group ${q.groupId}.`);
    if (!can(m, 'group.manage', resource)) {
      // A member sees the group's totals, and of its members only themself.
      rows = undefined;
      memberRows = own ?? sql`0`;
    }
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
    rows = inManaged ?? sql`0`;
    memberRows = undefined;
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
  return { rows, memberRows };
}
