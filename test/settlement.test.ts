// Every request settles exactly once, whatever its ending: the client leaving before the
// response, during the held preamble or mid-stream; the upstream stalling, dropping or failing
// mid-stream; a stream that outlives a lease's TTL. After each: no lease in use, the request log
// holds exactly one row per upstream request, and what the upstream reported (or an estimate of
// what streamed) is billed.
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { GroupGate } from '../durable-objects/group-gate';
import type { UsageEvent } from '../worker/queue/usage-event';
import { sendUsage } from '../worker/relay/outbox';
import { tokensForText } from './fake-upstream/tokens';
import { accountStub, budgetView, groupStub } from './support/gates';
import {
  admin,
  type Carpool,
  eventually,
  fakeLog,
  inIsolate,
  leasesInUse,
  RELAY,
  type RequestLogRecord,
  relayFetch,
  requestLogFor,
  seedCarpool,
  streamMessage,
} from './support/relay';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * No lease left at the account, nor a key slot at the group, well before a forgotten lease would
 * expire by itself (LEASE_TTL_MS is 3 s in the tests): released, not reaped.
 */
async function settled(carpool: Carpool): Promise<void> {
  const within = Number(env.LEASE_TTL_MS) / 3;
  await eventually(async () => ((await leasesInUse(carpool.accountId)) === 0 ? true : undefined), within);
  await eventually(
    async () => ((await groupStub(carpool.groupId).state()).leasesInUse === 0 ? true : undefined),
    within,
  );
}

/** The request log holds exactly as many rows as the upstream saw requests, each once. */
async function loggedOncePerUpstreamRequest(carpool: Carpool): Promise<RequestLogRecord[]> {
  const upstream = await eventually(async () => {
    const log = await fakeLog(carpool.tag);
    return log.length > 0 && log.every((e) => e.endedAt !== null) ? log : undefined;
  });
  const rows = await requestLogFor(carpool.keyId, upstream.length);
  await sleep(300);
  const again = await requestLogFor(carpool.keyId, upstream.length);
  expect(again.length).toBe(upstream.length);
  return rows;
}

