// A request's lease goes back in a batch with other requests' (fewer gate calls: worker/relay/
// outbox.ts), unless another request may be waiting for the slot. The GroupGate says which at
// admission: `releaseSoon` when the account is at or one short of its concurrency limit, and for
// every lease of a key with a concurrency limit (a key at its limit is refused, not queued).
import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { outbox } from '../worker/relay/outbox';
import { admitRequest } from './support/admit';
import { groupStub } from './support/gates';
import { type Carpool, leasesInUse, seedCarpool } from './support/relay';

function ask(carpool: Carpool, leaseId: string, maxConcurrency: number | null = null) {
  return admitRequest(carpool, leaseId, { maxConcurrency });
}

describe('releaseSoon', () => {
  it('is set once the account is one short of its concurrency limit', async () => {
    const carpool = await seedCarpool({ maxConcurrency: 3 });
    const gate = groupStub(carpool.groupId);
    const soon: boolean[] = [];
    for (const leaseId of ['a', 'b', 'c']) {
      const admission = await gate.admit(ask(carpool, leaseId));
      if (!admission.ok) throw new Error(admission.message);
      soon.push(admission.releaseSoon);
    }
    // 1 of 3 in use: nobody waits; 2 of 3: the next request takes the last slot; 3 of 3: full.
    expect(soon).toEqual([false, true, true]);
    await gate.releaseMany(['a', 'b', 'c'].map((leaseId) => ({ leaseId, accountId: carpool.accountId })));
    expect(await leasesInUse(carpool.accountId)).toBe(0);
  });

  it('is set for every lease of a key with a concurrency limit', async () => {
    const carpool = await seedCarpool({ maxConcurrency: 50 });
    const gate = groupStub(carpool.groupId);
    const limited = await gate.admit(ask(carpool, 'limited', 10));
    const unlimited = await gate.admit(ask(carpool, 'unlimited'));
    expect(limited).toMatchObject({ ok: true, releaseSoon: true });
    expect(unlimited).toMatchObject({ ok: true, releaseSoon: false });
    await gate.releaseMany(
      ['limited', 'unlimited'].map((leaseId) => ({ leaseId, accountId: carpool.accountId })),
    );
    expect(await leasesInUse(carpool.accountId)).toBe(0);
  });

  it('goes out within 5 ms, while a release nobody waits for waits 25 ms for company', async () => {
    const { accountId } = await seedCarpool({ maxConcurrency: 10 });
    const gate = env.ACCOUNT_GATE.get(env.ACCOUNT_GATE.idFromName(`account:${accountId}`));
    for (const leaseId of ['batched', 'soon'])
      expect(await gate.acquire({ accountId, leaseId, ttlMs: 60_000, waitMs: 0 })).toMatchObject({
        ok: true,
      });
    vi.useFakeTimers();
    try {
      const batched = outbox.add(env, {
        release: { via: 'account', accountId, item: { leaseId: 'batched' } },
      });
      await vi.advanceTimersByTimeAsync(10);
      expect(await leasesInUse(accountId)).toBe(2);
      const soon = outbox.add(env, {
        release: { via: 'account', accountId, item: { leaseId: 'soon' }, soon: true },
      });
      await vi.advanceTimersByTimeAsync(6);
      await soon;
      // The prompt flush took the batched release with it.
      expect(await leasesInUse(accountId)).toBe(0);
      await vi.advanceTimersByTimeAsync(25);
      await batched;
    } finally {
      vi.useRealTimers();
    }
  });
});
