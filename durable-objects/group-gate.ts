// GroupGate: the strongly consistent state of one group. Admission happens here in one call from
// the worker: the key is checked against revocations and its own limits, a sticky session or the
// pool's strategy picks an account, and a concurrency lease is taken from that AccountGate.
// Failover re-admits on another account after a failed attempt.
import { DurableObject } from 'cloudflare:workers';
import type { KeyRecord } from '../worker/auth/client-key';
import type { ProviderKind, UpstreamAccount, UpstreamFailure } from '../worker/providers/types';
import type { RelayErrorKind } from '../worker/relay/dialect';
import { type GroupConfig, loadGroupConfig, type PoolAccount } from '../worker/scheduling/group-config';
import { type HealthPolicy, resolvePolicy, type SchedulingPolicy } from '../worker/scheduling/policy';
import { Ranker, supportsModel } from '../worker/scheduling/rank';
import type { AccountLoad, AcquireResult, AttemptReport } from './account-gate';
import { migrateSql } from './sql-schema';

export type KeyLimits = Pick<KeyRecord, 'maxConcurrency' | 'requestsPerWindow' | 'windowMinutes'>;

export interface AdmitRequest {
  groupId: string;
  keyId: string;
  /** Lease id of this attempt; the relay request id for the first one. */
  leaseId: string;
  model: string;
  /** Account kinds that can serve this client surface. */
  providers: ProviderKind[];
  /** Sticky-session key (see worker/relay/session.ts); null when the request carries none. */
  sessionKey: string | null;
  limits: KeyLimits;
}

export interface FailoverRequest extends AdmitRequest {
  failed: { leaseId: string; accountId: string; failure: UpstreamFailure };
  /** Accounts already tried for this request. */
  tried: string[];
}

export type Admission =
  | {
      ok: true;
      leaseId: string;
      account: UpstreamAccount;
      maxAttempts: number;
      /**
       * Where the request ends its lease: through this gate when the gate tracks it (key limits,
       * pool load), or straight at the AccountGate — one hop and no write here for the common case.
       */
      releaseVia: 'group' | 'account';
      health: HealthPolicy;
    }
  | { ok: false; kind: RelayErrorKind; message: string; retryAfterSec?: number };

export interface SessionView {
  sessionKey: string;
  accountId: string;
  expiresAt: number;
}

const SCHEMA = [
  `CREATE TABLE leases (lease_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, account_id TEXT NOT NULL,
     expires_at INTEGER NOT NULL);
   CREATE TABLE revoked_keys (key_id TEXT PRIMARY KEY);
   CREATE TABLE config (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), json TEXT NOT NULL);`,
  `CREATE TABLE sessions (session_key TEXT PRIMARY KEY, account_id TEXT NOT NULL, expires_at INTEGER NOT NULL);`,
] as const;

interface Lease {
  keyId: string;
  accountId: string;
  expiresAt: number;
}

interface Session {
  accountId: string;
  expiresAt: number;
  /** The expiry last written to storage: renewals are written only when they move it by much. */
  storedExpiresAt: number;
}

const SESSION_WRITE_SLACK_MS = 5 * 60_000;
const SESSION_LIMIT = 50_000;

export class GroupGate extends DurableObject<Env> {
  private config: GroupConfig | null = null;
  private readonly leases = new Map<string, Lease>();
  private readonly revoked = new Set<string>();
  private readonly sessions = new Map<string, Session>();
  /** Request times per key in the current rolling window. */
  private readonly windows = new Map<string, number[]>();
  private readonly loads = new Map<string, AccountLoad>();
  private readonly ranker = new Ranker();
  private alarmAt: number | null = null;
  private loading: Promise<GroupConfig | null> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const sql = ctx.storage.sql;
      migrateSql(sql, SCHEMA);
      const stored = sql.exec<{ json: string }>('SELECT json FROM config').toArray()[0];
      if (stored) this.config = JSON.parse(stored.json) as GroupConfig;
      for (const row of sql.exec<{ key_id: string }>('SELECT key_id FROM revoked_keys'))
        this.revoked.add(row.key_id);
      type LeaseRow = { lease_id: string; key_id: string; account_id: string; expires_at: number };
      for (const row of sql.exec<LeaseRow>('SELECT * FROM leases')) {
        this.leases.set(row.lease_id, {
          keyId: row.key_id,
          accountId: row.account_id,
          expiresAt: row.expires_at,
        });
      }
      type SessionRow = { session_key: string; account_id: string; expires_at: number };
      const now = Date.now();
      for (const row of sql.exec<SessionRow>('SELECT * FROM sessions')) {
        if (row.expires_at > now) {
          this.sessions.set(row.session_key, {
            accountId: row.account_id,
            expiresAt: row.expires_at,
            storedExpiresAt: row.expires_at,
          });
        }
      }
      sql.exec('DELETE FROM sessions WHERE expires_at <= ?', now);
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  async admit(request: AdmitRequest): Promise<Admission> {
    const config = this.config ?? (await this.loadConfig(request.groupId));
    if (!config)
      return { ok: false, kind: 'permission', message: 'This key belongs to a group that no longer exists.' };
    if (this.revoked.has(request.keyId)) {
      return { ok: false, kind: 'permission', message: 'This API key has been revoked.' };
    }
    const now = Date.now();
    this.reap(now);
    const limited = this.checkKeyLimits(request, now);
    if (limited) return limited;
    // Counted before any await: a concurrent admit for the same key must already see this one.
    this.countRequest(request, now);
    return this.place(config, request, new Set());
  }

