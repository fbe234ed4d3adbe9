// No drift: a thousand requests ending every way there is — completed, upstream 500, dropped
// mid-stream, an upstream error event, the client leaving mid-stream — and a lease whose worker
// died, against one hard budget: afterwards nothing is reserved, and the budget's counter equals
// what the request log recorded, to the micro-dollar.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { groupStub } from './support/gates';
import { admin, eventually, inIsolate, scriptFake, seedCarpool, streamMessage } from './support/relay';

describe('budget reservations', { timeout: 400_000 }, () => {
  it('leave no drift after 1,000 mixed requests and a lease that expired', async () => {
    // Upstream 500s must not cool the one account down: every request should reach it.
    const carpool = await seedCarpool({ maxConcurrency: 50, scheduling: { serverErrorCooldownMs: 0 } });
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'group',
      groupId: carpool.groupId,
      period: 'month',
      limitMicros: 1_000_000_000,
    });
    const total = 1000;
    const scenarios = Array.from({ length: total }, (_, i) =>
      i % 10 === 1 ? '500' : i % 10 === 2 ? 'drop.1' : i % 10 === 3 ? 'midstream_error.1' : 'ok',
    );
    await scriptFake(carpool.tag, scenarios);
    let aborted = 0;
    for (let i = 0; i < total; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, j) => {
          const client = new AbortController();
          const res = await streamMessage(carpool.key, { signal: client.signal, via: inIsolate });
          if ((i + j) % 10 === 5 && res.status === 200) {
            // The client leaves after the first chunk.
            const reader = res.body!.getReader();
            await reader.read().catch(() => {});
            client.abort();
            await reader.cancel().catch(() => {});
            aborted++;
            return;
          }
          await res.text().catch(() => {});
        }),
      );
    }
    expect(aborted).toBeGreaterThan(50);

    // A request whose worker died after admission: its lease expires (LEASE_TTL_MS, 3 s here).
    const gate = groupStub(carpool.groupId);
    const orphan = await gate.admit({
      groupId: carpool.groupId,
      keyId: carpool.keyId,
      leaseId: 'orphan',
      model: 'claude-sonnet-4-5',
      providers: ['anthropic'],
      native: ['anthropic'],
      sessionKey: null,
      limits: { maxConcurrency: null, requestsPerWindow: null, windowMinutes: null },
      userId: carpool.userId,
      reserveMicros: 12_345,
      service: 'anthropic' as const,
      userAgent: null,
    });
    expect(orphan.ok).toBe(true);

    const logged = await eventually(async () => {
      const row = await env.DB.prepare(
        'SELECT count(*) AS n, coalesce(sum(cost_micros), 0) AS cost FROM request_log WHERE group_id = ?',
      )
        .bind(carpool.groupId)
        .first<{ n: number; cost: number }>();
      return row && row.n === total ? row : undefined;
    }, 30_000);
    const view = await eventually(async () => {
      const { budgets } = await gate.state();
      const v = budgets.find((b) => b.budgetId === budget.json.id);
      return v && v.reservedMicros === 0 ? v : undefined;
    }, 15_000);
    expect(view.spentMicros).toBe(logged.cost);
    expect(logged.cost).toBeGreaterThan(0);
  });
});

describe('a lease reaped under a live request', () => {
  it('frees its reservation at once and still counts what the request cost when it ends', async () => {
    const carpool = await seedCarpool();
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'group',
      groupId: carpool.groupId,
      period: 'month',
      limitMicros: 1_000_000_000,
    });
    const gate = groupStub(carpool.groupId);
    const admitted = await gate.admit({
      groupId: carpool.groupId,
      keyId: carpool.keyId,
      leaseId: 'too-busy-to-renew',
      model: 'claude-sonnet-4-5',
      providers: ['anthropic'],
      native: ['anthropic'],
      sessionKey: null,
      limits: { maxConcurrency: null, requestsPerWindow: null, windowMinutes: null },
      userId: carpool.userId,
      reserveMicros: 10_000,
      service: 'anthropic' as const,
      userAgent: null,
    });
    expect(admitted.ok).toBe(true);
    const budgetView = async () => (await gate.state()).budgets.find((b) => b.budgetId === budget.json.id);
    expect(await budgetView()).toMatchObject({ reservedMicros: 10_000, spentMicros: 0 });

    // The worker never renews (LEASE_TTL_MS is 3 s here): the gate reaps the lease.
    await eventually(async () => ((await budgetView())?.reservedMicros === 0 ? true : undefined), 15_000);
    // Then the request ends after all, having cost 7,000 µ$.
    await gate.releaseMany([
      { leaseId: 'too-busy-to-renew', accountId: carpool.accountId, costMicros: 7_000 },
    ]);
    expect(await budgetView()).toMatchObject({ reservedMicros: 0, spentMicros: 7_000 });
    // Once only: a second release of the same lease adds nothing.
    await gate.releaseMany([
      { leaseId: 'too-busy-to-renew', accountId: carpool.accountId, costMicros: 7_000 },
    ]);
    expect(await budgetView()).toMatchObject({ reservedMicros: 0, spentMicros: 7_000 });
  });
});
