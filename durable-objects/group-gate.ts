// GroupGate: the strongly consistent state of one group. Admission happens here in one call from
// the worker: the key is checked against revocations and its own limits, the group's account is
// chosen and a concurrency lease is taken from that account's AccountGate.
import { DurableObject } from 'cloudflare:workers';
import { eq } from 'drizzle-orm';
import { db } from '../worker/db/client';
import { type Group, groups } from '../worker/db/schema';
import type { UpstreamAccount } from '../worker/providers/types';
import type { RelayErrorKind } from '../worker/relay/dialect';
import type { AcquireResult } from './account-gate';
import { migrateSql } from './sql-schema';

export type GroupConfig = Pick<Group, 'id' | 'kind' | 'boundAccountId'>;

export interface AdmitRequest {
  groupId: string;
  keyId: string;
  /** The relay request id doubles as the lease id. */
  leaseId: string;
  model: string;
  /** The key's own concurrency limit, from its record; null means unlimited. */
  keyMaxConcurrency: number | null;
}

export type Admission =
  | { ok: true; leaseId: string; account: UpstreamAccount }
  | { ok: false; kind: RelayErrorKind; message: string; retryAfterSec?: number };

const SCHEMA = [
  `CREATE TABLE leases (lease_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, account_id TEXT NOT NULL,
     expires_at INTEGER NOT NULL);
   CREATE TABLE revoked_keys (key_id TEXT PRIMARY KEY);
   CREATE TABLE config (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), json TEXT NOT NULL);`,
] as const;

interface Lease {
  keyId: string;
  accountId: string;
  expiresAt: number;
}

export class GroupGate extends DurableObject<Env> {
  private config: GroupConfig | null = null;
  private readonly leases = new Map<string, Lease>();
  private readonly revoked = new Set<string>();
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
      type Row = { lease_id: string; key_id: string; account_id: string; expires_at: number };
      for (const row of sql.exec<Row>('SELECT * FROM leases')) {
        this.leases.set(row.lease_id, {
          keyId: row.key_id,
          accountId: row.account_id,
          expiresAt: row.expires_at,
        });
      }
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
    if (request.keyMaxConcurrency !== null && this.inFlightFor(request.keyId) >= request.keyMaxConcurrency) {
      return {
        ok: false,
        kind: 'rate_limited',
        message: `This key is at its limit of ${request.keyMaxConcurrency} concurrent requests.`,
        retryAfterSec: 1,
      };
    }
    const accountId = config.boundAccountId;
    if (!accountId) {
      return {
        ok: false,
        kind: 'unavailable',
        message: 'This group has no upstream account bound yet.',
        retryAfterSec: 60,
      };
    }
    const ttlMs = Number(this.env.LEASE_TTL_MS);
    // Reserve the key's slot before the AccountGate call: that call opens the input gate, and a
    // concurrent admit for the same key must already see this request counted.
    this.holdLease(request.leaseId, { keyId: request.keyId, accountId, expiresAt: now + ttlMs });
    let acquired: AcquireResult;
    try {
      acquired = await this.accountGate(accountId).acquire(accountId, request.leaseId, ttlMs);
    } catch (err) {
      this.dropLease(request.leaseId);
      throw err;
    }
    if (!acquired.ok) {
      this.dropLease(request.leaseId);
      return {
        ok: false,
        kind: acquired.reason === 'at_capacity' ? 'rate_limited' : 'unavailable',
        message: `The group's account cannot serve right now: ${acquired.message}.`,
        retryAfterSec: Math.ceil((acquired.retryAfterMs ?? 30_000) / 1000),
      };
    }
    return { ok: true, leaseId: request.leaseId, account: acquired.account };
  }

  /** Ends a request: frees the key's slot and the account lease. Idempotent. */
  async release(leaseId: string): Promise<void> {
    const lease = this.leases.get(leaseId);
    this.dropLease(leaseId);
    if (lease) await this.accountGate(lease.accountId).release(leaseId);
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

  state(): { config: GroupConfig | null; leasesInUse: number; revokedKeys: number } {
    this.reap(Date.now());
    return { config: this.config, leasesInUse: this.leases.size, revokedKeys: this.revoked.size };
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    this.reap(Date.now());
    let next = Number.POSITIVE_INFINITY;
    for (const lease of this.leases.values()) next = Math.min(next, lease.expiresAt);
    if (Number.isFinite(next)) this.scheduleAlarm(next);
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
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  private accountGate(accountId: string) {
    return this.env.ACCOUNT_GATE.get(this.env.ACCOUNT_GATE.idFromName(`account:${accountId}`));
  }

  private loadConfig(groupId: string): Promise<GroupConfig | null> {
    this.loading ??= this.readConfig(groupId).finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async readConfig(groupId: string): Promise<GroupConfig | null> {
    const [row] = await db(this.env)
      .select({ id: groups.id, kind: groups.kind, boundAccountId: groups.boundAccountId })
      .from(groups)
      .where(eq(groups.id, groupId));
    if (row && !this.config) this.configure(row);
    return this.config;
  }
}