describe('a client that leaves', () => {
  it('before the response headers: the upstream call is cancelled, the lease released, the request recorded with no tokens', async () => {
    const carpool = await seedCarpool({ scenario: 'slow_first_byte.1500', keyLimits: { maxConcurrency: 2 } });
    const client = new AbortController();
    const pending = streamMessage(carpool.key, { signal: client.signal });
    await sleep(300);
    client.abort();
    await expect(pending).rejects.toThrow();
    await settled(carpool);
    const [upstream] = await eventually(async () => {
      const log = await fakeLog(carpool.tag);
      return log[0]?.cancelled ? log : undefined;
    });
    expect(upstream!.status === null || upstream!.cancelled).toBe(true);
    const [row] = await loggedOncePerUpstreamRequest(carpool);
    expect(row).toMatchObject({
      outcome: 'client_abort',
      status: 499,
      input_tokens: 0,
      output_tokens: 0,
      cost_micros: 0,
    });
  });

  it('during the held preamble: what message_start reported is billed', async () => {
    // `hang`: message_start, then nothing; the relay holds the preamble waiting for content.
    const carpool = await seedCarpool({ scenario: 'hang' });
    const client = new AbortController();
    const pending = streamMessage(carpool.key, { signal: client.signal });
    await eventually(async () => ((await fakeLog(carpool.tag))[0]?.status === 200 ? true : undefined));
    await sleep(100);
    client.abort();
    await expect(pending).rejects.toThrow();
    await settled(carpool);
    const [row] = await loggedOncePerUpstreamRequest(carpool);
    const upstream = (await fakeLog(carpool.tag))[0]!;
    expect(upstream.cancelled).toBe(true);
    expect(row).toMatchObject({ outcome: 'client_abort', status: 200 });
    expect(row!.input_tokens).toBe((upstream.usage as { input_tokens: number }).input_tokens);
    expect(row!.input_tokens).toBeGreaterThan(0);
  });

  it('mid-stream: billed for what streamed, the output estimated and marked so', async () => {
    const carpool = await seedCarpool({ scenario: 'slow.150.40' });
    const client = new AbortController();
    const res = await streamMessage(carpool.key, { signal: client.signal, text: 'a'.repeat(400) });
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('content_block_delta'))
      seen += new TextDecoder().decode((await reader.read()).value);
    await sleep(800);
    client.abort();
    await reader.cancel().catch(() => {});
    await settled(carpool);
    const [row] = await loggedOncePerUpstreamRequest(carpool);
    const upstream = (await fakeLog(carpool.tag))[0]!;
    expect(upstream.cancelled).toBe(true);
    expect(row).toMatchObject({ outcome: 'client_abort', status: 200, estimated: 1 });
    // message_start says 1 output token; the estimate follows the text that actually streamed.
    const streamed = tokensForText(upstream.text ?? '');
    expect(streamed).toBeGreaterThan(2);
    expect(row!.output_tokens).toBeGreaterThanOrEqual(streamed - 3);
    expect(row!.output_tokens).toBeLessThanOrEqual(streamed + 3);
  });

  it('mid-stream while its body is still held: the upstream is cut when the request settles, not a second later', async () => {
    // The client's signal aborts but nothing has cancelled the body it holds, so the native
    // path's pipe has not heard of it and keeps the client's branch of the tee (and with it the
    // upstream) alive. The settlement aborts the upstream call itself; before it did, only a
    // backstop one second later did, and in a context that had already ended, never.
    const carpool = await seedCarpool({ scenario: 'slow.150.40' });
    const client = new AbortController();
    const res = await streamMessage(carpool.key, {
      signal: client.signal,
      text: 'a'.repeat(400),
      via: inIsolate,
    });
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('content_block_delta'))
      seen += new TextDecoder().decode((await reader.read()).value);
    await sleep(300);
    const abortedAt = Date.now();
    client.abort();
    const [upstream] = await eventually(async () => {
      const log = await fakeLog(carpool.tag);
      return log[0]?.endedAt != null ? log : undefined;
    });
    const cutAfter = Date.now() - abortedAt;
    expect(upstream!.cancelled).toBe(true);
    expect(cutAfter).toBeLessThan(800);
    await settled(carpool);
    const [row] = await loggedOncePerUpstreamRequest(carpool);
    expect(row).toMatchObject({ outcome: 'client_abort', status: 200, estimated: 1 });
  });

  it('mid-stream under a conversion: what the upstream had already sent is billed, not only what the client read', async () => {
    // The upstream answers at once and in full; the client reads one chunk, dawdles, and leaves.
    // The rest (its final usage included) is in the relay's hands: the account was charged for it.
    const carpool = await seedCarpool({ scenario: 'burst..30' });
    const res = await relayFetch(`${RELAY}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${carpool.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        stream: true,
        messages: [{ role: 'user', content: 'a'.repeat(400) }],
      }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('"content"')) seen += new TextDecoder().decode((await reader.read()).value);
    await eventually(async () => ((await fakeLog(carpool.tag))[0]?.endedAt ? true : undefined));
    await sleep(100);
    await reader.cancel();
    await settled(carpool);
    const [row] = await loggedOncePerUpstreamRequest(carpool);
    const upstream = (await fakeLog(carpool.tag))[0]!;
    expect(row).toMatchObject({ outcome: 'client_abort', status: 200 });
    expect(row!.output_tokens).toBe((upstream.usage as { output_tokens: number }).output_tokens);
  });

  it('while waiting in the account queue: the wait is withdrawn and nothing reaches the upstream', async () => {
    const carpool = await seedCarpool({
      scenario: 'slow.100.15',
      maxConcurrency: 1,
      scheduling: { queueWaitMs: 10_000 },
    });
    const first = (await streamMessage(carpool.key)).text();
    const client = new AbortController();
    const second = streamMessage(carpool.key, { signal: client.signal });
    await eventually(async () =>
      (await accountStub(carpool.accountId).state()).queued === 1 ? true : undefined,
    );
    client.abort();
    await expect(second).rejects.toThrow();
    // Withdrawn at once, not when its wait would have timed out.
    await eventually(
      async () => ((await accountStub(carpool.accountId).state()).queued === 0 ? true : undefined),
      500,
    );
    expect(await first).toContain('message_stop');
    await settled(carpool);
    const rows = await loggedOncePerUpstreamRequest(carpool);
    expect(rows.length).toBe(1);
    expect(rows[0]).toMatchObject({ outcome: 'complete' });
  });
});

describe('a client that stops asking, with no word', () => {
  it('under a conversion: once it has asked for nothing for the idle timeout, the request settles as aborted', async () => {
    // A client whose connection is gone may never cancel its body nor abort its signal (seen with
    // wrangler dev's proxy): the JavaScript tap is then simply never pulled again. Here the body is
    // read in the isolate, so nothing but this reader pulls it.
    const carpool = await seedCarpool({ scenario: 'slow.150.40', scheduling: { streamIdleTimeoutMs: 1000 } });
    const res = await inIsolate(`${RELAY}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${carpool.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        stream: true,
        messages: [{ role: 'user', content: 'a'.repeat(400) }],
      }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('"content"')) seen += new TextDecoder().decode((await reader.read()).value);
    // Nothing more is read, nothing cancelled: only the idle watchdog can tell.
    await sleep(1500);
    await settled(carpool);
    const [row] = await loggedOncePerUpstreamRequest(carpool);
    expect((await fakeLog(carpool.tag))[0]!.cancelled).toBe(true);
    expect(row).toMatchObject({ outcome: 'client_abort', status: 200, estimated: 1 });
    await reader.cancel().catch(() => {});
  });
});

