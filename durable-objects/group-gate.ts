// GroupGate: the strongly consistent state of one group. Admission happens here in one call from
// the worker: the key is checked against revocations and its own limits, a sticky session or the
// pool's strategy picks an account, and a concurrency lease is taken from that AccountGate.
// Failover re-admits on another account after a failed attempt. A key whose rules were just
// changed is held to its new rules here until every isolate's cached copy has expired, and the
// group's key bounds apply to every key.
import { DurableObject } from 'cloudflare:workers';
import type { KeyRecord } from '../worker/auth/client-key';
import { boundsRefusal, effectiveLimits } from '../worker/auth/key-bounds';
import { checkExpiry, checkKeyRules, type KeyRules, type KeyService } from '../worker/auth/key-rules';
import { budgetAlert } from '../worker/budgets/alerts';
import { periodEnd, periodKey } from '../worker/budgets/periods';
import { budgetRefusal, committedRefusal } from '../worker/budgets/refusal';
import { applicable, type BudgetRule, isWide, type Reservation } from '../worker/budgets/rules';
import { metrics } from '../worker/metrics';
import type { ProviderKind, UpstreamAccount, UpstreamFailure } from '../worker/providers/types';
import { writeUsage } from '../worker/queue/consumer';
import type { UsageEvent } from '../worker/queue/usage-event';
import { RelayError, type RelayErrorKind } from '../worker/relay/dialect';
import { retryOnce, sendUsage } from '../worker/relay/outbox';
import { type GroupConfig, loadGroupConfig, type PoolAccount } from '../worker/scheduling/group-config';
import { describeAccount, describeModels, servesModel } from '../worker/scheduling/models';
import { type HealthPolicy, resolvePolicy, type SchedulingPolicy } from '../worker/scheduling/policy';
import { Ranker, type Tiering } from '../worker/scheduling/rank';
import {
  type AccountLoad,
  type AcquireResult,
  type AttemptReport,
  type LeaseRelease,
  nearFull,
  type Refusal,
} from './account-gate';
import { accountGate, enterpriseLedger } from './address';
import { BUDGET_SCHEMA, BudgetBook, type BudgetView, type Unreported } from './budget-book';
import { KEY_WINDOW_SCHEMA, KeyWindows } from './key-windows';
import { migrateSql } from './sql-schema';

export type KeyLimits = Pick<KeyRecord, 'maxConcurrency' | 'requestsPerWindow' | 'windowMinutes'>;

/** A key's rules as D1 holds them after a change (see `updateKey`). */
export type KeyPolicy = KeyRules & KeyLimits;

export interface AdmitRequest {
  groupId: string;
  keyId: string;
  /** Lease id of this attempt; the relay request id for the first one. */
  leaseId: string;
  model: string;
  /** Account kinds that can serve this client surface, natively or by conversion. */
  providers: ProviderKind[];
  /** Those of them that speak the client's wire: preferred over a conversion. */
  native: ProviderKind[];
  /** Sticky-session key (see worker/relay/session.ts); null when the request carries none. */
  sessionKey: string | null;
  limits: KeyLimits;
  /** The key's holder: member budgets are theirs. */
  userId: string;
  /** What the request reserves against each budget until it settles (an estimate, capped). */
  reserveMicros: number;
  /** The client surface and User-Agent, for rules changed since the worker cached the key. */
  service: KeyService;
  userAgent: string | null;
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
      /** The account's health policy (defaults ← its pool ← the group), for a release at the AccountGate. */
      health: HealthPolicy;
      /** Mid-stream silence after which the request ends its stream (the account's policy). */
      idleTimeoutMs: number;
      /**
       * Another request may soon wait for this slot (the account is at or one short of its
       * concurrency, or the key has a concurrency limit): the worker releases it promptly instead of
       * batching the release with others (worker/relay/outbox.ts).
       */
      releaseSoon: boolean;
      /**
       * Nothing but the account's own lease stood between this key and its account (a carpool key
       * with no limits, budgets, bounds or pending rule change): the worker may ask that account
       * straight for the key's next leases, under this version of the group's rules
       * (AccountGate.acquireDirect).
       */
      direct?: { version: number };
    }
  | {
      ok: false;
      kind: RelayErrorKind;
      message: string;
      retryAfterSec?: number;
      /** A stable code for OpenAI's `code` field, e.g. `model_not_found`. */
      code?: string;
    };

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
  `CREATE TABLE usage_outbox (request_id TEXT PRIMARY KEY, json TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);`,
  BUDGET_SCHEMA,
  `CREATE TABLE key_rules (key_id TEXT PRIMARY KEY, json TEXT NOT NULL, until INTEGER NOT NULL);`,
  `CREATE TABLE plan (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), version INTEGER NOT NULL);`,
  KEY_WINDOW_SCHEMA,
] as const;

/** One lease a worker ends, as it sends them in a batch. */
export interface GroupRelease {
  leaseId: string;
  report?: AttemptReport;
  /** The account of a lease this gate kept no copy of. */
  accountId?: string;
  /** What the request cost, for its budgets; absent when it is not known. */
  costMicros?: number;
}

interface Lease {
  keyId: string;
  accountId: string;
  expiresAt: number;
  /** What the request holds against budgets until it settles. */
  reservations?: Reservation[];
}

interface Session {
  accountId: string;
  expiresAt: number;
  /** The expiry last written to storage: renewals are written only when they move it by much. */
  storedExpiresAt: number;
}

const SESSION_WRITE_SLACK_MS = 5 * 60_000;
const SESSION_LIMIT = 50_000;
/** How long a withdrawn lease id and an untracked grant are remembered (an admission's lifetime, with room). */
const ADMISSION_MEMORY_MS = 5 * 60_000;
const ADMISSION_MEMORY_LIMIT = 10_000;
/** Held usage events are sent again this long after a failure; after a few failures, straight to D1. */
const USAGE_RETRY_MS = 30_000;
const USAGE_SEND_ATTEMPTS = 3;
/** How long a reaped lease's budgets wait for a late release (a request outliving its lease). */
const REAPED_KEPT_MS = 60 * 60 * 1000;

