// The settlement work of many requests, sent together. An isolate gathers the usage events and
// lease releases of requests that end within a few milliseconds of each other and sends them as
// one Queue sendBatch and one release call per gate. A release nobody waits for waits up to
// BATCH_DELAY_MS for company; one that another request may be waiting for (the gate said so at
// admission: `releaseSoon`) goes out within RELEASE_SOON_MS, taking whatever is gathered with it.
// Each request's waitUntil holds until the batch carrying its own items is sent, so nothing is
// left in memory of an isolate that may die.
//
// A request whose answer reported a subscription's usage window learns its share of the window
// from its lease's release (the account's gate measures it: durable-objects/account-gate.ts), so its
// usage event is sent once that release has answered — the same calls, in sequence, off the
// client's path. Every other event goes at once.
//
// A usage event is never dropped: a failed send is retried once, then handed to the group's gate,
// which keeps it in its storage and sends it again from its alarm (durable-objects/group-gate.ts).
// Refusals (refusals.ts) ride along as events too, but they are no usage: past REFUSALS_PER_FLUSH
// in one flush, or REFUSALS_PER_KEY_MINUTE for one key, they are counted, not sent.

import type { LeaseRelease } from '../../durable-objects/account-gate';
import { accountGate, groupGate } from '../../durable-objects/address';
import type { GroupRelease } from '../../durable-objects/group-gate';
import { metrics } from '../metrics';
import type { UsageEvent } from '../queue/usage-event';

/**
 * How long a release that nobody waits for, and a usage event, wait for company. Each flush is a
 * Durable Object call per gate and a Queue send: at c = 16 in `npm run bench`, 25 ms instead of 5
 * cut the relay's CPU per request by ~0.6 ms; 100 ms saved nothing more.
 */
const BATCH_DELAY_MS = 25;
/** A release another request may be waiting for: a late one holds a slot (or refuses a key). */
const RELEASE_SOON_MS = 5;
/**
 * Refusals logged per flush, at most: a client hammering a refusal (a retry loop on a 429) must not
 * fill the Queue that carries everyone's usage. 20 per 25 ms is 800 a second per isolate; the rest
 * are counted in one log line per flush, not in the request log.
 */
export const REFUSALS_PER_FLUSH = 20;
/**
 * Refusals logged per key and minute, at most (per isolate): a script looping on a revoked key or
 * a rate limit says what it does in its first rows; the rest would only grow D1 by the loop's pace.
 */
export const REFUSALS_PER_KEY_MINUTE = 30;
/** A Queue sendBatch takes at most 100 messages (and 256 KB: events are bounded well below 2 KB). */
const SEND_BATCH_LIMIT = 100;

export type Release = (
  | { via: 'account'; accountId: string; item: LeaseRelease }
  | { via: 'group'; groupId: string; item: GroupRelease }
) & {
  /** Another request may be waiting for this slot: flush within RELEASE_SOON_MS. */
  soon?: boolean;
};

class Outbox {
  private events: UsageEvent[] = [];
  /** Events waiting for their lease's release to say their share of the plan window. */
  private sharing: { event: UsageEvent; leaseId: string }[] = [];
  private readonly accountReleases = new Map<string, LeaseRelease[]>();
  private readonly groupReleases = new Map<string, GroupRelease[]>();
  /** The next flush: when it is due, and its promise. */
  private pending: { due: number; sent: Promise<void> } | null = null;
  private flushed: Promise<void> = Promise.resolve();
  /** Refusal events taken for the next flush, and those left out over REFUSALS_PER_FLUSH. */
  private refusals = 0;
  private refusalsLeftOut = 0;
  /** Per key: the minute its refusals are counted from, and how many were logged in it. */
  private readonly keyRefusals = new Map<string, { since: number; logged: number }>();

  private keyMayLog(keyId: string, now = Date.now()): boolean {
    const counted = this.keyRefusals.get(keyId);
    if (!counted || now - counted.since >= 60_000) {
      if (this.keyRefusals.size >= 10_000) this.keyRefusals.clear();
      this.keyRefusals.set(keyId, { since: now, logged: 1 });
      return true;
    }
    if (counted.logged >= REFUSALS_PER_KEY_MINUTE) return false;
    counted.logged++;
    return true;
  }

