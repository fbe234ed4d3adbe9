// A group's bill for a month, computed from D1 (the live preview of an open month), and the
// statement that freezes it when the month is closed. The bill = the carpool account's fixed fee
// + the metered (API-priced) cost of the month's usage + late usage carried from closed months;
// it is split by worker/billing/split.ts and each person's adjustments are added to their part.
// Usage comes from the hourly aggregates: a bucket belongs to the month its start falls in (exact
// for zones on whole-hour offsets; within the half or quarter hour for the others). Members'
// shares of a subscription's plan window come from their own hourly aggregate, the same way.
import { and, asc, desc, eq, gt, gte, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import {
  accounts,
  billAdjustments,
  type Group,
  groupMembers,
  groups,
  membershipPeriods,
  statementAccounts,
  statementLateUsage,
  statementLines,
  statementSettlements,
  statements,
  usageHourly,
  users,
  windowShareHourly,
} from '../db/schema';
import { daysOf, daysPresent, type MonthBounds, monthBounds, nextMonth, previousMonth } from './months';
import { type SplitInput, type SplitMode, splitBill, splitFallsBack } from './split';

/** How many earlier closed months a statement looks back at for usage that arrived late. */
export const LATE_LOOKBACK_MONTHS = 3;

export interface UsageTotals {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  cacheReadTokens: number;
  /** API-equivalent cost, micro-dollars. */
  costMicros: number;
  /** The part of it on accounts billed at API price. */
  meteredMicros: number;
  /** Their summed share of the subscription's plan window (ppm of the window). */
  windowPpm: number;
}

export interface StatementLine extends UsageTotals {
  userId: string;
  userName: string;
  daysPresent: number;
  lateCostMicros: number;
  lateMeteredMicros: number;
  /** Window share carried in with late usage. */
  lateWindowPpm: number;
  /**
   * Their part of the group's window share (own + late over everyone's), in parts per million,
   * rounded down; 0 when nobody has any.
   */
  windowSharePpm: number;
  /** Their part of the bill, in parts per million (rounded down). */
  sharePpm: number;
  feePartMicros: number;
  usagePartMicros: number;
  adjustmentsMicros: number;
  /** Their part plus their adjustments: what they owe for the month (negative: they are owed). */
  amountMicros: number;
  /** What they owe the fee payer (0 for the payer). */
  owesPayerMicros: number;
  /** Whether the owner marked them settled; null while the month is open. */
  settled: boolean | null;
}

export interface LateUsageItem extends UsageTotals {
  fromMonth: string;
  userId: string;
  note: string;
}

export interface Adjustment {
  id: string;
  userId: string;
  amountMicros: number;
  reason: string;
  createdBy: string;
  createdAt: number;
}

export interface StatementView {
  groupId: string;
  groupName: string;
  month: string;
  timeZone: string;
  from: number;
  to: number;
  daysInMonth: number;
  status: 'open' | 'closed';
  closedAt: number | null;
  closedBy: string | null;
  splitMode: SplitMode;
  /**
   * The mode's weighting was empty (no usage; for `window`, no window share, as on an API-key
   * account), so the bill was split by presence.
   */
  splitFallback: boolean;
  prorateByDays: boolean;
  accountId: string | null;
  feePayer: {
    userId: string;
    userName: string;
    /** What the payer paid the provider: the fixed fee and the metered cost. */
    paidMicros: number;
    /** Their own amount for the month. */
    ownAmountMicros: number;
    /** What everyone else owes them. */
    owedMicros: number;
  } | null;
  totals: UsageTotals & {
    fixedFeeMicros: number;
    lateMeteredMicros: number;
    /** fixedFee + metered + lateMetered: what is split. */
    billMicros: number;
    adjustmentsMicros: number;
    /** bill + adjustments: the sum of every line's amount. */
    totalMicros: number;
  };
  lines: StatementLine[];
  adjustments: Adjustment[];
  lateUsage: LateUsageItem[];
}

const HOUR_MS = 3_600_000;
const ZERO: UsageTotals = {
  requests: 0,
  inputTokens: 0,
  outputTokens: 0,
  cacheWrite5mTokens: 0,
  cacheWrite1hTokens: 0,
  cacheReadTokens: 0,
  costMicros: 0,
  meteredMicros: 0,
  windowPpm: 0,
};
const USAGE_KEYS = Object.keys(ZERO) as (keyof UsageTotals)[];

function add(a: UsageTotals, b: UsageTotals): UsageTotals {
  return Object.fromEntries(USAGE_KEYS.map((k) => [k, a[k] + b[k]])) as unknown as UsageTotals;
}

function minus(a: UsageTotals, b: UsageTotals): UsageTotals {
  return Object.fromEntries(USAGE_KEYS.map((k) => [k, a[k] - b[k]])) as unknown as UsageTotals;
}

const isZero = (u: UsageTotals) => USAGE_KEYS.every((k) => u[k] === 0);

/**
 * Whether an account's usage is billed at API price, given its setting today (true for an account
 * no longer known, e.g. unbound and deleted: its cost can only have been metered). An open month
 * goes by today's settings; a closed month's late usage by the rules its statement froze.
 */
export type MeteredRule = (accountId: string, today: boolean) => boolean;

const BY_TODAY: MeteredRule = (_accountId, today) => today;

/** A month's usage per person, and the accounts it was on with the rule each was billed by. */
interface MonthUsage {
  byUser: Map<string, UsageTotals>;
  accounts: Map<string, boolean>;
}

/**
 * Each person's usage of the group in [start, end), by the hour buckets that start in it; the
 * cost on an account billed at API price (by `metered`) is metered. Their window share is summed
 * over the same buckets. Rows come per person and account, so the rule and the usage it prices
 * are read together.
 */
async function monthUsage(
  d: Db,
  groupId: string,
  start: number,
  end: number,
  metered: MeteredRule = BY_TODAY,
): Promise<MonthUsage> {
  const [rows, shares] = await d.batch([
    d
      .select({
        userId: usageHourly.userId,
        accountId: usageHourly.accountId,
        today: sql<number>`coalesce(${accounts.meteredBilling}, 1)`,
        requests: sql<number>`sum(${usageHourly.requests})`,
        inputTokens: sql<number>`sum(${usageHourly.inputTokens})`,
        outputTokens: sql<number>`sum(${usageHourly.outputTokens})`,
        cacheWrite5mTokens: sql<number>`sum(${usageHourly.cacheWrite5mTokens})`,
        cacheWrite1hTokens: sql<number>`sum(${usageHourly.cacheWrite1hTokens})`,
        cacheReadTokens: sql<number>`sum(${usageHourly.cacheReadTokens})`,
        costMicros: sql<number>`sum(${usageHourly.costMicros})`,
      })
      .from(usageHourly)
      .leftJoin(accounts, eq(accounts.id, usageHourly.accountId))
      .where(and(eq(usageHourly.groupId, groupId), gte(usageHourly.hour, start), lt(usageHourly.hour, end)))
      .groupBy(usageHourly.userId, usageHourly.accountId),
    d
      .select({
        userId: windowShareHourly.userId,
        windowPpm: sql<number>`sum(${windowShareHourly.windowPpm})`,
      })
      .from(windowShareHourly)
      .where(
        and(
          eq(windowShareHourly.groupId, groupId),
          gte(windowShareHourly.hour, start),
          lt(windowShareHourly.hour, end),
        ),
      )
      .groupBy(windowShareHourly.userId),
  ]);
  const byUser = new Map<string, UsageTotals>();
  const accountRules = new Map<string, boolean>();
  for (const { userId, accountId, today, ...u } of rows) {
    const isMetered = metered(accountId, Boolean(today));
    accountRules.set(accountId, isMetered);
    const totals = { ...u, meteredMicros: isMetered ? u.costMicros : 0, windowPpm: 0 };
    byUser.set(userId, add(byUser.get(userId) ?? ZERO, totals));
  }
  for (const { userId, windowPpm } of shares)
    byUser.set(userId, { ...(byUser.get(userId) ?? ZERO), windowPpm });
  return { byUser, accounts: accountRules };
}

/** Each person's usage of the group in [start, end), priced by today's account settings. */
export async function usageByUser(
  d: Db,
  groupId: string,
  start: number,
  end: number,
): Promise<Map<string, UsageTotals>> {
  return (await monthUsage(d, groupId, start, end)).byUser;
}

/** The hour-bucket bounds of a month: buckets starting at or after `start`, before `end`. */
export function bucketBounds(start: number, end: number): [number, number] {
  const up = (t: number) => Math.ceil(t / HOUR_MS) * HOUR_MS;
  return [up(start), up(end)];
}

/**
 * The instants a month's bill covers: a closed month, the period its statement froze; an open
 * one, the month in the group's zone, but starting where the previous month's statement ended and
 * ending where the next month's statement starts, when they are closed. The zone may have changed
 * since those closes; without the anchors, the hours between the two zones' month boundaries
 * would be billed twice (by two closed statements, or a closed one and late usage) or never.
 * Months may be closed in any order (a month the cron job missed is closed by hand after the next
 * one), so both ends are anchored, not only the start.
 */
export async function billingBounds(d: Db, group: Group, month: string): Promise<MonthBounds> {
  const bounds = monthBounds(month, group.timeZone);
  const before = previousMonth(month);
  const after = nextMonth(month);
  const closed = await d
    .select({ month: statements.month, periodStart: statements.periodStart, periodEnd: statements.periodEnd })
    .from(statements)
    .where(and(eq(statements.groupId, group.id), inArray(statements.month, [before, month, after])));
  const of = (m: string) => closed.find((s) => s.month === m);
  const own = of(month);
  if (own) return { month, start: own.periodStart, end: own.periodEnd };
  return { month, start: of(before)?.periodEnd ?? bounds.start, end: of(after)?.periodStart ?? bounds.end };
}

/**
 * Usage of earlier closed months that reached D1 after they closed and that no statement has
 * carried yet: per closed month (the few most recent before `month`) and person, the aggregate
 * now minus the closing snapshot minus what later statements already carried. All three are
 * priced by the rules the month was closed with (statement_accounts; an account it did not see,
 * like its bound one, or metered when it had none), never today's settings: a setting changed
 * since would re-price the snapshot's usage (billing it again, or a negative late cost).
 */
async function lateUsage(d: Db, group: Group, month: string): Promise<LateUsageItem[]> {
  const closed = await d
    .select()
    .from(statements)
    .where(and(eq(statements.groupId, group.id), lt(statements.month, month)))
    .orderBy(desc(statements.month))
    .limit(LATE_LOOKBACK_MONTHS);
  const out: LateUsageItem[] = [];
  for (const s of closed.reverse()) {
    const frozen = new Map(
      (await d.select().from(statementAccounts).where(eq(statementAccounts.statementId, s.id))).map((a) => [
        a.accountId,
        a.meteredBilling,
      ]),
    );
    const closedRule: MeteredRule = (accountId) =>
      frozen.get(accountId) ?? (s.accountId === null ? undefined : frozen.get(s.accountId)) ?? true;
    const [{ byUser: now }, snapshot, carried] = await Promise.all([
      monthUsage(d, group.id, ...bucketBounds(s.periodStart, s.periodEnd), closedRule),
      d.select().from(statementLines).where(eq(statementLines.statementId, s.id)),
      d
        .select()
        .from(statementLateUsage)
        .innerJoin(statements, eq(statements.id, statementLateUsage.statementId))
        .where(and(eq(statements.groupId, group.id), eq(statementLateUsage.fromMonth, s.month))),
    ]);
    const known = new Map<string, UsageTotals>();
    const know = (userId: string, u: UsageTotals) => known.set(userId, add(known.get(userId) ?? ZERO, u));
    for (const line of snapshot) know(line.userId, pick(line));
    for (const { statement_late_usage: late } of carried) know(late.userId, pick(late));
    for (const [userId, u] of [...now].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const delta = minus(u, known.get(userId) ?? ZERO);
      // Aggregates only grow and all three are priced by one frozen rule, so a delta is never
      // negative; one that is zero carries nothing.
      if (isZero(delta)) continue;
      out.push({
        fromMonth: s.month,
        userId,
        ...delta,
        note: `late usage from ${s.month}: recorded after that month's statement was closed`,
      });
    }
  }
  return out;
}

function pick(u: UsageTotals): UsageTotals {
  return Object.fromEntries(USAGE_KEYS.map((k) => [k, u[k]])) as unknown as UsageTotals;
}

/**
 * The person who pays the fixed fee: the group's choice while they are in it, else its first owner.
 * None in an enterprise group: its enterprise pays, and no member owes another anything.
 */
async function feePayerOf(d: Db, group: Group): Promise<string | null> {
  if (group.kind === 'enterprise') return null;
  const rows = await d
    .select({ userId: groupMembers.userId, role: groupMembers.role })
    .from(groupMembers)
    .where(eq(groupMembers.groupId, group.id))
    .orderBy(asc(groupMembers.createdAt), asc(groupMembers.userId));
  if (group.feePayerUserId && rows.some((r) => r.userId === group.feePayerUserId))
    return group.feePayerUserId;
  return rows.find((r) => r.role === 'owner')?.userId ?? null;
}

/** The bill of an open month, computed now from the group's current settings and D1's aggregates. */
export async function previewStatement(d: Db, group: Group, month: string): Promise<StatementView> {
  return (await computeStatement(d, group, month)).view;
}

/** A month's bill to close: the preview, and the rule each account's usage was billed by. */
export interface Closing {
  view: StatementView;
  /** Every account with usage in the month and the bound account: whether it was metered. */
  accountRules: Map<string, boolean>;
}

export async function computeStatement(d: Db, group: Group, month: string): Promise<Closing> {
  const tz = group.timeZone;
  const bounds = await billingBounds(d, group, month);
  const days = daysOf(bounds, tz);
  const [{ byUser: usage, accounts: accountRules }, stays, adjustments, late, payerId, account] =
    await Promise.all([
      monthUsage(d, group.id, ...bucketBounds(bounds.start, bounds.end)),
      d
        .select()
        .from(membershipPeriods)
        .where(
          and(
            eq(membershipPeriods.groupId, group.id),
            lt(membershipPeriods.joinedAt, bounds.end),
            or(isNull(membershipPeriods.leftAt), gt(membershipPeriods.leftAt, bounds.start)),
          ),
        ),
      d
        .select()
        .from(billAdjustments)
        .where(and(eq(billAdjustments.groupId, group.id), eq(billAdjustments.month, month)))
        .orderBy(asc(billAdjustments.createdAt), asc(billAdjustments.id)),
      lateUsage(d, group, month),
      feePayerOf(d, group),
      // Enterprise groups are served by their enterprise's pools, whose fees are the enterprise's:
      // their bill is the metered cost alone.
      group.kind === 'carpool' && group.boundAccountId
        ? d.select().from(accounts).where(eq(accounts.id, group.boundAccountId))
        : Promise.resolve([]),
    ]);
  const fixedFeeMicros = account[0]?.monthlyFeeMicros ?? 0;
  if (account[0] && !accountRules.has(account[0].id))
    accountRules.set(account[0].id, account[0].meteredBilling);

  const people = new Set<string>([
    ...usage.keys(),
    ...stays.map((s) => s.userId),
    ...adjustments.map((a) => a.userId),
    ...late.map((l) => l.userId),
  ]);
  if (payerId) people.add(payerId);
  const ids = [...people].sort();
  const names = ids.length
    ? await d.select({ id: users.id, name: users.name }).from(users).where(inArray(users.id, ids))
    : [];
  const nameOf = new Map(names.map((n) => [n.id, n.name]));

  const lateOf = new Map<string, UsageTotals>();
  for (const l of late) lateOf.set(l.userId, add(lateOf.get(l.userId) ?? ZERO, l));
  const members = ids.map((userId) => {
    const own = usage.get(userId) ?? ZERO;
    const carried = lateOf.get(userId) ?? ZERO;
    return {
      userId,
      present: daysPresent(
        stays.filter((s) => s.userId === userId),
        days,
      ),
      own,
      carried,
    };
  });
  const meteredMicros = sum(members.map((m) => m.own.meteredMicros));
  const lateMeteredMicros = sum(members.map((m) => m.carried.meteredMicros));
  const billMicros = fixedFeeMicros + meteredMicros + lateMeteredMicros;
  const split: SplitInput = {
    mode: group.splitMode,
    prorateByDays: group.prorateByDays,
    fixedFeeMicros,
    meteredMicros: meteredMicros + lateMeteredMicros,
    members: members.map((m) => ({
      userId: m.userId,
      daysPresent: m.present,
      costMicros: m.own.costMicros + m.carried.costMicros,
      meteredMicros: m.own.meteredMicros + m.carried.meteredMicros,
      windowPpm: m.own.windowPpm + m.carried.windowPpm,
    })),
  };
  const parts = splitBill(split);
  const windowShareOf = shareOfWindow(split.members.map((m) => [m.userId, m.windowPpm]));
  const partOf = new Map(parts.map((p) => [p.userId, p]));
  const adjustmentOf = new Map<string, number>();
  for (const a of adjustments) adjustmentOf.set(a.userId, (adjustmentOf.get(a.userId) ?? 0) + a.amountMicros);

  const lines: StatementLine[] = members.map((m) => {
    const part = partOf.get(m.userId)!;
    const adjustmentsMicros = adjustmentOf.get(m.userId) ?? 0;
    const amountMicros = part.totalMicros + adjustmentsMicros;
    return {
      userId: m.userId,
      userName: nameOf.get(m.userId) ?? '(deleted user)',
      daysPresent: m.present,
      ...m.own,
      lateCostMicros: m.carried.costMicros,
      lateMeteredMicros: m.carried.meteredMicros,
      lateWindowPpm: m.carried.windowPpm,
      windowSharePpm: windowShareOf(m.userId),
      sharePpm: billMicros === 0 ? 0 : Number((BigInt(part.totalMicros) * 1_000_000n) / BigInt(billMicros)),
      feePartMicros: part.feePartMicros,
      usagePartMicros: part.usagePartMicros,
      adjustmentsMicros,
      amountMicros,
      owesPayerMicros: m.userId === payerId ? 0 : amountMicros,
      settled: null,
    };
  });
  const usageTotals = members.reduce((t, m) => add(t, m.own), ZERO);
  const adjustmentsMicros = sum(adjustments.map((a) => a.amountMicros));
  const payerLine = lines.find((l) => l.userId === payerId);
  const view: StatementView = {
    groupId: group.id,
    groupName: group.name,
    month,
    timeZone: tz,
    from: bounds.start,
    to: bounds.end,
    daysInMonth: days.length,
    status: 'open',
    closedAt: null,
    closedBy: null,
    splitMode: group.splitMode,
    splitFallback: splitFallsBack(split),
    prorateByDays: group.prorateByDays,
    accountId: account[0]?.id ?? null,
    feePayer: payerLine
      ? {
          userId: payerLine.userId,
          userName: payerLine.userName,
          paidMicros: billMicros,
          ownAmountMicros: payerLine.amountMicros,
          owedMicros: sum(lines.map((l) => l.owesPayerMicros)),
        }
      : null,
    totals: {
      ...usageTotals,
      fixedFeeMicros,
      lateMeteredMicros,
      billMicros,
      adjustmentsMicros,
      totalMicros: billMicros + adjustmentsMicros,
    },
    lines,
    adjustments: adjustments.map((a) => ({
      id: a.id,
      userId: a.userId,
      amountMicros: a.amountMicros,
      reason: a.reason,
      createdBy: a.createdBy,
      createdAt: a.createdAt,
    })),
    lateUsage: late,
  };
  return { view, accountRules };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Each person's part of everyone's window share, in ppm rounded down (display only: not money). */
function shareOfWindow(weights: [string, number][]): (userId: string) => number {
  const total = BigInt(sum(weights.map(([, w]) => w)));
  const of = new Map(weights);
  return (userId) => (total === 0n ? 0 : Number((BigInt(of.get(userId) ?? 0) * 1_000_000n) / total));
}

/**
 * The writes that close a month: the statement, its lines (each person's usage is the snapshot
 * late usage is later measured against), the rule each account was billed by (the snapshot's
 * pricing) and the late usage it carries. Run them in one batch with the audit entry: the unique
 * (group, month) index makes a second close fail whole.
 */
export function statementWrites(d: Db, { view, accountRules }: Closing, closedBy: string, closedAt: number) {
  const id = crypto.randomUUID();
  const writes = [
    d.insert(statements).values({
      id,
      groupId: view.groupId,
      month: view.month,
      timeZone: view.timeZone,
      periodStart: view.from,
      periodEnd: view.to,
      splitMode: view.splitMode,
      splitFallback: view.splitFallback,
      prorateByDays: view.prorateByDays,
      feePayerUserId: view.feePayer?.userId ?? null,
      accountId: view.accountId,
      fixedFeeMicros: view.totals.fixedFeeMicros,
      meteredMicros: view.totals.meteredMicros,
      lateMeteredMicros: view.totals.lateMeteredMicros,
      billMicros: view.totals.billMicros,
      adjustmentsMicros: view.totals.adjustmentsMicros,
      totalMicros: view.totals.totalMicros,
      adjustmentCount: view.adjustments.length,
      closedAt,
      closedBy,
    }),
    ...view.lines.map((l) =>
      d.insert(statementLines).values({
        statementId: id,
        userId: l.userId,
        userName: l.userName,
        daysPresent: l.daysPresent,
        ...pick(l),
        lateCostMicros: l.lateCostMicros,
        lateMeteredMicros: l.lateMeteredMicros,
        feePartMicros: l.feePartMicros,
        usagePartMicros: l.usagePartMicros,
        adjustmentsMicros: l.adjustmentsMicros,
        amountMicros: l.amountMicros,
      }),
    ),
    ...[...accountRules].map(([accountId, meteredBilling]) =>
      d.insert(statementAccounts).values({ statementId: id, accountId, meteredBilling }),
    ),
    ...view.lateUsage.map((l) =>
      d
        .insert(statementLateUsage)
        .values({ statementId: id, fromMonth: l.fromMonth, userId: l.userId, ...pick(l) }),
    ),
  ];
  return { id, writes };
}

/** A closed month as it was frozen, with today's settled marks. */
export async function readStatement(d: Db, groupId: string, month: string): Promise<StatementView | null> {
  const [s] = await d
    .select()
    .from(statements)
    .where(and(eq(statements.groupId, groupId), eq(statements.month, month)));
  if (!s) return null;
  const [lines, late, adjustments, settled, [group]] = await d.batch([
    d
      .select()
      .from(statementLines)
      .where(eq(statementLines.statementId, s.id))
      .orderBy(asc(statementLines.userId)),
    d
      .select()
      .from(statementLateUsage)
      .where(eq(statementLateUsage.statementId, s.id))
      .orderBy(asc(statementLateUsage.fromMonth), asc(statementLateUsage.userId)),
    d
      .select()
      .from(billAdjustments)
      .where(and(eq(billAdjustments.groupId, groupId), eq(billAdjustments.month, month)))
      .orderBy(asc(billAdjustments.createdAt), asc(billAdjustments.id)),
    d.select().from(statementSettlements).where(eq(statementSettlements.statementId, s.id)),
    d.select({ name: groups.name }).from(groups).where(eq(groups.id, groupId)),
  ]);
  const settledOf = new Map(settled.map((x) => [x.userId, x.settled]));
  const payerId = s.feePayerUserId;
  const lateWindowOf = new Map<string, number>();
  for (const l of late) lateWindowOf.set(l.userId, (lateWindowOf.get(l.userId) ?? 0) + l.windowPpm);
  const windowShareOf = shareOfWindow(
    lines.map((l) => [l.userId, l.windowPpm + (lateWindowOf.get(l.userId) ?? 0)]),
  );
  const view: StatementLine[] = lines.map((l) => ({
    userId: l.userId,
    userName: l.userName,
    daysPresent: l.daysPresent,
    ...pick(l),
    lateCostMicros: l.lateCostMicros,
    lateMeteredMicros: l.lateMeteredMicros,
    lateWindowPpm: lateWindowOf.get(l.userId) ?? 0,
    windowSharePpm: windowShareOf(l.userId),
    sharePpm:
      s.billMicros === 0
        ? 0
        : Number((BigInt(l.feePartMicros + l.usagePartMicros) * 1_000_000n) / BigInt(s.billMicros)),
    feePartMicros: l.feePartMicros,
    usagePartMicros: l.usagePartMicros,
    adjustmentsMicros: l.adjustmentsMicros,
    amountMicros: l.amountMicros,
    owesPayerMicros: l.userId === payerId ? 0 : l.amountMicros,
    settled: settledOf.get(l.userId) ?? false,
  }));
  const payerLine = view.find((l) => l.userId === payerId);
  const usageTotals = lines.reduce((t, l) => add(t, pick(l)), ZERO);
  return {
    groupId,
    groupName: group?.name ?? '(deleted group)',
    month: s.month,
    timeZone: s.timeZone,
    from: s.periodStart,
    to: s.periodEnd,
    daysInMonth: daysOf({ month: s.month, start: s.periodStart, end: s.periodEnd }, s.timeZone).length,
    status: 'closed',
    closedAt: s.closedAt,
    closedBy: s.closedBy,
    splitMode: s.splitMode,
    splitFallback: s.splitFallback,
    prorateByDays: s.prorateByDays,
    accountId: s.accountId,
    feePayer: payerLine
      ? {
          userId: payerLine.userId,
          userName: payerLine.userName,
          paidMicros: s.billMicros,
          ownAmountMicros: payerLine.amountMicros,
          owedMicros: sum(view.map((l) => l.owesPayerMicros)),
        }
      : null,
    totals: {
      ...usageTotals,
      fixedFeeMicros: s.fixedFeeMicros,
      lateMeteredMicros: s.lateMeteredMicros,
      billMicros: s.billMicros,
      adjustmentsMicros: s.adjustmentsMicros,
      totalMicros: s.totalMicros,
    },
    lines: view,
    adjustments: adjustments.map((a) => ({
      id: a.id,
      userId: a.userId,
      amountMicros: a.amountMicros,
      reason: a.reason,
      createdBy: a.createdBy,
      createdAt: a.createdAt,
    })),
    lateUsage: late.map(({ statementId: _s, ...l }) => ({
      ...l,
      note: `late usage from ${l.fromMonth}: recorded after that month's statement was closed`,
    })),
  };
}

/**
 * The statement as CSV: a header, one row per person, a totals row; micro-dollars and dollars.
 * `window_ppm` is a person's share of the subscription's plan window (own and carried in late),
 * `window_share_ppm` their part of everyone's (what the `window` split weighs by).
 */
export function statementCsv(view: StatementView): string {
  const header = [
    'month',
    'user_id',
    'user_name',
    'days_present',
    'requests',
    'input_tokens',
    'output_tokens',
    'cache_write_5m_tokens',
    'cache_write_1h_tokens',
    'cache_read_tokens',
    'cost_micros',
    'late_cost_micros',
    'window_ppm',
    'window_share_ppm',
    'fee_part_micros',
    'usage_part_micros',
    'adjustments_micros',
    'amount_micros',
    'amount_usd',
    'settled',
  ];
  const row = (cells: (string | number | boolean | null)[]) => cells.map(csvCell).join(',');
  const rows = view.lines.map((l) =>
    row([
      view.month,
      l.userId,
      l.userName,
      l.daysPresent,
      l.requests,
      l.inputTokens,
      l.outputTokens,
      l.cacheWrite5mTokens,
      l.cacheWrite1hTokens,
      l.cacheReadTokens,
      l.costMicros,
      l.lateCostMicros,
      l.windowPpm + l.lateWindowPpm,
      l.windowSharePpm,
      l.feePartMicros,
      l.usagePartMicros,
      l.adjustmentsMicros,
      l.amountMicros,
      dollars(l.amountMicros),
      l.settled,
    ]),
  );
  const t = view.totals;
  const totals = row([
    view.month,
    'TOTAL',
    '',
    '',
    t.requests,
    t.inputTokens,
    t.outputTokens,
    t.cacheWrite5mTokens,
    t.cacheWrite1hTokens,
    t.cacheReadTokens,
    t.costMicros,
    sum(view.lines.map((l) => l.lateCostMicros)),
    sum(view.lines.map((l) => l.windowPpm + l.lateWindowPpm)),
    '',
    t.fixedFeeMicros,
    t.meteredMicros + t.lateMeteredMicros,
    t.adjustmentsMicros,
    t.totalMicros,
    dollars(t.totalMicros),
    '',
  ]);
  return `${[row(header), ...rows, totals].join('\r\n')}\r\n`;
}

/** Micro-dollars as a dollar string with cents, rounded half away from zero, in integers. */
export function dollars(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const cents = Math.floor((Math.abs(micros) + 5_000) / 10_000);
  return `${sign}${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

function csvCell(value: string | number | boolean | null): string {
  if (value === null) return '';
  const text = String(value);
  // Quote what needs it; text opening with = + - @ (not a number) would be a spreadsheet formula.
  const formula = typeof value === 'string' && /^[=+\-@]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text);
  const safe = formula ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