  /** A failed attempt: record it on its account, then place the request on another one. */
  async failover(request: FailoverRequest): Promise<Admission> {
    const config = this.config ?? (await this.loadConfig(request.groupId));
    if (!config)
      return { ok: false, kind: 'permission', message: 'This key belongs to a group that no longer exists.' };
    await this.release(
      request.failed.leaseId,
      { ok: false, failure: request.failed.failure },
      request.failed.accountId,
    );
    return this.place(config, request, new Set(request.tried));
  }

  /**
   * Ends a request: frees the key's slot and the account lease, recording how it went. Idempotent.
   * `accountId` names the account of a lease this gate did not track.
   */
  async release(leaseId: string, report?: AttemptReport, accountId?: string): Promise<void> {
    const lease = this.leases.get(leaseId);
    this.dropLease(leaseId);
    const account = lease?.accountId ?? accountId;
    if (!account) return;
    const load = await this.accountGate(account).release(leaseId, report, this.healthPolicy());
    this.loads.set(account, load);
  }

  configure(config: GroupConfig): void {
    this.config = config;
    this.ctx.storage.sql.exec(
      'INSERT OR REPLACE INTO config (singleton, json) VALUES (1, ?)',
      JSON.stringify(config),
    );
  }

  revokeKey(keyId: string): void {
    this.revoked.add(keyId);
    this.ctx.storage.sql.exec('INSERT OR IGNORE INTO revoked_keys (key_id) VALUES (?)', keyId);
  }

  state(): { config: GroupConfig | null; leasesInUse: number; revokedKeys: number; sessions: SessionView[] } {
    const now = Date.now();
    this.reap(now);
    const sessions: SessionView[] = [];
    for (const [sessionKey, s] of this.sessions) {
      if (s.expiresAt > now) sessions.push({ sessionKey, accountId: s.accountId, expiresAt: s.expiresAt });
    }
    return { config: this.config, leasesInUse: this.leases.size, revokedKeys: this.revoked.size, sessions };
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    this.reap(now);
    let next = Number.POSITIVE_INFINITY;
    for (const lease of this.leases.values()) next = Math.min(next, lease.expiresAt);
    if (Number.isFinite(next)) this.scheduleAlarm(next);
  }

