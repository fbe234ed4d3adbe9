// The admin pages' arithmetic, kept pure so it is unit-tested apart from React: an account's state
// in words and its utilisation bar, a budget's spent/reserved/limit bar, cooldown countdowns, and
// the shaping of /usage read-outs into chart series. Money stays integer micro-dollars here; only
// the percentages that size a bar are fractions.
import type { Schemas } from '../api/client';

export type AccountState = Schemas['AccountState'];
export type Usage = Schemas['Usage'];
export type Sums = Usage['totals'];

/** What an account is doing now, from its gate's state: the words and colour of its badge. */
export type AccountCondition = 'disabled' | 'cooling' | 'full' | 'busy' | 'idle';

export function accountCondition(state: AccountState, now: number): AccountCondition {
  if (!state.enabled) return 'disabled';
  const until = Math.max(state.cooldownUntil ?? 0, state.unavailableUntil ?? 0);
  if (until > now) return 'cooling';
  if (state.max > 0 && state.inUse >= state.max) return 'full';
  return state.inUse > 0 ? 'busy' : 'idle';
}

/** When the account serves again (the later of cooldown and unavailability), or null if it can now. */
export function cooldownEnds(state: AccountState, now: number): number | null {
  const until = Math.max(state.cooldownUntil ?? 0, state.unavailableUntil ?? 0);
  return until > now ? until : null;
}

/** A part of a whole as a bar width in percent, clamped to 0..100 (a whole of 0 is an empty bar). */
export function percent(part: number, whole: number): number {
  if (!(whole > 0) || !(part > 0)) return 0;
  return Math.min(100, (part / whole) * 100);
}

/** A pool's utilisation: leases in use over the sum of its serving accounts' maxima. */
export interface PoolUtilisation {
  provider: string;
  accounts: number;
  inUse: number;
  max: number;
  cooling: number;
  disabled: number;
  percent: number;
}

export function poolUtilisation(
  accounts: readonly { provider: string; state: AccountState | undefined }[],
  now: number,
): PoolUtilisation[] {
  const pools = new Map<string, PoolUtilisation>();
  for (const { provider, state } of accounts) {
    const pool = pools.get(provider) ?? {
      provider,
      accounts: 0,
      inUse: 0,
      max: 0,
      cooling: 0,
      disabled: 0,
      percent: 0,
    };
    pool.accounts += 1;
    if (state) {
      const condition = accountCondition(state, now);
      if (condition === 'disabled') pool.disabled += 1;
      else if (condition === 'cooling') pool.cooling += 1;
      // A disabled or cooling account offers no capacity: counting it would flatter the pool.
      if (condition !== 'disabled' && condition !== 'cooling') pool.max += state.max;
      pool.inUse += state.inUse;
    }
    pools.set(provider, pool);
  }
  return [...pools.values()]
    .map((p) => ({ ...p, percent: percent(p.inUse, p.max) }))
    .sort((a, b) => a.provider.localeCompare(b.provider));
}

/**
 * A budget's bar: spent then reserved (in-flight requests' holds) against the limit, each as a
 * percentage of the bar; `over` when spent plus reserved reaches the limit (a hard budget then
 * refuses), `remaining` never below zero.
 */
export interface BudgetBar {
  spentPercent: number;
  reservedPercent: number;
  spent: number;
  reserved: number;
  limit: number;
  remaining: number;
  over: boolean;
}

export function budgetBar(
  limit: number,
  spent: number | null | undefined,
  reserved?: number | null,
): BudgetBar {
  const s = Math.max(0, spent ?? 0);
  const r = Math.max(0, reserved ?? 0);
  const spentPercent = percent(s, limit);
  const reservedPercent = Math.min(100 - spentPercent, percent(r, limit));
  return {
    spentPercent,
    reservedPercent,
    spent: s,
    reserved: r,
    limit,
    remaining: Math.max(0, limit - s - r),
    over: s + r >= limit,
  };
}

/** A countdown for people: "1h 02m", "4m 05s", "12s"; "0s" once past. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (h > 0) return `${h}h ${two(m)}m`;
  if (m > 0) return `${m}m ${two(s)}s`;
  return `${s}s`;
}

/** The range presets of the usage page, as [from, to) in ms. */
export type RangePreset = 'today' | '7d' | '30d' | 'month' | 'lastMonth';
export const RANGE_PRESETS: readonly RangePreset[] = ['today', '7d', '30d', 'month', 'lastMonth'];

