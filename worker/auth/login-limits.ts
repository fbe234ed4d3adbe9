// Sign-in rate limits, per account (the email typed, whether or not it exists) and per client
// address, in D1. Each attempt counts itself with ONE atomic statement before the password is
// checked (an upsert that returns the new counts), so parallel guesses cannot slip past the check;
// a successful sign-in clears its account's count and gives its address's slot back. Counts live in
// a fixed window from the first failure; a row whose window has passed starts again at 1.
//
// Why D1 and not a Durable Object: the write is one statement on D1's single primary, which is
// atomic and strongly consistent, and sign-in is rare enough that D1's write latency is no cost.
import { eq, lte, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { loginLimits } from '../db/schema';

export const LOGIN_WINDOW_MS = 15 * 60_000;
/** Failed attempts allowed per account within a window; the next one is refused. */
export const ACCOUNT_FAILURES = 10;
/** Failed attempts allowed per client address within a window (several people may share one). */
export const ADDRESS_FAILURES = 30;

export interface LimitKeys {
  account: string;
  address: string;
}

export function limitKeys(email: string, ip: string | null): LimitKeys {
  return { account: `account:${email}`, address: `address:${addressBucket(ip)}` };
}

/**
 * The bucket an address counts in. An IPv6 client usually holds a whole /64, so it is one bucket;
 * an unknown address (no `cf-connecting-ip`, only outside Cloudflare) shares one.
 */
export function addressBucket(ip: string | null): string {
  if (!ip) return 'unknown';
  if (!ip.includes(':')) return ip;
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export type Admission = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Counts one attempt against both keys and says whether it may go on. */
export async function countAttempt(db: Db, keys: LimitKeys, now = Date.now()): Promise<Admission> {
  const expired = now - LOGIN_WINDOW_MS;
  const rows = await db
    .insert(loginLimits)
    .values([
      { key: keys.account, windowStart: now, failures: 1 },
      { key: keys.address, windowStart: now, failures: 1 },
    ])
    .onConflictDoUpdate({
      target: loginLimits.key,
      set: {
        windowStart: sql`CASE WHEN ${loginLimits.windowStart} <= ${expired} THEN excluded.window_start ELSE ${loginLimits.windowStart} END`,
        failures: sql`CASE WHEN ${loginLimits.windowStart} <= ${expired} THEN 1 ELSE ${loginLimits.failures} + 1 END`,
      },
    })
    .returning();
  const tripped = rows.filter(
    (r) => r.failures > (r.key === keys.account ? ACCOUNT_FAILURES : ADDRESS_FAILURES),
  );
  if (tripped.length === 0) return { allowed: true };
  const until = Math.max(...tripped.map((r) => r.windowStart + LOGIN_WINDOW_MS));
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((until - now) / 1000)) };
}

/**
 * The statements a successful sign-in runs: its account starts afresh, its address gets its slot
 * back, and windows long past are swept.
 */
export function forgiveAttempt(db: Db, keys: LimitKeys, now = Date.now()) {
  return [
    db.delete(loginLimits).where(eq(loginLimits.key, keys.account)),
    db
      .update(loginLimits)
      .set({ failures: sql`max(${loginLimits.failures} - 1, 0)` })
      .where(eq(loginLimits.key, keys.address)),
    db.delete(loginLimits).where(lte(loginLimits.windowStart, now - LOGIN_WINDOW_MS)),
  ] as const;
}