describe('a withdrawal at the gates', () => {
  const admitRequest = (carpool: Carpool, leaseId: string) => ({
    groupId: carpool.groupId,
    keyId: carpool.keyId,
    leaseId,
    model: 'claude-haiku-4-5',
    providers: ['anthropic' as const],
    native: ['anthropic' as const],
    sessionKey: null,
    limits: { maxConcurrency: null, requestsPerWindow: null, windowMinutes: null },
    userId: 'user',
    reserveMicros: 0,
    service: 'anthropic' as const,
    userAgent: null,
  });

  it('that arrives before the admission refuses it', async () => {
    const carpool = await seedCarpool();
    const gate = groupStub(carpool.groupId);
    await gate.releaseMany([{ leaseId: 'early' }]);
    const admission = await gate.admit(admitRequest(carpool, 'early'));
    expect(admission.ok).toBe(false);
    expect(await leasesInUse(carpool.accountId)).toBe(0);
  });

  it('that arrives while the account grants the lease gives the lease straight back', async () => {
    const carpool = await seedCarpool();
    const outcome = await runInDurableObject(groupStub(carpool.groupId), async (gate: GroupGate) => {
      const admitting = gate.admit(admitRequest(carpool, 'racing'));
      // The admission is out at the AccountGate; the withdrawal lands meanwhile.
      await gate.releaseMany([{ leaseId: 'racing' }]);
      return admitting;
    });
    expect(outcome.ok).toBe(false);
    expect(await leasesInUse(carpool.accountId)).toBe(0);
  });

  it('of a budgeted request waiting in the queue gives back its own reservation, once', async () => {
    // The group's gate keeps its own copy of a budgeted lease, so the withdrawal finds it there.
    const carpool = await seedCarpool({ maxConcurrency: 1, scheduling: { queueWaitMs: 10_000 } });
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'group',
      groupId: carpool.groupId,
      period: 'month',
      limitMicros: 1_000_000_000,
    });
    expect(budget.status).toBe(201);
    const gate = groupStub(carpool.groupId);
    const budgeted = (leaseId: string) => ({ ...admitRequest(carpool, leaseId), reserveMicros: 5000 });
    const holder = await gate.admit(budgeted('holder'));
    expect(holder.ok).toBe(true);
    const waiting = gate.admit(budgeted('waiter'));
    await eventually(async () =>
      (await accountStub(carpool.accountId).state()).queued === 1 ? true : undefined,
    );
    expect((await budgetView(carpool.groupId, budget.json.id)).reservedMicros).toBe(10_000);
    await gate.releaseMany([{ leaseId: 'waiter' }]);
    expect((await waiting).ok).toBe(false);
    // The holder's reservation stands until the holder settles.
    expect((await budgetView(carpool.groupId, budget.json.id)).reservedMicros).toBe(5000);
    await gate.releaseMany([{ leaseId: 'holder', costMicros: 0 }]);
    expect((await budgetView(carpool.groupId, budget.json.id)).reservedMicros).toBe(0);
    expect(await leasesInUse(carpool.accountId)).toBe(0);
  });

  it('that arrives while a budgeted admission is out at the account is refused, not granted', async () => {
    const carpool = await seedCarpool();
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'group',
      groupId: carpool.groupId,
      period: 'month',
      limitMicros: 1_000_000_000,
    });
    const outcome = await runInDurableObject(groupStub(carpool.groupId), async (gate: GroupGate) => {
      const admitting = gate.admit({ ...admitRequest(carpool, 'racing'), reserveMicros: 5000 });
      await gate.releaseMany([{ leaseId: 'racing' }]);
      return admitting;
    });
    expect(outcome.ok).toBe(false);
    expect(await leasesInUse(carpool.accountId)).toBe(0);
    expect((await budgetView(carpool.groupId, budget.json.id)).reservedMicros).toBe(0);
  });

  it('that arrives after the grant releases the lease it granted', async () => {
    const carpool = await seedCarpool();
    const gate = groupStub(carpool.groupId);
    const admission = await gate.admit(admitRequest(carpool, 'late'));
    expect(admission.ok).toBe(true);
    expect(await leasesInUse(carpool.accountId)).toBe(1);
    // The worker never learnt which account: the group's gate remembers.
    await gate.releaseMany([{ leaseId: 'late' }]);
    expect(await leasesInUse(carpool.accountId)).toBe(0);
  });
});

