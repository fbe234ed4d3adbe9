// How one relayed request ends: exactly once, whatever the ending. A Settlement follows the
// request from admission to its last byte and, when it ends, releases its lease (with how the
// attempt went), sends its one usage event and lets the request's context go.
//
// Why it is an object that outlives the handler: when a client hangs up, the runtime drops the
// handler's pending awaits (an upstream fetch in flight never resolves for it), so the code
// after them never runs. The Settlement is registered with waitUntil from the first line and
// listens to the client's signal itself; whatever phase the request was in, the abort handler
// cancels the upstream, gives the lease back and records the request.

import type { AttemptReport } from '../../durable-objects/account-gate';
import { accountGate, groupGate } from '../../durable-objects/address';
import type { Admission } from '../../durable-objects/group-gate';
import { costOf } from '../metering/cost';
import type { Meter, MeterReading } from '../metering/meter';
import type { TapControl } from '../metering/meter-stream';
import { pricesNow } from '../metering/price-overrides';
import type { PriceTable } from '../metering/prices';
import { emptyUsage } from '../metering/usage';
import { metrics } from '../metrics';
import type { UsageWindow } from '../oauth/windows';
import type { UpstreamAccount, UpstreamFailure } from '../providers/types';
import { type UsageEvent, usageEvent } from '../queue/usage-event';
import type { RelayError } from './dialect';
import { outbox, type Release } from './outbox';
import type { RelayRequest } from './pipeline';
import { refusalEvent } from './refusals';

type Granted = Extract<Admission, { ok: true }>;

/** The client went away: the reason an attempt's upstream call is aborted with. */
export class ClientGone extends Error {
  constructor() {
    super('the client disconnected');
  }
}

/** The upstream sent nothing for too long mid-stream. */
export class StreamStalled extends Error {
  constructor(readonly idleMs: number) {
    super(`The upstream sent nothing for ${Math.round(idleMs / 1000)} s; the relay ended the stream.`);
  }
}

/** What the upstream answered, as far as the settlement needs it. */
export interface Serving {
  status: number;
  upstreamRequestId: string | null;
  meter: Meter;
  /** From the request's start, as the client waited: the request log's TTFB. */
  firstByteMs: () => number | null;
  /** When the serving attempt's call was sent. */
  sentAt: number;
  /** Stops reading the upstream's body (and the client's branch of it). */
  cancel: (reason: unknown) => void;
  /** A subscription's usage windows from the response headers, for the account's gate. */
  windows?: UsageWindow[];
}

export interface Ending {
  outcome: UsageEvent['outcome'];
  status: number;
  /** Null: nothing was read (no response, or none of it metered). */
  reading: MeterReading | null;
  firstByteMs: number | null;
  /** How the attempt failed, for the account's health. */
  failure?: UpstreamFailure;
  /** Why it failed, when the reading says nothing (e.g. a relay error kind). */
  errorType?: string | null;
}

/** Status recorded for a request whose client left before any response (nginx's convention). */
const CLIENT_CLOSED = 499;

export class Settlement {
  /** Resolves when the request is settled; the request's context waits for it. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private ended = false;
  private aborted = false;
  private stalled: StreamStalled | null = null;
  /** The lease id of an admission or failover in flight. */
  private asking: string | null = null;
  /** The account a direct lease is being asked at (worker/relay/direct.ts); null: at the group. */
  private askingAt: string | null = null;
  private lease: Granted | null = null;
  /** The lease of the attempt that failed, while a failover is asked for. */
  private failed: Granted | null = null;
  private account: UpstreamAccount | null = null;
  /** Set once an upstream call has been made: only then is there something to record. */
  private attempted = false;
  private attempt: AbortController | null = null;
  private serving: Serving | null = null;
  private control: TapControl | null = null;
  private deadline: { at: number; action: () => void } | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastProgressAt = 0;
  private lastRenewAt = 0;

  constructor(
    private readonly env: Env,
    private readonly ctx: { waitUntil(promise: Promise<unknown>): void },
    private readonly requestId: string,
    private readonly startedAt: number,
    private readonly request: RelayRequest,
    private readonly modelFor: (account: UpstreamAccount) => string,
    signal: AbortSignal,
  ) {
    this.done = new Promise<void>((resolve) => {
      this.resolveDone = resolve;
    });
    this.ctx.waitUntil(this.done);
    // An already aborted signal never fires its event.
    if (signal.aborted) this.aborted = true;
    else signal.addEventListener('abort', () => this.abort(), { once: true });
  }

