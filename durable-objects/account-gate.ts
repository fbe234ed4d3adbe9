// AccountGate: the strongly consistent state of one upstream account. It hands out concurrency
// leases (never more than the account's max), and a lease that is never released expires by alarm.
import { DurableObject } from 'cloudflare:workers';
import { eq } from 'drizzle-orm';
import { db } from '../worker/db/client';
import { type Account, accounts } from '../worker/db/schema';
import type { UpstreamAccount } from '../worker/providers/types';
import { migrateSql } from './sql-schema';

export type AccountConfig = Pick<
  Account,
  | 'id'
  | 'provider'
  | 'authKind'
  | 'baseUrl'
  | 'credentialsEnc'
  | 'modelMapping'
  | 'maxConcurrency'
  | 'enabled'
  | 'disabledReason'
>;

export type AcquireResult =
  | { ok: true; account: UpstreamAccount }
  | { ok: false; reason: 'not_found' | 'disabled' | 'at_capacity'; message: string; retryAfterMs?: number };

export interface AccountState {
  accountId: string | null;
  enabled: boolean;
  maxConcurrency: number;
  leasesInUse: number;
  leases: { leaseId: string; expiresAt: number }[];
}

const SCHEMA = [
  `CREATE TABLE leases (lease_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
   CREATE TABLE config (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), json TEXT NOT NULL);`,
] as const;

export class AccountGate extends DurableObject<Env> {
  private config: AccountConfig | null = null;
  /** Mirror of the leases table, so checks need no query. */
  private readonly leases = new Map<string, number>();
  private alarmAt: number | null = null;
  private loading: Promise<AccountConfig | null> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      migrateSql(ctx.storage.sql, SCHEMA);
      const stored = ctx.storage.sql.exec<{ json: string }>('SELECT json FROM config').toArray()[0];
      if (stored) this.config = JSON.parse(stored.json) as AccountConfig;
      for (const row of ctx.storage.sql.exec<{ lease_id: string; expires_at: number }>(
        'SELECT * FROM leases',
      )) {
        this.leases.set(row.lease_id, row.expires_at);
      }
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** Takes a concurrency lease if the account can serve now. */
  async acquire(accountId: string, leaseId: string, ttlMs: number): Promise<AcquireResult> {
    const config = this.config ?? (await this.loadConfig(accountId));
    if (!config) return { ok: false, reason: 'not_found', message: `account ${accountId} does not exist` };
    // Nothing below awaits: the check and the write are one step no other request can interleave with.
    if (!config.enabled) {
      return {
        ok: false,
        reason: 'disabled',
        message: `disabled: ${config.disabledReason ?? 'by an operator'}`,
      };
    }
    const now = Date.now();
    this.reap(now);
    if (this.leases.size >= config.maxConcurrency) {
      return {
        ok: false,
        reason: 'at_capacity',
        message: `at ${this.leases.size}/${config.maxConcurrency} concurrent requests`,
        retryAfterMs: 1000,
      };
    }
    const expiresAt = now + ttlMs;
    this.leases.set(leaseId, expiresAt);
    this.ctx.storage.sql.exec(
      'INSERT OR REPLACE INTO leases (lease_id, expires_at) VALUES (?, ?)',
      leaseId,
      expiresAt,
    );
    this.scheduleAlarm(expiresAt);
    return {
      ok: true,
      account: {
        id: config.id,
        provider: config.provider,
        authKind: config.authKind,
        baseUrl: config.baseUrl,
        credentialsEnc: config.credentialsEnc,
        modelMapping: config.modelMapping,
      },
    };
  }

  release(leaseId: string): boolean {
    if (!this.leases.delete(leaseId)) return false;
    this.ctx.storage.sql.exec('DELETE FROM leases WHERE lease_id = ?', leaseId);
    return true;
  }

  /** The admin API pushes every account change here, so the gate never serves stale settings. */
  configure(config: AccountConfig): void {
    this.config = config;
    this.ctx.storage.sql.exec(
      'INSERT OR REPLACE INTO config (singleton, json) VALUES (1, ?)',
      JSON.stringify(config),
    );
  }

  state(): AccountState {
    this.reap(Date.now());
    return {
      accountId: this.config?.id ?? null,
      enabled: this.config?.enabled ?? false,
      maxConcurrency: this.config?.maxConcurrency ?? 0,
      leasesInUse: this.leases.size,
      leases: [...this.leases].map(([leaseId, expiresAt]) => ({ leaseId, expiresAt })),
    };
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    this.reap(Date.now());
    const next = Math.min(...this.leases.values());
    if (Number.isFinite(next)) this.scheduleAlarm(next);
  }

  private reap(now: number): void {
    for (const [leaseId, expiresAt] of this.leases) {
      if (expiresAt <= now) this.release(leaseId);
    }
  }

  private scheduleAlarm(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
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
    const [row] = await db(this.env)
      .select({
        id: accounts.id,
        provider: accounts.provider,
        authKind: accounts.authKind,
        baseUrl: accounts.baseUrl,
        credentialsEnc: accounts.credentialsEnc,
        modelMapping: accounts.modelMapping,
        maxConcurrency: accounts.maxConcurrency,
        enabled: accounts.enabled,
        disabledReason: accounts.disabledReason,
      })
      .from(accounts)
      .where(eq(accounts.id, accountId));
    if (row && !this.config) this.configure(row);
    return this.config;
  }
}
