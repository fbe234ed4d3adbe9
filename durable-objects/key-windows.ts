// Per-key request windows ("at most N requests per M minutes"), kept by the key's GroupGate in its
// SQLite storage: a window must outlive the object's eviction, which comes after a minute or so
// without requests, or a daily limit would restart with every pause.
//
// A window is counted in buckets of 1/60 of its length, not one row per request: memory and
// storage stay bounded whatever the limit (a key may allow millions a day). A request counts for
// as long as any part of its bucket is inside the window, so for up to one bucket longer than the
// window itself (a 60-minute window holds a request 60 to 61 minutes): the limit is never
// exceeded, and a full key is let in again at most one bucket late.

export const KEY_WINDOW_SCHEMA = `CREATE TABLE key_windows (key_id TEXT NOT NULL, start INTEGER NOT NULL,
  until INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (key_id, start));`;

const BUCKETS_PER_WINDOW = 60;
/** The longest window a key may have (keys.ts): older buckets belong to no window. */
const LONGEST_WINDOW_MS = 1440 * 60_000;

interface Bucket {
  start: number;
  /** The end of the bucket's span: its requests were made before this. */
  until: number;
  count: number;
}

type Write = (query: string, ...bindings: (string | number | null)[]) => void;

export type WindowCheck = { ok: true } | { ok: false; retryAfterSec: number };

export class KeyWindows {
  /** Buckets by key, oldest first; a key is read from storage the first time it is asked about. */
  private readonly buckets = new Map<string, Bucket[]>();

  constructor(
    private readonly sql: SqlStorage,
    private readonly write: Write,
  ) {}

  /** Drops buckets that no window can reach any more (run when the gate loads). */
  prune(now: number): void {
    this.sql.exec('DELETE FROM key_windows WHERE until <= ?', now - LONGEST_WINDOW_MS);
  }

  /** Whether one more request fits the key's window, and if not, when one will. */
  check(keyId: string, limit: number, windowMs: number, now: number): WindowCheck {
    const buckets = this.live(keyId, windowMs, now);
    let count = buckets.reduce((sum, b) => sum + b.count, 0);
    if (count < limit) return { ok: true };
    // The request fits once enough of the oldest buckets have left the window.
    for (const bucket of buckets) {
      count -= bucket.count;
      if (count < limit)
        return { ok: false, retryAfterSec: Math.max(1, Math.ceil((bucket.until + windowMs - now) / 1000)) };
    }
    return { ok: false, retryAfterSec: Math.ceil(windowMs / 1000) };
  }

  /** Counts an admitted request in the key's window. */
  count(keyId: string, windowMs: number, now: number): void {
    const width = Math.max(1, Math.floor(windowMs / BUCKETS_PER_WINDOW));
    const start = now - (now % width);
    const until = start + width;
    const buckets = this.load(keyId);
    const last = buckets[buckets.length - 1];
    if (last && last.start === start) {
      last.count++;
      last.until = Math.max(last.until, until);
    } else {
      buckets.push({ start, until, count: 1 });
      buckets.sort((a, b) => a.start - b.start);
    }
    this.write(
      `INSERT INTO key_windows (key_id, start, until, count) VALUES (?, ?, ?, 1)
       ON CONFLICT (key_id, start) DO UPDATE SET count = count + 1, until = max(until, excluded.until)`,
      keyId,
      start,
      until,
    );
  }

  /** The key's buckets still inside a window of this length; older ones are dropped. */
  private live(keyId: string, windowMs: number, now: number): Bucket[] {
    const from = now - windowMs;
    const buckets = this.load(keyId);
    const kept = buckets.filter((b) => b.until > from);
    if (kept.length < buckets.length) {
      this.buckets.set(keyId, kept);
      this.write('DELETE FROM key_windows WHERE key_id = ? AND until <= ?', keyId, from);
    }
    return kept;
  }

  private load(keyId: string): Bucket[] {
    let buckets = this.buckets.get(keyId);
    if (!buckets) {
      buckets = this.sql
        .exec<{ start: number; until: number; count: number }>(
          'SELECT start, until, count FROM key_windows WHERE key_id = ? ORDER BY start',
          keyId,
        )
        .toArray()
        .map((row) => ({ start: row.start, until: row.until, count: row.count }));
      this.buckets.set(keyId, buckets);
    }
    return buckets;
  }
}