  /** Why the relay ended the stream itself, in words for the client; null when it did not. */
  get stallMessage(): string | null {
    return this.stalled?.message ?? null;
  }

  /**
   * Something due by a time: the upstream's headers, or its first content. One timer per request
   * watches every deadline (see watch()).
   */
  due(at: number | null, action: () => void = () => {}): void {
    this.deadline = at === null ? null : { at, action };
  }

  /** A lease is being asked for (admission, or failover to another account; `accountId`: direct). */
  asks(leaseId: string, accountId: string | null = null): void {
    this.asking = leaseId;
    this.askingAt = accountId;
    this.failed = this.lease;
    this.lease = null;
    this.serving = null;
  }

  /** Admission answered with a lease. False when the client left meanwhile (the lease is given back). */
  leased(admission: Granted): boolean {
    this.asking = null;
    this.failed = null;
    this.lease = admission;
    this.account = admission.account;
    if (this.aborted) {
      this.release(undefined);
      this.end();
      return false;
    }
    this.lastRenewAt = Date.now();
    this.watch();
    return true;
  }

  /**
   * A failover found no account: the gate released the failed lease itself. One the group's gate
   * tracks is still released at the end, to charge the budgets what the client was given of the
   * failed attempt's answer (the gate freed its reservation and waits for the cost).
   */
  unleased(): void {
    this.asking = null;
    this.lease = this.failed?.releaseVia === 'group' ? this.failed : null;
    this.failed = null;
    this.watch();
  }

  /**
   * Refused before any upstream call (admission, or a conversion that cannot carry the request): a
   * lease held goes back with no word on the account, and the refusal becomes a request-log row
   * (refusals.ts) — unless the client has left, and so was told nothing. After an attempt that did
   * reach an upstream (a failover's conversion refusal), the request ends as `failed` as before.
   */
  refused(error: RelayError, status: number): void {
    this.asking = null;
    if (this.ended) return;
    if (this.attempted) {
      this.finish({ outcome: 'failed', status, reading: null, firstByteMs: null, errorType: error.kind });
      return;
    }
    if (this.lease) this.release(undefined);
    const logged = !this.aborted && this.request.metered !== false;
    this.end(
      logged
        ? refusalEvent({
            requestId: this.requestId,
            at: this.startedAt,
            key: this.request.key,
            wire: this.request.wire,
            model: this.request.model,
            stream: this.request.stream,
            status,
            error,
          })
        : undefined,
    );
  }

  /** A new upstream attempt; its signal aborts when the client leaves or the stream stalls. */
  newAttempt(): AbortController {
    this.attempted = true;
    this.attempt = new AbortController();
    if (this.aborted) this.attempt.abort(new ClientGone());
    return this.attempt;
  }

  /** The upstream's answer is on its way to the client. */
  serves(serving: Serving): void {
    this.serving = serving;
    this.lastProgressAt = Date.now();
  }

  /** The tap that streams the answer: ticked by the watchdog, stopped when the client leaves. */
  controls(control: TapControl): void {
    this.control = control;
  }

  /** Upstream bytes arrived: the idle watchdog's clock. */
  progressed(): void {
    this.lastProgressAt = Date.now();
  }

