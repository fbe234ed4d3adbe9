// AccountGate: the strongly consistent state of one upstream account. It hands out concurrency
// leases (never more than the account's max, with a short fair queue when full), keeps the
// account's health and cooldown, and says in words why it cannot serve.
import { DurableObject } from 'cloudflare:workers';
import { and, eq } from 'drizzle-orm';
import { type AccountHealthEvent, accountAlert } from '../worker/alerts/fire';
import { decryptCredential, encryptCredential } from '../worker/auth/credentials';
import { db } from '../worker/db/client';
import { type Account, accounts } from '../worker/db/schema';
import { metrics } from '../worker/metrics';
import { isOAuthKind, oauthConfig } from '../worker/oauth/config';
import { type OAuthCredential, parseOAuthCredential } from '../worker/oauth/credential';
import { refreshTokens } from '../worker/oauth/token-endpoint';
import {
  exhaustedFor,
  planWindow,
  type UsageWindow,
  WINDOW_HEADROOM_PERCENT,
  type WindowMark,
  windowShare,
} from '../worker/oauth/windows';
import { probeUpstream } from '../worker/providers/probe';
import type { UpstreamAccount, UpstreamFailure } from '../worker/providers/types';
import type { HealthPolicy } from '../worker/scheduling/policy';
import { migrateSql } from './sql-schema';

export type AccountConfig = Pick<
  Account,
  | 'id'
  | 'provider'
  | 'authKind'
  | 'baseUrl'
  | 'credentialsEnc'
  | 'credentialGeneration'
  | 'modelMapping'
  | 'maxConcurrency'
  | 'enabled'
  | 'disabledReason'
>;

/** What a GroupGate learns about an account's load with every answer, to rank it next time. */
export interface AccountLoad {
  inUse: number;
  max: number;
  /** 1 when healthy, falling towards 0 with consecutive failures. */
  health: number;
  /** Cooling down or disabled until this time (ms); null when available. */
  unavailableUntil: number | null;
  /** A subscription's most used live usage window (0–100); null without windows. */
  windowUsedPercent?: number | null;
  /**
   * Near a window's limit (headroom, WINDOW_HEADROOM_PERCENT) until this time (ms): the reset of
   * the latest such window. Null when every window has room.
   */
  nearLimitUntil?: number | null;
}

/**
 * At or one short of its concurrency limit: the next request may have to wait for a slot, so a
 * lease held here is released promptly rather than batched (worker/relay/outbox.ts).
 */
export function nearFull(load: AccountLoad): boolean {
  return load.inUse >= load.max - 1;
}

export type RefusalReason =
  | 'not_found'
  | 'disabled'
  | 'cooling_down'
  | 'at_capacity'
  | 'cancelled'
  /** A direct lease asked under a group's outdated rules (see acquireDirect). */
  | 'stale_plan';

/**
 * What a cooldown follows, for the client's error: the provider's rate limit (a 429), its own
 * overload (529, 503 overloaded), or the account failing (5xx, timeouts, connection failures,
 * rejected credentials).
 */
export type CooldownCause = 'rate_limited' | 'overloaded' | 'failing';

export interface Refusal {
  ok: false;
  reason: RefusalReason;
  /** For `cooling_down`: why. Absent for a cooldown recorded before causes were. */
  cause?: CooldownCause;
  message: string;
  retryAfterMs: number | null;
  load: AccountLoad | null;
}

export type AcquireResult = { ok: true; account: UpstreamAccount; load: AccountLoad } | Refusal;

export interface AcquireRequest {
  accountId: string;
  leaseId: string;
  ttlMs: number;
  /** 0: refuse at once when full; otherwise wait this long in the fair queue. */
  waitMs: number;
}

/** A lease asked straight from a worker, under the group's rules of a version the GroupGate gave. */
export interface DirectAcquireRequest {
  groupId: string;
  version: number;
  accountId: string;
  leaseId: string;
  ttlMs: number;
}

export type AttemptReport =
  | { ok: true; firstByteMs: number | null; windows?: UsageWindow[] }
  | { ok: false; failure: UpstreamFailure; windows?: UsageWindow[] };

/**
 * What ending leases did: the account's load, and for each lease whose answer reported the plan's
 * usage window, that answer's share of the window (ppm; worker/oauth/windows.ts windowShare).
 */
export interface Released {
  load: AccountLoad;
  windowPpm: Record<string, number>;
}

/** One lease to end, with how its attempt went (none: the client left before an answer). */
export interface LeaseRelease {
  leaseId: string;
  report?: AttemptReport;
  health?: HealthPolicy;
}

interface Lease {
  expiresAt: number;
  /** When the request holding it last showed it was alive (grant or renewal; load time after a restart). */
  seenAt: number;
}

interface Health {
  cooldownUntil: number | null;
  cooldownReason: string | null;
  cooldownCause: CooldownCause | null;
  /** Set when repeated auth failures disabled the account; cleared by reset() or a good probe(). */
  autoDisabledReason: string | null;
  consecutiveFailures: number;
  consecutiveServerFailures: number;
  consecutiveAuthFailures: number;
  latencyEwmaMs: number | null;
  recentErrors: { at: number; kind: UpstreamFailure['kind']; status: number | null }[];
  lastSuccessAt: number | null;
  /** When the latest cooldowns started, for the repeated-cooldowns alert. */
  cooldownsAt: number[];
  /** A subscription's usage windows, as its latest response reported them. */
  windows: UsageWindow[];
  /** The plan window's highest reading this period: each response's share is measured from it. */
  windowMark: WindowMark | null;
  /** A subscription's sign-in: when its access token expires, the last refresh and its error. */
  oauth: OAuthStatus | null;
}

