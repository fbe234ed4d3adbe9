// Requests of a known key refused before any upstream call are request-log rows (outcome
// `refused`): one per refusal, with the status and code the client got, no account, no tokens and
// no cost. They move no money figure and no usage total (the aggregate triggers skip them), a
// redelivered one adds nothing, a flood of them is bounded per isolate, and they are read like
// every other row: by the group's managers and by their own member, by nobody else.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { writeUsage } from '../worker/queue/consumer';
import { RelayError } from '../worker/relay/dialect';
import { outbox, REFUSALS_PER_FLUSH, REFUSALS_PER_KEY_MINUTE } from '../worker/relay/outbox';
import { refusalEvent } from '../worker/relay/refusals';
import { budgetView } from './support/gates';
import { memberOf, ownedCarpool } from './support/groups';
import {
  admin,
  api,
  eventually,
  RELAY,
  type RequestLogRecord,
  relayFetch,
  requestLogFor,
  seedCarpool,
  seedEnterprise,
  streamMessage,
} from './support/relay';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Row = RequestLogRecord & { provider: string; surface: string; group_id: string; user_id: string };

/**
 * The key's refused rows once there are `n`, and still `n` a Queue batch later (a duplicate
 * would have landed by then).
 */
async function refusedRows(keyId: string, n: number): Promise<Row[]> {
  const read = async () =>
    (
      await env.DB.prepare(
        "SELECT * FROM request_log WHERE key_id = ? AND outcome = 'refused' ORDER BY created_at",
      )
        .bind(keyId)
        .all<Row>()
    ).results;
  await eventually(async () => ((await read()).length >= n ? true : undefined));
  await sleep(2500);
  const rows = await read();
  expect(rows).toHaveLength(n);
  return rows;
}

/** A refused row as the brief has it: what the client got, and nothing of usage or money. */
function expectRefusal(row: Row, status: number, errorType: string, model = 'claude-sonnet-4-5') {
  expect(row).toMatchObject({
    status,
    outcome: 'refused',
    error_type: errorType,
    model,
    account_id: '',
    provider: '',
    surface: 'anthropic',
    input_tokens: 0,
    output_tokens: 0,
    cache_write_5m_tokens: 0,
    cache_write_1h_tokens: 0,
    cache_read_tokens: 0,
    cost_micros: 0,
    unpriced: 0,
  });
}

/** Every aggregate row a key has (hourly, daily, monthly), as the reports and bills read them. */
async function aggregatesOf(keyId: string) {
  const rows = [];
  for (const table of ['usage_hourly', 'usage_daily', 'usage_monthly']) {
    const { results } = await env.DB.prepare(
      `SELECT '${table}' AS t, requests, errors, input_tokens, output_tokens, cost_micros, unpriced_requests FROM ${table} WHERE key_id = ?`,
    )
      .bind(keyId)
      .all();
    rows.push(...results);
  }
  return rows;
}

async function refused(res: Response, status: number): Promise<void> {
  expect(res.status).toBe(status);
  await res.body?.cancel();
}