export function presetRange(preset: RangePreset, now: Date): { from: number; to: number } {
  const y = now.getFullYear();
  const mo = now.getMonth();
  const today = new Date(y, mo, now.getDate()).getTime();
  const DAY = 86_400_000;
  switch (preset) {
    case 'today':
      return { from: today, to: now.getTime() };
    case '7d':
      return { from: today - 6 * DAY, to: now.getTime() };
    case '30d':
      return { from: today - 29 * DAY, to: now.getTime() };
    case 'month':
      return { from: new Date(y, mo, 1).getTime(), to: now.getTime() };
    case 'lastMonth':
      return { from: new Date(y, mo - 1, 1).getTime(), to: new Date(y, mo, 1).getTime() };
  }
}

/**
 * Cost per local day from the hourly read-out: one point per day of [from, to), zero where nothing
 * was used, so the chart's x axis is even. Days are the viewer's (the hours are epoch ms).
 */
export function costPerDay(
  byHour: Usage['byHour'],
  from: number,
  to: number,
): { day: number; costMicros: number }[] {
  const dayOf = (ms: number) => {
    const d = new Date(ms);
    return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  };
  const days: { day: number; costMicros: number }[] = [];
  const index = new Map<number, number>();
  for (let d = dayOf(from); d < to; ) {
    index.set(d, days.length);
    days.push({ day: d, costMicros: 0 });
    const next = new Date(d);
    next.setDate(next.getDate() + 1);
    d = next.getTime();
  }
  for (const h of byHour) {
    const i = index.get(dayOf(h.hour));
    if (i !== undefined) days[i]!.costMicros += h.costMicros;
  }
  return days;
}

const DAY_MS = 86_400_000;
/** The API gives `byHour` for ranges up to this long and `[]` for longer ones (docs/api.md). */
export const BY_HOUR_MAX_MS = 7 * DAY_MS;

/**
 * Cost per UTC day from the daily read-out, one point per UTC day of [from, to), zeros included.
 * Each line is floored to its UTC day start: the API means `day` as one, but an edge of the range
 * answered from hourly rows has been seen to carry the hour (05:00 UTC) instead.
 */
export function costPerUtcDay(
  byDay: Usage['byDay'],
  from: number,
  to: number,
): { day: number; costMicros: number }[] {
  const dayOf = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;
  const days: { day: number; costMicros: number }[] = [];
  const index = new Map<number, number>();
  for (let d = dayOf(from); d < to; d += DAY_MS) {
    index.set(d, days.length);
    days.push({ day: d, costMicros: 0 });
  }
  for (const line of byDay) {
    const i = index.get(dayOf(line.day));
    if (i !== undefined) days[i]!.costMicros += line.costMicros;
  }
  return days;
}

/**
 * The usage page's cost per day: the viewer's local days from `byHour` when the range is short
 * enough for the API to give hours, else UTC days from `byDay` (the API keeps days in UTC and takes
 * no time zone), with `utc` saying which so the labels say so too.
 */
export function dailyCost(usage: Pick<Usage, 'from' | 'to' | 'byHour' | 'byDay'>): {
  utc: boolean;
  days: { day: number; costMicros: number }[];
} {
  // The API decides on the range rounded out to whole hours; so does this.
  const HOUR_MS = 3_600_000;
  const span = Math.ceil(usage.to / HOUR_MS) * HOUR_MS - Math.floor(usage.from / HOUR_MS) * HOUR_MS;
  if (span <= BY_HOUR_MAX_MS) return { utc: false, days: costPerDay(usage.byHour, usage.from, usage.to) };
  return { utc: true, days: costPerUtcDay(usage.byDay, usage.from, usage.to) };
}

/**
 * The y axis's labels with a repeat left blank: tick steps finer than the format shows would
 * otherwise read "$0.0001, $0.0001, $0.0000".
 */
export function axisLabels(values: readonly number[], format: (v: number) => string): string[] {
  return values.map((v, i) => {
    const text = format(v);
    return i > 0 && format(values[i - 1]!) === text ? '' : text;
  });
}

/** All tokens of a sum (input, output, cache writes and reads). */
export function totalTokens(s: Sums): number {
  return s.inputTokens + s.outputTokens + s.cacheWrite5mTokens + s.cacheWrite1hTokens + s.cacheReadTokens;
}

