// The usage pipeline end to end: leases come back however a stream ends, and the Queue consumer
// is idempotent, so a redelivered batch never counts twice.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../worker/index';
import type { UsageEvent } from '../worker/queue/usage-event';
import {
  eventually,
  fakeLog,
  leasesInUse,
  RELAY,
  relayFetch,
  requestLogFor,
  seedCarpool,
} from './support/relay';

function streamRequest(key: string, signal?: AbortSignal) {
  return relayFetch(`${RELAY}/v1/messages`, {
    method: 'POST',
    signal,
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 50, stream: true, messages: [] }),
  });
}

describe('leases', () => {
  it('are released when a stream completes', async () => {
    const carpool = await seedCarpool();
    const res = await streamRequest(carpool.key);
    await res.text();
    expect(
      await eventually(async () => ((await leasesInUse(carpool.accountId)) === 0 ? true : undefined)),
    ).toBe(true);
  });

  it('are released when the client aborts, and what was seen is billed', async () => {
    // A 40-chunk stream at 200 ms a chunk: the client leaves long before the end.
    const carpool = await seedCarpool({ scenario: 'slow.200.40' });
    const client = new AbortController();
    const res = await streamRequest(carpool.key, client.signal);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('message_start');
    expect(await leasesInUse(carpool.accountId)).toBe(1);
    client.abort();
    await reader.cancel().catch(() => {});

    expect(
      await eventually(async () => ((await leasesInUse(carpool.accountId)) === 0 ? true : undefined)),
    ).toBe(true);
    const [row] = await requestLogFor(carpool.keyId);
    expect(row).toMatchObject({ outcome: 'client_abort', status: 200 });
    expect(row!.input_tokens).toBeGreaterThan(0);
    expect(row!.cost_micros).toBeGreaterThan(0);
    // Billed for what was seen: message_start's input side, not the 40 chunks never sent.
    expect(row!.output_tokens).toBeLessThan(40);
    // The abort reached the upstream too: the fake saw its response cancelled.
    await eventually(async () => ((await fakeLog(carpool.tag))[0]?.cancelled ? true : undefined));
  });

  it('are released when the upstream drops the connection', async () => {
    const carpool = await seedCarpool({ scenario: 'drop' });
    // The client's stream is cut too (docs/architecture.md, "Streams").
    await expect((await streamRequest(carpool.key)).text()).rejects.toThrow();
    expect(
      await eventually(async () => ((await leasesInUse(carpool.accountId)) === 0 ? true : undefined)),
    ).toBe(true);
  });
});

describe('queue consumer', () => {
  function event(overrides: Partial<UsageEvent>): UsageEvent {
    return {
      requestId: crypto.randomUUID(),
      at: Date.UTC(2026, 10, 22, 10, 15),
      keyId: 'key-redelivery',
      userId: 'user-1',
      groupId: 'group-redelivery',
      accountId: 'account-1',
      provider: 'anthropic',
      surface: 'anthropic',
      model: 'claude-opus-4-5',
      stream: true,
      status: 200,
      outcome: 'complete',
      upstreamRequestId: 'req_1',
      usage: {
        inputTokens: 1000,
        outputTokens: 500,
        cacheWrite5mTokens: 0,
        cacheWrite1hTokens: 0,
        cacheReadTokens: 0,
      },
      estimated: false,
      ttfbMs: 10,
      durationMs: 100,
      errorType: null,
      ...overrides,
    };
  }

  async function deliver(events: UsageEvent[]) {
    const batch = createMessageBatch<UsageEvent>(
      'aicarpool-usage',
      events.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<unknown>, env);
    return getQueueResult(batch, ctx);
  }

  async function aggregates() {
    const { results } = await env.DB.prepare(
      'SELECT model, requests, input_tokens, output_tokens, cost_micros, unpriced_requests FROM usage_hourly WHERE group_id = ? ORDER BY model',
    )
      .bind('group-redelivery')
      .all();
    return results;
  }

  it('counts a redelivered batch once, and flags unknown models at cost 0', async () => {
    const events = [
      event({}),
      event({
        usage: {
          inputTokens: 10,
          outputTokens: 20,
          cacheWrite5mTokens: 0,
          cacheWrite1hTokens: 0,
          cacheReadTokens: 0,
        },
      }),
      event({ model: 'mystery-model-9' }),
    ];
    const result = await deliver(events);
    expect(result.explicitAcks).toEqual([]);
    expect(result.ackAll).toBe(true);
    const once = await aggregates();
    // Opus 4.5 at $5 / $25 per MTok: (1000×5 + 500×25) + (10×5 + 20×25) = 17_500 + 550 micro-dollars.
    expect(once).toEqual([
      {
        model: 'claude-opus-4-5',
        requests: 2,
        input_tokens: 1010,
        output_tokens: 520,
        cost_micros: 18_050,
        unpriced_requests: 0,
      },
      {
        model: 'mystery-model-9',
        requests: 1,
        input_tokens: 1000,
        output_tokens: 500,
        cost_micros: 0,
        unpriced_requests: 1,
      },
    ]);

    await deliver(events);
    await deliver([events[1]!, events[0]!]);
    expect(await aggregates()).toEqual(once);
    const { results } = await env.DB.prepare('SELECT count(*) AS n FROM request_log WHERE group_id = ?')
      .bind('group-redelivery')
      .all<{ n: number }>();
    expect(results[0]!.n).toBe(3);
  });
});
