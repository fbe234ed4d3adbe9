// Which aggregate answers which part of a time range: whole UTC months from `usage_monthly`,
// whole UTC days from `usage_daily`, the hours at the edges from `usage_hourly`. A long report
// then reads a few dozen rows per key and model instead of one per hour.
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export type Grain = 'hour' | 'day' | 'month';

/** Buckets of one grain whose start lies in [from, to). */
export interface Segment {
  grain: Grain;
  from: number;
  to: number;
}

const floorTo = (at: number, unit: number) => at - (((at % unit) + unit) % unit);
const ceilTo = (at: number, unit: number) => floorTo(at + unit - 1, unit);

function monthStart(at: number): number {
  const d = new Date(at);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function nextMonth(at: number): number {
  const d = new Date(at);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** Whole days from daily, the hours around them from hourly; [from, to) hour-aligned. */
function days(from: number, to: number): Segment[] {
  const d0 = ceilTo(from, DAY_MS);
  const d1 = floorTo(to, DAY_MS);
  if (d0 >= d1) return from < to ? [{ grain: 'hour', from, to }] : [];
  const out: Segment[] = [];
  if (from < d0) out.push({ grain: 'hour', from, to: d0 });
  out.push({ grain: 'day', from: d0, to: d1 });
  if (d1 < to) out.push({ grain: 'hour', from: d1, to });
  return out;
}

/**
 * The coarsest cover of the hours [from, to) (both hour-aligned): at most one run of months, two
 * of days and two of hours, in time order, together exactly the range.
 */
export function coverage(from: number, to: number): Segment[] {
  if (from % HOUR_MS !== 0 || to % HOUR_MS !== 0) throw new Error('coverage: hour-aligned bounds only');
  if (from >= to) return [];
  const m0 = monthStart(from) === from ? from : nextMonth(from);
  const m1 = monthStart(to);
  if (m0 >= m1) return days(from, to);
  return [...days(from, m0), { grain: 'month', from: m0, to: m1 }, ...days(m1, to)];
}

/** The hour-aligned range a query asks for: from the hour holding `from` to the hour after `to`'s. */
export function hourRange(from: number, to: number): { from: number; to: number } {
  return { from: floorTo(from, HOUR_MS), to: ceilTo(to, HOUR_MS) };
}

export { ceilTo, floorTo };