  /** Chooses an account and takes a lease on it, trying candidates in ranked order. */
  private async place(config: GroupConfig, request: AdmitRequest, tried: Set<string>): Promise<Admission> {
    const policy = this.policyFor(config, request.providers);
    const now = Date.now();
    const reasons: string[] = [];
    const candidates: PoolAccount[] = [];
    for (const account of config.accounts) {
      if (!request.providers.includes(account.provider)) continue;
      if (tried.has(account.id)) reasons.push(`${account.name}: failed on this request already`);
      else if (!supportsModel(account, request.model))
        reasons.push(`${account.name}: model ${request.model} not supported`);
      else candidates.push(account);
    }
    if (candidates.length === 0) {
      if (config.accounts.length === 0 || reasons.length === 0) {
        return {
          ok: false,
          kind: 'unavailable',
          message: 'This group has no upstream account for this API yet.',
          retryAfterSec: 60,
        };
      }
      return this.refusal(tried.size > 0 ? 'unavailable' : 'invalid_request', reasons, null);
    }

    const ordered =
      config.kind === 'carpool'
        ? candidates
        : this.ranker.order(candidates, policy.strategy, this.loads, now);
    const session = request.sessionKey ? this.sessions.get(request.sessionKey) : undefined;
    if (session && session.expiresAt > now) {
      const at = ordered.findIndex((a) => a.id === session.accountId);
      if (at > 0) ordered.unshift(...ordered.splice(at, 1));
    }

    const ttlMs = Number(this.env.LEASE_TTL_MS);
    const full: PoolAccount[] = [];
    let retryAfterMs: number | null = null;
    for (const account of ordered) {
      // Counted as picked before the await, so concurrent admissions spread instead of piling on
      // the same account; the AccountGate's answer then replaces the optimistic load.
      if (config.kind === 'enterprise') this.notePick(account, candidates);
      const result = await this.tryAccount(account, request, ttlMs, 0);
      if (result.ok) return this.admitted(config, account, request, result, policy);
      reasons.push(`${account.name}: ${result.message}`);
      if (result.reason === 'at_capacity') full.push(account);
      if (result.retryAfterMs !== null)
        retryAfterMs = Math.min(retryAfterMs ?? result.retryAfterMs, result.retryAfterMs);
    }
    // Every account is busy: wait in the fair queue of the least loaded one rather than fail at once.
    if (full.length > 0 && policy.queueWaitMs > 0) {
      const target = [...full].sort((a, b) => this.utilisation(a) - this.utilisation(b))[0]!;
      const result = await this.tryAccount(target, request, ttlMs, policy.queueWaitMs);
      if (result.ok) return this.admitted(config, target, request, result, policy);
      reasons.push(`${target.name}: still ${result.message} after waiting ${policy.queueWaitMs} ms`);
    }
    return this.refusal(
      full.length > 0 || retryAfterMs !== null ? 'rate_limited' : 'unavailable',
      reasons,
      retryAfterMs,
    );
  }

  private async tryAccount(account: PoolAccount, request: AdmitRequest, ttlMs: number, waitMs: number) {
    const now = Date.now();
    // Hold the key's slot across the AccountGate call, which opens this object's input gate.
    if (this.tracks(request)) {
      this.holdLease(request.leaseId, {
        keyId: request.keyId,
        accountId: account.id,
        expiresAt: now + ttlMs + waitMs,
      });
    }
    let result: AcquireResult;
    try {
      result = await this.accountGate(account.id).acquire({
        accountId: account.id,
        leaseId: request.leaseId,
        ttlMs,
        waitMs,
      });
    } catch (err) {
      this.dropLease(request.leaseId);
      throw err;
    }
    if (result.load) this.loads.set(account.id, result.load);
    if (!result.ok) this.dropLease(request.leaseId);
    return result;
  }

  private admitted(
    config: GroupConfig,
    account: PoolAccount,
    request: AdmitRequest,
    result: Extract<AcquireResult, { ok: true }>,
    policy: SchedulingPolicy,
  ): Admission {
    if (request.sessionKey && config.kind === 'enterprise')
      this.bindSession(request.sessionKey, account.id, policy);
    return {
      ok: true,
      leaseId: request.leaseId,
      account: result.account,
      maxAttempts: policy.maxAttempts,
      releaseVia: this.tracks(request) ? 'group' : 'account',
      health: this.healthPolicy(),
    };
  }

  /**
   * Whether this gate keeps its own copy of the lease: needed for a key concurrency limit, and in
   * a pool to keep each account's load current for the strategies. A carpool key without a
   * concurrency limit needs none: the AccountGate's lease is the whole truth.
   */
  private tracks(request: AdmitRequest): boolean {
    return this.config?.kind === 'enterprise' || request.limits.maxConcurrency !== null;
  }

  private notePick(account: PoolAccount, candidates: PoolAccount[]): void {
    this.ranker.picked(account, candidates);
    const load = this.loads.get(account.id);
    if (load) this.loads.set(account.id, { ...load, inUse: load.inUse + 1 });
  }

  private refusal(kind: RelayErrorKind, reasons: string[], retryAfterMs: number | null): Admission {
    const message =
      reasons.length === 1
        ? `No upstream account can serve this request: ${reasons[0]}.`
        : `No upstream account can serve this request: ${reasons.join('; ')}.`;
    return {
      ok: false,
      kind,
      message,
      retryAfterSec:
        retryAfterMs === null
          ? kind === 'rate_limited'
            ? 1
            : 30
          : Math.max(1, Math.ceil(retryAfterMs / 1000)),
    };
  }

