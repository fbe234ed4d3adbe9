// The pieces of metering on their own: the SSE parser across arbitrary chunk boundaries, usage
// merging, price matching and integer cost rounding.
import { describe, expect, it } from 'vitest';
import { costOf } from '../worker/metering/cost';
import { findPrice, SHIPPED_PRICES } from '../worker/metering/prices';
import { SseParser } from '../worker/metering/sse';
import { emptyUsage } from '../worker/metering/usage';
import { sessionKeyOf } from '../worker/relay/session';
import { wireFormat } from '../worker/wires';
import { AnthropicStreamUsage } from '../worker/wires/anthropic-usage';

const STREAM = [
  'event: message_start\r\ndata: {"type":"message_start","message":{"usage":{"input_tokens":12,"cache_creation_input_tokens":30,',
  '"cache_read_input_tokens":7,"cache_creation":{"ephemeral_5m_input_tokens":10,"ephemeral_1h_input_tokens":20},"output_tokens":1}}}\r\n\r\n',
  'event: ping\ndata: {"type": "ping"}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"héllo"}}\n\n',
  'event: message_delta\ndata: {"type":"message_delta","usage":{"input_tokens":12,"cache_creation_input_tokens":30,"output_tokens":42}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
].join('');

describe('SSE metering', () => {
  it('reads the same usage however the stream is cut into chunks, even inside a multi-byte character', () => {
    const bytes = new TextEncoder().encode(STREAM);
    for (const size of [1, 2, 3, 7, 64, bytes.length]) {
      const reader = new AnthropicStreamUsage();
      const parser = new SseParser((event, data) => reader.onEvent(event, data));
      for (let i = 0; i < bytes.length; i += size) parser.push(bytes.slice(i, i + size));
      parser.end();
      expect(reader.reading().usage).toEqual({
        inputTokens: 12,
        outputTokens: 42,
        cacheWrite5mTokens: 10,
        cacheWrite1hTokens: 20,
        cacheReadTokens: 7,
      });
      expect(reader.progress().contentStarted).toBe(true);
    }
  });

  it('collects multi-line data and events without a trailing blank line', () => {
    const seen: [string, string][] = [];
    const parser = new SseParser((event, data) => seen.push([event, data]));
    parser.push(new TextEncoder().encode(': comment\ndata: a\ndata: b\n\nevent: error\ndata: {"x":1}'));
    parser.end();
    expect(seen).toEqual([
      ['message', 'a\nb'],
      ['error', '{"x":1}'],
    ]);
  });
});

describe('a stream cut off after its first content event', () => {
  // 19 characters of English: five tokens at four bytes each.
  const text = 'hello there, friend';
  const streams = {
    anthropic: [
      'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":9,"output_tokens":1}}}\n\n',
      'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
      `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${text}"}}\n\n`,
    ],
    'openai-chat': [
      'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n',
      `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${text}"},"finish_reason":null}]}\n\n`,
    ],
    'openai-responses': [
      'event: response.created\ndata: {"type":"response.created","response":{"id":"r","status":"in_progress"}}\n\n',
      `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"${text}"}\n\n`,
    ],
  } as const;

  for (const [wire, events] of Object.entries(streams)) {
    it(`${wire}: estimates the output that event carried`, () => {
      const meter = wireFormat(wire as keyof typeof streams).meter(true);
      for (const event of events) meter.push(new TextEncoder().encode(event));
      const reading = meter.finish();
      expect(reading.estimated).toBe(true);
      expect(reading.usage.outputTokens).toBe(5);
    });
  }
});

