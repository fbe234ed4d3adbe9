// The scheduler against real Durable Objects: concurrency never exceeded, leases always come back,
// sessions stick, failover before the first content byte, carpool isolation, and each strategy.
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { accountStub } from './support/gates';
import {
  admin,
  countsByAccount,
  eventually,
  fakeLog,
  fakeStats,
  leasesInUse,
  relayFetch,
  requestLogFor,
  scriptFake,
  seedCarpool,
  seedEnterprise,
  streamMessage,
} from './support/relay';

async function released(accountId: string): Promise<boolean> {
  return eventually(async () => ((await leasesInUse(accountId)) === 0 ? true : undefined));
}

/** Opens a stream and waits for its first content; the caller ends it with `cancel()`. */
async function openStream(key: string, session: string) {
  const res = await streamMessage(key, { session });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  expect(first).toContain('message_start');
  return { cancel: () => reader.cancel() };
}

describe('AccountGate concurrency', () => {
  it('never lets 200 parallel streams exceed max concurrency 5: each completes or gets 429 with retry-after', async () => {
    const carpool = await seedCarpool({ scenario: 'slow.10.3', maxConcurrency: 5 });
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await streamMessage(carpool.key, { session: `s${i}` });
        const text = await res.text();
        if (res.status === 200) return text.includes('event: message_stop') ? 'completed' : 'broken';
        if (res.status === 429 && Number(res.headers.get('retry-after')) > 0) return 'refused';
        return `unexpected ${res.status}`;
      }),
    );
    const stats = await fakeStats(carpool.tag);
    expect(stats.highWater).toBe(5);
    expect(outcomes.filter((o) => o !== 'completed' && o !== 'refused')).toEqual([]);
    expect(outcomes.filter((o) => o === 'completed').length).toBe(stats.count);
    expect(stats.count).toBeGreaterThan(100);
    expect(await released(carpool.accountId)).toBe(true);
  });

  it('queues a request for a busy account instead of refusing it at once', async () => {
    const carpool = await seedCarpool({
      scenario: 'slow.100.3',
      maxConcurrency: 1,
      scheduling: { queueWaitMs: 5000 },
    });
    const both = await Promise.all(
      [1, 2].map(async () => {
        const res = await streamMessage(carpool.key);
        return { status: res.status, text: await res.text() };
      }),
    );
    expect(both.map((r) => r.status)).toEqual([200, 200]);
    expect(both.every((r) => r.text.includes('event: message_stop'))).toBe(true);
    expect((await fakeStats(carpool.tag)).highWater).toBe(1);
  });

  it('reaps a leaked lease by alarm', async () => {
    const carpool = await seedCarpool();
    const stub = accountStub(carpool.accountId);
    const granted = await stub.acquire({
      accountId: carpool.accountId,
      leaseId: 'leaked',
      ttlMs: 50,
      waitMs: 0,
    });
    expect(granted.ok).toBe(true);
    expect((await stub.state()).inUse).toBe(1);
    // Nothing calls the gate meanwhile: only its alarm can remove the expired row.
    const rows = () =>
      runInDurableObject(stub, (_gate, state) =>
        state.storage.sql.exec('SELECT lease_id FROM leases').toArray(),
      );
    expect(await rows()).toEqual([{ lease_id: 'leaked' }]);
    await eventually(async () => ((await rows()).length === 0 ? true : undefined), 5000);
    // The alarm has run (no alarm is left to run) and the gate agrees.
    expect(await runDurableObjectAlarm(stub)).toBe(false);
    expect((await stub.state()).inUse).toBe(0);
  });
});