  /** Queues one request's settlement; resolves once the batch that carries it has been sent. */
  add(env: Env, work: { event?: UsageEvent; release?: Release }): Promise<void> {
    const release = work.release;
    let event = work.event;
    if (event?.outcome === 'refused') {
      if (this.refusals < REFUSALS_PER_FLUSH && this.keyMayLog(event.keyId)) this.refusals++;
      else {
        this.refusalsLeftOut++;
        event = undefined;
      }
    }
    if (event && release?.item.report?.windows?.length)
      this.sharing.push({ event, leaseId: release.item.leaseId });
    else if (event) this.events.push(event);
    if (release?.via === 'account') push(this.accountReleases, release.accountId, release.item);
    else if (release?.via === 'group') push(this.groupReleases, release.groupId, release.item);
    const due = Date.now() + (release?.soon ? RELEASE_SOON_MS : BATCH_DELAY_MS);
    // An earlier flush takes over; the later timer still fires and sends whatever has come since.
    if (!this.pending || due < this.pending.due) {
      const pending: { due: number; sent: Promise<void> } = { due, sent: Promise.resolve() };
      pending.sent = new Promise<void>((resolve) => setTimeout(resolve, due - Date.now())).then(() => {
        if (this.pending === pending) this.pending = null;
        // Resolves only once every flush started before it is done too: the items of a request
        // may have left with an earlier flush than the one it waits for.
        const before = this.flushed;
        const flushed = this.flush(env).then(
          () => before,
          () => before,
        );
        this.flushed = flushed;
        return flushed;
      });
      this.pending = pending;
    }
    return this.pending.sent;
  }

  private async flush(env: Env): Promise<void> {
    const events = this.events;
    const sharing = this.sharing;
    this.events = [];
    this.sharing = [];
    if (this.refusalsLeftOut > 0)
      console.warn('refusals not logged', {
        count: this.refusalsLeftOut,
        perFlush: REFUSALS_PER_FLUSH,
        perKeyMinute: REFUSALS_PER_KEY_MINUTE,
      });
    this.refusals = 0;
    this.refusalsLeftOut = 0;
    const accounts = [...this.accountReleases];
    const groups = [...this.groupReleases];
    this.accountReleases.clear();
    this.groupReleases.clear();
    const shares: Record<string, number> = {};
    const releases = Promise.all([
      ...accounts.map(async ([id, items]) => {
        const released = await retryOnce(() => {
          metrics.gateCalls++;
          return accountGate(env, id).releaseMany(items);
        }, `release at account ${id}`);
        Object.assign(shares, released?.windowPpm);
      }),
      ...groups.map(async ([id, items]) => {
        const windowPpm = await retryOnce(() => {
          metrics.gateCalls++;
          return groupGate(env, id).releaseMany(items);
        }, `release at group ${id}`);
        Object.assign(shares, windowPpm);
      }),
    ]);
    await Promise.all([
      sendUsage(env, events),
      releases.then(() => {
        if (sharing.length === 0) return;
        // A release that failed twice leaves its event without a share: metered all the same.
        for (const { event, leaseId } of sharing) {
          const ppm = shares[leaseId];
          if (ppm !== undefined) event.windowPpm = ppm;
        }
        return sendUsage(
          env,
          sharing.map((s) => s.event),
        );
      }),
    ]);
  }
}

function push<T>(map: Map<string, T[]>, key: string, item: T): void {
  const list = map.get(key);
  if (list) list.push(item);
  else map.set(key, [item]);
}

/**
 * A gate call worth one more try (a lease never released expires by its TTL; a plan version never
 * told lasts until the workers' plans do); logged and null when both fail.
 */
export async function retryOnce<T>(call: () => Promise<T>, what: string): Promise<T | null> {
  try {
    return await call();
  } catch {
    try {
      return await call();
    } catch (err) {
      console.error('gate call failed', { what, error: String(err) });
      return null;
    }
  }
}

/**
 * Sends usage events to the Queue, retrying once. Then, by default, hands what failed to the
 * groups' gates; with `hold: false` (the gates' own resend) the failure is thrown instead.
 */
export async function sendUsage(env: Env, events: UsageEvent[], { hold = true } = {}): Promise<void> {
  for (let i = 0; i < events.length; i += SEND_BATCH_LIMIT) {
    const batch = events.slice(i, i + SEND_BATCH_LIMIT);
    try {
      await sendBatch(env.USAGE_QUEUE, batch);
    } catch {
      try {
        await sendBatch(env.USAGE_QUEUE, batch);
      } catch (err) {
        if (!hold) throw err;
        console.warn('usage send failed; the group gates keep the events', { error: String(err) });
        await holdAtGates(env, batch);
      }
    }
  }
}

function sendBatch(queue: Queue, events: UsageEvent[]): Promise<unknown> {
  metrics.queueSends++;
  metrics.usageEvents += events.length;
  return queue.sendBatch(events.map((body) => ({ body, contentType: 'json' as const })));
}

async function holdAtGates(env: Env, events: UsageEvent[]): Promise<void> {
  const byGroup = new Map<string, UsageEvent[]>();
  for (const event of events) push(byGroup, event.groupId, event);
  await Promise.all(
    [...byGroup].map(async ([groupId, held]) => {
      try {
        metrics.gateCalls++;
        await groupGate(env, groupId).holdUsage(held);
      } catch (err) {
        // The last resort: the log keeps the whole event, so it can be replayed by hand.
        for (const event of held) console.error('usage event not delivered', JSON.stringify(event));
        console.error('usage hold failed', { groupId, error: String(err) });
      }
    }),
  );
}

export const outbox = new Outbox();