/**
 * A key as people recognise it: its name and prefix, or the prefix alone when it has no name.
 * The prefix already ends in the key's last characters (`cp-abc123…wxyz`), so nothing is added to
 * it. A key that is gone (no prefix) falls back to its id.
 */
export function keyLabel(key: { name: string | null; prefix: string | null }, id: string): string {
  if (!key.prefix) return key.name || id;
  return key.name ? `${key.name} (${key.prefix})` : key.prefix;
}

/**
 * An enterprise's departments as a list to pick from: each top-level department followed by its
 * sub-departments, named under it ("Engineering › Backend"), in the order they were listed.
 */
export function departmentOptions(
  departments: readonly { id: string; name: string; parentId: string | null }[],
): { value: string; label: string }[] {
  const out: { value: string; label: string }[] = [];
  for (const top of departments.filter((d) => !d.parentId)) {
    out.push({ value: top.id, label: top.name });
    for (const sub of departments.filter((d) => d.parentId === top.id))
      out.push({ value: sub.id, label: `${top.name} › ${sub.name}` });
  }
  return out;
}

/**
 * The largest `limit` rows by `value`, the rest folded into one "other" row, for a bar chart that
 * stays readable on a phone.
 */
export function topN<T>(
  rows: readonly T[],
  label: (row: T) => string,
  value: (row: T) => number,
  limit: number,
  otherLabel: string,
): { label: string; value: number }[] {
  const sorted = rows.map((r) => ({ label: label(r), value: value(r) })).sort((a, b) => b.value - a.value);
  if (sorted.length <= limit) return sorted;
  const rest = sorted.slice(limit - 1).reduce((sum, r) => sum + r.value, 0);
  return [...sorted.slice(0, limit - 1), { label: otherLabel, value: rest }];
}

/** Rows as RFC 4180 CSV: fields with a comma, quote or newline are quoted, quotes doubled. */
export function toCsv(
  header: readonly string[],
  rows: readonly (readonly (string | number | null)[])[],
): string {
  const field = (v: string | number | null) => {
    const text = v === null ? '' : String(v);
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [header, ...rows].map((r) => r.map(field).join(',')).join('\r\n');
}

/** What the viewer can read about a budget's target: names by id, from the lists they may see. */
export interface BudgetNames {
  enterprises: ReadonlyMap<string, string>;
  /** Departments by id, named by their place in the tree ("Sales › EMEA"). */
  departments: ReadonlyMap<string, string>;
  groups: ReadonlyMap<string, string>;
  /** Per group, its members' names by user id. */
  members: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Keys by id, already labelled (keyLabel). */
  keys: ReadonlyMap<string, string>;
}

/**
 * A budget's target in words: the enterprise, department or group by name, a member by name with
 * their group, a key by its label with its group. What the viewer cannot read stays an id (never
 * the composite `group:user` scope id).
 */
export function budgetTargetName(
  budget: {
    scope: string;
    scopeId: string;
    groupId: string | null;
    userId: string | null;
    keyId: string | null;
  },
  names: BudgetNames,
): string {
  const group = budget.groupId ? (names.groups.get(budget.groupId) ?? null) : null;
  const inGroup = (what: string) => (group ? `${what} · ${group}` : what);
  switch (budget.scope) {
    case 'enterprise':
      return names.enterprises.get(budget.scopeId) ?? budget.scopeId;
    case 'department':
      return names.departments.get(budget.scopeId) ?? budget.scopeId;
    case 'group':
      return names.groups.get(budget.scopeId) ?? budget.scopeId;
    case 'member': {
      const userId = budget.userId ?? budget.scopeId;
      const person = budget.groupId ? names.members.get(budget.groupId)?.get(userId) : undefined;
      return inGroup(person ?? userId);
    }
    default: {
      const keyId = budget.keyId ?? budget.scopeId;
      return inGroup(names.keys.get(keyId) ?? keyId);
    }
  }
}

/**
 * The budgets an alert rule of a scope may watch (worker/domain/alerts.ts, checkBudget): a group's
 * rule, that group's budgets (its members' and keys' too); an enterprise's, the enterprise's and its
 * groups'; the system's, any.
 */
export function budgetsInAlertScope<B extends { enterpriseId: string | null; groupId: string | null }>(
  budgets: readonly B[],
  scope: { kind: 'system' } | { kind: 'enterprise' | 'group'; id: string },
): B[] {
  if (scope.kind === 'system') return [...budgets];
  return budgets.filter((b) => (scope.kind === 'group' ? b.groupId : b.enterpriseId) === scope.id);
}