  /** The one settlement of the request. Later calls are ignored. */
  finish(ending: Ending): void {
    if (this.ended) return;
    const stalled = this.stalled;
    // A stream that broke, or that carried the upstream's own error event, counts against the
    // account; a client's own mistake (a 4xx passed through) does not.
    const streamFailed =
      ending.outcome === 'upstream_error' || (ending.status < 400 && ending.reading?.errorType != null);
    const failure: UpstreamFailure | undefined =
      ending.failure ?? (streamFailed ? { kind: 'stream_failed' } : undefined);
    const windows = this.serving?.windows?.length ? { windows: this.serving.windows } : {};
    // No word on the account when nothing was served: a client gone before any answer, or a
    // request refused before it reached the upstream.
    const report: AttemptReport | undefined = failure
      ? { ok: false, failure, ...windows }
      : (ending.outcome === 'client_abort' || ending.outcome === 'failed') && this.serving === null
        ? undefined
        : { ok: true, firstByteMs: this.accountLatency(ending.firstByteMs), ...windows };
    const errorType = stalled
      ? 'stream_idle_timeout'
      : (ending.errorType ?? ending.reading?.errorType ?? null);
    const event = this.usageEvent(ending, errorType);
    if (errorType !== null || ending.outcome === 'upstream_error') {
      // Some clients hide a failed stream (Gemini CLI exits 0 with no output): the relay's log must not.
      console.warn('upstream failure', {
        requestId: this.requestId,
        accountId: this.account?.id,
        wire: this.request.wire,
        status: ending.status,
        outcome: ending.outcome,
        errorType,
      });
    }
    this.ended = true;
    this.stopWatch();
    if (this.aborted) {
      // The tap cancels what it reads when the client leaves, but on the native path the client's
      // branch is locked by its pipe until the pipe itself hears of the hang-up, and a tee lets
      // the upstream go only once both branches have. The fetch's own signal cuts it whatever
      // the branches are doing; waiting for abort()'s one-second backstop is not safe, because
      // the request's context may end as soon as it settles.
      const gone = new ClientGone();
      this.serving?.cancel(gone);
      this.attempt?.abort(gone);
    }
    const release = this.releaseOf(report);
    this.lease = null;
    // What it cost, priced once here: the budgets are charged, and the request log records, the
    // same integer.
    const send = (table: PriceTable) => {
      if (event) {
        const cost = costOf(event.model, event.usage, table, event.at);
        event.costMicros = cost.costMicros;
        event.unpriced = cost.unpriced;
        if (release?.via === 'group') release.item.costMicros = cost.costMicros;
      }
      return outbox.add(this.env, { event: event ?? undefined, release });
    };
    const prices = pricesNow(this.env, (p) => this.ctx.waitUntil(p));
    (prices instanceof Promise ? prices.then(send) : send(prices)).then(this.resolveDone, this.resolveDone);
  }

  /** The client went away, in whatever phase the request was. */
  abort(): void {
    if (this.aborted || this.ended) return;
    this.aborted = true;
    // A stream being served is stopped by its tap (which meters what is buffered first); anything
    // earlier is cut at once.
    if (!this.serving) this.attempt?.abort(new ClientGone());
    if (this.asking !== null) {
      // The admission's answer may never reach this request: the gate asked (the group's, or the
      // account's for a direct lease) gives the lease back when it comes, or refuses it if this
      // arrives first.
      outbox.add(this.env, {
        release: this.askingAt
          ? { via: 'account', accountId: this.askingAt, item: { leaseId: this.asking }, soon: true }
          : { via: 'group', groupId: this.request.key.groupId, item: { leaseId: this.asking }, soon: true },
      });
      this.asking = null;
    }
    if (!this.attempted) {
      if (this.lease) this.release(undefined);
      this.end();
      return;
    }
    const serving = this.serving;
    const gone = new ClientGone();
    if (serving && this.control) {
      // The tap settles (through finish) once it has metered what it holds; should it not
      // manage within a second, the request settles with what the meter has seen.
      this.control.stop(gone);
      setTimeout(() => this.abandon(serving, gone), 1000);
      return;
    }
    this.abandon(serving, gone);
  }

  /** Settles with what the meter has seen, for a tap that did not settle by itself. */
  private abandon(serving: Serving | null, reason: ClientGone | StreamStalled): void {
    this.finish({
      outcome: reason instanceof StreamStalled ? 'upstream_error' : 'client_abort',
      status: serving?.status ?? CLIENT_CLOSED,
      reading: serving ? serving.meter.finish() : null,
      firstByteMs: serving?.firstByteMs() ?? null,
    });
    serving?.cancel(reason);
    this.attempt?.abort(reason);
  }

  /**
   * The account's time to first byte: from its own call, not from the request's start, which adds
   * the wait in a queue and any failed attempts before it (neither is this account's slowness).
   */
  private accountLatency(firstByteMs: number | null): number | null {
    if (firstByteMs === null || !this.serving) return firstByteMs;
    return Math.max(0, this.startedAt + firstByteMs - this.serving.sentAt);
  }