export interface OAuthStatus {
  expiresAt: number | null;
  refreshedAt: number | null;
  lastRefreshError: string | null;
}

export interface AccountState extends AccountLoad {
  // Always set in a state: the API documents them as present (null when there is none).
  windowUsedPercent: number | null;
  nearLimitUntil: number | null;
  accountId: string | null;
  enabled: boolean;
  /** Why the account cannot serve right now, in words; null when it can. */
  reason: string | null;
  queued: number;
  leases: { leaseId: string; expiresAt: number; seenAt: number }[];
  health: number;
  cooldownUntil: number | null;
  consecutiveFailures: number;
  latencyEwmaMs: number | null;
  recentErrors: Health['recentErrors'];
  lastSuccessAt: number | null;
  windows: UsageWindow[];
  oauth: OAuthStatus | null;
}

interface Waiter {
  request: AcquireRequest;
  resolve: (result: AcquireResult) => void;
  timer: ReturnType<typeof setTimeout>;
}

const SCHEMA = [
  `CREATE TABLE leases (lease_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
   CREATE TABLE config (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), json TEXT NOT NULL);`,
  `CREATE TABLE health (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), json TEXT NOT NULL);`,
  `CREATE TABLE plan_versions (group_id TEXT PRIMARY KEY, version INTEGER NOT NULL);`,
] as const;

const RECENT_ERRORS = 20;
/** Window shares remembered by lease, so a retried release gets the same answer. */
const RECENT_SHARES = 1024;
const QUEUE_LIMIT = 512;
/** How long a release of a lease not (yet) granted is remembered, and how many at most. */
const WITHDRAWN_TTL_MS = 60_000;
const WITHDRAWN_LIMIT = 4096;
const LATENCY_ALPHA = 0.2;
const SUCCESS_SAVE_INTERVAL_MS = 60_000;

function freshHealth(): Health {
  return {
    cooldownUntil: null,
    cooldownReason: null,
    cooldownCause: null,
    autoDisabledReason: null,
    consecutiveFailures: 0,
    consecutiveServerFailures: 0,
    consecutiveAuthFailures: 0,
    latencyEwmaMs: null,
    recentErrors: [],
    lastSuccessAt: null,
    cooldownsAt: [],
    windows: [],
    windowMark: null,
    oauth: null,
  };
}

type RefreshOutcome = { ok: true } | { ok: false; message: string };

/** How long before its expiry an access token is refreshed. */
const REFRESH_SKEW_MS = 5 * 60_000;
/** How long a token must still be valid to be handed out while its refresh runs in the background. */
const VALID_MARGIN_MS = 10_000;
/** Transient refresh failures: tries in all, and the first pause (doubling). */
const REFRESH_ATTEMPTS = 3;
const REFRESH_BACKOFF_MS = 250;

/** The account's D1 row, while its credential is still of the generation `from` holds. */
function onGeneration(accountId: string, from: AccountConfig) {
  return and(eq(accounts.id, accountId), eq(accounts.credentialGeneration, from.credentialGeneration));
}

function upstreamOf(config: AccountConfig): UpstreamAccount {
  return {
    id: config.id,
    provider: config.provider,
    authKind: config.authKind,
    baseUrl: config.baseUrl,
    credentialsEnc: config.credentialsEnc,
    modelMapping: config.modelMapping,
  };
}

/** The longest cooldown an account can be given, whatever a policy or an upstream says. */
const MAX_COOLDOWN_MS = 7 * 86_400_000;

const clock = (ms: number) => `${new Date(ms).toISOString().slice(11, 19)} UTC`;

