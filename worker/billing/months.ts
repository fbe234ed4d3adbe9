// Billing months: a calendar month (`YYYY-MM`) in a group's IANA time zone, its bounds as UTC
// instants, its local days, and how many of them a person was in the group.
import { periodEnd, periodKey, periodStart } from '../budgets/periods';

/** `YYYY-MM`, from 1970 (a month before the epoch has nothing to bill). */
export const MONTH_PATTERN = /^(19[7-9]\d|[2-9]\d{3})-(0[1-9]|1[0-2])$/;

export interface MonthBounds {
  month: string;
  /** The first instant of the month in the zone (ms since the epoch). */
  start: number;
  /** The first instant of the next month. */
  end: number;
}

/** The month holding `at` in `timeZone`. */
export function monthOf(at: number, timeZone: string): string {
  return periodKey('month', at, timeZone).slice('month:'.length);
}

/** The month before `month`. */
export function previousMonth(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
}

/** The month after `month`. */
export function nextMonth(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}

export function monthBounds(month: string, timeZone: string): MonthBounds {
  const [y, m] = month.split('-').map(Number) as [number, number];
  // The 15th at noon UTC is inside the same local month in every zone (offsets are < ±15 h).
  const inside = Date.UTC(y, m - 1, 15, 12);
  return { month, start: periodStart('month', inside, timeZone), end: periodEnd('month', inside, timeZone)! };
}

/**
 * The month's local days within its bounds, as [start, end) instants (23 or 25 hours long across
 * a DST change). Bounds anchored to a neighbour's statement after a zone change can take in a
 * sliver of a day dated in the month before or after: that day is the neighbour's (its statement
 * counted it), so it is not one of this month's; a day of the month cut short still counts.
 */
export function daysOf(bounds: MonthBounds, timeZone: string): [number, number][] {
  const days: [number, number][] = [];
  for (let at = bounds.start; at < bounds.end; ) {
    const next = Math.min(periodEnd('day', at, timeZone)!, bounds.end);
    if (monthOf(at, timeZone) === bounds.month) days.push([at, next]);
    at = next;
  }
  return days;
}

/**
 * How many local days of the month a person was in the group on, for any part of the day: a day
 * one joined or left on counts whole (they could use the account that day).
 */
export function daysPresent(
  stays: readonly { joinedAt: number; leftAt: number | null }[],
  days: readonly [number, number][],
): number {
  let n = 0;
  for (const [from, to] of days)
    if (stays.some((s) => s.joinedAt < to && (s.leftAt === null || s.leftAt > from))) n++;
  return n;
}