  private usageEvent(ending: Ending, errorType: string | null): UsageEvent | null {
    const account = this.account;
    if (!account || !this.attempted || this.request.metered === false) return null;
    const reading = ending.reading;
    return usageEvent({
      requestId: this.requestId,
      at: this.startedAt,
      keyId: this.request.key.id,
      userId: this.request.key.userId,
      groupId: this.request.key.groupId,
      accountId: account.id,
      provider: account.provider,
      surface: this.request.wire,
      model: this.modelFor(account),
      stream: this.request.stream,
      status: ending.status,
      outcome: ending.outcome,
      upstreamRequestId: this.serving?.upstreamRequestId ?? null,
      usage: reading?.usage ?? emptyUsage(),
      estimated: reading?.estimated ?? false,
      ttfbMs: ending.firstByteMs,
      durationMs: Date.now() - this.startedAt,
      errorType,
    });
  }

  private releaseOf(report: AttemptReport | undefined): Release | undefined {
    const lease = this.lease;
    if (!lease) return undefined;
    return lease.releaseVia === 'account'
      ? {
          via: 'account',
          accountId: lease.account.id,
          item: { leaseId: lease.leaseId, report, health: lease.health },
          soon: lease.releaseSoon,
        }
      : {
          via: 'group',
          groupId: this.request.key.groupId,
          item: { leaseId: lease.leaseId, report, accountId: lease.account.id },
          soon: lease.releaseSoon,
        };
  }

  private release(report: AttemptReport | undefined): void {
    const release = this.releaseOf(report);
    this.lease = null;
    if (release) outbox.add(this.env, { release });
  }

  private end(event?: UsageEvent): void {
    if (this.ended) return;
    this.ended = true;
    this.stopWatch();
    // Whatever was handed to the outbox is awaited by its own promise; this request waits for it.
    outbox.add(this.env, { event }).then(this.resolveDone, this.resolveDone);
  }

  /**
   * One timer per request. Each tick: a deadline that has passed fires (no headers, or no content,
   * in time); the lease is renewed while the request lives (a long stream keeps its slot; a lease
   * whose request is gone expires a TTL after its last renewal); a stream whose upstream has gone
   * quiet for longer than the policy's idle timeout is ended; and the native tap reads what has
   * arrived since the last tick.
   */
  private watch(): void {
    if (this.timer !== null || !this.lease) return;
    const renewEvery = Math.max(1000, Math.floor(Number(this.env.LEASE_TTL_MS) / 3));
    const idle = this.lease.idleTimeoutMs;
    const headers = Number(this.env.UPSTREAM_HEADERS_TIMEOUT_MS);
    const tick = Math.max(50, Math.min(renewEvery, Math.floor(idle / 4), Math.floor(headers / 4)));
    const check = () => {
      this.timer = null;
      if (this.ended || !this.lease) return;
      const now = Date.now();
      const deadline = this.deadline;
      if (deadline && now >= deadline.at) {
        this.deadline = null;
        deadline.action();
      }
      if (now - this.lastRenewAt >= renewEvery) {
        this.lastRenewAt = now;
        this.renew(this.lease);
      }
      const serving = this.serving;
      if (serving && this.control && now - this.lastProgressAt > idle && !this.stalled) {
        if (this.control.clientStopped?.()) {
          // Nobody has asked for the next chunk for the whole idle timeout: the client is gone
          // (or as good as gone), whether or not its signal or a cancel ever told us.
          this.abort();
          return;
        }
        const stalled = new StreamStalled(now - this.lastProgressAt);
        this.stalled = stalled;
        this.attempt?.abort(stalled);
        // The tap settles when the aborted read reaches it; a tap nobody drives any more never
        // would, and the lease would be renewed for ever.
        setTimeout(() => this.abandon(serving, stalled), 1000);
      }
      this.control?.tick();
      this.timer = setTimeout(check, tick);
    };
    this.timer = setTimeout(check, tick);
  }

  private stopWatch(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private renew(lease: Granted): void {
    metrics.gateCalls++;
    const renewed =
      lease.releaseVia === 'account'
        ? accountGate(this.env, lease.account.id).renew(lease.leaseId)
        : groupGate(this.env, this.request.key.groupId).renew(lease.leaseId);
    renewed.catch((err: unknown) =>
      console.warn('lease renewal failed', { requestId: this.requestId, error: String(err) }),
    );
  }
}