export class AccountGate extends DurableObject<Env> {
  private config: AccountConfig | null = null;
  private health: Health = freshHealth();
  /** When a success last reached storage (`record`); 0 after a (re)start, so the first is written. */
  private successSavedAt = 0;
  /** Mirror of the leases table, so checks need no query. */
  private readonly leases = new Map<string, Lease>();
  private readonly waiters: Waiter[] = [];
  private alarmAt: number | null = null;
  private loading: Promise<AccountConfig | null> | null = null;
  /**
   * The one token refresh in flight and the credential it started from (single flight: everyone
   * who needs that credential refreshed waits on it).
   */
  private refreshing: { from: string; outcome: Promise<RefreshOutcome> } | null = null;
  /** How many refreshes this instance ran (tests count them). */
  refreshes = 0;
  /** The latest leases' window shares (a release retried after a lost answer finds its own). */
  private readonly shares = new Map<string, number>();
  /** The window mark moved: saved once per release call, not once per lease. */
  private markMoved = false;
  /** Each group's version of its rules for direct leases, as its GroupGate last said. */
  private readonly planVersions = new Map<string, number>();
  /** Leases released before they were granted (their client left mid-admission), until when. */
  private readonly withdrawn = new Map<string, number>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const sql = ctx.storage.sql;
      migrateSql(sql, SCHEMA);
      const stored = sql.exec<{ json: string }>('SELECT json FROM config').toArray()[0];
      // A copy stored before credentials had generations is of the first one.
      if (stored) {
        const config = JSON.parse(stored.json) as AccountConfig;
        this.config = { ...config, credentialGeneration: config.credentialGeneration ?? 0 };
      }
      const health = sql.exec<{ json: string }>('SELECT json FROM health').toArray()[0];
      if (health) this.health = { ...freshHealth(), ...(JSON.parse(health.json) as Partial<Health>) };
      const now = Date.now();
      for (const row of sql.exec<{ lease_id: string; expires_at: number }>('SELECT * FROM leases')) {
        this.leases.set(row.lease_id, { expiresAt: row.expires_at, seenAt: now });
      }
      for (const row of sql.exec<{ group_id: string; version: number }>('SELECT * FROM plan_versions'))
        this.planVersions.set(row.group_id, row.version);
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** Takes a concurrency lease if the account can serve, waiting in a fair queue when it is full. */
  async acquire(request: AcquireRequest, recheck?: () => Refusal | null): Promise<AcquireResult> {
    let config = this.config ?? (await this.loadConfig(request.accountId));
    if (!config) {
      return {
        ok: false,
        reason: 'not_found',
        message: 'account does not exist',
        retryAfterMs: null,
        load: null,
      };
    }
    // A subscription's access token is refreshed (once, for everyone) before it is handed out.
    if (isOAuthKind(config.provider) && config.enabled) {
      const refusal = await this.ensureFresh(config);
      if (refusal) return refusal;
      config = this.config!;
    }
    // What held before the awaits above may not hold now.
    const refused = recheck?.();
    if (refused) return refused;
    // Nothing below awaits before the lease is written: check and write are one atomic step.
    const now = Date.now();
    if (this.withdrawn.has(request.leaseId)) {
      return this.refuse('cancelled', 'the request was withdrawn', null, now);
    }
    this.reap(now);
    const refusal = this.unavailability(config, now);
    if (refusal) return refusal;
    if (this.leases.size < config.maxConcurrency && this.waiters.length === 0)
      return this.grant(config, request, now);
    if (request.waitMs <= 0 || this.waiters.length >= QUEUE_LIMIT) return this.full(config);
    return new Promise<AcquireResult>((resolve) => {
      const waiter: Waiter = {
        request,
        resolve,
        timer: setTimeout(() => {
          const at = this.waiters.indexOf(waiter);
          if (at !== -1) this.waiters.splice(at, 1);
          resolve(this.full(config));
        }, request.waitMs),
      };
      this.waiters.push(waiter);
    });
  }

  /**
   * A lease asked by a worker straight from a GroupGate's earlier admission (a plain carpool key:
   * no limits, budgets or pending rule changes), one Durable Object call instead of two. It is
   * granted only under the group's current rules: the GroupGate bumps the version here before any
   * change to them (a revocation, a rule, a budget, the account) takes effect, and a lease asked
   * under an older one is refused `stale_plan`, the worker then asking the GroupGate. It never
   * waits: a full account is the GroupGate's to queue for.
   */
  async acquireDirect(request: DirectAcquireRequest): Promise<AcquireResult> {
    const current = () => this.planVersions.get(request.groupId) === request.version;
    if (!current()) return this.stalePlan();
    return this.acquire({ ...request, waitMs: 0 }, () => (current() ? null : this.stalePlan()));
  }

  /** The GroupGate's current version of its group's rules for direct leases. */
  setPlanVersion(groupId: string, version: number): void {
    this.planVersions.set(groupId, version);
    this.write('INSERT OR REPLACE INTO plan_versions (group_id, version) VALUES (?, ?)', groupId, version);
  }

  private stalePlan(): Refusal {
    return this.refuse('stale_plan', "the group's rules changed", null, Date.now());
  }

  /** Ends a lease and records how the attempt went. Idempotent. */
  release(leaseId: string, report?: AttemptReport, policy?: HealthPolicy): AccountLoad {
    this.end({ leaseId, report, health: policy });
    this.saveMark();
    this.serveWaiters();
    return this.load(Date.now());
  }

  /**
   * Ends many leases in one call (a worker's batch of settlements), answering each one's share of
   * the plan's usage window: the settlement puts it in the request's usage event.
   */
  releaseMany(releases: LeaseRelease[]): Released {
    const windowPpm: Record<string, number> = {};
    for (const release of releases) {
      const ppm = this.end(release);
      if (ppm !== null) windowPpm[release.leaseId] = ppm;
    }
    this.saveMark();
    this.serveWaiters();
    return { load: this.load(Date.now()), windowPpm };
  }

  /** A live request says it still holds its lease: the lease lives another TTL. */
  renew(leaseId: string): boolean {
    const lease = this.leases.get(leaseId);
    if (!lease) return false;
    const now = Date.now();
    lease.seenAt = now;
    lease.expiresAt = now + Number(this.env.LEASE_TTL_MS);
    this.write('UPDATE leases SET expires_at = ? WHERE lease_id = ?', lease.expiresAt, leaseId);
    this.scheduleAlarm(lease.expiresAt);
    return true;
  }

  /** Ends one lease; its answer's share of the plan window, or null when it reported none. */
  private end({ leaseId, report, health }: LeaseRelease): number | null {
    // Only the first release of a lease counts its outcome: a failover that already reported a
    // failure and the request's final settlement must not count it twice.
    if (this.leases.delete(leaseId)) {
      this.write('DELETE FROM leases WHERE lease_id = ?', leaseId);
      const ppm = report?.windows?.length ? this.attribute(leaseId, report.windows) : null;
      if (report) this.record(report, health);
      return ppm;
    }
    const known = this.shares.get(leaseId);
    if (known !== undefined) return known;
    // A request that left while it waited in the queue: its place goes to the next one.
    const at = this.waiters.findIndex((w) => w.request.leaseId === leaseId);
    if (at !== -1) {
      const [waiter] = this.waiters.splice(at, 1);
      clearTimeout(waiter!.timer);
      waiter!.resolve(this.refuse('cancelled', 'the request was withdrawn', null, Date.now()));
      return null;
    }
    // Not granted yet: a worker whose client left while its direct lease was being asked may
    // release before the ask arrives. Remembered, so that the ask is refused when it comes.
    const now = Date.now();
    if (this.withdrawn.size >= WITHDRAWN_LIMIT) {
      for (const [id, until] of this.withdrawn) if (until <= now) this.withdrawn.delete(id);
      if (this.withdrawn.size >= WITHDRAWN_LIMIT) this.withdrawn.clear();
    }
    this.withdrawn.set(leaseId, now + WITHDRAWN_TTL_MS);
    return null;
  }