describe('refusals in the request log', () => {
  it('a spent budget (402) and a committed one (429 budget_committed): a row each, no money moved', async () => {
    // Slow streams: the first request is still in flight, its reservation held, when the second comes.
    const carpool = await seedCarpool({ scenario: 'slow.200.40' });
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'key',
      groupId: carpool.groupId,
      keyId: carpool.keyId,
      period: 'month',
      limitMicros: 1,
    });
    expect(budget.status).toBe(201);
    const client = new AbortController();
    const first = await streamMessage(carpool.key, { signal: client.signal });
    expect(first.status).toBe(200);
    const reader = first.body!.getReader();
    await reader.read();
    await refused(await streamMessage(carpool.key), 429);
    client.abort();
    await reader.cancel().catch(() => {});
    // The aborted request settles (what streamed is billed, past the limit of one micro-dollar).
    const [served] = await requestLogFor(carpool.keyId);
    expect(served!.cost_micros).toBeGreaterThan(0);
    await eventually(async () => {
      const view = await budgetView(carpool.groupId, budget.json.id);
      return view.reservedMicros === 0 && (view.spentMicros ?? 0) > 0 ? true : undefined;
    });
    const before = await aggregatesOf(carpool.keyId);
    await refused(await streamMessage(carpool.key), 402);

    const [committed, spent] = await refusedRows(carpool.keyId, 2);
    expectRefusal(committed!, 429, 'budget_committed');
    expectRefusal(spent!, 402, 'budget_exhausted');
    expect(committed).toMatchObject({ group_id: carpool.groupId, user_id: carpool.userId });
    // No aggregate moved: the served request is there, the refusals are not.
    expect(await aggregatesOf(carpool.keyId)).toEqual(before);
    expect(before.map((r) => r.requests)).toEqual([1, 1, 1]);
    // And the budget's counter is the served request's cost alone.
    expect((await budgetView(carpool.groupId, budget.json.id)).spentMicros).toBe(served!.cost_micros);
  });

  it("a key's concurrency and rate limits (429): a row each, with the limit that refused", async () => {
    const concurrent = await seedCarpool({ scenario: 'slow.200.40', keyLimits: { maxConcurrency: 1 } });
    const client = new AbortController();
    const first = await streamMessage(concurrent.key, { signal: client.signal });
    const reader = first.body!.getReader();
    await reader.read();
    await refused(await streamMessage(concurrent.key), 429);
    client.abort();
    await reader.cancel().catch(() => {});
    expectRefusal((await refusedRows(concurrent.keyId, 1))[0]!, 429, 'key_concurrency_limit');

    const windowed = await seedCarpool({ keyLimits: { requestsPerWindow: 1, windowMinutes: 1 } });
    await (await streamMessage(windowed.key)).text();
    await refused(await streamMessage(windowed.key), 429);
    expectRefusal((await refusedRows(windowed.keyId, 1))[0]!, 429, 'key_rate_limit');
    const counted = await aggregatesOf(windowed.keyId);
    expect(counted.map((r) => r.requests)).toEqual([1, 1, 1]);
  });

  it('a model no account serves (404) and no account available (503)', async () => {
    const pool = await seedEnterprise([{ supportedModels: ['claude-haiku-4-5'] }]);
    await refused(await streamMessage(pool.key, { model: 'claude-opus-4-1' }), 404);
    expectRefusal((await refusedRows(pool.keyId, 1))[0]!, 404, 'model_not_found', 'claude-opus-4-1');

    const carpool = await seedCarpool();
    expect((await admin('POST', `/accounts/${carpool.accountId}/disable`, { reason: 'unpaid' })).status).toBe(
      200,
    );
    await refused(await streamMessage(carpool.key), 503);
    const [row] = await refusedRows(carpool.keyId, 1);
    expectRefusal(row!, 503, 'unavailable');
    expect(await aggregatesOf(carpool.keyId)).toEqual([]);
  });

  it("a revoked key and a key's own rule (403), after the key is known; a bad key is no row", async () => {
    const carpool = await seedCarpool();
    const narrow = await admin<{ id: string; key: string }>('POST', '/keys', {
      groupId: carpool.groupId,
      userId: carpool.userId,
      allowedModels: ['claude-haiku-*'],
    });
    await refused(await streamMessage(narrow.json.key), 403);
    expectRefusal((await refusedRows(narrow.json.id, 1))[0]!, 403, 'model_not_allowed');

    expect((await admin('POST', `/keys/${carpool.keyId}/revoke`)).status).toBe(200);
    await refused(await streamMessage(carpool.key), 403);
    expectRefusal((await refusedRows(carpool.keyId, 1))[0]!, 403, 'key_revoked');

    // Without a tenant there is nobody to show it to: a bad key writes nothing.
    const count = async () =>
      (await env.DB.prepare('SELECT count(*) AS n FROM request_log').first<{ n: number }>())!.n;
    const before = await count();
    await refused(await streamMessage('cp-not-a-key-of-anyone-at-all-000000000000'), 401);
    await refused(await streamMessage(narrow.json.key), 403);
    await refusedRows(narrow.json.id, 2);
    expect(await count()).toBe(before + 1);
  });

  it('are read like any row: the group’s owner and their own member, nobody else (404)', async () => {
    const carpool = await ownedCarpool({ keyLimits: { requestsPerWindow: 1, windowMinutes: 1 } });
    const member = await memberOf(carpool.groupId);
    const theirs = await admin<{ id: string; key: string }>('POST', '/keys', {
      groupId: carpool.groupId,
      userId: member.id,
      allowedModels: ['claude-haiku-*'],
    });
    await (await streamMessage(carpool.key)).text();
    await refused(await streamMessage(carpool.key), 429);
    await refused(await streamMessage(theirs.json.key), 403);
    await refusedRows(carpool.keyId, 1);
    await refusedRows(theirs.json.id, 1);

    type Page = { data: { keyId: string; outcome: string; status: number; accountId: string }[] };
    const query = `/usage/requests?groupId=${carpool.groupId}&outcome=refused`;
    const owners = await api<Page>(carpool.owner.token, 'GET', query);
    expect(owners.status).toBe(200);
    expect(owners.json.data.map((r) => [r.keyId, r.status, r.accountId]).sort()).toEqual(
      [
        [carpool.keyId, 429, ''],
        [theirs.json.id, 403, ''],
      ].sort(),
    );
    const members = await api<Page>(member.token, 'GET', query);
    expect(members.json.data.map((r) => r.keyId)).toEqual([theirs.json.id]);

    const stranger = await ownedCarpool();
    expect((await api(stranger.owner.token, 'GET', query)).status).toBe(404);
    expect((await api(stranger.owner.token, 'GET', `/usage/requests?keyId=${carpool.keyId}`)).status).toBe(
      404,
    );
    const own = await api<Page>(stranger.owner.token, 'GET', '/usage/requests?outcome=refused');
    expect(own.json.data).toEqual([]);

    // The group's usage and its bill count the one served request, not the refusals.
    const usage = await api<{ totals: { requests: number; errors: number; costMicros: number } }>(
      carpool.owner.token,
      'GET',
      `/usage?groupId=${carpool.groupId}`,
    );
    const [served] = await requestLogFor(carpool.keyId);
    expect(usage.json.totals).toMatchObject({ requests: 1, errors: 0, costMicros: served!.cost_micros });
    const bill = await api<{ totals: { requests: number; meteredMicros: number } }>(
      carpool.owner.token,
      'GET',
      `/groups/${carpool.groupId}/statements/current`,
    );
    expect(bill.json.totals).toMatchObject({ requests: 1, meteredMicros: served!.cost_micros });
  });

  it('a redelivered refusal adds nothing, and no aggregate ever counts one', async () => {
    const ids = { id: 'key-refusal-redelivery', userId: 'user-r', groupId: 'group-r' };
    const event = refusalEvent({
      requestId: crypto.randomUUID(),
      at: Date.now(),
      key: ids,
      wire: 'openai-chat',
      model: 'gpt-5',
      stream: true,
      status: 429,
      error: new RelayError('rate_limited', 'This key is at its limit.', { code: 'key_rate_limit' }),
    });
    await writeUsage(env, [event]);
    await writeUsage(env, [event, { ...event }]);
    const rows = await refusedRows(ids.id, 1);
    expect(rows[0]).toMatchObject({ surface: 'openai-chat', status: 429, error_type: 'key_rate_limit' });
    expect(await aggregatesOf(ids.id)).toEqual([]);
  });

  const flood = (key: { id: string; userId: string; groupId: string }, count: number) => {
    const error = new RelayError('rate_limited', 'This key is at its limit.', { code: 'key_rate_limit' });
    return Promise.all(
      Array.from({ length: count }, () =>
        outbox.add(env, {
          event: refusalEvent({
            requestId: crypto.randomUUID(),
            at: Date.now(),
            key,
            wire: 'anthropic',
            model: 'claude-sonnet-4-5',
            stream: false,
            status: 429,
            error,
          }),
        }),
      ),
    );
  };

  it(`a flood is bounded: at most ${REFUSALS_PER_FLUSH} refusals a batch leave an isolate`, async () => {
    const key = { id: `key-flood-${crypto.randomUUID()}`, userId: 'user-f', groupId: 'group-f' };
    await flood(key, REFUSALS_PER_FLUSH + 15);
    await refusedRows(key.id, REFUSALS_PER_FLUSH);
  });

  it(`and so is one key's loop: at most ${REFUSALS_PER_KEY_MINUTE} a minute`, async () => {
    const key = { id: `key-loop-${crypto.randomUUID()}`, userId: 'user-l', groupId: 'group-l' };
    // Batch after batch, each under the per-batch bound: the key's own bound stops them.
    for (let i = 0; i < 4; i++) await flood(key, REFUSALS_PER_FLUSH / 2);
    const another = { ...key, id: `key-other-${crypto.randomUUID()}` };
    await flood(another, 1);
    await refusedRows(another.id, 1);
    expect(await refusedRows(key.id, REFUSALS_PER_KEY_MINUTE)).toHaveLength(REFUSALS_PER_KEY_MINUTE);
  });
});

describe('a refused request through the SDK surface', () => {
  it('is logged with the status its dialect gave (OpenAI: the same 429)', async () => {
    const carpool = await seedCarpool({ keyLimits: { requestsPerWindow: 1, windowMinutes: 1 } });
    const chat = () =>
      relayFetch(`${RELAY}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${carpool.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] }),
      });
    await (await chat()).text();
    const second = await chat();
    expect(second.status).toBe(429);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe('key_rate_limit');
    const [row] = await refusedRows(carpool.keyId, 1);
    expect(row).toMatchObject({ surface: 'openai-chat', status: 429, error_type: 'key_rate_limit' });
  });
});