describe('an upstream that fails mid-stream', () => {
  it('stalls: the idle timeout ends the stream, cancels the upstream and settles', async () => {
    const carpool = await seedCarpool({ scenario: 'stall', scheduling: { streamIdleTimeoutMs: 1000 } });
    const started = Date.now();
    const res = await streamMessage(carpool.key);
    expect(res.status).toBe(200);
    // The native path: the client's connection ends (no error event can follow a native pipe).
    await expect(res.text()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5000);
    await settled(carpool);
    const [row] = await loggedOncePerUpstreamRequest(carpool);
    const upstream = (await fakeLog(carpool.tag))[0]!;
    expect(upstream.cancelled).toBe(true);
    expect(row).toMatchObject({
      outcome: 'upstream_error',
      error_type: 'stream_idle_timeout',
      estimated: 1,
    });
    expect(row!.output_tokens).toBeGreaterThanOrEqual(tokensForText(upstream.text ?? '') - 2);
  });

  it('stalls under a conversion: the client gets an error event in its own dialect', async () => {
    const carpool = await seedCarpool({ scenario: 'stall', scheduling: { streamIdleTimeoutMs: 1000 } });
    const openai = new OpenAI({
      baseURL: `${RELAY}/v1`,
      apiKey: carpool.key,
      fetch: relayFetch,
      maxRetries: 0,
    });
    const stream = await openai.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let text = '';
    const read = async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    };
    await expect(read()).rejects.toThrow(/sent nothing for 1 s/);
    expect(text.length).toBeGreaterThan(0);
    await settled(carpool);
    const [row] = await loggedOncePerUpstreamRequest(carpool);
    expect(row).toMatchObject({ outcome: 'upstream_error', error_type: 'stream_idle_timeout' });
  });

  it('drops the connection: the client sees its stream cut, the request is billed and released', async () => {
    const carpool = await seedCarpool({ scenario: 'drop.3.20' });
    const res = await streamMessage(carpool.key);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          text += new TextDecoder().decode(value);
        }
      })(),
    ).rejects.toThrow();
    expect(text).toContain('event: message_start');
    expect(text).not.toContain('message_stop');
    await settled(carpool);
    const [row] = await loggedOncePerUpstreamRequest(carpool);
    const upstream = (await fakeLog(carpool.tag))[0]!;
    expect(row).toMatchObject({ outcome: 'upstream_error', status: 200, estimated: 1 });
    expect(row!.output_tokens).toBeGreaterThanOrEqual(tokensForText(upstream.text ?? '') - 2);
    expect(row!.output_tokens).toBeLessThanOrEqual(tokensForText(upstream.text ?? '') + 2);
  });

  it('sends its own error event: passed through, recorded, and the final usage it lacks estimated', async () => {
    const carpool = await seedCarpool({ scenario: 'midstream_error.3.10' });
    const text = await (await streamMessage(carpool.key)).text();
    expect(text).toMatch(/event: error\ndata: .*overloaded_error/);
    await settled(carpool);
    const [row] = await loggedOncePerUpstreamRequest(carpool);
    expect(row).toMatchObject({ outcome: 'complete', error_type: 'overloaded_error', estimated: 1 });
  });

  it('never answers after the preamble: times out, fails over nowhere, settles once', async () => {
    const carpool = await seedCarpool({ scenario: 'hang' });
    const res = await streamMessage(carpool.key);
    expect(res.status).toBe(504);
    await res.text();
    await settled(carpool);
    const [row] = await loggedOncePerUpstreamRequest(carpool);
    expect(row).toMatchObject({ outcome: 'failed', status: 504 });
  });
});