  /**
   * This answer's share of the plan's window: the rise since the previous report of the same
   * period. The gate sees every answer of the account in the order they are released, so the
   * shares of a period add up to the window's rise over it.
   */
  private attribute(leaseId: string, windows: UsageWindow[]): number | null {
    const reading = planWindow(windows);
    if (!reading) return null;
    const { ppm, mark } = windowShare(this.health.windowMark, reading);
    if (mark !== this.health.windowMark) {
      this.health.windowMark = mark;
      this.markMoved = true;
    }
    if (this.shares.size >= RECENT_SHARES) this.shares.delete(this.shares.keys().next().value!);
    this.shares.set(leaseId, ppm);
    return ppm;
  }

  private saveMark(): void {
    if (this.markMoved) this.saveHealth();
  }

  /** The admin API pushes every account change here, so the gate never serves stale settings. */
  async configure(config: AccountConfig): Promise<void> {
    if (isOAuthKind(config.provider)) config = await this.keepNewerTokens(config);
    this.config = config;
    this.write('INSERT OR REPLACE INTO config (singleton, json) VALUES (1, ?)', JSON.stringify(config));
    this.serveWaiters();
  }

  /**
   * Operator reset: forget cooldowns, failure counts and an automatic disable, and free the leases
   * whose requests are provably gone. A live request renews its lease every third of the TTL, so a
   * lease unseen for two thirds of it has missed two renewals: its request no longer exists.
   */
  reset(): AccountState {
    if (this.health.autoDisabledReason) this.alert({ kind: 'recovered', how: 'reset by an operator' });
    // The window mark is not health: forgetting it would lose the next answer's share.
    this.health = { ...freshHealth(), windowMark: this.health.windowMark };
    this.saveHealth();
    const now = Date.now();
    const gone = now - (2 * Number(this.env.LEASE_TTL_MS)) / 3;
    for (const [leaseId, lease] of this.leases) {
      if (lease.seenAt < gone) {
        this.leases.delete(leaseId);
        this.write('DELETE FROM leases WHERE lease_id = ?', leaseId);
      }
    }
    this.serveWaiters();
    return this.state();
  }

  /**
   * Asks the upstream whether the credential works (worker/providers/probe.ts). A good answer lifts an
   * automatic disable; a bad one is recorded like any other failure.
   */
  async probe(): Promise<{ ok: boolean; status: number | null; state: AccountState }> {
    let config = this.config;
    if (!config) return { ok: false, status: null, state: this.state() };
    let status: number | null = null;
    try {
      // A subscription's tokens are made fresh first, as for a request: an access token that
      // lapsed while the account was idle or disabled says nothing about the sign-in.
      const oauth = isOAuthKind(config.provider);
      if (oauth) {
        await this.ensureFresh(config);
        config = this.config!;
      }
      const ask = (sealed: string) =>
        decryptCredential(this.env.CREDENTIALS_KEY, config!.id, sealed).then((credential) =>
          probeUpstream(config!, credential),
        );
      status = await ask(config.credentialsEnc);
      // Refused: the provider may have ended the token early; one refresh and one more try, as requests do.
      if (oauth && status === 401) {
        const renewed = await this.refreshAfterRejection(config.credentialsEnc);
        if (renewed) {
          config = this.config!;
          status = await ask(renewed.credentialsEnc);
        }
      }
    } catch {
      status = null;
    }
    const ok = status !== null && status < 400;
    if (ok) {
      if (this.health.autoDisabledReason) this.alert({ kind: 'recovered', how: 'a probe succeeded' });
      this.health.autoDisabledReason = null;
      this.health.consecutiveAuthFailures = 0;
      this.health.cooldownUntil = null;
      this.health.cooldownReason = null;
      this.health.cooldownCause = null;
      this.saveHealth();
      this.serveWaiters();
    }
    return { ok, status, state: this.state() };
  }

  state(): AccountState {
    const now = Date.now();
    this.reap(now);
    const config = this.config;
    return {
      ...this.load(now),
      accountId: config?.id ?? null,
      enabled: config?.enabled ?? false,
      reason: config
        ? (this.unavailability(config, now)?.message ?? this.capacityReason(config))
        : 'not configured',
      queued: this.waiters.length,
      leases: [...this.leases].map(([leaseId, l]) => ({ leaseId, expiresAt: l.expiresAt, seenAt: l.seenAt })),
      cooldownUntil: this.health.cooldownUntil,
      consecutiveFailures: this.health.consecutiveFailures,
      latencyEwmaMs: this.health.latencyEwmaMs,
      recentErrors: this.health.recentErrors,
      lastSuccessAt: this.health.lastSuccessAt,
      windows: this.health.windows,
      oauth: this.health.oauth,
    };
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    this.reap(now);
    let next = Number.POSITIVE_INFINITY;
    for (const lease of this.leases.values()) next = Math.min(next, lease.expiresAt);
    if (Number.isFinite(next)) this.scheduleAlarm(next);
    // A cooldown ending frees queued requests even if no lease is released meanwhile.
    if (this.health.cooldownUntil !== null && this.health.cooldownUntil > now) {
      this.scheduleAlarm(this.health.cooldownUntil);
    }
    const exhausted = exhaustedFor(this.health.windows, now);
    if (exhausted !== null) this.scheduleAlarm(now + exhausted);
    this.serveWaiters();
  }

