// The fake Anthropic upstream speaks the real wire format and records exactly what it sent.
import { describe, expect, it } from 'vitest';
import type { LogEntry } from './fake-upstream/index';
import { fakeLog, fakeStats } from './support/relay';
import { parseNamedEvents } from './support/sse';

const messagesUrl = 'https://api.anthropic.com/v1/messages?beta=true';

function newTag(): string {
  return crypto.randomUUID().slice(0, 8);
}

function post(url: string, key: string | null, body: unknown): Promise<Response> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'anthropic-version': '2023-06-01',
  };
  if (key !== null) headers['x-api-key'] = key;
  return fetch(url, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function messageBody(text: string, extra: Record<string, unknown> = {}) {
  return {
    model: 'claude-sonnet-4-5-20250929',
    max_tokens: 1024,
    messages: [{ role: 'user', content: text }],
    ...extra,
  };
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

const tokens = (text: string) => Math.ceil(new TextEncoder().encode(text).length / 4);

describe('messages, streamed', () => {
  it('sends the documented event order, with cumulative message_delta usage matching the log', async () => {
    const tag = newTag();
    const body = JSON.stringify(messageBody('hello there', { stream: true }));
    const response = await post(messagesUrl, `sk-fake.${tag}.ok`, body);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('3999');
    const events = parseNamedEvents(await response.text());
    expect(events.map((event) => event.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    for (const { event, data } of events) expect(data.type).toBe(event);
    const text = events
      .filter((event) => event.event === 'content_block_delta')
      .map((event) => (event.data.delta as { text: string }).text)
      .join('');
    expect(text).toBe('echo: hello there');

    const start = events[0]!.data.message as Record<string, unknown>;
    expect(start).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929' });
    expect(start.content).toEqual([]);
    expect(start.usage).toMatchObject({ input_tokens: tokens(body), output_tokens: 1 });
    const delta = events[8]!.data;
    expect(delta.delta).toEqual({ stop_reason: 'end_turn', stop_sequence: null });

    const [entry] = await fakeLog(tag);
    expect(entry).toMatchObject({
      id: response.headers.get('request-id'),
      method: 'POST',
      path: '/v1/messages',
      search: '?beta=true',
      body,
      bodySha256: await sha256Hex(body),
      scenario: 'ok',
      status: 200,
      text: 'echo: hello there',
      cancelled: false,
    });
    expect(entry!.headers['x-api-key']).toBe(`sk-fake.${tag}.ok`);
    expect(entry!.endedAt).not.toBeNull();
    const usage = entry!.usage as Record<string, unknown>;
    expect(delta.usage).toEqual({
      input_tokens: usage.input_tokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens,
      output_tokens: usage.output_tokens,
    });
    expect(usage).toMatchObject({
      input_tokens: tokens(body),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: tokens('echo: hello there'),
    });
  });

  it('reports cache reads and writes, split by TTL, when the body marks cache breakpoints', async () => {
    const tag = newTag();
    const content = [
      { type: 'text', text: 'a long system prompt', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: 'question', cache_control: { type: 'ephemeral', ttl: '1h' } },
    ];
    const body = JSON.stringify(messageBody('', { stream: true, messages: [{ role: 'user', content }] }));
    const events = parseNamedEvents(await (await post(messagesUrl, `sk-fake.${tag}`, body)).text());

    const total = tokens(body);
    const creation = Math.floor(total / 4);
    const [entry] = await fakeLog(tag);
    expect(entry!.text).toBe('echo: question');
    expect(entry!.usage).toEqual({
      input_tokens: total - Math.floor(total / 2) - creation,
      cache_creation_input_tokens: creation,
      cache_read_input_tokens: Math.floor(total / 2),
      cache_creation: {
        ephemeral_5m_input_tokens: creation - Math.floor(creation / 2),
        ephemeral_1h_input_tokens: Math.floor(creation / 2),
      },
      output_tokens: tokens('echo: question'),
      service_tier: 'standard',
    });
    expect(events.find((event) => event.event === 'message_delta')!.data.usage).toMatchObject({
      cache_read_input_tokens: Math.floor(total / 2),
    });
  });

  it('cuts the stream with an overloaded error event after message_start', async () => {
    const tag = newTag();
    const response = await post(
      messagesUrl,
      `sk-fake.${tag}.overloaded_after_start`,
      messageBody('hi', { stream: true }),
    );
    expect(response.status).toBe(200);
    const events = parseNamedEvents(await response.text());
    expect(events.map((event) => event.event)).toEqual(['message_start', 'error']);
    expect(events[1]!.data).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: 'Overloaded' },
    });
    const [entry] = await fakeLog(tag);
    expect(entry).toMatchObject({ status: 200, text: '', usage: { output_tokens: 1 } });
  });

  it('sends an error event after two text deltas on midstream_error', async () => {
    const tag = newTag();
    const response = await post(
      messagesUrl,
      `sk-fake.${tag}.midstream_error`,
      messageBody('hello', { stream: true }),
    );
    const events = parseNamedEvents(await response.text());
    expect(events.map((event) => event.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'error',
    ]);
    expect(events[5]!.data).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: 'Overloaded' },
    });
    const [entry] = await fakeLog(tag);
    const sent = events
      .slice(3, 5)
      .map((event) => (event.data.delta as { text: string }).text)
      .join('');
    expect(entry!.text).toBe(sent);
  });

  it('drops the connection mid-stream so the reader throws', async () => {
    const tag = newTag();
    const response = await post(messagesUrl, `sk-fake.${tag}.drop`, messageBody('hello', { stream: true }));
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    const [entry] = await fakeLog(tag);
    expect(entry!.endedAt).not.toBeNull();
    expect(entry!.cancelled).toBe(false);
    expect(await fakeStats(tag)).toEqual({ count: 1, inFlight: 0, highWater: 1 });
  });

  it('hangs after message_start until the reader cancels', async () => {
    const tag = newTag();
    const response = await post(messagesUrl, `sk-fake.${tag}.hang`, messageBody('hello', { stream: true }));
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^event: message_start\n/);
    const next = reader.read();
    const timeout = new Promise((resolve) => setTimeout(() => resolve('still waiting'), 200));
    expect(await Promise.race([next, timeout])).toBe('still waiting');
    await reader.cancel();
    const [entry] = await fakeLog(tag);
    expect(entry).toMatchObject({ scenario: 'hang', status: 200, text: '', usage: { output_tokens: 1 } });
  });

  it('records a reader that cancels mid-stream as cancelled and no longer in flight', async () => {
    const tag = newTag();
    const response = await post(
      messagesUrl,
      `sk-fake.${tag}.slow.50`,
      messageBody('hello', { stream: true }),
    );
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();

    let entry: LogEntry | undefined;
    for (let attempt = 0; attempt < 25 && entry?.endedAt == null; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      [entry] = await fakeLog(tag);
    }
    expect(entry).toMatchObject({ cancelled: true, text: '' });
    expect(await fakeStats(tag)).toEqual({ count: 1, inFlight: 0, highWater: 1 });
  });

  it('waits before the headers on slow_first_byte', async () => {
    const tag = newTag();
    const started = Date.now();
    const response = await post(
      messagesUrl,
      `sk-fake.${tag}.slow_first_byte.300`,
      messageBody('hi', { stream: true }),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(parseNamedEvents(await response.text()).at(-1)!.event).toBe('message_stop');
  });

  it('sends the headers and message_start at once, the rest later, on slow_first_content', async () => {
    const tag = newTag();
    const started = Date.now();
    const response = await post(
      messagesUrl,
      `sk-fake.${tag}.slow_first_content.300`,
      messageBody('hi', { stream: true }),
    );
    expect(Date.now() - started).toBeLessThan(290);
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('event: message_start');
    expect(first).not.toContain('content_block');
    expect(Date.now() - started).toBeLessThan(290);
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(parseNamedEvents(rest).at(-1)!.event).toBe('message_stop');
  });

  it('counts three parallel slow streams in flight at once', async () => {
    const tag = newTag();
    const responses = await Promise.all(
      [1, 2, 3].map(() => post(messagesUrl, `sk-fake.${tag}.slow.30`, messageBody('hi', { stream: true }))),
    );
    await Promise.all(responses.map((response) => response.text()));
    expect(await fakeStats(tag)).toEqual({ count: 3, inFlight: 0, highWater: 3 });
  });
});