describe('sticky sessions', () => {
  it('keep a session on one account over 50 requests, move it when that account cools down, and keep it there', async () => {
    const pool = await seedEnterprise([{}, {}, {}]);
    for (let i = 0; i < 50; i++) await (await streamMessage(pool.key, { session: 'conversation-1' })).text();
    const counts = await countsByAccount(pool.accounts);
    expect([...counts].sort()).toEqual([0, 0, 50]);
    const home = pool.accounts[counts.indexOf(50)]!;

    await scriptFake(home.tag, ['429.60']);
    const moved = await streamMessage(pool.key, { session: 'conversation-1' });
    expect(moved.status).toBe(200);
    expect(moved.headers.get('x-carpool-attempts')).toBe('2');
    expect(await moved.text()).toContain('message_stop');
    const state = await admin<{ reason: string }>('GET', `/accounts/${home.id}/state`);
    expect(state.json.reason).toMatch(/^cooling down until \d\d:\d\d:\d\d UTC after 429 from upstream$/);

    // Even once the old account is healthy again, the session stays where it moved.
    await admin('POST', `/accounts/${home.id}/reset`);
    for (let i = 0; i < 10; i++) await (await streamMessage(pool.key, { session: 'conversation-1' })).text();
    const after = await countsByAccount(pool.accounts);
    const homeIndex = pool.accounts.indexOf(home);
    expect(after[homeIndex]).toBe(51);
    expect(after.reduce((a, b) => a + b, 0)).toBe(62);
    expect(after.filter((n, i) => i !== homeIndex && n === 11)).toHaveLength(1);

    const group = await admin<{ sessions: { accountId: string }[] }>('GET', `/groups/${pool.groupId}/state`);
    expect(group.json.sessions.map((s) => s.accountId)).not.toContain(home.id);
  });

  it('derive the session from metadata.user_id when there is no header', async () => {
    const pool = await seedEnterprise([{}, {}], { pools: { anthropic: { strategy: 'round_robin' } } });
    const send = async (userId: string, i: number) => {
      const res = await relayFetch('http://relay.test/v1/messages', {
        method: 'POST',
        headers: { 'x-api-key': pool.key, 'content-type': 'application/json' },
        // Each request opens differently: only the session id in metadata can keep them together.
        body: JSON.stringify({
          model: 'claude-sonnet-4-5',
          max_tokens: 5,
          metadata: { user_id: userId },
          messages: [{ role: 'user', content: `turn ${i}` }],
        }),
      });
      await res.text();
    };
    const current = JSON.stringify({ device_id: 'd', account_uuid: '', session_id: 'meta-session' });
    for (let i = 0; i < 6; i++) await send(current, i);
    expect((await countsByAccount(pool.accounts)).sort()).toEqual([0, 6]);
    // The older form, `user_<hex>_account_<uuid>_session_<uuid>`.
    const older = `user_${'ab'.repeat(32)}_account_${crypto.randomUUID()}_session_${crypto.randomUUID()}`;
    for (let i = 0; i < 6; i++) await send(older, i);
    // All six on one account, whichever it is.
    const counts = (await countsByAccount(pool.accounts)).sort((a, b) => a - b);
    expect([
      [0, 12],
      [6, 6],
    ]).toContainEqual(counts);
  });
});