  private grant(config: AccountConfig, request: AcquireRequest, now: number): AcquireResult {
    const expiresAt = now + request.ttlMs;
    this.leases.set(request.leaseId, { expiresAt, seenAt: now });
    // Committed before the grant is answered: a lease survives an eviction or a crash.
    this.write(
      'INSERT OR REPLACE INTO leases (lease_id, expires_at) VALUES (?, ?)',
      request.leaseId,
      expiresAt,
    );
    this.scheduleAlarm(expiresAt);
    return { ok: true, account: upstreamOf(config), load: this.load(now) };
  }

  /** Hands freed slots to queued requests in arrival order. */
  private serveWaiters(): void {
    const config = this.config;
    if (!config) return;
    const now = Date.now();
    while (this.waiters.length > 0) {
      const refusal = this.unavailability(config, now);
      if (!refusal && this.leases.size >= config.maxConcurrency) return;
      const waiter = this.waiters.shift()!;
      clearTimeout(waiter.timer);
      waiter.resolve(refusal ?? this.grant(config, waiter.request, now));
    }
  }

  private unavailability(config: AccountConfig, now: number): Refusal | null {
    if (!config.enabled) {
      return this.refuse('disabled', `disabled: ${config.disabledReason ?? 'by an operator'}`, null, now);
    }
    if (this.health.autoDisabledReason) {
      return this.refuse('disabled', this.health.autoDisabledReason, null, now);
    }
    const until = this.health.cooldownUntil;
    if (until !== null && until > now) {
      const refusal = this.refuse(
        'cooling_down',
        this.health.cooldownReason ?? `cooling down until ${clock(until)}`,
        until - now,
        now,
      );
      const cause = this.health.cooldownCause;
      return cause ? { ...refusal, cause } : refusal;
    }
    const exhausted = this.exhaustedWindow(now);
    if (exhausted) {
      const refusal = this.refuse(
        'cooling_down',
        `usage window ${exhausted.name} used up (${exhausted.usedPercent}%) until ${clock(exhausted.resetAt!)}`,
        exhausted.resetAt! - now,
        now,
      );
      return { ...refusal, cause: 'rate_limited' };
    }
    return null;
  }

  /** The exhausted window that resets last, if any is exhausted now. */
  private exhaustedWindow(now: number): UsageWindow | null {
    let last: UsageWindow | null = null;
    for (const w of this.health.windows) {
      if (!w.exhausted || w.resetAt === null || w.resetAt <= now) continue;
      if (!last || w.resetAt > last.resetAt!) last = w;
    }
    return last;
  }

  private full(config: AccountConfig): Refusal {
    return this.refuse('at_capacity', this.capacityReason(config) ?? 'at capacity', 1000, Date.now());
  }

  private capacityReason(config: AccountConfig): string | null {
    return this.leases.size >= config.maxConcurrency
      ? `at ${this.leases.size}/${config.maxConcurrency} concurrent requests`
      : null;
  }

  private refuse(reason: RefusalReason, message: string, retryAfterMs: number | null, now: number): Refusal {
    return { ok: false, reason, message, retryAfterMs, load: this.load(now) };
  }

  private load(now: number): Required<AccountLoad> {
    const config = this.config;
    const blocked = !config?.enabled || this.health.autoDisabledReason !== null;
    const cooling = this.health.cooldownUntil !== null && this.health.cooldownUntil > now;
    const windowUntil = this.exhaustedWindow(now)?.resetAt ?? null;
    const until = Math.max(cooling ? this.health.cooldownUntil! : 0, windowUntil ?? 0);
    let windowUsedPercent: number | null = null;
    let nearLimitUntil: number | null = null;
    for (const w of this.health.windows) {
      if (w.resetAt !== null && w.resetAt <= now) continue; // reset since: the window starts over
      windowUsedPercent = Math.max(windowUsedPercent ?? 0, w.usedPercent);
      if (w.usedPercent >= WINDOW_HEADROOM_PERCENT)
        nearLimitUntil = Math.max(nearLimitUntil ?? 0, w.resetAt ?? Number.MAX_SAFE_INTEGER);
    }
    return {
      inUse: this.leases.size,
      max: config?.maxConcurrency ?? 0,
      health: 1 / (1 + this.health.consecutiveFailures),
      unavailableUntil: blocked ? Number.MAX_SAFE_INTEGER : until > 0 ? until : null,
      windowUsedPercent,
      nearLimitUntil,
    };
  }

  private record(report: AttemptReport, policy: HealthPolicy | undefined): void {
    const h = this.health;
    const now = Date.now();
    const windowsChanged = report.windows?.length ? this.updateWindows(report.windows, now) : false;
    if (windowsChanged) this.saveHealth();
    if (report.ok) {
      const hadFailures = h.consecutiveFailures > 0 || h.consecutiveAuthFailures > 0;
      h.consecutiveFailures = 0;
      h.consecutiveServerFailures = 0;
      h.consecutiveAuthFailures = 0;
      h.lastSuccessAt = now;
      if (report.firstByteMs !== null) {
        h.latencyEwmaMs =
          h.latencyEwmaMs === null
            ? report.firstByteMs
            : Math.round(h.latencyEwmaMs + LATENCY_ALPHA * (report.firstByteMs - h.latencyEwmaMs));
      }
      // Successes are frequent: a change of state is written at once, the last success and the
      // latency at most once a minute, so that the health page still has them after an eviction.
      if (hadFailures || now - this.successSavedAt >= SUCCESS_SAVE_INTERVAL_MS) {
        this.successSavedAt = now;
        this.saveHealth();
      }
      return;
    }
    const failure = report.failure;
    const status = 'status' in failure ? failure.status : null;
    h.consecutiveFailures++;
    h.recentErrors = [...h.recentErrors, { at: now, kind: failure.kind, status }].slice(-RECENT_ERRORS);
    if (policy) this.coolDown(failure, status, policy, now);
    this.saveHealth();
  }