describe('messages, not streamed', () => {
  it('returns a message object with the logged usage', async () => {
    const tag = newTag();
    const body = JSON.stringify(
      messageBody('hello', {
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'hello' },
        ],
      }),
    );
    const response = await fetch(messagesUrl, {
      method: 'POST',
      headers: { authorization: `Bearer sk-fake.${tag}.ok`, 'content-type': 'application/json' },
      body,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    expect(response.headers.get('anthropic-organization-id')).toBeTruthy();
    const message = await response.json<Record<string, unknown>>();
    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [{ type: 'text', text: 'echo: hello' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
    });
    expect(message.id).toMatch(/^msg_/);
    const [entry] = await fakeLog(tag);
    expect(message.usage).toEqual(entry!.usage);
    expect(entry!.usage).toMatchObject({ input_tokens: tokens(body), output_tokens: tokens('echo: hello') });
  });

  it('stops at max_tokens', async () => {
    const tag = newTag();
    const response = await post(
      messagesUrl,
      `sk-fake.${tag}.ok`,
      messageBody('hello there', { max_tokens: 2 }),
    );
    const message = await response.json<Record<string, unknown>>();
    expect(message).toMatchObject({
      stop_reason: 'max_tokens',
      content: [{ type: 'text', text: 'echo: he' }],
    });
    expect(message.usage).toMatchObject({ output_tokens: 2 });
  });
});

