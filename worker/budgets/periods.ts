// Budget periods in a time zone. A period is named by a key (`day:2026-11-28`, `week:2026-W48`,
// `month:2026-11`, `total`) computed from a moment and the budget's IANA time zone, so a
// counter keyed by it starts afresh at local midnight (or Monday, or the first of the month).
export const PERIODS = ['day', 'week', 'month', 'total'] as const;
export type Period = (typeof PERIODS)[number];

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/**
 * Whether the zone is an IANA name the runtime knows (an unknown one would throw at every
 * request). The runtime also takes UTC offsets such as `+05:00`; those are refused: an offset
 * has no daylight saving and is not what `timeZone` means anywhere in the API (groups, budgets).
 */
export function isTimeZone(timeZone: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(timeZone)) return false;
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

function parts(at: number, timeZone: string): LocalDate & { hour: number; minute: number; second: number } {
  const out: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(at))
    if (p.type !== 'literal') out[p.type] = Number(p.value);
  return {
    year: out.year!,
    month: out.month!,
    day: out.day!,
    hour: out.hour!,
    minute: out.minute!,
    second: out.second!,
  };
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** ISO 8601 week of a calendar date: weeks start on Monday; week 1 holds the year's first Thursday. */
function isoWeek({ year, month, day }: LocalDate): { year: number; week: number } {
  const date = new Date(Date.UTC(year, month - 1, day));
  date.setUTCDate(date.getUTCDate() - ((date.getUTCDay() + 6) % 7) + 3); // this week's Thursday
  const weekYear = date.getUTCFullYear();
  const firstThursday = new Date(Date.UTC(weekYear, 0, 4));
  firstThursday.setUTCDate(firstThursday.getUTCDate() - ((firstThursday.getUTCDay() + 6) % 7) + 3);
  return {
    year: weekYear,
    week: 1 + Math.round((date.getTime() - firstThursday.getTime()) / (7 * 86_400_000)),
  };
}

/** The key of the period holding `at` in `timeZone`. */
export function periodKey(period: Period, at: number, timeZone: string): string {
  if (period === 'total') return 'total';
  const local = parts(at, timeZone);
  switch (period) {
    case 'day':
      return `day:${local.year}-${pad(local.month)}-${pad(local.day)}`;
    case 'week': {
      const { year, week } = isoWeek(local);
      return `week:${year}-W${pad(week)}`;
    }
    case 'month':
      return `month:${local.year}-${pad(local.month)}`;
  }
}

/** The UTC instant of a local wall-clock time in `timeZone` (handles offsets and DST moves). */
function instantOf(local: LocalDate, timeZone: string): number {
  // Start from the wall time read as UTC, then correct by the zone's offset at that instant
  // (twice, so a change of offset between the guess and the answer is accounted for).
  const wall = Date.UTC(local.year, local.month - 1, local.day);
  let guess = wall;
  for (let i = 0; i < 2; i++) {
    const p = parts(guess, timeZone);
    const seen = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    guess += wall - seen;
  }
  return guess;
}

/** When the period holding `at` ends (the next one starts), in ms since the epoch; null for `total`. */
export function periodEnd(period: Period, at: number, timeZone: string): number | null {
  if (period === 'total') return null;
  const local = parts(at, timeZone);
  const next = new Date(Date.UTC(local.year, local.month - 1, local.day));
  if (period === 'day') next.setUTCDate(next.getUTCDate() + 1);
  if (period === 'week') next.setUTCDate(next.getUTCDate() + (7 - ((next.getUTCDay() + 6) % 7)));
  if (period === 'month') next.setUTCMonth(next.getUTCMonth() + 1, 1);
  return instantOf(
    { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() },
    timeZone,
  );
}

/** When the period holding `at` began; 0 for `total`. */
export function periodStart(period: Period, at: number, timeZone: string): number {
  if (period === 'total') return 0;
  const local = parts(at, timeZone);
  const start = new Date(Date.UTC(local.year, local.month - 1, local.day));
  if (period === 'week') start.setUTCDate(start.getUTCDate() - ((start.getUTCDay() + 6) % 7));
  if (period === 'month') start.setUTCDate(1);
  return instantOf(
    { year: start.getUTCFullYear(), month: start.getUTCMonth() + 1, day: start.getUTCDate() },
    timeZone,
  );
}
