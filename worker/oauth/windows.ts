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
