// Every failure on the Anthropic surface answers in Anthropic's error shape with the right status,
// says whether a retry can help, and leaks nothing: no stack, no upstream credential.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import {
  admin,
  eventually,
  fakeLog,
  leasesInUse,
  RELAY,
  relayFetch,
  requestLogFor,
  seedCarpool,
  seedCarpoolWith,
} from './support/relay';

interface AnthropicError {
  type: string;
  error: { type: string; message: string };
}

function messages(
  key: string | null,
  body: unknown = { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [] },
) {
  return relayFetch(`${RELAY}/v1/messages`, {
    method: 'POST',
    headers: { ...(key ? { 'x-api-key': key } : {}), 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function expectAnthropicError(res: Response, status: number, type: string): Promise<AnthropicError> {
  const text = await res.text();
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/json');
  const json = JSON.parse(text) as AnthropicError;
  expect(json.type).toBe('error');
  expect(json.error.type).toBe(type);
  expect(json.error.message.length).toBeGreaterThan(0);
  expect(text).not.toMatch(/sk-fake|\n\s+at |Error:/);
  return json;
}

describe('errors in the Anthropic dialect', () => {
  it('answers HEAD / and GET / without a key', async () => {
    expect((await relayFetch(`${RELAY}/`, { method: 'HEAD' })).status).toBe(200);
    const res = await relayFetch(`${RELAY}/`);
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });

  it('401 for a missing, malformed or unknown key, and tells the SDK not to retry', async () => {
    for (const key of [null, 'not-a-key', `cp-${'x'.repeat(48)}`]) {
      const res = await messages(key);
      expect(res.headers.get('x-should-retry')).toBe('false');
      await expectAnthropicError(res, 401, 'authentication_error');
    }
  });

  it('403 for a revoked key and for an expired key', async () => {
    const carpool = await seedCarpool();
    expect((await admin('POST', `/keys/${carpool.keyId}/revoke`)).status).toBe(200);
    const revoked = await messages(carpool.key);
    expect(revoked.headers.get('x-should-retry')).toBe('false');
    expect((await expectAnthropicError(revoked, 403, 'permission_error')).error.message).toMatch(/revoked/);

    const expiring = await admin<{ key: string }>('POST', '/keys', {
      groupId: carpool.groupId,
      userId: carpool.userId,
      expiresAt: Date.now() + 100,
    });
    await new Promise((r) => setTimeout(r, 150));
    const expired = await messages(expiring.json.key);
    expect((await expectAnthropicError(expired, 403, 'permission_error')).error.message).toMatch(/expired/);
  });

  it('403 for a key revoked through another isolate, which this one still caches as active', async () => {
    const carpool = await seedCarpool();
    const ok = await messages(carpool.key);
    expect(ok.status).toBe(200);
    await ok.text();
    // What the revoke route does, from an isolate other than this one: the row and the group's
    // gate change, this isolate's cached record does not.
    await env.DB.prepare("UPDATE api_keys SET status = 'revoked', revoked_at = ? WHERE id = ?")
      .bind(Date.now(), carpool.keyId)
      .run();
    await env.GROUP_GATE.get(env.GROUP_GATE.idFromName(`group:${carpool.groupId}`)).revokeKey(carpool.keyId);
    const revoked = await messages(carpool.key);
    expect(revoked.headers.get('x-should-retry')).toBe('false');
    expect((await expectAnthropicError(revoked, 403, 'permission_error')).error.message).toMatch(/revoked/);
    expect(await fakeLog(carpool.tag)).toHaveLength(1);
  });

  it('400 for malformed JSON, a non-object body and a missing model; nothing reaches the upstream', async () => {
    const carpool = await seedCarpool();
    await expectAnthropicError(
      await messages(carpool.key, '{"model": "claude'),
      400,
      'invalid_request_error',
    );
    await expectAnthropicError(await messages(carpool.key, '[1,2]'), 400, 'invalid_request_error');
    const missing = await expectAnthropicError(
      await messages(carpool.key, { max_tokens: 5, messages: [] }),
      400,
      'invalid_request_error',
    );
    expect(missing.error.message).toMatch(/model/);
    expect(await fakeLog(carpool.tag)).toEqual([]);
  });

  it('404 for an unknown route, in Anthropic shape', async () => {
    await expectAnthropicError(await relayFetch(`${RELAY}/v1/nothing-here`), 404, 'not_found_error');
  });

  it('413 for a body over the limit', async () => {
    const carpool = await seedCarpool();
    const big = JSON.stringify({ model: 'claude-sonnet-4-5', pad: 'x'.repeat(Number(env.MAX_BODY_BYTES)) });
    await expectAnthropicError(await messages(carpool.key, big), 413, 'request_too_large');
    expect(await fakeLog(carpool.tag)).toEqual([]);
  });

  it('429 with retry-after when the account has no free concurrency', async () => {
    // The group does not queue (queueWaitMs 0): a full account is refused at once.
    const carpool = await seedCarpool({
      scenario: 'slow.200.20',
      maxConcurrency: 1,
      scheduling: { queueWaitMs: 0 },
    });
    const first = await messages(carpool.key, {
      model: 'claude-sonnet-4-5',
      max_tokens: 5,
      stream: true,
      messages: [],
    });
    expect(first.status).toBe(200);
    const second = await messages(carpool.key);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await expectAnthropicError(second, 429, 'rate_limit_error')).error.message).toMatch(
      /1\/1 concurrent/,
    );
    await first.body?.cancel();
  });

  it('502 when the upstream rejects the account credential, without blaming the member key', async () => {
    const carpool = await seedCarpool({ scenario: '401' });
    const res = await messages(carpool.key);
    expect(res.headers.get('x-should-retry')).toBeNull();
    const json = await expectAnthropicError(res, 502, 'api_error');
    expect(json.error.message).toMatch(/account/);
  });

  it('passes upstream 529, 429 (with retry-after) and 500 through in Anthropic shape', async () => {
    const overloaded = await seedCarpool({ scenario: '529' });
    await expectAnthropicError(await messages(overloaded.key), 529, 'overloaded_error');
    const limited = await seedCarpool({ scenario: '429.7' });
    const res = await messages(limited.key);
    expect(res.headers.get('retry-after')).toBe('7');
    await expectAnthropicError(res, 429, 'rate_limit_error');
    const broken = await seedCarpool({ scenario: '500' });
    await expectAnthropicError(await messages(broken.key), 500, 'api_error');
    // The upstream's own 529, converted for an OpenAI client, is the 503 that client knows.
    const converted = await seedCarpool({ scenario: '529' });
    const chat = await relayFetch(`${RELAY}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${converted.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(chat.status).toBe(503);
    expect(((await chat.json()) as { error: { type: string } }).error.type).toBe('api_error');
  });

  it('refuses what a conversion cannot carry, naming the field, before the upstream sees it', async () => {
    const carpool = await seedCarpool();
    const chat = (extra: object) =>
      relayFetch(`${RELAY}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${carpool.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'claude-sonnet-4-5',
          messages: [{ role: 'user', content: 'hi' }],
          ...extra,
        }),
      });
    for (const [extra, field] of [
      [{ n: 3 }, 'n: 3'],
      [{ logprobs: true }, 'logprobs'],
      [
        { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } } },
        'response_format: json_schema',
      ],
      [{ stop: ['\n'] }, 'stop'],
    ] as const) {
      const res = await chat(extra);
      expect(res.status, field).toBe(400);
      expect(res.headers.get('x-should-retry')).toBe('false');
      const body = (await res.json()) as { error: { type: string; message: string } };
      expect(body.error.type).toBe('invalid_request_error');
      expect(body.error.message.startsWith(field), body.error.message).toBe(true);
    }
    // Hints are dropped, not refused; text is what it always was.
    const hinted = await chat({ seed: 7, presence_penalty: 0.5, response_format: { type: 'text' }, n: 1 });
    expect(hinted.status).toBe(200);
    await hinted.text();
    expect(await fakeLog(carpool.tag)).toHaveLength(1);
    await eventually(async () => ((await leasesInUse(carpool.accountId)) === 0 ? true : undefined));
    // Like any request refused before an upstream call, each refusal is a row of its own that
    // bills nothing and names no account (worker/relay/refusals.ts); the served one is the only usage.
    const logged = await requestLogFor(carpool.keyId, 5, { refused: true });
    expect(
      logged
        .map((r) => `${r.status} ${r.outcome} ${r.error_type} ${r.cost_micros} ${r.account_id || '-'}`)
        .sort(),
    ).toEqual([
      `200 complete null ${logged.find((r) => r.status === 200)!.cost_micros} ${carpool.accountId}`,
      ...Array(4).fill('400 refused invalid_request 0 -'),
    ]);
    expect(await requestLogFor(carpool.keyId, 1)).toHaveLength(1);
  });

  it('an account cooling down after a 5xx, a 529 or a rejected credential is not a rate limit', async () => {
    const refusalAfter = async (scenario: string) => {
      const carpool = await seedCarpool({ scenario });
      const first = await messages(carpool.key);
      expect(first.status).not.toBe(200);
      await first.text();
      return { carpool, second: await messages(carpool.key) };
    };
    const failing = await refusalAfter('500');
    expect(Number(failing.second.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await expectAnthropicError(failing.second, 503, 'api_error')).error.message).toMatch(
      /cooling down until .* after 500 from upstream/,
    );
    const rejected = await refusalAfter('401');
    expect((await expectAnthropicError(rejected.second, 503, 'api_error')).error.message).toMatch(
      /after 401 from upstream/,
    );

    // Overloaded, in each dialect: Anthropic's 529, OpenAI's and Google's 503.
    const overloaded = await refusalAfter('529');
    expect(Number(overloaded.second.headers.get('retry-after'))).toBeGreaterThan(0);
    await expectAnthropicError(overloaded.second, 529, 'overloaded_error');
    const chat = await relayFetch(`${RELAY}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${overloaded.carpool.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(chat.status).toBe(503);
    await chat.text();

    // A rate limit stays a rate limit.
    const limited = await refusalAfter('429.30');
    await expectAnthropicError(limited.second, 429, 'rate_limit_error');
  });

  it('503 with retry-after when the group account is disabled, without the operator’s reason', async () => {
    const carpool = await seedCarpool();
    await admin('POST', `/accounts/${carpool.accountId}/disable`, { reason: 'card expired' });
    const res = await messages(carpool.key);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const { message } = (await expectAnthropicError(res, 503, 'api_error')).error;
    expect(message).toMatch(/account 1 \(anthropic\): disabled\./);
    expect(message).not.toMatch(/card expired|acct /);
  });

  it('504 when the upstream sends no headers in time, and the lease comes back', async () => {
    const carpool = await seedCarpool({
      scenario: `slow_first_byte.${Number(env.UPSTREAM_HEADERS_TIMEOUT_MS) + 1000}`,
    });
    await expectAnthropicError(await messages(carpool.key), 504, 'timeout_error');
    const [row] = await requestLogFor(carpool.keyId);
    expect(row).toMatchObject({ status: 504, outcome: 'failed' });
    expect(await leasesInUse(carpool.accountId)).toBe(0);
  });

  it('ends a converted stream whose upstream connection drops with an Anthropic error event', async () => {
    // Through a conversion every chunk passes JavaScript, which can end the stream in the client's
    // dialect. (A stream relayed unchanged is piped natively and is cut instead: settlement.test.ts.)
    const carpool = await seedCarpoolWith({
      provider: 'openai',
      credential: 'sk-fake.{tag}.drop',
      modelMapping: { 'claude-sonnet-4-5': 'gpt-4o' },
    });
    const res = await messages(carpool.key, {
      model: 'claude-sonnet-4-5',
      max_tokens: 5,
      stream: true,
      messages: [{ role: 'user', content: 'hello there' }],
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('event: message_start');
    expect(text.trimEnd()).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"api_error".*\}$/);
    const [row] = await requestLogFor(carpool.keyId);
    expect(row).toMatchObject({ outcome: 'upstream_error', estimated: 1 });
  });

  it('passes a mid-stream upstream error event through and records it', async () => {
    const carpool = await seedCarpool({ scenario: 'midstream_error' });
    const res = await messages(carpool.key, {
      model: 'claude-sonnet-4-5',
      max_tokens: 5,
      stream: true,
      messages: [],
    });
    const text = await res.text();
    expect(text).toMatch(/event: error\ndata: .*overloaded_error/);
    const [row] = await requestLogFor(carpool.keyId);
    expect(row).toMatchObject({ status: 200, error_type: 'overloaded_error' });
  });
});