describe('prices and cost', () => {
  const at = Date.UTC(2026, 11, 1);

  it('matches dated ids to their model but not look-alike names', () => {
    expect(findPrice('claude-sonnet-4-5-20250929', SHIPPED_PRICES, at)?.matched).toBe('claude-sonnet-4-5');
    expect(findPrice('claude-sonnet-4-20250514', SHIPPED_PRICES, at)?.matched).toBe('claude-sonnet-4');
    expect(findPrice('gpt-5-mini-2025-08-07', SHIPPED_PRICES, at)?.price.inputMicros).toBe(250_000);
    expect(findPrice('gpt-50', SHIPPED_PRICES, at)).toBeUndefined();
  });

  it('is integer micro-dollars, rounded once, half up', () => {
    // Haiku 4.5 cache reads are $0.10/MTok: 5 tokens = 0.5 micro-dollars, which rounds up to 1.
    expect(costOf('claude-haiku-4-5', { ...emptyUsage(), cacheReadTokens: 5 }, SHIPPED_PRICES, at)).toEqual({
      costMicros: 1,
      unpriced: false,
    });
    expect(
      costOf('claude-haiku-4-5', { ...emptyUsage(), cacheReadTokens: 4 }, SHIPPED_PRICES, at).costMicros,
    ).toBe(0);
    // A million output tokens of Opus 4.1 is exactly $75.
    expect(
      costOf('claude-opus-4-1', { ...emptyUsage(), outputTokens: 1_000_000 }, SHIPPED_PRICES, at).costMicros,
    ).toBe(75_000_000);
    expect(costOf('unknown-model', { ...emptyUsage(), inputTokens: 99 }, SHIPPED_PRICES, at)).toEqual({
      costMicros: 0,
      unpriced: true,
    });
  });

  it('stays exact past 2^53 micro-dollar millionths', () => {
    const table = {
      ...SHIPPED_PRICES,
      overrides: {
        huge: {
          inputMicros: 100_000_000_000,
          outputMicros: 100_000_000_001,
          cacheWrite5mMicros: 0,
          cacheWrite1hMicros: 0,
          cacheReadMicros: 0,
          tiers: [],
        },
      },
    };
    // 10^8 × 10^11 + 10^8 × (10^11 + 1) = 2·10^19 + 10^8, over 10^6: 2·10^13 + 100.
    const usage = { ...emptyUsage(), inputTokens: 100_000_000, outputTokens: 100_000_000 };
    expect(costOf('huge', usage, table, at).costMicros).toBe(20_000_000_000_100);
  });
});

describe('session keys', () => {
  const body = (userId?: string) => ({
    model: 'm',
    metadata: userId ? { user_id: userId } : undefined,
    messages: [{ role: 'user', content: 'hi' }],
  });

  it('prefers the Claude Code header, then metadata.user_id in both forms, then Codex ids', async () => {
    const h = (init: Record<string, string>) => new Headers(init);
    expect(await sessionKeyOf('k', h({ 'x-claude-code-session-id': 'abc' }), body())).toBe('k:abc');
    expect(
      await sessionKeyOf('k', h({}), body(JSON.stringify({ device_id: 'd', session_id: 'json-sess' }))),
    ).toBe('k:json-sess');
    const old =
      'user_0123abcd_account_11111111-2222-3333-4444-555555555555_session_aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
    expect(await sessionKeyOf('k', h({}), body(old))).toBe('k:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee');
    expect(await sessionKeyOf('k', h({ session_id: 'codex' }), body())).toBe('k:codex');
    expect(await sessionKeyOf('k', h({}), { prompt_cache_key: 'pck', input: [] })).toBe('k:pck');
  });

  it('falls back to a hash of the key and the conversation start, stable across turns', async () => {
    const first = await sessionKeyOf('k', new Headers(), {
      system: 'be kind',
      messages: [{ role: 'user', content: 'a' }],
    });
    const later = await sessionKeyOf('k', new Headers(), {
      system: 'be kind',
      messages: [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: 'b' },
      ],
    });
    expect(first).toBe(later);
    expect(first).toMatch(/^k:h:[0-9a-f]{32}$/);
    expect(await sessionKeyOf('other', new Headers(), { system: 'be kind' })).not.toBe(first);
  });
});