export class GroupGate extends DurableObject<Env> {
  private config: GroupConfig | null = null;
  private readonly leases = new Map<string, Lease>();
  private readonly revoked = new Set<string>();
  /** Keys whose rules changed lately: their new rules, until no isolate can hold the old ones. */
  private readonly changedKeys = new Map<string, { policy: KeyPolicy; until: number }>();
  private readonly sessions = new Map<string, Session>();
  private readonly windows = new KeyWindows(this.ctx.storage.sql, (query, ...bindings) =>
    this.write(query, ...bindings),
  );
  private readonly loads = new Map<string, AccountLoad>();
  private readonly ranker = new Ranker();
  /** Each pool's effective policy (defaults ← pool ← group), by provider kind, for the current config. */
  private readonly policies = new Map<string, SchedulingPolicy>();
  private readonly accountsById = new Map<string, PoolAccount>();
  private alarmAt: number | null = null;
  private loading: Promise<GroupConfig | null> | null = null;
  /** The version of this group's rules direct leases are granted under (see Admission.direct). */
  private planVersion = 0;
  /** The version each account's gate was last told. */
  private readonly toldVersion = new Map<string, number>();
  /**
   * Lease ids whose request went away while its admission was in flight: the admission gives the
   * lease back as soon as it has it (the worker that asked may never hear the answer).
   */
  private readonly withdrawn = new Map<string, number>();
  /**
   * The account each admission in flight is asking, and for which key, so a withdrawal or the
   * key's revocation can take it out of that account's queue.
   */
  private readonly trying = new Map<string, { accountId: string; keyId: string }>();
  /** Grants this gate keeps no lease copy of (released at the AccountGate), for a late withdrawal. */
  private readonly granted = new Map<string, { accountId: string; at: number }>();
  /**
   * Budget reservations of leases reaped while their request may still have been alive (a worker
   * too busy to renew in time): their reservation is freed, and what the request cost is still
   * counted when its release arrives late. In memory only: after an eviction such a cost is not
   * counted here, and the reconciliation reports the difference.
   */
  private readonly reaped = new Map<string, { reservations: Reservation[]; at: number }>();
  private usageRetryAt: number | null = null;
  private readonly book = new BudgetBook(
    (query, ...bindings) => this.write(query, ...bindings),
    (rule, key, spent) => this.alertBudget(rule, key, spent),
  );
  /** Top-ups in flight, one per wide budget. */
  private readonly toppingUp = new Map<string, Promise<void>>();
  /** What the ledger last said the groups spent, per wide budget (for the words of a refusal). */
  private readonly ledgerSpent = new Map<string, { periodKey: string; spent: number }>();
  private reportAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const sql = ctx.storage.sql;
      migrateSql(sql, SCHEMA);
      const stored = sql.exec<{ json: string }>('SELECT json FROM config').toArray()[0];
      // A configuration stored before accounts carried their model families is read again from D1.
      const config = stored ? (JSON.parse(stored.json) as GroupConfig) : null;
      if (config?.accounts.every((a) => Array.isArray(a.family))) this.useConfig(config);
      for (const row of sql.exec<{ key_id: string }>('SELECT key_id FROM revoked_keys'))
        this.revoked.add(row.key_id);
      this.planVersion = sql.exec<{ version: number }>('SELECT version FROM plan').toArray()[0]?.version ?? 0;
      sql.exec('DELETE FROM key_rules WHERE until <= ?', Date.now());
      this.windows.prune(Date.now());
      for (const row of sql.exec<{ key_id: string; json: string; until: number }>('SELECT * FROM key_rules'))
        this.changedKeys.set(row.key_id, { policy: JSON.parse(row.json) as KeyPolicy, until: row.until });
      type LeaseRow = {
        lease_id: string;
        key_id: string;
        account_id: string;
        expires_at: number;
        reservations: string | null;
      };
      for (const row of sql.exec<LeaseRow>('SELECT * FROM leases')) {
        this.leases.set(row.lease_id, {
          keyId: row.key_id,
          accountId: row.account_id,
          expiresAt: row.expires_at,
          reservations: row.reservations ? (JSON.parse(row.reservations) as Reservation[]) : undefined,
        });
      }
      this.book.load(
        sql,
        [...this.leases.values()].flatMap((l) => (l.reservations ? [l.reservations] : [])),
      );
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
      const held = sql.exec<{ n: number }>('SELECT count(*) AS n FROM usage_outbox').one().n;
      if (held > 0) this.retryUsageAt(now + USAGE_RETRY_MS);
    });
  }

  async admit(asked: AdmitRequest): Promise<Admission> {
    const config = this.config ?? (await this.loadConfig(asked.groupId));
    if (!config)
      return { ok: false, kind: 'permission', message: 'This key belongs to a group that no longer exists.' };
    if (this.revoked.has(asked.keyId)) return revokedRefusal();
    const now = Date.now();
    const refused = this.checkRules(config, asked, now);
    if (refused) return refused;
    const request = this.withCurrentLimits(config, asked, now);
    this.reap(now);
    const limited = this.checkKeyLimits(request, now);
    if (limited) return limited;
    // Counted before any await: a concurrent admit for the same key must already see this one.
    this.countRequest(request, now);
    const rules = applicable(config.budgets ?? [], request.keyId, request.userId);
    let reservations: Reservation[] = [];
    if (rules.length > 0) {
      const held = await this.reserveBudgets(config, rules, request.reserveMicros);
      if (!held.ok) return held.refusal;
      reservations = held.reservations;
    }
    const admission = await this.place(config, request, new Set(), reservations);
    // Not admitted: what it reserved goes back.
    if (!admission.ok && reservations.length > 0) this.book.settle(rules, reservations, 0);
    if (admission.ok && rules.length === 0 && this.directFor(config, request, admission)) {
      const account = admission.account.id;
      const version = this.planVersion;
      const told =
        this.toldVersion.get(account) === version ||
        (await this.tell(account, version).then(
          () => true,
          () => false,
        ));
      // A change while the account was told makes this grant the last under the old rules.
      if (told && version === this.planVersion) admission.direct = { version };
    }
    return admission;
  }

  /**
   * Whether the key's next leases may be asked straight at the account: a carpool's one account,
   * released there, and nothing of the group's to check or count per request (no key limits, group
   * key bounds or pending rule change; budgets are checked by the caller).
   */
  private directFor(config: GroupConfig, request: AdmitRequest, admission: Admission): boolean {
    if (!admission.ok || admission.releaseVia !== 'account') return false;
    const { maxConcurrency, requestsPerWindow } = request.limits;
    return (
      config.kind === 'carpool' &&
      config.accounts.length === 1 &&
      !config.keyBounds &&
      maxConcurrency === null &&
      requestsPerWindow === null &&
      !this.changedKeys.has(request.keyId)
    );
  }

  /** A failed attempt: record it on its account, then place the request on another one. */
  async failover(asked: FailoverRequest): Promise<Admission> {
    const config = this.config ?? (await this.loadConfig(asked.groupId));
    if (!config)
      return { ok: false, kind: 'permission', message: 'This key belongs to a group that no longer exists.' };
    const request = this.withCurrentLimits(config, asked, Date.now());
    // The request's reservations move to its next attempt: the failed lease gives them up unsettled.
    const failed = this.leases.get(request.failed.leaseId);
    const reservations = failed?.reservations ?? [];
    if (failed) failed.reservations = undefined;
    await this.release(
      request.failed.leaseId,
      { ok: false, failure: request.failed.failure },
      request.failed.accountId,
    );
    const admission = await this.place(config, request, new Set(request.tried), reservations);
    if (!admission.ok && reservations.length > 0) {
      // Nowhere else to go: the client may still be given the failed attempt's answer, and pay
      // for it. The reservation is freed now; the request's final release of the failed lease
      // charges what it cost, as a late release of a reaped lease does.
      this.settleBudgets(reservations, null);
      const freed = reservations.map((r) => ({ ...r, micros: 0 }));
      this.reaped.set(request.failed.leaseId, { reservations: freed, at: Date.now() });
    }
    return admission;
  }

  /**
   * Ends a request: frees the key's slot and the account lease, recording how it went. Idempotent.
   * `accountId` names the account of a lease this gate did not track.
   */
  async release(leaseId: string, report?: AttemptReport, accountId?: string): Promise<void> {
    await this.releaseMany([{ leaseId, report, accountId }]);
  }

  /**
   * Ends many leases in one call: one AccountGate call per account they hold. Answers each lease's
   * share of its account's plan window, where the answer reported one (Released.windowPpm).
   */
  async releaseMany(releases: GroupRelease[]): Promise<Record<string, number>> {
    const byAccount = new Map<string, LeaseRelease[]>();
    for (const { leaseId, report, accountId, costMicros } of releases) {
      // Still being admitted (this gate holds its copy of the lease across the AccountGate call,
      // waits in a queue included): a withdrawal. The admission gives back what it took, its
      // reservations with it, once; settling them here too freed another request's.
      if (this.trying.has(leaseId)) {
        this.withdraw(leaseId);
        continue;
      }
      const lease = this.leases.get(leaseId);
      if (lease?.reservations) this.settleBudgets(lease.reservations, costMicros ?? null);
      const late = lease ? undefined : this.reaped.get(leaseId);
      if (late) {
        this.reaped.delete(leaseId);
        if (costMicros) this.settleBudgets(late.reservations, costMicros);
      }
      this.dropLease(leaseId);
      const account = lease?.accountId ?? accountId ?? this.granted.get(leaseId)?.accountId;
      this.granted.delete(leaseId);
      if (!account) {
        this.withdraw(leaseId);
        continue;
      }
      const list = byAccount.get(account) ?? [];
      list.push({ leaseId, report, health: this.healthPolicy(account) });
      byAccount.set(account, list);
    }
    const windowPpm: Record<string, number> = {};
    await Promise.all(
      [...byAccount].map(async ([account, list]) => {
        metrics.gateCalls++;
        const released = await accountGate(this.env, account).releaseMany(list);
        this.loads.set(account, released.load);
        Object.assign(windowPpm, released.windowPpm);
      }),
    );
    return windowPpm;
  }

  /** A live request keeps its lease (and its key slot) another TTL. */
  async renew(leaseId: string): Promise<boolean> {
    const lease = this.leases.get(leaseId);
    if (!lease) return false;
    lease.expiresAt = Date.now() + Number(this.env.LEASE_TTL_MS);
    this.holdLease(leaseId, lease);
    metrics.gateCalls++;
    return accountGate(this.env, lease.accountId).renew(leaseId);
  }

  /**
   * Usage events a worker could not send to the Queue: kept here (durably) and sent again from the
   * alarm, straight to D1 after repeated failures. Nothing a relayed request produced is lost.
   */
  holdUsage(events: UsageEvent[]): void {
    for (const event of events) {
      this.write(
        'INSERT OR IGNORE INTO usage_outbox (request_id, json) VALUES (?, ?)',
        event.requestId,
        JSON.stringify(event),
      );
    }
    this.retryUsageAt(Date.now() + USAGE_RETRY_MS);
  }

  /** The request went away before its admission answered: its lease, when granted, goes straight back. */
  private withdraw(leaseId: string): void {
    const now = Date.now();
    if (this.withdrawn.size >= ADMISSION_MEMORY_LIMIT) forgetOlder(this.withdrawn, (t) => t, now);
    this.withdrawn.set(leaseId, now);
    // Waiting in an account's queue: leave it.
    const trying = this.trying.get(leaseId);
    if (trying) void this.leaveQueue(leaseId, trying.accountId);
  }

  /** Takes an admission in flight out of its account's queue (it is then refused there). */
  private async leaveQueue(leaseId: string, accountId: string): Promise<void> {
    metrics.gateCalls++;
    await accountGate(this.env, accountId)
      .release(leaseId)
      .catch(() => {});
  }

  async configure(config: GroupConfig): Promise<void> {
    // The accounts of the rules being replaced hold plans too: they learn the new version as well.
    const before = this.directAccounts();
    const recalled = this.recallLowered(this.config?.budgets ?? [], config.budgets ?? []);
    this.useConfig(config);
    this.write('INSERT OR REPLACE INTO config (singleton, json) VALUES (1, ?)', JSON.stringify(config));
    await this.rulesChanged([...before, ...this.directAccounts()]);
    if (recalled.length > 0 && config.enterpriseId) {
      try {
        metrics.gateCalls++;
        await enterpriseLedger(this.env, config.enterpriseId).giveBack(recalled, config.enterpriseId);
      } catch (err) {
        // Then the ledger counts it granted still: the group is refused early, never late.
        console.warn('budget give-back failed', { error: String(err) });
      }
    }
  }

  /**
   * A wide hard budget whose limit was lowered: the allowance this group holds unspent was granted
   * under the old limit, so it is given up at once (no await before the new rules apply), and
   * the group asks the ledger afresh under the new one.
   */
  private recallLowered(before: readonly BudgetRule[], after: readonly BudgetRule[]): Unreported[] {
    const now = Date.now();
    const recalled: Unreported[] = [];
    for (const rule of after) {
      const old = before.find((r) => r.id === rule.id);
      if (!isWide(rule) || rule.mode !== 'hard' || !old || rule.limitMicros >= old.limitMicros) continue;
      const given = this.book.recall(old, now);
      if (given) recalled.push(given);
    }
    return recalled;
  }

  /**
   * The enterprise's ledger has no allowance left for another group while this one may hold some
   * unspent: it is given up (reservations of requests in flight stay), and this group asks again
   * when it next needs it. Answers how much, for the ledger to count as no longer granted.
   */
  async yieldAllowance(budgetId: string, key: string): Promise<number> {
    return this.book.yieldAllowance(budgetId, key);
  }

  async revokeKey(keyId: string): Promise<void> {
    this.revoked.add(keyId);
    this.write('INSERT OR IGNORE INTO revoked_keys (key_id) VALUES (?)', keyId);
    // The key's requests waiting in an account's queue leave it now, refused as revoked (place()),
    // rather than being served when a slot frees: a revocation binds at once.
    const waiting = [...this.trying].filter(([, t]) => t.keyId === keyId);
    await Promise.all([
      this.rulesChanged(),
      ...waiting.map(([leaseId, t]) => this.leaveQueue(leaseId, t.accountId)),
    ]);
  }

  /**
   * A change to the group's rules ends the direct leases granted under the old ones: the accounts'
   * gates learn the new version before the change is acknowledged (a revocation binds at once).
   */
  private async rulesChanged(accountIds = this.directAccounts()): Promise<void> {
    this.planVersion++;
    this.write('INSERT OR REPLACE INTO plan (singleton, version) VALUES (1, ?)', this.planVersion);
    const version = this.planVersion;
    // Should both tries fail, the account's direct leases under the old rules end with the
    // workers' plans (a minute at most, worker/relay/direct.ts), and the change still stands.
    await Promise.all(
      [...new Set(accountIds)].map((id) =>
        retryOnce(() => this.tell(id, version), `plan version at account ${id}`),
      ),
    );
  }

  private async tell(accountId: string, version: number): Promise<void> {
    metrics.gateCalls++;
    await accountGate(this.env, accountId).setPlanVersion(this.groupIdOf(), version);
    if (version === this.planVersion) this.toldVersion.set(accountId, version);
  }

  /** The accounts that may grant this group's keys direct leases: a carpool's (see directFor). */
  private directAccounts(): string[] {
    return this.config?.kind === 'carpool' ? this.config.accounts.map((a) => a.id) : [];
  }

  private groupIdOf(): string {
    return this.config!.id;
  }

  /**
   * A key's rules changed in D1. Isolates trust their cached copy of a key for KEY_CACHE_TTL_MS;
   * until `until` (past that), admission holds the key to these rules as well, so a narrowed rule
   * binds at once everywhere (a widened one, within the cache TTL).
   */
  async updateKey(keyId: string, policy: KeyPolicy, until: number): Promise<void> {
    this.changedKeys.set(keyId, { policy, until });
    this.write(
      'INSERT OR REPLACE INTO key_rules (key_id, json, until) VALUES (?, ?, ?)',
      keyId,
      JSON.stringify(policy),
      until,
    );
    await this.rulesChanged();
  }

  state(): {
    config: GroupConfig | null;
    leasesInUse: number;
    revokedKeys: number;
    sessions: SessionView[];
    budgets: BudgetView[];
  } {
    const now = Date.now();
    this.reap(now);
    const sessions: SessionView[] = [];
    for (const [sessionKey, s] of this.sessions) {
      if (s.expiresAt > now) sessions.push({ sessionKey, accountId: s.accountId, expiresAt: s.expiresAt });
    }
    return {
      config: this.config,
      leasesInUse: this.leases.size,
      revokedKeys: this.revoked.size,
      sessions,
      budgets: this.book.view(this.config?.budgets ?? [], now),
    };
  }

  /** A budget's period as D1 recorded it, after its time zone changed (BudgetBook.seed). */
  seedBudget(budgetId: string, key: string, spentMicros: number): void {
    this.book.seed(budgetId, key, spentMicros);
  }

  /** The budgets a key answers to, as they stand (its holder's `GET /v1/key`). */
  async keyBudgets(groupId: string, keyId: string, userId: string): Promise<BudgetView[]> {
    const config = this.config ?? (await this.loadConfig(groupId));
    return this.book.view(applicable(config?.budgets ?? [], keyId, userId), Date.now());
  }

  /**
   * Reserves the request's estimate against every budget it answers to, or says which one is
   * spent. Wide budgets with no allowance left here are topped up from the enterprise's ledger
   * first (the one case a request waits for a second object); those running low are topped up
   * behind it.
   */
  private async reserveBudgets(
    config: GroupConfig,
    rules: BudgetRule[],
    micros: number,
  ): Promise<{ ok: true; reservations: Reservation[] } | { ok: false; refusal: Admission }> {
    let now = Date.now();
    let check = this.book.check(rules, micros, now);
    if (!check.ok && 'topUp' in check) {
      await Promise.all(check.topUp.map((rule) => this.topUp(config, rule)));
      now = Date.now();
      check = this.book.check(rules, micros, now);
      if (!check.ok && 'topUp' in check) {
        // No allowance to be had: spent if the ledger (and this gate's unreported spending) says
        // so; otherwise the rest is held by requests in flight or by other groups' slices.
        const rule = check.topUp[0]!;
        const key = periodKey(rule.period, now, rule.timeZone);
        const heard = this.ledgerSpent.get(rule.id);
        const spent = (heard?.periodKey === key ? heard.spent : 0) + this.book.unreportedOf(rule.id, key);
        const refusal =
          spent >= rule.limitMicros
            ? budgetRefusal(rule, spent, periodEnd(rule.period, now, rule.timeZone))
            : committedRefusal(rule, spent, null);
        return { ok: false, refusal };
      }
    }
    if (!check.ok && 'exhausted' in check) {
      const { exhausted: rule, spent, reserved, resetsAt } = check;
      const refusal =
        spent >= rule.limitMicros
          ? budgetRefusal(rule, spent, resetsAt)
          : committedRefusal(rule, spent, reserved);
      return { ok: false, refusal };
    }
    if (!check.ok) throw new Error('unreachable');
    this.book.reserve(rules, check.reservations);
    for (const rule of this.book.runningLow(rules, now)) void this.topUp(config, rule);
    return { ok: true, reservations: check.reservations };
  }

  /** Asks the enterprise's ledger for allowance on a wide budget (one request at a time per budget). */
  private topUp(config: GroupConfig, rule: BudgetRule): Promise<void> {
    const enterpriseId = config.enterpriseId;
    if (!enterpriseId) return Promise.resolve();
    let pending = this.toppingUp.get(rule.id);
    if (!pending) {
      const key = periodKey(rule.period, Date.now(), rule.timeZone);
      const { want, deficit } = this.book.wanted(rule, key);
      metrics.gateCalls++;
      pending = enterpriseLedger(this.env, enterpriseId)
        .grant({ groupId: config.id, budgetId: rule.id, periodKey: key, want, deficit }, enterpriseId)
        .then(({ granted, spent }) => {
          this.ledgerSpent.set(rule.id, { periodKey: key, spent });
          if (granted > 0) this.book.credit(rule, key, granted);
        })
        .catch((err: unknown) =>
          console.warn('budget top-up failed', { budgetId: rule.id, error: String(err) }),
        )
        .finally(() => this.toppingUp.delete(rule.id));
      this.toppingUp.set(rule.id, pending);
    }
    return pending;
  }

  private settleBudgets(reservations: Reservation[], cost: number | null): void {
    const rules = this.config?.budgets ?? [];
    this.book.settle(rules, reservations, cost);
    // Spending on wide budgets is told to the ledger within a second, in one call.
    if (this.book.hasUnreported() && this.config?.enterpriseId) {
      const at = Date.now() + 1000;
      if (this.reportAt === null || this.reportAt > at) this.reportAt = at;
      this.scheduleAlarm(this.reportAt);
    }
  }

  private async reportSpending(): Promise<void> {
    const enterpriseId = this.config?.enterpriseId;
    const entries = this.book.takeUnreported();
    if (!enterpriseId || entries.length === 0) return;
    try {
      metrics.gateCalls++;
      await enterpriseLedger(this.env, enterpriseId).report(entries, enterpriseId);
    } catch (err) {
      for (const e of entries) this.book.addUnreported(e.budgetId, e.periodKey, e.micros);
      this.reportAt = Date.now() + 30_000;
      console.warn('budget report failed', { error: String(err) });
    }
  }

  private alertBudget(rule: BudgetRule, key: string, spentMicros: number): void {
    const scope = { enterpriseId: this.config?.enterpriseId ?? null, groupId: this.config?.id ?? null };
    this.ctx.waitUntil(budgetAlert(this.env, rule, scope, key, spentMicros));
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    this.reap(now);
    forgetOlder(this.withdrawn, (t) => t, now);
    forgetOlder(this.granted, (g) => g.at, now);
    if (this.usageRetryAt !== null && this.usageRetryAt <= now) {
      this.usageRetryAt = null;
      await this.resendUsage();
    }
    if (this.reportAt !== null && this.reportAt <= now) {
      this.reportAt = null;
      await this.reportSpending();
    }
    let next = Math.min(
      this.usageRetryAt ?? Number.POSITIVE_INFINITY,
      this.reportAt ?? Number.POSITIVE_INFINITY,
    );
    for (const lease of this.leases.values()) next = Math.min(next, lease.expiresAt);
    if (Number.isFinite(next)) this.scheduleAlarm(next);
  }

  private async resendUsage(): Promise<void> {
    const rows = this.ctx.storage.sql
      .exec<{ request_id: string; json: string; attempts: number }>('SELECT * FROM usage_outbox LIMIT 100')
      .toArray();
    if (rows.length === 0) return;
    const events = rows.map((r) => JSON.parse(r.json) as UsageEvent);
    const attempts = Math.max(...rows.map((r) => r.attempts)) + 1;
    try {
      // The consumer is idempotent by request id: an event sent twice is counted once.
      if (attempts > USAGE_SEND_ATTEMPTS) await writeUsage(this.env, events);
      else await sendUsage(this.env, events, { hold: false });
      for (const row of rows) this.write('DELETE FROM usage_outbox WHERE request_id = ?', row.request_id);
    } catch (err) {
      console.error('held usage not sent yet', { events: rows.length, attempts, error: String(err) });
      for (const row of rows)
        this.write('UPDATE usage_outbox SET attempts = ? WHERE request_id = ?', attempts, row.request_id);
    }
    const more = this.ctx.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM usage_outbox').one().n;
    if (more > 0) this.retryUsageAt(Date.now() + (rows.length === 100 ? 0 : USAGE_RETRY_MS));
  }

  private retryUsageAt(at: number): void {
    if (this.usageRetryAt === null || at < this.usageRetryAt) this.usageRetryAt = at;
    this.scheduleAlarm(this.usageRetryAt);
  }

  /** Chooses an account and takes a lease on it, trying candidates in ranked order. */
  private async place(
    config: GroupConfig,
    request: AdmitRequest,
    tried: Set<string>,
    reservations: Reservation[],
  ): Promise<Admission> {
    // A failover's key may have been revoked since its admission.
    if (this.revoked.has(request.keyId)) return revokedRefusal();
    const now = Date.now();
    const reasons: string[] = [];
    const candidates: PoolAccount[] = [];
    // By place and kind, never by name: a refusal goes to any key holder (see modelRefusal).
    const label = (account: PoolAccount) => describeAccount(account, config.accounts.indexOf(account));
    let unserved = 0;
    for (const account of config.accounts) {
      if (!request.providers.includes(account.provider)) continue;
      if (!servesModel(account, request.model)) unserved++;
      else if (tried.has(account.id)) reasons.push(`${label(account)}: failed on this request already`);
      else candidates.push(account);
    }
    if (candidates.length === 0 && reasons.length === 0) {
      if (unserved > 0) return modelRefusal(config, request);
      if (config.accounts.length === 0)
        return {
          ok: false,
          kind: 'unavailable',
          message: 'This group has no upstream account yet.',
          retryAfterSec: 60,
        };
      // Accounts that can never serve this API: no wait fixes it, so no retry is invited.
      return {
        ok: false,
        kind: 'invalid_request',
        message: `No account in this group serves this API: ${config.accounts
          .map((account, i) => describeAccount(account, i))
          .join(', ')}. Call it through its own provider's API.`,
      };
    }
    if (candidates.length === 0)
      return this.refusal('unavailable', [...reasons, ...unservedReasons(config, request)], null);

    const tiering = this.tiering(config, request);
    const ordered =
      config.kind === 'carpool' ? candidates : this.ranker.order(candidates, tiering, this.loads, now);
    const session = request.sessionKey ? this.sessions.get(request.sessionKey) : undefined;
    if (session && session.expiresAt > now) {
      const at = ordered.findIndex((a) => a.id === session.accountId);
      if (at > 0) ordered.unshift(...ordered.splice(at, 1));
    }

    const ttlMs = Number(this.env.LEASE_TTL_MS);
    const full: PoolAccount[] = [];
    const refusals: Refusal[] = [];
    /** Where each refused account's answer is, in `reasons` and `refusals`. */
    const answered = new Map<string, { reason: number; refusal: number }>();
    for (const account of ordered) {
      if (this.withdrawn.has(request.leaseId)) return withdrawnRefusal();
      // Counted as picked before the await, so concurrent admissions spread instead of piling on
      // the same account; the AccountGate's answer then replaces the optimistic load.
      if (config.kind === 'enterprise') this.notePick(account, candidates, tiering);
      const result = await this.tryAccount(account, request, ttlMs, 0, reservations);
      if (this.revoked.has(request.keyId)) return revokedRefusal();
      if (result.ok) return this.admitted(config, account, request, result);
      answered.set(account.id, { reason: reasons.length, refusal: refusals.length });
      reasons.push(`${label(account)}: ${publicReason(result)}`);
      refusals.push(result);
      if (result.reason === 'at_capacity') full.push(account);
    }
    // Every account is busy: wait in the fair queue of the least loaded one rather than fail at once.
    const target = [...full].sort((a, b) => this.utilisation(a) - this.utilisation(b))[0];
    const waitMs = target ? this.policyFor(config, target.provider).queueWaitMs : 0;
    if (target && waitMs > 0 && !this.withdrawn.has(request.leaseId)) {
      const result = await this.tryAccount(target, request, ttlMs, waitMs, reservations);
      // Revoked while it waited: refused as any request of the key now is.
      if (this.revoked.has(request.keyId)) return revokedRefusal();
      if (result.ok) return this.admitted(config, target, request, result);
      // How the wait ended replaces what the first pass saw of this account: an account disabled
      // or deleted meanwhile is unavailable now (503, as a new request is told), no longer full.
      const at = answered.get(target.id)!;
      refusals[at.refusal] = result;
      reasons[at.reason] =
        result.reason === 'at_capacity'
          ? `${label(target)}: still ${result.message} after waiting ${waitMs} ms`
          : `${label(target)}: ${publicReason(result)} while this request waited`;
    }
    let retryAfterMs: number | null = null;
    for (const r of refusals)
      if (r.retryAfterMs !== null) retryAfterMs = Math.min(retryAfterMs ?? r.retryAfterMs, r.retryAfterMs);
    reasons.push(...unservedReasons(config, request));
    return this.refusal(refusalKind(refusals), reasons, retryAfterMs);
  }

  private async tryAccount(
    account: PoolAccount,
    request: AdmitRequest,
    ttlMs: number,
    waitMs: number,
    reservations: Reservation[],
  ) {
    const now = Date.now();
    // Hold the key's slot across the AccountGate call, which opens this object's input gate.
    if (this.tracks(request, reservations)) {
      this.holdLease(request.leaseId, {
        keyId: request.keyId,
        accountId: account.id,
        expiresAt: now + ttlMs + waitMs,
        reservations: reservations.length > 0 ? reservations : undefined,
      });
    }
    let result: AcquireResult;
    this.trying.set(request.leaseId, { accountId: account.id, keyId: request.keyId });
    try {
      metrics.gateCalls++;
      result = await accountGate(this.env, account.id).acquire({
        accountId: account.id,
        leaseId: request.leaseId,
        ttlMs,
        waitMs,
      });
    } catch (err) {
      this.dropLease(request.leaseId);
      throw err;
    } finally {
      this.trying.delete(request.leaseId);
    }
    if (result.load) this.loads.set(account.id, result.load);
    if (result.ok && (this.withdrawn.has(request.leaseId) || this.revoked.has(request.keyId))) {
      // Its request left, or its key was revoked, while this call was out: give the lease straight back.
      this.dropLease(request.leaseId);
      metrics.gateCalls++;
      this.loads.set(account.id, await accountGate(this.env, account.id).release(request.leaseId));
      return {
        ok: false as const,
        reason: 'cancelled' as const,
        message: 'the request was withdrawn',
        retryAfterMs: null,
        load: null,
      };
    }
    if (!result.ok) this.dropLease(request.leaseId);
    return result;
  }

  private admitted(
    config: GroupConfig,
    account: PoolAccount,
    request: AdmitRequest,
    result: Extract<AcquireResult, { ok: true }>,
  ): Admission {
    const policy = this.policyFor(config, account.provider);
    if (request.sessionKey && config.kind === 'enterprise')
      this.bindSession(request.sessionKey, account.id, policy);
    const releaseVia = this.leases.has(request.leaseId) ? 'group' : 'account';
    if (releaseVia === 'account') {
      const now = Date.now();
      if (this.granted.size >= ADMISSION_MEMORY_LIMIT) forgetOlder(this.granted, (g) => g.at, now);
      this.granted.set(request.leaseId, { accountId: account.id, at: now });
    }
    return {
      ok: true,
      leaseId: request.leaseId,
      account: result.account,
      maxAttempts: policy.maxAttempts,
      releaseVia,
      health: policy,
      idleTimeoutMs: policy.streamIdleTimeoutMs,
      releaseSoon: request.limits.maxConcurrency !== null || (result.load !== null && nearFull(result.load)),
    };
  }

  /**
   * Whether this gate keeps its own copy of the lease: needed for a key concurrency limit, for
   * budget reservations (settled when the lease ends), and in a pool to keep each account's load
   * current for the strategies. A carpool key without limits or budgets needs none: the
   * AccountGate's lease is the whole truth.
   */
  private tracks(request: AdmitRequest, reservations: Reservation[]): boolean {
    return (
      this.config?.kind === 'enterprise' || request.limits.maxConcurrency !== null || reservations.length > 0
    );
  }

  private notePick(account: PoolAccount, candidates: PoolAccount[], tiering: Tiering): void {
    this.ranker.picked(account, candidates, tiering);
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

  /** The key's rules changed since the worker cached it, and the group's key bounds. */
  private checkRules(config: GroupConfig, request: AdmitRequest, now: number): Admission | null {
    const use = { service: request.service, model: request.model || null, userAgent: request.userAgent };
    const bounded = boundsRefusal(config.keyBounds, use);
    if (bounded) return { ok: false, kind: 'permission', ...bounded };
    const changed = this.changedPolicy(request.keyId, now);
    if (!changed) return null;
    try {
      checkKeyRules(changed, use);
      checkExpiry(changed, now);
    } catch (err) {
      if (err instanceof RelayError)
        return { ok: false, kind: err.kind, message: err.message, code: err.options.code };
      throw err;
    }
    return null;
  }

  /** The limits to hold the key to: its latest known ones, within the group's bounds. */
  private withCurrentLimits<T extends AdmitRequest>(config: GroupConfig, request: T, now: number): T {
    const changed = this.changedPolicy(request.keyId, now);
    const limits = changed
      ? {
          maxConcurrency: changed.maxConcurrency,
          requestsPerWindow: changed.requestsPerWindow,
          windowMinutes: changed.windowMinutes,
        }
      : request.limits;
    return { ...request, limits: effectiveLimits(limits, config.keyBounds) };
  }

  private changedPolicy(keyId: string, now: number): KeyPolicy | null {
    const changed = this.changedKeys.get(keyId);
    if (!changed) return null;
    if (changed.until > now) return changed.policy;
    this.changedKeys.delete(keyId);
    this.write('DELETE FROM key_rules WHERE key_id = ?', keyId);
    return null;
  }

  private checkKeyLimits(request: AdmitRequest, now: number): Admission | null {
    const { maxConcurrency, requestsPerWindow, windowMinutes } = request.limits;
    if (maxConcurrency !== null && this.inFlightFor(request.keyId) >= maxConcurrency) {
      return {
        ok: false,
        kind: 'rate_limited',
        // The codes tell a key's own limit from full accounts (plain `rate_limited`) in the log.
        code: 'key_concurrency_limit',
        message: `This key is at its limit of ${maxConcurrency} concurrent requests.`,
        retryAfterSec: 1,
      };
    }
    if (requestsPerWindow !== null) {
      const window = this.windows.check(request.keyId, requestsPerWindow, windowMsOf(request.limits), now);
      if (!window.ok) {
        return {
          ok: false,
          kind: 'rate_limited',
          code: 'key_rate_limit',
          message: `This key is at its limit of ${requestsPerWindow} requests per ${windowMinutes ?? 1} minute(s).`,
          retryAfterSec: window.retryAfterSec,
        };
      }
    }
    return null;
  }

  private countRequest(request: AdmitRequest, now: number): void {
    if (request.limits.requestsPerWindow === null) return;
    this.windows.count(request.keyId, windowMsOf(request.limits), now);
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
    this.write(
      'INSERT OR REPLACE INTO sessions (session_key, account_id, expires_at) VALUES (?, ?, ?)',
      sessionKey,
      accountId,
      expiresAt,
    );
  }

  private pruneSessions(now: number): void {
    for (const [key, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(key);
    this.write('DELETE FROM sessions WHERE expires_at <= ?', now);
  }

  private useConfig(config: GroupConfig): void {
    this.config = config;
    this.policies.clear();
    this.accountsById.clear();
    for (const account of config.accounts) this.accountsById.set(account.id, account);
  }

  /**
   * The policy an account is scheduled under: defaults ← its provider's pool ← the group. It
   * decides the account's cooldowns, and for a request it takes, the attempts, session and idle
   * timeout; its strategy orders the account's tier.
   */
  private policyFor(config: GroupConfig, provider: ProviderKind): SchedulingPolicy {
    let policy = this.policies.get(provider);
    if (!policy) {
      policy = resolvePolicy(config.pools?.[provider], config.scheduling);
      this.policies.set(provider, policy);
    }
    return policy;
  }

  /** Native wire first, then priority; the strategy is each account's pool's. */
  private tiering(config: GroupConfig, request: AdmitRequest): Tiering {
    const native = request.native;
    return {
      // Priorities run 0–1000: a converted account ranks after every native one.
      tierOf: (a) => (native.includes(a.provider) ? 0 : 10_000) + a.priority,
      strategyOf: (a) => this.policyFor(config, a.provider).strategy,
    };
  }

  /** The health policy of an account's lease (the group's alone for an account it no longer lists). */
  private healthPolicy(accountId: string): HealthPolicy {
    const config = this.config;
    const account = this.accountsById.get(accountId);
    if (config && account) return this.policyFor(config, account.provider);
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
    this.write(
      'INSERT OR REPLACE INTO leases (lease_id, key_id, account_id, expires_at, reservations) VALUES (?, ?, ?, ?, ?)',
      leaseId,
      lease.keyId,
      lease.accountId,
      lease.expiresAt,
      lease.reservations ? JSON.stringify(lease.reservations) : null,
    );
    this.scheduleAlarm(lease.expiresAt);
  }

  private dropLease(leaseId: string): void {
    if (this.leases.delete(leaseId)) this.write('DELETE FROM leases WHERE lease_id = ?', leaseId);
  }

  private write(query: string, ...bindings: (string | number | null)[]): void {
    metrics.storageWrites++;
    this.ctx.storage.sql.exec(query, ...bindings);
  }

  // The AccountGate reaps its own copy of an expired lease; this one frees the key's slot and
  // the budgets' reservations (what the request cost, if anything, is not known here).
  private reap(now: number): void {
    for (const [leaseId, lease] of this.leases) {
      if (lease.expiresAt > now) continue;
      if (lease.reservations) {
        this.settleBudgets(lease.reservations, null);
        // Freed already: a late release adds its cost and frees nothing more.
        const reservations = lease.reservations.map((r) => ({ ...r, micros: 0 }));
        this.reaped.set(leaseId, { reservations, at: now });
      }
      this.dropLease(leaseId);
    }
    for (const [leaseId, { at }] of this.reaped) if (at < now - REAPED_KEPT_MS) this.reaped.delete(leaseId);
  }

  private scheduleAlarm(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at && this.alarmAt > Date.now()) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
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

/**
 * No account serves the model: as a provider answers a model it does not have (404), with each
 * account's reason in the group's order. A retry cannot help; an operator can.
 */
function modelRefusal(config: GroupConfig, request: AdmitRequest): Admission {
  const reasons = config.accounts.map((account, i) =>
    request.providers.includes(account.provider)
      ? `${describeAccount(account, i)} ${describeModels(account)}`
      : `${describeAccount(account, i)} cannot serve this API`,
  );
  return {
    ok: false,
    kind: 'not_found',
    code: 'model_not_found',
    message:
      `No account in this group serves ${request.model}: ${reasons.join('; ')}. ` +
      'Add the model to an account’s supportedModels or modelMapping.',
  };
}

/** Why the accounts of this API that do not serve the model were not asked (for a refusal that has other reasons). */
function unservedReasons(config: GroupConfig, request: AdmitRequest): string[] {
  return config.accounts
    .map((a, i) => ({ a, i }))
    .filter(({ a }) => request.providers.includes(a.provider) && !servesModel(a, request.model))
    .map(({ a, i }) => `${describeAccount(a, i)} ${describeModels(a)}, not ${request.model}`);
}

/**
 * What the client is told when every account refused: a rate limit (429) when one is full or
 * rate-limited upstream, so it should slow down; overloaded (529 or 503, by dialect) when they
 * cool down after the provider said so; otherwise unavailable (503): server errors, timeouts,
 * rejected credentials, disabled accounts.
 */
function refusalKind(refusals: Refusal[]): RelayErrorKind {
  let overloaded = false;
  for (const r of refusals) {
    if (r.reason === 'at_capacity') return 'rate_limited';
    if (r.reason !== 'cooling_down') continue;
    if (r.cause === 'overloaded') overloaded = true;
    else if (r.cause !== 'failing') return 'rate_limited';
  }
  return overloaded ? 'overloaded' : 'unavailable';
}

/**
 * An account's refusal as a key holder may read it: never the operator's words (a disable reason
 * can say anything about the account or who pays for it). Operators see them in the account's state.
 */
function publicReason(refusal: Refusal): string {
  return refusal.reason === 'disabled' ? 'disabled' : refusal.message;
}

function revokedRefusal(): Admission {
  return { ok: false, kind: 'permission', code: 'key_revoked', message: 'This API key has been revoked.' };
}

function withdrawnRefusal(): Admission {
  return { ok: false, kind: 'invalid_request', message: 'The request was withdrawn by its client.' };
}

/** Drops entries older than the admission memory, oldest first (a Map keeps insertion order). */
function forgetOlder<T>(map: Map<string, T>, at: (value: T) => number, now: number): void {
  for (const [key, value] of map) {
    if (at(value) > now - ADMISSION_MEMORY_MS) break;
    map.delete(key);
  }
}

function windowMsOf(limits: KeyLimits): number {
  return (limits.windowMinutes ?? 1) * 60_000;
}