  private coolDown(failure: UpstreamFailure, status: number | null, policy: HealthPolicy, now: number): void {
    const h = this.health;
    const what =
      status !== null
        ? `${status} from upstream`
        : failure.kind === 'timeout'
          ? 'an upstream timeout'
          : 'a connection failure';
    let forMs = 0;
    let cause: CooldownCause = 'failing';
    switch (failure.kind) {
      case 'rate_limited':
        forMs = failure.retryAfterMs ?? policy.rateLimitCooldownMs;
        cause = 'rate_limited';
        break;
      case 'overloaded':
        forMs = policy.overloadedCooldownMs;
        cause = 'overloaded';
        break;
      case 'server_error':
      case 'timeout':
      case 'connect_failed':
        h.consecutiveServerFailures++;
        forMs = Math.min(
          policy.maxCooldownMs,
          policy.serverErrorCooldownMs * 2 ** (h.consecutiveServerFailures - 1),
        );
        break;
      case 'auth_failed':
        h.consecutiveAuthFailures++;
        if (h.consecutiveAuthFailures >= policy.authFailuresToDisable) {
          if (!h.autoDisabledReason)
            this.alert({
              kind: 'disabled',
              reason: `disabled after ${h.consecutiveAuthFailures} consecutive ${what} (credential rejected)`,
            });
          h.autoDisabledReason = `disabled after ${h.consecutiveAuthFailures} consecutive ${what} (credential rejected); reset or probe the account`;
          return;
        }
        forMs = policy.overloadedCooldownMs;
        break;
      case 'stream_failed':
        return;
    }
    if (forMs <= 0) return;
    // A policy stored before its fields were bounded, or a retry-after from far away, never puts
    // the end of a cooldown past a week (nor past the dates a clock can show).
    forMs = Math.min(forMs, MAX_COOLDOWN_MS);
    const until = now + forMs;
    if (h.cooldownUntil === null || until > h.cooldownUntil) {
      // A cooldown starts when the account was not cooling down; extending one is the same one.
      if (h.cooldownUntil === null || h.cooldownUntil <= now) {
        h.cooldownsAt = [...h.cooldownsAt, now].slice(-RECENT_ERRORS);
        this.alert({
          kind: 'cooldown',
          reason: `cooling down ${forMs} ms after ${what}`,
          recentCooldowns: h.cooldownsAt,
        });
      }
      h.cooldownUntil = until;
      h.cooldownReason = `cooling down until ${clock(until)} after ${what}`;
      h.cooldownCause = cause;
      this.scheduleAlarm(until);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Subscription accounts: tokens and usage windows

  /**
   * The worker got a 401 with this credential: refresh, unless another request already did (then
   * the newer credential is the answer at once). Null when no working credential could be had.
   */
  async refreshAfterRejection(usedCredentialsEnc: string): Promise<UpstreamAccount | null> {
    const config = this.config;
    if (!config || !isOAuthKind(config.provider) || !config.enabled) return null;
    if (config.credentialsEnc === usedCredentialsEnc) {
      const outcome = await this.refresh(usedCredentialsEnc);
      if (!outcome.ok) return null;
    }
    const now = this.config!;
    return now.enabled ? upstreamOf(now) : null;
  }

  /** Refreshes first when the access token expires within the skew; a refusal when none works. */
  private async ensureFresh(config: AccountConfig): Promise<Refusal | null> {
    const tokens = await this.tokensOf(config);
    if (!tokens) return null; // unreadable: the upstream's 401 will say so
    const now = Date.now();
    if (this.health.oauth?.expiresAt !== tokens.expiresAt)
      this.health.oauth = { ...this.oauthStatus(), expiresAt: tokens.expiresAt };
    // Short-lived tokens are refreshed at half their life, not five minutes before the end.
    const life = tokens.expiresAt - tokens.obtainedAt;
    const skew = Math.min(REFRESH_SKEW_MS, life / 2);
    if (tokens.expiresAt - now > skew) return null;
    // Still good for this request: it goes now and the refresh runs behind it (once, for everyone).
    // Awaiting it would hold every request for as long as a struggling token endpoint takes (up
    // to three tries of fifteen seconds), though the token in hand works.
    if (tokens.expiresAt - now > Math.min(VALID_MARGIN_MS, life / 8)) {
      this.ctx.waitUntil(this.refresh(config.credentialsEnc));
      return null;
    }
    const outcome = await this.refresh(config.credentialsEnc);
    if (outcome.ok || tokens.expiresAt > Date.now()) return this.unavailability(this.config!, Date.now());
    // The token is dead and no new one could be had yet: the account is failing, not rate limited.
    // The token endpoint's words stay with the operator (state().oauth.lastRefreshError).
    const failing: Refusal = {
      ...this.refuse('cooling_down', 'its sign-in could not be refreshed just now', 5000, now),
      cause: 'failing',
    };
    return this.unavailability(this.config!, Date.now()) ?? failing;
  }

  /**
   * Single flight: one refresh at a time; whoever asks meanwhile for the same credential waits on
   * the same one. A refresh of another credential (a sign-in since) starts after it.
   */
  private refresh(fromCredentialsEnc: string): Promise<RefreshOutcome> {
    if (this.refreshing?.from === fromCredentialsEnc) return this.refreshing.outcome;
    const before = this.refreshing?.outcome ?? Promise.resolve();
    const run = () => this.runRefresh(fromCredentialsEnc);
    const outcome: Promise<RefreshOutcome> = before.then(run, run).finally(() => {
      if (this.refreshing?.outcome === outcome) this.refreshing = null;
    });
    this.refreshing = { from: fromCredentialsEnc, outcome };
    return outcome;
  }

  /**
   * The gate no longer holds the credential a refresh started from: someone signed the account in
   * again (or gave it a newer credential) while the refresh was out. Whatever the token endpoint
   * answered for the old grant, tokens or a refusal, is not the account's any more.
   */
  private superseded(fromCredentialsEnc: string): boolean {
    return this.config?.credentialsEnc !== fromCredentialsEnc;
  }

  private async runRefresh(fromCredentialsEnc: string): Promise<RefreshOutcome> {
    const config = this.config;
    if (!config || !isOAuthKind(config.provider)) return { ok: false, message: 'not an OAuth account' };
    // Another refresh or a sign-in since the caller read the credential: nothing to do.
    if (this.superseded(fromCredentialsEnc)) return { ok: true };
    const current = await this.tokensOf(config);
    if (!current) return { ok: false, message: 'the stored credential is not an OAuth credential' };
    const settings = oauthConfig(this.env, config.provider);
    let message = 'token refresh failed';
    for (let attempt = 0; attempt < REFRESH_ATTEMPTS; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, REFRESH_BACKOFF_MS * 2 ** (attempt - 1)));
      if (this.superseded(fromCredentialsEnc)) return { ok: true };
      this.refreshes++;
      const result = await refreshTokens(config.provider, settings, current);
      // The answer came back to a gate that was signed in again meanwhile: dropped, neither
      // stored nor counted against the account (the new sign-in may have revoked the old grant).
      if (this.superseded(fromCredentialsEnc)) return { ok: true };
      if (result.ok) {
        await this.storeTokens(result.credential, config);
        return { ok: true };
      }
      message = `token refresh failed: ${result.message}`;
      if (result.permanent) {
        // Not disabled after all when a newer sign-in turned up: that one is the answer.
        return (await this.revokeGrant(result.message, config)) ? { ok: false, message } : { ok: true };
      }
    }
    // Transient: the refresh token was not consumed; the account stays, and the next need retries.
    if (this.superseded(fromCredentialsEnc)) return { ok: true };
    this.health.oauth = { ...this.oauthStatus(), lastRefreshError: message };
    this.saveHealth();
    return { ok: false, message };
  }