describe('failover', () => {
  it('moves a 529 before the first byte to another account; the client gets one clean stream', async () => {
    const pool = await seedEnterprise([{ scenario: '529', priority: 1 }, { priority: 2 }]);
    const res = await streamMessage(pool.key, { text: 'fail me over' });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text.match(/event: message_start/g)).toHaveLength(1);
    expect(text).not.toContain('event: error');
    const [second] = await fakeLog(pool.accounts[1]!.tag);
    expect(text).toContain(JSON.stringify(second!.text!.slice(0, 4)).slice(1, -1));
    expect(await countsByAccount(pool.accounts)).toEqual([1, 1]);
  });

  it('fails over an overloaded_error that arrives right after message_start', async () => {
    const pool = await seedEnterprise([{ scenario: 'overloaded_after_start', priority: 1 }, { priority: 2 }]);
    const res = await streamMessage(pool.key);
    const text = await res.text();
    expect(text.match(/event: message_start/g)).toHaveLength(1);
    expect(text).not.toContain('overloaded_error');
    expect(text).toContain('event: message_stop');
    expect(await countsByAccount(pool.accounts)).toEqual([1, 1]);
  });

  it('does not retry once content has flowed: the failure reaches the client', async () => {
    // An upstream error event passes through; a dropped connection cuts the client's stream.
    const pool = await seedEnterprise([{ scenario: 'midstream_error', priority: 1 }, { priority: 2 }]);
    const text = await (await streamMessage(pool.key)).text();
    expect(text).toContain('content_block_delta');
    expect(text.trimEnd()).toMatch(
      /event: error\ndata: \{"type":"error","error":\{"type":"overloaded_error"/,
    );
    expect(await countsByAccount(pool.accounts)).toEqual([1, 0]);

    const dropped = await seedEnterprise([{ scenario: 'drop', priority: 1 }, { priority: 2 }]);
    const reader = (await streamMessage(dropped.key)).body!.getReader();
    let seen = '';
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          seen += new TextDecoder().decode(value);
        }
      })(),
    ).rejects.toThrow();
    expect(seen).toContain('content_block_delta');
    expect(await countsByAccount(dropped.accounts)).toEqual([1, 0]);
  });

  it('gives up after maxAttempts and passes the last upstream error through', async () => {
    const pool = await seedEnterprise([{ scenario: '500' }, { scenario: '500' }, { scenario: '500' }, {}], {
      pools: { anthropic: { maxAttempts: 2, strategy: 'round_robin' } },
    });
    const res = await streamMessage(pool.key);
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('api_error');
    expect((await countsByAccount(pool.accounts)).reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('says how many attempts a relay error after failover took', async () => {
    // Both accounts reject their credentials: no upstream answer is passed on, the relay explains.
    const pool = await seedEnterprise([{ scenario: '401' }, { scenario: '401' }]);
    const res = await streamMessage(pool.key);
    expect(res.status).toBe(502);
    expect(res.headers.get('x-carpool-attempts')).toBe('2');
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/credentials/);
    expect(await countsByAccount(pool.accounts)).toEqual([1, 1]);
  });

  it('explains, account by account, why nothing can serve', async () => {
    const pool = await seedEnterprise([{}, { supportedModels: ['claude-opus-*'] }, { scenario: '429.120' }]);
    await admin('POST', `/accounts/${pool.accounts[0]!.id}/disable`, { reason: 'invoice unpaid' });
    const first = await streamMessage(pool.key, { model: 'claude-haiku-4-5' });
    expect(first.status).toBe(429);
    await first.text();
    const res = await streamMessage(pool.key, { model: 'claude-haiku-4-5' });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(100);
    const message = ((await res.json()) as { error: { message: string } }).error.message;
    // By place and kind: no account's name, no operator's reason (they go to any key holder).
    expect(message).toContain('account 1 (anthropic): disabled;');
    expect(message).toContain(
      'account 2 (anthropic) serves only claude-opus-* (its supportedModels), not claude-haiku-4-5',
    );
    expect(message).toMatch(
      /account 3 \(anthropic\): cooling down until \d\d:\d\d:\d\d UTC after 429 from upstream/,
    );
    expect(message).not.toMatch(/pool-|invoice/);
  });
});