describe('errors', () => {
  it('answers a missing or foreign key with an Anthropic 401', async () => {
    for (const key of [null, 'sk-ant-api03-real-looking']) {
      const response = await post(messagesUrl, key, messageBody('hi'));
      expect(response.status).toBe(401);
      expect(response.headers.get('request-id')).toMatch(/^req_/);
      expect(await response.json()).toEqual({
        type: 'error',
        error: { type: 'authentication_error', message: 'invalid x-api-key' },
        request_id: response.headers.get('request-id'),
      });
    }
  });

  it('gives 429 a retry-after and exhausted rate-limit headers', async () => {
    const tag = newTag();
    const response = await post(messagesUrl, `sk-fake.${tag}.429`, messageBody('hi'));
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');
    expect(response.headers.get('anthropic-ratelimit-requests-reset')).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    const [entry] = await fakeLog(tag);
    expect(entry).toMatchObject({ status: 429, usage: null, text: null, scenario: '429' });
  });

  it.each([
    ['400', 400, 'invalid_request_error'],
    ['403', 403, 'permission_error'],
    ['500', 500, 'api_error'],
    ['529', 529, 'overloaded_error'],
  ])('plays %s', async (scenario, status, type) => {
    const response = await post(
      messagesUrl,
      `sk-fake.${newTag()}.${scenario}`,
      messageBody('hi', { stream: true }),
    );
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ type: 'error', error: { type } });
  });

  it('rejects malformed JSON, unknown paths and unknown scenarios', async () => {
    const tag = newTag();
    const malformed = await post(messagesUrl, `sk-fake.${tag}.ok`, '{"model":');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    const unknownPath = await post('https://api.anthropic.com/v1/complete', `sk-fake.${tag}.ok`, {});
    expect(unknownPath.status).toBe(404);
    expect(await unknownPath.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const unknownScenario = await post(messagesUrl, `sk-fake.${tag}.nonsense`, messageBody('hi'));
    expect(unknownScenario.status).toBe(400);
    expect(await unknownScenario.json()).toMatchObject({
      error: { message: 'fake-upstream: unknown scenario "nonsense"' },
    });
    expect((await fakeLog(tag)).map((entry) => entry.status)).toEqual([400, 404, 400]);
  });
});

describe('other endpoints', () => {
  it('counts tokens and lists models', async () => {
    const tag = newTag();
    const body = JSON.stringify(messageBody('hello'));
    const counted = await post(
      'https://api.anthropic.com/v1/messages/count_tokens',
      `sk-fake.${tag}.ok`,
      body,
    );
    expect(await counted.json()).toEqual({ input_tokens: tokens(body) });

    const listed = await fetch('https://api.anthropic.com/v1/models', {
      headers: { 'x-api-key': `sk-fake.${tag}` },
    });
    const models = await listed.json<{
      data: { id: string; type: string }[];
      first_id: string;
      last_id: string;
    }>();
    expect(models).toMatchObject({ has_more: false });
    expect(models.data.length).toBeGreaterThan(1);
    expect(models.data.every((model) => model.type === 'model' && model.id.startsWith('claude-'))).toBe(true);
    expect(models.first_id).toBe(models.data[0]!.id);
    expect(models.last_id).toBe(models.data.at(-1)!.id);
  });
});

describe('control API', () => {
  it('pops scripted scenarios in order, then falls back to the key', async () => {
    const tag = newTag();
    const queued = await fetch('http://fake.control/script', {
      method: 'POST',
      body: JSON.stringify({ tag, scenarios: ['529', '429.3', { name: 'slow', param: 1, chunks: 2 }] }),
    });
    expect(await queued.json()).toEqual({ queued: 3 });

    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const response = await post(messagesUrl, `sk-fake.${tag}.ok`, messageBody('hello', { stream: true }));
      statuses.push(response.status);
      if (response.status === 429) expect(response.headers.get('retry-after')).toBe('3');
      const text = await response.text();
      if (i === 2) {
        expect(parseNamedEvents(text).filter((event) => event.event === 'content_block_delta')).toHaveLength(
          2,
        );
      }
    }
    expect(statuses).toEqual([529, 429, 200, 200]);
    expect((await fakeLog(tag)).map((entry) => entry.scenario)).toEqual(['529', '429.3', 'slow.1.2', 'ok']);
  });

  it('rejects a script with an unknown scenario', async () => {
    const response = await fetch('http://fake.control/script', {
      method: 'POST',
      body: JSON.stringify({ tag: newTag(), scenarios: ['ok', 'teapot'] }),
    });
    expect(response.status).toBe(400);
    await response.body?.cancel();
  });

  it('resets a tag', async () => {
    const tag = newTag();
    await (await post(messagesUrl, `sk-fake.${tag}.ok`, messageBody('hi'))).text();
    await (await fetch(`http://fake.control/reset?tag=${tag}`, { method: 'POST' })).text();
    expect(await fakeLog(tag)).toEqual([]);
    expect(await fakeStats(tag)).toEqual({ count: 0, inFlight: 0, highWater: 0 });
  });
});