  /**
   * The rotated tokens are written to this gate's storage and to D1 before anyone can use them:
   * a refresh token is single-use at some providers, and the one just spent is worthless. Both
   * writes are compare-and-set against the credential the refresh started from (`from`): here its
   * ciphertext, in D1 its generation, since D1 may have a sign-in the gate has not been told of yet.
   */
  private async storeTokens(tokens: OAuthCredential, from: AccountConfig): Promise<void> {
    const config = this.config!;
    const sealed = await encryptCredential(this.env.CREDENTIALS_KEY, config.id, JSON.stringify(tokens));
    if (this.superseded(from.credentialsEnc)) return;
    this.config = { ...this.config!, credentialsEnc: sealed };
    this.write('INSERT OR REPLACE INTO config (singleton, json) VALUES (1, ?)', JSON.stringify(this.config));
    this.health.oauth = {
      expiresAt: tokens.expiresAt,
      refreshedAt: tokens.obtainedAt,
      lastRefreshError: null,
    };
    this.saveHealth();
    try {
      const written = await db(this.env)
        .update(accounts)
        .set({ credentialsEnc: sealed, updatedAt: Date.now() })
        .where(onGeneration(config.id, from))
        .returning({ id: accounts.id });
      if (written.length === 0) await this.adoptNewerSignIn(config.id);
    } catch (error) {
      // The gate's copy is the newer one and wins over a stale push (keepNewerTokens).
      console.error('could not save refreshed tokens to D1', { accountId: config.id, error: String(error) });
    }
  }

  /**
   * The provider no longer honours the grant: the account is disabled until someone signs in again.
   * Compare-and-set like storeTokens: a new sign-in is not disabled for its old grant's refusal.
   * False when one was found instead (the account stays enabled); true when it is disabled.
   */
  private async revokeGrant(why: string, from: AccountConfig): Promise<boolean> {
    if (this.superseded(from.credentialsEnc)) return false;
    const reason = `sign-in revoked or expired (${why}); sign in to the provider again`;
    const config = this.config!;
    this.config = { ...config, enabled: false, disabledReason: reason };
    this.write('INSERT OR REPLACE INTO config (singleton, json) VALUES (1, ?)', JSON.stringify(this.config));
    const status = this.oauthStatus();
    this.health.oauth = { ...status, lastRefreshError: reason };
    this.saveHealth();
    try {
      const written = await db(this.env)
        .update(accounts)
        .set({ enabled: false, disabledReason: reason, updatedAt: Date.now() })
        .where(onGeneration(config.id, from))
        .returning({ id: accounts.id });
      if (written.length === 0) {
        // Signed in again in D1 before the gate heard of it: that sign-in stands.
        this.health.oauth = status;
        this.saveHealth();
        if (await this.adoptNewerSignIn(config.id)) return false;
      }
    } catch (error) {
      console.error('could not disable account', { accountId: config.id, error: String(error) });
    }
    this.alert({ kind: 'disabled', reason });
    this.serveWaiters();
    return true;
  }