describe('timeouts are per attempt', () => {
  // UPSTREAM_HEADERS_TIMEOUT_MS is 2000 in the tests (vitest.config.ts).
  const timeoutMs = Number(env.UPSTREAM_HEADERS_TIMEOUT_MS);

  // The first account opens its stream and says nothing more; the second answers after 1.2 s,
  // well within its own timeout but after the first attempt has used the whole of it: its
  // headers that late, or its headers at once and its first content that late.
  it.each([
    ['its response headers', `slow_first_byte.${timeoutMs * 0.6}`],
    ['its first content', `slow_first_content.${timeoutMs * 0.6}`],
  ])(
    'gives the account failed over a full timeout of its own for %s, and cools down only the one that hung',
    async (_, scenario) => {
      const pool = await seedEnterprise([
        { scenario: 'hang', priority: 1 },
        { scenario, priority: 2 },
      ]);
      const [hung, slow] = pool.accounts;
      const started = Date.now();
      const res = await streamMessage(pool.key, { text: 'outlast me' });
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(res.headers.get('x-carpool-attempts')).toBe('2');
      expect(Date.now() - started).toBeGreaterThanOrEqual(timeoutMs + timeoutMs * 0.6);
      expect(text.match(/event: message_start/g)).toHaveLength(1);
      expect(text).toContain('event: message_stop');
      const [answered] = await fakeLog(slow!.tag);
      expect(answered).toMatchObject({ status: 200, cancelled: false });
      expect(text).toContain(JSON.stringify(answered!.text!.slice(0, 4)).slice(1, -1));
      expect((await fakeLog(hung!.tag))[0]).toMatchObject({ status: 200, cancelled: true });

      expect(await released(hung!.id)).toBe(true);
      expect(await released(slow!.id)).toBe(true);
      const hungState = await accountStub(hung!.id).state();
      expect(hungState.cooldownUntil).toBeGreaterThan(Date.now());
      expect(hungState.reason).toMatch(/timeout/);
      const slowState = await accountStub(slow!.id).state();
      expect(slowState.cooldownUntil).toBeNull();
      expect(slowState.consecutiveFailures).toBe(0);
      // The account that served is judged by its own call, not by the hung one's timeout before it.
      expect(slowState.latencyEwmaMs).toBeLessThan(timeoutMs);

      // One row for the request: the second account's answer, complete.
      const rows = await requestLogFor(pool.keyId);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        account_id: slow!.id,
        status: 200,
        outcome: 'complete',
        error_type: null,
      });
      expect(rows[0]!.output_tokens).toBeGreaterThan(0);
      // The client waited for both: its first byte counts from the request's start.
      expect(rows[0]!.ttfb_ms).toBeGreaterThanOrEqual(timeoutMs);
    },
  );

  it("does not count the wait in an account's queue against the upstream's timeout", async () => {
    // One slot: the second request waits ~1.5 s for it, then its upstream takes 1.2 s to answer.
    const carpool = await seedCarpool({ maxConcurrency: 1, scheduling: { queueWaitMs: 10_000 } });
    await scriptFake(carpool.tag, ['slow.500.3', `slow_first_byte.${timeoutMs * 0.6}`]);
    const first = streamMessage(carpool.key, { session: 'a' });
    await eventually(async () => ((await fakeLog(carpool.tag)).length === 1 ? true : undefined));
    const second = streamMessage(carpool.key, { session: 'b' });
    const answers = await Promise.all(
      [first, second].map(async (pending) => {
        const res = await pending;
        return { status: res.status, text: await res.text() };
      }),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers.every((a) => a.text.includes('event: message_stop'))).toBe(true);
    const log = await fakeLog(carpool.tag);
    expect(log.map((e) => e.scenario)).toEqual(['slow.500.3', `slow_first_byte.${timeoutMs * 0.6}`]);
    expect(await released(carpool.accountId)).toBe(true);
    expect((await accountStub(carpool.accountId).state()).cooldownUntil).toBeNull();
  });
});

describe('carpool isolation', () => {
  it('never touches another account, even while its own cools down', async () => {
    const pool = await seedEnterprise([{}]);
    const carpool = await seedCarpool({ scenario: '429.30' });
    const first = await streamMessage(carpool.key);
    expect(first.status).toBe(429);
    await first.text();
    const second = await streamMessage(carpool.key);
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(20);
    expect(((await second.json()) as { error: { message: string } }).error.message).toMatch(
      /cooling down until/,
    );
    expect((await fakeLog(carpool.tag)).length).toBe(1);
    expect(await countsByAccount(pool.accounts)).toEqual([0]);
  });
});

