// Usage windows of a subscription plan (Claude's 5-hour and 7-day, Codex's primary and secondary),
// read from the provider's response headers by each adapter and kept by the account's AccountGate.
// A window is named by its length ("5h", "7d"), never by the header's position: Codex reports the
// weekly window as "primary" on some plans.

/**
 * Headroom: an account whose most used window is at least this full is asked only after the
 * accounts with room left (scheduling, worker/scheduling/rank.ts). Exhausted windows take the
 * account out until their reset.
 */
export const WINDOW_HEADROOM_PERCENT = 90;

export interface UsageWindow {
  /** `5h`, `7d`, or the provider's own suffix (`7d_oi`, `7d-sonnet`) when it has several of a length. */
  name: string;
  /** The window's length; null when the provider does not say. */
  windowMinutes: number | null;
  /** 0–100 (the provider may report more when over). */
  usedPercent: number;
  /**
   * The same reading in parts per million of the window, as exact as the provider reports it
   * (usedPercent is rounded for display). Absent in readings stored before it was kept.
   */
  usedPpm?: number;
  /** Epoch ms when the window resets; null when unknown. */
  resetAt: number | null;
  /** True when the provider refuses requests in this window until the reset. */
  exhausted: boolean;
}

export function nameOfLength(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440}d`;
  if (minutes % 60 === 0) return `${minutes / 60}h`;
  return `${minutes}m`;
}

/** `5h` → 300, `7d_oi` → 10080; null for a name that does not start with a length. */
export function lengthOfName(name: string): number | null {
  const match = /^(\d+)([mhd])/.exec(name);
  if (!match) return null;
  const n = Number(match[1]);
  return match[2] === 'd' ? n * 1440 : match[2] === 'h' ? n * 60 : n;
}

/** The latest reset among exhausted windows still in the future, as a delay (ms). */
export function exhaustedFor(windows: readonly UsageWindow[], now = Date.now()): number | null {
  let longest: number | null = null;
  for (const w of windows) {
    if (!w.exhausted || w.resetAt === null || w.resetAt <= now) continue;
    if (longest === null || w.resetAt - now > longest) longest = w.resetAt - now;
  }
  return longest;
}

/** Parts per million of the window used: the exact reading when kept, else from the percent. */
export function usedPpmOf(w: UsageWindow): number {
  return Math.max(0, Math.round(w.usedPpm ?? w.usedPercent * 10_000));
}

/**
 * The window a plan is sized by: the longest one the account reports (Claude's and Codex's weekly
 * window; the 5-hour one is burst). Of several of that length (`7d`, `7d_oi`, `7d-sonnet`) the
 * plain one, named by its length alone, else the first by name. Null without windows of a known
 * length.
 */
export function planWindow(windows: readonly UsageWindow[]): UsageWindow | null {
  let best: { w: UsageWindow; minutes: number; plain: boolean } | null = null;
  for (const w of windows) {
    const minutes = w.windowMinutes ?? lengthOfName(w.name);
    if (minutes === null) continue;
    const plain = w.name === nameOfLength(minutes);
    if (
      best === null ||
      minutes > best.minutes ||
      (minutes === best.minutes && (plain !== best.plain ? plain : w.name < best.w.name))
    )
      best = { w, minutes, plain };
  }
  return best?.w ?? null;
}

/** The highest reading seen of the plan's window in its current period: what shares are measured from. */
export interface WindowMark {
  name: string;
  resetAt: number | null;
  ppm: number;
}

/** Two readings of a window within this of each other's reset are the same period (Codex's jitters). */
const SAME_RESET_MS = 60_000;

/**
 * One response's share of the plan window: how much the window's use rose since the previous
 * report of the same period, in ppm of the window, and the mark to measure the next one from.
 * - The first reading (or a different window becoming the plan's) sets the mark: share 0, since
 *   nothing says what the window held before.
 * - A later reset time is a new period: the window started from 0, so the share is the reading.
 * - The same period: the rise above the highest reading so far, never negative. Keeping the
 *   highest (not the latest) reading makes the shares of a period add up to its last reading minus
 *   its first, whatever order concurrent responses report in: a reading older than one already
 *   seen adds 0.
 * - A reading of an earlier period arriving late adds 0 and moves nothing.
 * - Without reset times a drop can only be read as a reset: the mark follows the latest reading.
 */
export function windowShare(
  mark: WindowMark | null,
  reading: UsageWindow,
): { ppm: number; mark: WindowMark } {
  const ppm = usedPpmOf(reading);
  const fresh: WindowMark = { name: reading.name, resetAt: reading.resetAt, ppm };
  if (!mark || mark.name !== reading.name) return { ppm: 0, mark: fresh };
  if (mark.resetAt === null || reading.resetAt === null)
    return { ppm: Math.max(0, ppm - mark.ppm), mark: fresh };
  if (reading.resetAt > mark.resetAt + SAME_RESET_MS) return { ppm, mark: fresh };
  if (reading.resetAt < mark.resetAt - SAME_RESET_MS) return { ppm: 0, mark };
  return ppm > mark.ppm ? { ppm: ppm - mark.ppm, mark: { ...mark, ppm } } : { ppm: 0, mark };
}