  /**
   * D1 holds a newer sign-in than the one a refresh started from, and its push has not reached
   * this gate (it is on its way, or it failed): the gate takes it from D1 now.
   */
  private async adoptNewerSignIn(accountId: string): Promise<boolean> {
    const row = await this.selectConfig(accountId);
    if (!row || row.credentialGeneration <= (this.config?.credentialGeneration ?? 0)) return false;
    await this.configure(row);
    return true;
  }

  private oauthStatus(): OAuthStatus {
    return this.health.oauth ?? { expiresAt: null, refreshedAt: null, lastRefreshError: null };
  }

  private async tokensOf(config: AccountConfig): Promise<OAuthCredential | null> {
    try {
      const text = await decryptCredential(this.env.CREDENTIALS_KEY, config.id, config.credentialsEnc);
      return parseOAuthCredential(text);
    } catch {
      return null;
    }
  }

  /**
   * A push from the admin API carries D1's copy of the credential, which may predate a refresh this
   * gate made. A later sign-in (a higher generation) always wins, however recent the old grant's
   * last refresh; within one sign-in, the tokens obtained later are kept.
   */
  private async keepNewerTokens(pushed: AccountConfig): Promise<AccountConfig> {
    for (;;) {
      const mine = this.config;
      if (!mine || mine.id !== pushed.id || mine.credentialsEnc === pushed.credentialsEnc) return pushed;
      const [ours, theirs] = await Promise.all([this.tokensOf(mine), this.tokensOf(pushed)]);
      // A refresh may have landed while these were decrypted: compare again with the latest.
      if (this.config !== mine) continue;
      const keepOurs =
        mine.credentialGeneration !== pushed.credentialGeneration
          ? mine.credentialGeneration > pushed.credentialGeneration
          : ours !== null && (!theirs || ours.obtainedAt > theirs.obtainedAt);
      if (keepOurs)
        return {
          ...pushed,
          credentialsEnc: mine.credentialsEnc,
          credentialGeneration: mine.credentialGeneration,
        };
      if (theirs)
        this.health.oauth = {
          expiresAt: theirs.expiresAt,
          refreshedAt: theirs.obtainedAt,
          lastRefreshError: null,
        };
      return pushed;
    }
  }

  /** Keeps the latest reading of each window; true when it changed enough to be worth a write. */
  private updateWindows(reported: UsageWindow[], now: number): boolean {
    let changed = false;
    const byName = new Map(this.health.windows.map((w) => [w.name, w]));
    for (const w of reported) {
      const before = byName.get(w.name);
      if (
        !before ||
        before.exhausted !== w.exhausted ||
        Math.abs(before.usedPercent - w.usedPercent) >= 1 ||
        Math.abs((before.resetAt ?? 0) - (w.resetAt ?? 0)) > 60_000
      )
        changed = true;
      byName.set(w.name, w);
    }
    this.health.windows = [...byName.values()];
    const exhausted = exhaustedFor(this.health.windows, now);
    // The account comes back by itself at the reset: queued requests are served then.
    if (exhausted !== null) this.scheduleAlarm(now + exhausted);
    return changed;
  }

  /** Tells the alert rules, off the request's path. */
  private alert(event: AccountHealthEvent): void {
    const accountId = this.config?.id;
    if (!accountId) return;
    this.ctx.waitUntil(
      accountAlert(this.env, accountId, event).catch((error) =>
        console.error('account alert failed', { accountId, kind: event.kind, error: String(error) }),
      ),
    );
  }

  private saveHealth(): void {
    this.markMoved = false;
    this.write('INSERT OR REPLACE INTO health (singleton, json) VALUES (1, ?)', JSON.stringify(this.health));
  }

  private write(query: string, ...bindings: (string | number | null)[]): void {
    metrics.storageWrites++;
    this.ctx.storage.sql.exec(query, ...bindings);
  }

  private reap(now: number): void {
    let freed = false;
    for (const [leaseId, lease] of this.leases) {
      if (lease.expiresAt <= now) {
        this.leases.delete(leaseId);
        this.write('DELETE FROM leases WHERE lease_id = ?', leaseId);
        freed = true;
      }
    }
    if (freed) queueMicrotask(() => this.serveWaiters());
  }

  private scheduleAlarm(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at && this.alarmAt > Date.now()) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  // Single flight: concurrent first requests share one D1 read.
  private loadConfig(accountId: string): Promise<AccountConfig | null> {
    this.loading ??= this.readConfig(accountId).finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async readConfig(accountId: string): Promise<AccountConfig | null> {
    const row = await this.selectConfig(accountId);
    if (row && !this.config) await this.configure(row);
    return this.config;
  }

  private async selectConfig(accountId: string): Promise<AccountConfig | null> {
    const [row] = await db(this.env)
      .select({
        id: accounts.id,
        provider: accounts.provider,
        authKind: accounts.authKind,
        baseUrl: accounts.baseUrl,
        credentialsEnc: accounts.credentialsEnc,
        credentialGeneration: accounts.credentialGeneration,
        modelMapping: accounts.modelMapping,
        maxConcurrency: accounts.maxConcurrency,
        enabled: accounts.enabled,
        disabledReason: accounts.disabledReason,
      })
      .from(accounts)
      .where(eq(accounts.id, accountId));
    return row ?? null;
  }
}