describe('strategies', () => {
  it('least_connections sends new work to the account with the fewest requests in flight', async () => {
    const pool = await seedEnterprise([{ scenario: 'slow.100.60' }, { scenario: 'slow.100.60' }, {}], {
      pools: { anthropic: { strategy: 'least_connections' } },
    });
    const fast = pool.accounts[2]!;
    const open: { cancel: () => Promise<void> }[] = [];
    for (let i = 0; i < 9; i++) {
      const res = await streamMessage(pool.key, { session: `lc-${i}` });
      const servedByFast = (await fakeLog(fast.tag)).some(
        (entry) => entry.id === res.headers.get('request-id'),
      );
      // The fast account finishes at once; the slow ones stay busy.
      if (servedByFast) await res.text();
      else open.push(res.body!);
      await released(fast.id);
    }
    expect(await countsByAccount(pool.accounts)).toEqual([1, 1, 7]);
    await Promise.all(open.map((s) => s.cancel()));
  });

  it('headroom prefers spare capacity, weighted by health', async () => {
    const pool = await seedEnterprise(
      [
        { scenario: 'slow.100.60', maxConcurrency: 2 },
        { scenario: 'slow.100.60', maxConcurrency: 4 },
        { scenario: 'slow.100.60', maxConcurrency: 8 },
      ],
      { pools: { anthropic: { strategy: 'headroom' } } },
    );
    const open = [];
    for (let i = 0; i < 7; i++) open.push(await openStream(pool.key, `hr-${i}`));
    const [small, medium, large] = await countsByAccount(pool.accounts);
    expect(small).toBe(0);
    expect(large).toBeGreaterThan(medium!);
    expect(small! + medium! + large!).toBe(7);
    await Promise.all(open.map((s) => s.cancel()));
  });

  it('headroom discounts an account that keeps failing', async () => {
    // Failures here cost no cooldown, so only the health factor can move work off the bigger account.
    const pool = await seedEnterprise([{ maxConcurrency: 5 }, { maxConcurrency: 4 }], {
      pools: { anthropic: { strategy: 'headroom', serverErrorCooldownMs: 0 } },
    });
    const [big, small] = pool.accounts;
    await scriptFake(big!.tag, ['500']);
    // 5 × 1 against 4 × 1: the bigger account first; it fails, the smaller one serves.
    const failedOver = await streamMessage(pool.key, { session: 'hr-a' });
    expect(failedOver.headers.get('x-carpool-attempts')).toBe('2');
    await failedOver.text();
    await released(big!.id);
    await released(small!.id);
    // Now 5 × 1/2 against 4 × 1.
    await (await streamMessage(pool.key, { session: 'hr-b' })).text();
    expect(await countsByAccount(pool.accounts)).toEqual([1, 2]);
  });

  it('serves from the first priority tier until it is full, then the next', async () => {
    const pool = await seedEnterprise([
      { scenario: 'slow.100.60', maxConcurrency: 2, priority: 1 },
      { scenario: 'slow.100.60', maxConcurrency: 10, priority: 2 },
    ]);
    const open = [];
    for (let i = 0; i < 5; i++) open.push(await openStream(pool.key, `tier-${i}`));
    expect(await countsByAccount(pool.accounts)).toEqual([2, 3]);
    await Promise.all(open.map((s) => s.cancel()));
  });
});

describe('health', () => {
  it('disables an account after consecutive 401s, and a good probe brings it back', async () => {
    const carpool = await seedCarpool({
      scenario: '401',
      scheduling: { authFailuresToDisable: 2, overloadedCooldownMs: 0 },
    });
    for (let i = 0; i < 2; i++) {
      const res = await streamMessage(carpool.key);
      expect(res.status).toBe(502);
      await res.text();
    }
    const state = await admin<{ reason: string }>('GET', `/accounts/${carpool.accountId}/state`);
    expect(state.json.reason).toMatch(/disabled after 2 consecutive 401 from upstream/);
    const refused = await streamMessage(carpool.key);
    expect(refused.status).toBe(503);
    await refused.text();

    await admin('PATCH', `/accounts/${carpool.accountId}`, { credential: `sk-fake.${carpool.tag}.ok` });
    const probe = await admin<{ ok: boolean }>('POST', `/accounts/${carpool.accountId}/probe`);
    expect(probe.json.ok).toBe(true);
    const ok = await streamMessage(carpool.key);
    expect(ok.status).toBe(200);
    await ok.text();
  });
});

describe('per-key limits', () => {
  it('refuses past requests per window with retry-after', async () => {
    const carpool = await seedCarpool({ keyLimits: { requestsPerWindow: 2, windowMinutes: 1 } });
    for (let i = 0; i < 2; i++)
      expect((await (await streamMessage(carpool.key)).text()).length).toBeGreaterThan(0);
    const third = await streamMessage(carpool.key);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(50);
    expect(((await third.json()) as { error: { message: string } }).error.message).toMatch(
      /2 requests per 1 minute/,
    );
  });

  it('refuses past the key concurrency limit', async () => {
    const carpool = await seedCarpool({ scenario: 'slow.100.30', keyLimits: { maxConcurrency: 1 } });
    const first = await openStream(carpool.key, 'k1');
    const second = await streamMessage(carpool.key);
    expect(second.status).toBe(429);
    expect(((await second.json()) as { error: { message: string } }).error.message).toMatch(/1 concurrent/);
    await first.cancel();
  });
});
