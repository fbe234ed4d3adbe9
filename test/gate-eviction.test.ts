// A Durable Object is evicted after a while without requests and rebuilt from its SQLite storage
// by the next one. Whatever the gates promise must survive that: leases, sticky sessions and
// revocations in a GroupGate, cooldowns and leases in an AccountGate. Each check builds a new
// instance of the gate's class over the same storage, as the runtime does after an eviction.
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { AccountGate } from '../durable-objects/account-gate';
import { GroupGate } from '../durable-objects/group-gate';
import { admitRequest } from './support/admit';
import { accountStub, groupStub } from './support/gates';
import { admin, eventually, seedCarpool, seedEnterprise, streamMessage } from './support/relay';

/** A new instance of a gate over the storage of the one in `state`, once it has loaded. */
async function rebuild<T>(state: DurableObjectState, make: () => T): Promise<T> {
  const fresh = make();
  // The constructor loads under blockConcurrencyWhile; a second call runs once that is done.
  await state.blockConcurrencyWhile(async () => {});
  return fresh;
}

describe('gates rebuilt from storage', () => {
  it('keep leases, sessions, revocations and cooldowns', async () => {
    const pool = await seedEnterprise(
      [
        { scenario: 'slow.100.60', priority: 2 },
        { scenario: '429.120', priority: 1 },
      ],
      { keyLimits: { maxConcurrency: 3 } },
    );
    // The first account asked answers 429 and cools down; the request fails over to the other,
    // whose stream stays open: a lease (and a key slot), and a sticky session pointing at it.
    const open = await streamMessage(pool.key, { session: 'evicted-session' });
    expect(open.status).toBe(200);
    expect(open.headers.get('x-carpool-attempts')).toBe('2');
    const reader = open.body!.getReader();
    await reader.read();
    const cooling = pool.accounts[1]!;
    const before = await accountStub(cooling.id).state();
    expect(before.cooldownUntil).toBeGreaterThan(Date.now() + 60_000);
    // A second key of the group, revoked.
    const other = await admin<{ id: string }>('POST', '/keys', {
      groupId: pool.groupId,
      userId: pool.userId,
    });
    await admin('POST', `/keys/${other.json.id}/revoke`);

    const live = await groupStub(pool.groupId).state();
    expect(live.leasesInUse).toBe(1);
    const rebuilt = await runInDurableObject(groupStub(pool.groupId), async (_gate: GroupGate, state) => {
      const fresh = await rebuild(state, () => new GroupGate(state, env));
      return fresh.state();
    });
    expect(rebuilt.leasesInUse).toBe(1);
    expect(rebuilt.revokedKeys).toBe(1);
    expect(rebuilt.sessions).toEqual(live.sessions);
    expect(rebuilt.sessions.map((s) => s.accountId)).toContain(pool.accounts[0]!.id);
    expect(rebuilt.config?.accounts.map((a) => a.id).sort()).toEqual(pool.accounts.map((a) => a.id).sort());

    // A rebuilt GroupGate refuses the revoked key and counts the live lease against the key's limit.
    const admitted = await runInDurableObject(groupStub(pool.groupId), async (_gate: GroupGate, state) => {
      const fresh = await rebuild(state, () => new GroupGate(state, env));
      const request = {
        groupId: pool.groupId,
        model: 'claude-sonnet-4-5',
        providers: ['anthropic' as const],
        native: ['anthropic' as const],
        sessionKey: null,
        service: 'anthropic' as const,
        userAgent: null,
      };
      const revoked = await fresh.admit({
        ...request,
        keyId: other.json.id,
        leaseId: 'after-eviction-1',
        limits: { maxConcurrency: null, requestsPerWindow: null, windowMinutes: null },
        userId: 'user',
        reserveMicros: 0,
      });
      const limitedKey = await fresh.admit({
        ...request,
        keyId: pool.keyId,
        leaseId: 'after-eviction-2',
        limits: { maxConcurrency: 1, requestsPerWindow: null, windowMinutes: null },
        userId: 'user',
        reserveMicros: 0,
      });
      return { revoked, limitedKey };
    });
    expect(admitted.revoked).toMatchObject({ ok: false, message: 'This API key has been revoked.' });
    expect(admitted.limitedKey).toMatchObject({ ok: false, kind: 'rate_limited' });

    // The AccountGates: the cooldown and its reason, and the live lease.
    const account = await runInDurableObject(accountStub(cooling.id), async (_gate: AccountGate, state) =>
      (await rebuild(state, () => new AccountGate(state, env))).state(),
    );
    expect(account.cooldownUntil).toBe(before.cooldownUntil);
    expect(account.reason).toBe(before.reason);
    const holder = await runInDurableObject(
      accountStub(pool.accounts[0]!.id),
      async (_gate: AccountGate, state) => (await rebuild(state, () => new AccountGate(state, env))).state(),
    );
    expect(holder.inUse).toBe(1);

    await reader.cancel();
    await eventually(async () =>
      (await accountStub(pool.accounts[0]!.id).state()).inUse === 0 ? true : undefined,
    );
  });

  it("keep an account's last success and latency for its health page", async () => {
    const carpool = await seedCarpool();
    const res = await streamMessage(carpool.key);
    expect(res.status).toBe(200);
    await res.text();
    await eventually(async () =>
      (await accountStub(carpool.accountId).state()).inUse === 0 ? true : undefined,
    );
    const rebuilt = await runInDurableObject(
      accountStub(carpool.accountId),
      async (_gate: AccountGate, state) => (await rebuild(state, () => new AccountGate(state, env))).state(),
    );
    expect(rebuilt.lastSuccessAt).toEqual(expect.any(Number));
    expect(rebuilt.latencyEwmaMs).toEqual(expect.any(Number));
  });

  it("keep a key's request window, so a pause does not restart a daily limit", async () => {
    const carpool = await seedCarpool({ keyLimits: { requestsPerWindow: 3, windowMinutes: 1440 } });
    for (let i = 0; i < 3; i++) expect((await streamMessage(carpool.key)).status).toBe(200);
    expect((await streamMessage(carpool.key)).status).toBe(429);

    const after = await runInDurableObject(groupStub(carpool.groupId), async (_gate: GroupGate, state) => {
      const fresh = await rebuild(state, () => new GroupGate(state, env));
      const admit = (leaseId: string) =>
        fresh.admit(admitRequest(carpool, leaseId, { requestsPerWindow: 3, windowMinutes: 1440 }));
      const now = Date.now();
      const refused = await admit('window-after-eviction');
      // A day and a bucket (1/60 of the window) later the three requests have left the window.
      const realNow = Date.now;
      Date.now = () => now + 1440 * 60_000 + 24 * 60_000 + 1000;
      let admitted: Awaited<ReturnType<typeof admit>>;
      try {
        admitted = await admit('window-next-day');
      } finally {
        Date.now = realNow;
      }
      if (admitted.ok) await fresh.release(admitted.leaseId, undefined, admitted.account.id);
      return { refused, admitted, buckets: state.storage.sql.exec('SELECT * FROM key_windows').toArray() };
    });
    expect(after.refused).toMatchObject({ ok: false, kind: 'rate_limited', message: /3 requests per 1440/ });
    // Retry after the day: the first request's bucket (24 minutes wide) leaves the window then.
    expect(after.refused.ok ? 0 : after.refused.retryAfterSec).toBeGreaterThan(1440 * 60 - 120);
    expect(after.admitted).toMatchObject({ ok: true });
    // Storage holds buckets, not requests: the day's three shared one row, which the next day's
    // request pruned.
    expect(after.buckets).toHaveLength(1);
    expect(after.buckets[0]).toMatchObject({ key_id: carpool.keyId, count: 1 });
  });

  it('read a configuration stored before accounts carried model families again from D1', async () => {
    const pool = await seedEnterprise([{ provider: 'openai' }]);
    const gate = groupStub(pool.groupId);
    await gate.state();
    const result = await runInDurableObject(gate, async (_gate: GroupGate, state) => {
      // The shape an older version stored: accounts without family, preset or mapped names.
      const sql = state.storage.sql;
      const stored = JSON.parse(sql.exec<{ json: string }>('SELECT json FROM config').one().json);
      for (const account of stored.accounts) {
        delete account.family;
        delete account.preset;
        delete account.mapped;
      }
      sql.exec('UPDATE config SET json = ?', JSON.stringify(stored));
      const fresh = await rebuild(state, () => new GroupGate(state, env));
      const before = fresh.state().config;
      const admission = await fresh.admit({
        groupId: pool.groupId,
        keyId: pool.keyId,
        leaseId: 'old-config',
        model: 'claude-sonnet-4-5',
        providers: ['anthropic', 'openai'],
        native: ['anthropic'],
        sessionKey: null,
        limits: { maxConcurrency: null, requestsPerWindow: null, windowMinutes: null },
        userId: 'user',
        reserveMicros: 0,
        service: 'anthropic',
        userAgent: null,
      });
      return { before, admission, after: fresh.state().config };
    });
    expect(result.before).toBeNull();
    // Reloaded, the OpenAI account is known to serve its own family only.
    expect(result.admission).toMatchObject({ ok: false, kind: 'not_found' });
    expect(result.after?.accounts[0]?.family).toContain('gpt-*');
  });
});