describe('leases', () => {
  it('a stream longer than the lease TTL keeps its lease, and the account its limit', async () => {
    // LEASE_TTL_MS is 3 s in the tests: this stream lasts about 6 s.
    const carpool = await seedCarpool({
      scenario: 'slow.300.20',
      maxConcurrency: 1,
      scheduling: { queueWaitMs: 0 },
    });
    const res = await streamMessage(carpool.key, { text: 'x'.repeat(100) });
    const reading = res.text();
    await sleep(Number(env.LEASE_TTL_MS) + 1500);
    expect(await leasesInUse(carpool.accountId)).toBe(1);
    const refused = await streamMessage(carpool.key);
    expect(refused.status).toBe(429);
    await refused.text();
    expect(await reading).toContain('message_stop');
    await settled(carpool);
    expect((await fakeLog(carpool.tag)).length).toBe(1);
  });

  it('an operator reset frees leases whose request is provably gone, not those of live requests', async () => {
    const carpool = await seedCarpool({ scenario: 'slow.300.20', maxConcurrency: 5 });
    const stub = accountStub(carpool.accountId);
    // A lease whose worker died: granted, never renewed, never released.
    const ghost = await stub.acquire({
      accountId: carpool.accountId,
      leaseId: 'ghost',
      ttlMs: 60_000,
      waitMs: 0,
    });
    expect(ghost.ok).toBe(true);
    const live = streamMessage(carpool.key, { text: 'x'.repeat(100) }).then((r) => r.text());
    await sleep((2 * Number(env.LEASE_TTL_MS)) / 3 + 800);
    const state = await stub.reset();
    expect(state.leases.map((l) => l.leaseId)).not.toContain('ghost');
    expect(state.inUse).toBe(1);
    expect(await live).toContain('message_stop');
    await settled(carpool);
  });
});

describe('usage events', () => {
  function event(groupId: string): UsageEvent {
    return {
      requestId: crypto.randomUUID(),
      at: Date.now(),
      keyId: `key-${groupId}`,
      userId: 'user-held',
      groupId,
      accountId: 'account-held',
      provider: 'anthropic',
      surface: 'anthropic',
      model: 'claude-haiku-4-5',
      stream: true,
      status: 200,
      outcome: 'complete',
      upstreamRequestId: 'req_held',
      usage: {
        inputTokens: 10,
        outputTokens: 5,
        cacheWrite5mTokens: 0,
        cacheWrite1hTokens: 0,
        cacheReadTokens: 0,
      },
      estimated: false,
      ttfbMs: 5,
      durationMs: 50,
      errorType: null,
    };
  }

  it('that the Queue refuses are kept by the group gate and delivered from its alarm', async () => {
    const groupId = crypto.randomUUID();
    const events = [event(groupId), event(groupId)];
    const down = {
      ...env,
      USAGE_QUEUE: { sendBatch: () => Promise.reject(new Error('queue unavailable')) },
    } as unknown as Env;
    await sendUsage(down, events);
    const stub = groupStub(groupId);
    const held = await runInDurableObject(
      stub,
      (_gate: GroupGate, state) =>
        state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM usage_outbox').one().n,
    );
    expect(held).toBe(2);
    // The retry is due in 30 s; make it due now and run the alarm.
    await runInDurableObject(stub, (gate: GroupGate) => {
      (gate as unknown as { usageRetryAt: number }).usageRetryAt = 0;
    });
    await runDurableObjectAlarm(stub);
    const rows = await requestLogFor(`key-${groupId}`, 2);
    expect(rows.map((r) => r.request_id).sort()).toEqual(events.map((e) => e.requestId).sort());
    const left = await runInDurableObject(
      stub,
      (_gate: GroupGate, state) =>
        state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM usage_outbox').one().n,
    );
    expect(left).toBe(0);
  });
});
