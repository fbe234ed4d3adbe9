// A plain carpool key's later requests take their lease at the account's gate straight (one
// Durable Object call, not two), under the version of the group's rules the GroupGate judged
// under; any change to those rules binds at once (worker/relay/direct.ts, AccountGate.acquireDirect).
import { describe, expect, it } from 'vitest';
import { accountStub, groupStub } from './support/gates';
import { admin, type Carpool, inIsolate, leasesInUse, seedCarpool, streamMessage } from './support/relay';

async function directLeases(): Promise<number> {
  return (await admin<Record<string, number>>('GET', '/metrics')).json.directLeases ?? 0;
}

/** One streamed request, read to its end; its status and the error body's type when refused. */
async function ask(carpool: Carpool): Promise<{ status: number; error?: string }> {
  const res = await streamMessage(carpool.key, { via: inIsolate });
  const text = await res.text();
  await (res as Response & { done?: Promise<void> }).done;
  if (res.status === 200) {
    expect(text).toContain('event: message_stop');
    return { status: 200 };
  }
  return { status: res.status, error: (JSON.parse(text) as { error: { type: string } }).error.type };
}

describe('direct leases', () => {
  it("takes a plain carpool key's later leases at the account, and releases them", async () => {
    const carpool = await seedCarpool();
    const before = await directLeases();
    for (let i = 0; i < 4; i++) expect(await ask(carpool)).toEqual({ status: 200 });
    // The first request asks the GroupGate, which says the key qualifies; the next three go direct.
    expect((await directLeases()) - before).toBe(3);
    expect(await leasesInUse(carpool.accountId)).toBe(0);
  });

  it('stops at once when the key is revoked elsewhere', async () => {
    const carpool = await seedCarpool();
    await ask(carpool);
    await ask(carpool);
    // Revoked from another isolate: this one still caches the key as active, so only the gates
    // can refuse it (the API's own isolate also forgets the key, which would hide the gates).
    await groupStub(carpool.groupId).revokeKey(carpool.keyId);
    expect(await ask(carpool)).toEqual({ status: 403, error: 'permission_error' });
  });

  it('goes back through the GroupGate once the key has a limit of its own', async () => {
    const carpool = await seedCarpool();
    await ask(carpool);
    await ask(carpool);
    // Changed from another isolate: this one's cached key still has no limit, so only the version
    // the GroupGate bumps can end the direct path.
    await groupStub(carpool.groupId).updateKey(
      carpool.keyId,
      {
        allowedModels: null,
        allowedServices: null,
        allowedClients: null,
        expiresAt: null,
        activeForMs: null,
        activatedAt: null,
        maxConcurrency: 3,
        requestsPerWindow: null,
        windowMinutes: null,
      },
      Date.now() + 60_000,
    );
    const before = await directLeases();
    expect(await ask(carpool)).toEqual({ status: 200 });
    expect(await ask(carpool)).toEqual({ status: 200 });
    expect((await directLeases()) - before).toBe(0);
  });

  it('goes back through the GroupGate once a budget applies', async () => {
    const carpool = await seedCarpool();
    await ask(carpool);
    await ask(carpool);
    const budget = await admin('POST', '/budgets', {
      scope: 'key',
      keyId: carpool.keyId,
      period: 'month',
      limitMicros: 1,
      mode: 'hard',
    });
    expect(budget.status, JSON.stringify(budget.json)).toBe(201);
    const before = await directLeases();
    // The first request under the budget may spend it; none goes direct, and the budget is held.
    const answers = [await ask(carpool), await ask(carpool), await ask(carpool)];
    expect((await directLeases()) - before).toBe(0);
    expect(answers.some((a) => a.status !== 200)).toBe(true);
  });

  it('refuses a direct lease under old rules, and one whose request already left', async () => {
    const { accountId } = await seedCarpool();
    const gate = accountStub(accountId);
    await gate.setPlanVersion('group-x', 7);
    const ask = (leaseId: string, version = 7) =>
      gate.acquireDirect({
        groupId: 'group-x',
        version,
        accountId,
        leaseId,
        ttlMs: 60_000,
      });
    expect(await ask('old', 6)).toMatchObject({ ok: false, reason: 'stale_plan' });
    // The worker's client left mid-admission and its release arrived first.
    await gate.releaseMany([{ leaseId: 'gone' }]);
    expect(await ask('gone')).toMatchObject({ ok: false, reason: 'cancelled' });
    expect(await ask('live')).toMatchObject({ ok: true });
    await gate.releaseMany([{ leaseId: 'live' }]);
  });
});
