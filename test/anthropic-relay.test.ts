// Claude Code's path through the relay, driven by the official Anthropic SDK: text intact, the
// body and headers forwarded as sent, and usage and cost in D1 exactly what the upstream reported.
import { describe, expect, it } from 'vitest';
import { anthropicClient, fakeLog, RELAY, relayFetch, requestLogFor, seedCarpool } from './support/relay';

interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

/** Sonnet 4.5 list prices by hand, in hundredths of a micro-dollar per token: $3, $15, $3.75, $6, $0.30 per MTok. */
function sonnetCostMicros(u: AnthropicUsage): number {
  const hundredths =
    u.input_tokens * 300 +
    u.output_tokens * 1500 +
    u.cache_creation.ephemeral_5m_input_tokens * 375 +
    u.cache_creation.ephemeral_1h_input_tokens * 600 +
    u.cache_read_input_tokens * 30;
  return Math.floor((hundredths + 50) / 100);
}

describe('Anthropic surface with the official SDK', () => {
  it('relays a non-streaming message and records exact usage and cost', async () => {
    const carpool = await seedCarpool();
    const client = anthropicClient(carpool.key);
    const message = await client.messages.create({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'Say hello to the carpool.' }],
    });
    const [upstream] = await fakeLog(carpool.tag);
    expect(message.content[0]).toMatchObject({ type: 'text', text: upstream!.text });
    expect(upstream!.text).toContain('Say hello to the carpool.');

    const [row] = await requestLogFor(carpool.keyId);
    const usage = upstream!.usage as unknown as AnthropicUsage;
    expect(row).toMatchObject({
      status: 200,
      outcome: 'complete',
      model: 'claude-sonnet-4-5-20250929',
      input_tokens: usage.input_tokens,
      output_tokens: usage.output_tokens,
      unpriced: 0,
    });
    expect(row!.output_tokens).toBeGreaterThan(0);
    expect(row!.cost_micros).toBe(sonnetCostMicros(usage));
    expect(message.usage.input_tokens).toBe(usage.input_tokens);
  });

  it('streams a message with 5-minute and 1-hour cache writes and meters every token', async () => {
    const carpool = await seedCarpool();
    const client = anthropicClient(carpool.key, { authToken: true });
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 512,
      system: [
        {
          type: 'text',
          text: 'You are a careful assistant.',
          cache_control: { type: 'ephemeral', ttl: '1h' },
        },
        { type: 'text', text: 'Project notes that change more often.', cache_control: { type: 'ephemeral' } },
      ],
      messages: [{ role: 'user', content: 'Stream me something.' }],
    });
    const text = await stream.finalText();
    const final = await stream.finalMessage();
    const [upstream] = await fakeLog(carpool.tag);
    expect(text).toBe(upstream!.text);

    const usage = upstream!.usage as unknown as AnthropicUsage;
    expect(usage.cache_creation.ephemeral_1h_input_tokens).toBeGreaterThan(0);
    expect(usage.cache_read_input_tokens).toBeGreaterThan(0);
    expect(final.usage.output_tokens).toBe(usage.output_tokens);

    const [row] = await requestLogFor(carpool.keyId);
    expect(row).toMatchObject({
      status: 200,
      outcome: 'complete',
      input_tokens: usage.input_tokens,
      output_tokens: usage.output_tokens,
      cache_write_5m_tokens: usage.cache_creation.ephemeral_5m_input_tokens,
      cache_write_1h_tokens: usage.cache_creation.ephemeral_1h_input_tokens,
      cache_read_tokens: usage.cache_read_input_tokens,
    });
    expect(row!.cost_micros).toBe(sonnetCostMicros(usage));
  });

  it('forwards the body byte for byte and the client headers, with the account credential', async () => {
    const carpool = await seedCarpool();
    // What Claude Code really sends: odd spacing, a `system` role inside messages, metadata.user_id
    // as a JSON string, unicode; none of it may be normalised on the way.
    const body = `{"model":"claude-sonnet-4-5",  "max_tokens":64,"stream":true,
      "metadata":{"user_id":"{\\"device_id\\":\\"d1\\",\\"account_uuid\\":\\"\\",\\"session_id\\":\\"6f1c\\"}"},
      "messages":[{"role":"system","content":"be brief"},{"role":"user","content":"héllo ✓ \\u00e9"}],
      "thinking":{"type":"enabled","budget_tokens":1024},"context_management":{"edits":[]}}`;
    const res = await relayFetch(`${RELAY}/v1/messages?beta=true`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${carpool.key}`,
        'content-type': 'application/json',
        'anthropic-version': '2026-10-21',
        'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14',
        'x-claude-code-session-id': '6f1c',
        'x-app': 'cli',
        'user-agent': 'claude-cli/2.1.7 (external, cli)',
        'accept-encoding': 'gzip, deflate, br, zstd',
      },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    expect(res.headers.get('anthropic-ratelimit-requests-limit')).not.toBeNull();
    expect(res.headers.get('x-carpool-request-id')).not.toBeNull();
    await res.text();

    const [upstream] = await fakeLog(carpool.tag);
    expect(upstream!.body).toBe(body);
    expect(upstream!.search).toBe('?beta=true');
    expect(upstream!.headers['x-api-key']).toBe(`sk-fake.${carpool.tag}.ok`);
    expect(upstream!.headers.authorization).toBeUndefined();
    expect(upstream!.headers['anthropic-version']).toBe('2026-10-21');
    expect(upstream!.headers['anthropic-beta']).toBe('claude-code-20250219,interleaved-thinking-2025-05-14');
    expect(upstream!.headers['x-claude-code-session-id']).toBe('6f1c');
    expect(upstream!.headers['user-agent']).toBe('claude-cli/2.1.7 (external, cli)');
    expect(JSON.stringify(upstream!.headers)).not.toContain(carpool.key);
  });

  it('relays count_tokens and lists models', async () => {
    const carpool = await seedCarpool();
    const client = anthropicClient(carpool.key);
    const counted = await client.messages.countTokens({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'How many tokens is this?' }],
    });
    expect(counted.input_tokens).toBeGreaterThan(0);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(expect.arrayContaining([expect.stringMatching(/^claude-/)]));
    const paths = (await fakeLog(carpool.tag)).map((entry) => entry.path);
    expect(paths).toEqual(['/v1/messages/count_tokens', '/v1/models']);
  });
});