  private checkKeyLimits(request: AdmitRequest, now: number): Admission | null {
    const { maxConcurrency, requestsPerWindow, windowMinutes } = request.limits;
    if (maxConcurrency !== null && this.inFlightFor(request.keyId) >= maxConcurrency) {
      return {
        ok: false,
        kind: 'rate_limited',
        message: `This key is at its limit of ${maxConcurrency} concurrent requests.`,
        retryAfterSec: 1,
      };
    }
    if (requestsPerWindow !== null) {
      const windowMs = (windowMinutes ?? 1) * 60_000;
      const times = (this.windows.get(request.keyId) ?? []).filter((t) => t > now - windowMs);
      this.windows.set(request.keyId, times);
      if (times.length >= requestsPerWindow) {
        return {
          ok: false,
          kind: 'rate_limited',
          message: `This key is at its limit of ${requestsPerWindow} requests per ${windowMinutes ?? 1} minute(s).`,
          retryAfterSec: Math.max(1, Math.ceil((times[0]! + windowMs - now) / 1000)),
        };
      }
    }
    return null;
  }

  private countRequest(request: AdmitRequest, now: number): void {
    if (request.limits.requestsPerWindow === null) return;
    const times = this.windows.get(request.keyId) ?? [];
    times.push(now);
    this.windows.set(request.keyId, times);
  }

  private bindSession(sessionKey: string, accountId: string, policy: SchedulingPolicy): void {
    const now = Date.now();
    const expiresAt = now + policy.sessionTtlMs;
    const existing = this.sessions.get(sessionKey);
    if (
      existing &&
      existing.accountId === accountId &&
      expiresAt - existing.storedExpiresAt < SESSION_WRITE_SLACK_MS
    ) {
      existing.expiresAt = expiresAt;
      return;
    }
    if (this.sessions.size >= SESSION_LIMIT) this.pruneSessions(now);
    this.sessions.set(sessionKey, { accountId, expiresAt, storedExpiresAt: expiresAt });
    this.ctx.storage.sql.exec(
      'INSERT OR REPLACE INTO sessions (session_key, account_id, expires_at) VALUES (?, ?, ?)',
      sessionKey,
      accountId,
      expiresAt,
    );
  }

  private pruneSessions(now: number): void {
    for (const [key, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(key);
    this.ctx.storage.sql.exec('DELETE FROM sessions WHERE expires_at <= ?', now);
  }

  private policyFor(config: GroupConfig, providers: ProviderKind[]): SchedulingPolicy {
    const pool = providers.map((p) => config.pools?.[p]).find(Boolean);
    return resolvePolicy(pool, config.scheduling);
  }

  private healthPolicy(): HealthPolicy {
    const config = this.config;
    return resolvePolicy(config?.scheduling);
  }

  private utilisation(account: PoolAccount): number {
    const load = this.loads.get(account.id);
    return load ? load.inUse / Math.max(1, load.max) : 0;
  }

  private inFlightFor(keyId: string): number {
    let n = 0;
    for (const lease of this.leases.values()) if (lease.keyId === keyId) n++;
    return n;
  }

  private holdLease(leaseId: string, lease: Lease): void {
    this.leases.set(leaseId, lease);
    this.ctx.storage.sql.exec(
      'INSERT OR REPLACE INTO leases (lease_id, key_id, account_id, expires_at) VALUES (?, ?, ?, ?)',
      leaseId,
      lease.keyId,
      lease.accountId,
      lease.expiresAt,
    );
    this.scheduleAlarm(lease.expiresAt);
  }

  private dropLease(leaseId: string): void {
    if (this.leases.delete(leaseId))
      this.ctx.storage.sql.exec('DELETE FROM leases WHERE lease_id = ?', leaseId);
  }

  // The AccountGate reaps its own copy of an expired lease; this one only frees the key's slot.
  private reap(now: number): void {
    for (const [leaseId, lease] of this.leases) if (lease.expiresAt <= now) this.dropLease(leaseId);
  }

  private scheduleAlarm(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at && this.alarmAt > Date.now()) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  private accountGate(accountId: string) {
    return this.env.ACCOUNT_GATE.get(this.env.ACCOUNT_GATE.idFromName(`account:${accountId}`));
  }

  // Single flight: concurrent first requests share one D1 read.
  private loadConfig(groupId: string): Promise<GroupConfig | null> {
    this.loading ??= loadGroupConfig(this.env, groupId)
      .then((config) => {
        if (config && !this.config) this.configure(config);
        return this.config;
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }
}
