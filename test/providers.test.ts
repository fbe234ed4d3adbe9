// Every client and every provider: the official OpenAI and Google SDKs against the relay, OpenAI,
// Azure, Gemini and OpenAI-compatible accounts, and format conversion both ways.
import { env } from 'cloudflare:test';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { describe, expect, it, vi } from 'vitest';
import { classifyOpenAIStreamError } from '../worker/wires/openai-chat';
import {
  admin,
  anthropicClient,
  fakeLog,
  RELAY,
  relayFetch,
  requestLogFor,
  seedCarpoolWith,
  seedEnterprise,
  withRelayFetch,
} from './support/relay';

function openaiClient(key: string): OpenAI {
  return new OpenAI({ apiKey: key, baseURL: `${RELAY}/v1`, fetch: relayFetch, maxRetries: 0 });
}

interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
}

/** GPT-5 list prices by hand: $1.25 in, $10 out, $0.125 cached in, per MTok (in eighths of a micro-dollar). */
function gpt5CostMicros(input: number, cached: number, output: number): number {
  const eighths = input * 10 + cached + output * 80;
  return Math.floor((eighths + 4) / 8);
}

describe('OpenAI surface with the official openai SDK', () => {
  it('chat completions, non-streaming: text intact, usage and cost exact', async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai' });
    const completion = await openaiClient(carpool.key).chat.completions.create({
      model: 'gpt-5',
      messages: [{ role: 'user', content: 'hello from the openai sdk' }],
      prompt_cache_key: 'cache-me',
    });
    const [upstream] = await fakeLog(carpool.tag);
    expect(upstream!.path).toBe('/v1/chat/completions');
    expect(upstream!.headers.authorization).toBe(`Bearer sk-fake.${carpool.tag}.ok`);
    expect(completion.choices[0]!.message.content).toBe(upstream!.text);
    const usage = upstream!.usage as unknown as ChatUsage;
    const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
    expect(cached).toBeGreaterThan(0);
    const [row] = await requestLogFor(carpool.keyId);
    expect(row).toMatchObject({
      model: 'gpt-5',
      input_tokens: usage.prompt_tokens - cached,
      cache_read_tokens: cached,
      output_tokens: usage.completion_tokens,
    });
    expect(row!.cost_micros).toBe(
      gpt5CostMicros(usage.prompt_tokens - cached, cached, usage.completion_tokens),
    );
  });

  it('chat completions, streaming without include_usage: metered, yet the client sees no usage chunk', async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai' });
    const stream = await openaiClient(carpool.key).chat.completions.create({
      model: 'gpt-5-mini',
      stream: true,
      messages: [{ role: 'user', content: 'stream please' }],
    });
    let text = '';
    let sawUsage = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) sawUsage = true;
    }
    const [upstream] = await fakeLog(carpool.tag);
    expect(text).toBe(upstream!.text);
    expect(sawUsage).toBe(false);
    expect(JSON.parse(upstream!.body).stream_options).toEqual({ include_usage: true });
    const usage = upstream!.usage as unknown as ChatUsage;
    const [row] = await requestLogFor(carpool.keyId);
    expect(row!.output_tokens).toBe(usage.completion_tokens);
    expect(row!.input_tokens + row!.cache_read_tokens).toBe(usage.prompt_tokens);
  });

  it('chat completions, streaming with include_usage: the client gets its usage chunk', async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai' });
    const stream = await openaiClient(carpool.key).chat.completions.create({
      model: 'gpt-5',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'with usage' }],
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    const [upstream] = await fakeLog(carpool.tag);
    expect(usage?.completion_tokens).toBe((upstream!.usage as unknown as ChatUsage).completion_tokens);
  });

  it('responses (Codex CLI), streaming and not: text intact, cached and reasoning tokens metered', async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai' });
    const client = openaiClient(carpool.key);
    const plain = await client.responses.create({
      model: 'gpt-5-codex',
      input: 'plain response',
      store: false,
    });
    const stream = await client.responses.create({
      model: 'gpt-5-codex',
      input: [
        { role: 'developer', content: 'you are codex' },
        { role: 'user', content: 'streamed response' },
      ],
      prompt_cache_key: 'codex-session',
      store: false,
      stream: true,
    });
    let streamed = '';
    let completed = false;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') streamed += event.delta;
      if (event.type === 'response.completed') completed = true;
    }
    const log = await fakeLog(carpool.tag);
    expect(log.map((e) => e.path)).toEqual(['/v1/responses', '/v1/responses']);
    expect(plain.output_text).toBe(log[0]!.text);
    expect(streamed).toBe(log[1]!.text);
    expect(completed).toBe(true);
    type ResponsesUsage = {
      input_tokens: number;
      output_tokens: number;
      input_tokens_details: { cached_tokens: number };
    };
    const rows = await requestLogFor(carpool.keyId, 2);
    for (const [i, row] of rows.entries()) {
      const usage = log[i]!.usage as unknown as ResponsesUsage;
      expect(row.input_tokens + row.cache_read_tokens).toBe(usage.input_tokens);
      expect(row.cache_read_tokens).toBe(usage.input_tokens_details.cached_tokens);
      expect(row.output_tokens).toBe(usage.output_tokens);
    }
  });

  it('answers errors in the OpenAI shape', async () => {
    const badKey = await relayFetch(`${RELAY}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer cp-nope', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-5', messages: [] }),
    });
    expect(badKey.status).toBe(401);
    expect(await badKey.json()).toMatchObject({
      error: { type: 'invalid_request_error', message: expect.any(String) },
    });
    const carpool = await seedCarpoolWith({ provider: 'openai' });
    const missing = await relayFetch(`${RELAY}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${carpool.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [] }),
    });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/model/);
  });
});

describe('Gemini surface with the official @google/genai SDK', () => {
  it('generateContent and generateContentStream: text intact, thoughts billed as output', async () => {
    const carpool = await seedCarpoolWith({ provider: 'gemini' });
    const ai = new GoogleGenAI({ apiKey: carpool.key, httpOptions: { baseUrl: RELAY } });
    const { whole, streamed } = await withRelayFetch(async () => {
      const whole = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hello gemini' });
      let streamed = '';
      for await (const chunk of await ai.models.generateContentStream({
        model: 'gemini-2.5-flash',
        contents: 'stream gemini',
      })) {
        streamed += chunk.text ?? '';
      }
      return { whole, streamed };
    });
    const log = await fakeLog(carpool.tag);
    expect(log.map((e) => e.path)).toEqual([
      '/v1beta/models/gemini-2.5-flash:generateContent',
      '/v1beta/models/gemini-2.5-flash:streamGenerateContent',
    ]);
    expect(log[1]!.search).toBe('?alt=sse');
    expect(log[0]!.headers['x-goog-api-key']).toBe(`sk-fake.${carpool.tag}.ok`);
    expect(JSON.stringify(log)).not.toContain(carpool.key);
    expect(whole.text).toBe(log[0]!.text);
    expect(streamed).toBe(log[1]!.text);
    type GeminiUsage = { promptTokenCount: number; candidatesTokenCount: number; thoughtsTokenCount: number };
    const rows = await requestLogFor(carpool.keyId, 2);
    for (const [i, row] of rows.entries()) {
      const usage = log[i]!.usage as unknown as GeminiUsage;
      expect(usage.thoughtsTokenCount).toBeGreaterThan(0);
      expect(row.output_tokens).toBe(usage.candidatesTokenCount + usage.thoughtsTokenCount);
      expect(row.input_tokens + row.cache_read_tokens).toBe(usage.promptTokenCount);
    }
  });

  it('bills what Google Search fed the model (toolUsePromptTokenCount) as input, streamed or not', async () => {
    const carpool = await seedCarpoolWith({ provider: 'gemini' });
    const body = JSON.stringify({
      contents: [{ role: 'user', parts: [{ text: 'who won yesterday?' }] }],
      tools: [{ googleSearch: {} }],
    });
    for (const method of ['generateContent', 'streamGenerateContent?alt=sse']) {
      const res = await relayFetch(`${RELAY}/v1beta/models/gemini-2.5-flash:${method}`, {
        method: 'POST',
        headers: { 'x-goog-api-key': carpool.key, 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(200);
      await res.text();
    }
    type GeminiUsage = { promptTokenCount: number; toolUsePromptTokenCount: number };
    const log = await fakeLog(carpool.tag);
    const rows = await requestLogFor(carpool.keyId, 2);
    for (const [i, row] of rows.entries()) {
      const usage = log[i]!.usage as unknown as GeminiUsage;
      expect(usage.toolUsePromptTokenCount).toBeGreaterThan(0);
      expect(row.input_tokens + row.cache_read_tokens).toBe(
        usage.promptTokenCount + usage.toolUsePromptTokenCount,
      );
    }
  });

  it('passes a mid-stream error on and logs it (Gemini CLI itself exits 0 with no output)', async () => {
    const warn = vi.spyOn(console, 'warn');
    try {
      const carpool = await seedCarpoolWith({
        provider: 'gemini',
        credential: 'sk-fake.{tag}.midstream_error',
      });
      const res = await relayFetch(`${RELAY}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`, {
        method: 'POST',
        headers: { 'x-goog-api-key': carpool.key, 'content-type': 'application/json' },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'break midway' }] }] }),
      });
      const text = await res.text();
      expect(text).toContain('"status":"UNAVAILABLE"');
      const [row] = await requestLogFor(carpool.keyId);
      expect(row!.error_type).toBe('UNAVAILABLE');
      expect(warn).toHaveBeenCalledWith(
        'upstream failure',
        expect.objectContaining({ accountId: carpool.accountId, wire: 'gemini', errorType: 'UNAVAILABLE' }),
      );
    } finally {
      warn.mockRestore();
    }
  });

  it("reports a Gemini account's rejected key as the relay's problem, not the member's", async () => {
    const carpool = await seedCarpoolWith({ provider: 'gemini', credential: 'sk-fake.{tag}.401' });
    const res = await relayFetch(`${RELAY}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': carpool.key, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }),
    });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { status: string; message: string } };
    expect(body.error.status).toBe('UNAVAILABLE');
    expect(body.error.message).toMatch(/account/);
  });

  it('takes the key from ?key= and answers errors in the Google shape', async () => {
    const carpool = await seedCarpoolWith({ provider: 'gemini' });
    const ok = await relayFetch(`${RELAY}/v1beta/models/gemini-2.5-pro:countTokens?key=${carpool.key}`, {
      method: 'POST',
      body: JSON.stringify({ contents: [{ parts: [{ text: 'count me' }] }] }),
    });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { totalTokens: number }).totalTokens).toBeGreaterThan(0);
    const [upstream] = await fakeLog(carpool.tag);
    expect(upstream!.search).not.toContain(carpool.key);
    const bad = await relayFetch(`${RELAY}/v1beta/models/gemini-2.5-pro:generateContent?key=cp-bad`, {
      method: 'POST',
      body: '{}',
    });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED' } });
  });
});

describe('Azure OpenAI and compatible vendors', () => {
  it('calls an Azure deployment URL with api-version and the api-key header', async () => {
    const carpool = await seedCarpoolWith({
      provider: 'azure-openai',
      baseUrl: 'https://contoso.openai.azure.com?api-version=2024-10-21',
      modelMapping: { 'gpt-5': 'contoso-gpt5' },
    });
    const completion = await openaiClient(carpool.key).chat.completions.create({
      model: 'gpt-5',
      messages: [{ role: 'user', content: 'azure hello' }],
    });
    const [upstream] = await fakeLog(carpool.tag);
    expect(upstream!.host).toBe('contoso.openai.azure.com');
    expect(upstream!.path).toBe('/openai/deployments/contoso-gpt5/chat/completions');
    expect(upstream!.search).toBe('?api-version=2024-10-21');
    expect(upstream!.headers['api-key']).toBe(`sk-fake.${carpool.tag}.ok`);
    expect(upstream!.headers.authorization).toBeUndefined();
    expect(completion.choices[0]!.message.content).toBe(upstream!.text);
    const [row] = await requestLogFor(carpool.keyId);
    expect(row!.model).toBe('contoso-gpt5');
  });

  it('reaches a vendor by preset (DeepSeek, OpenAI-compatible)', async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai-compatible', preset: 'deepseek' });
    await openaiClient(carpool.key).chat.completions.create({
      model: 'deepseek-chat',
      messages: [{ role: 'user', content: 'ni hao' }],
    });
    const [upstream] = await fakeLog(carpool.tag);
    expect(upstream!.host).toBe('api.deepseek.com');
    expect(upstream!.path).toBe('/v1/chat/completions');
  });
});

describe("compatible vendors' own usage fields", () => {
  interface VendorUsage {
    prompt_tokens: number;
    completion_tokens: number;
    prompt_cache_hit_tokens?: number;
    cached_tokens?: number;
  }

  it('DeepSeek: cache hits (prompt_cache_hit_tokens) are metered as cache reads, streamed or not', async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai-compatible', preset: 'deepseek' });
    const client = openaiClient(carpool.key);
    await client.chat.completions.create({
      model: 'deepseek-chat',
      messages: [{ role: 'user', content: 'a long cache-friendly prefix' }],
    });
    const stream = await client.chat.completions.create({
      model: 'deepseek-chat',
      stream: true,
      messages: [{ role: 'user', content: 'the same cache-friendly prefix, streamed' }],
    });
    for await (const _ of stream);
    const log = await fakeLog(carpool.tag);
    const rows = await requestLogFor(carpool.keyId, 2);
    for (const [i, row] of rows.entries()) {
      const usage = log[i]!.usage as unknown as VendorUsage;
      expect(usage.prompt_cache_hit_tokens).toBeGreaterThan(0);
      expect(row).toMatchObject({
        input_tokens: usage.prompt_tokens - usage.prompt_cache_hit_tokens!,
        cache_read_tokens: usage.prompt_cache_hit_tokens,
        output_tokens: usage.completion_tokens,
      });
    }
  });

  it("Kimi: the usage inside a stream's last choice is the bill, and its top-level cached_tokens", async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai-compatible', preset: 'kimi' });
    const stream = await openaiClient(carpool.key).chat.completions.create({
      model: 'moonshot-v1-8k',
      stream: true,
      messages: [{ role: 'user', content: 'a cache-friendly question for kimi' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    const [upstream] = await fakeLog(carpool.tag);
    expect(text).toBe(upstream!.text);
    const usage = upstream!.usage as unknown as VendorUsage;
    expect(usage.cached_tokens).toBeGreaterThan(0);
    const [row] = await requestLogFor(carpool.keyId);
    expect(row).toMatchObject({
      input_tokens: usage.prompt_tokens - usage.cached_tokens!,
      cache_read_tokens: usage.cached_tokens,
      output_tokens: usage.completion_tokens,
    });
  });

  it.each([
    ['deepseek', 'deepseek-chat', 402],
    ['qwen', 'qwen-plus', 400],
  ])(
    '%s out of balance (%s answered %i) is the account failing: it cools down and the pool fails over',
    async (preset, model, status) => {
      const pool = await seedEnterprise([
        { provider: 'openai-compatible', preset, scenario: '402', priority: 1 },
        { provider: 'openai-compatible', preset, priority: 2 },
      ]);
      const completion = await openaiClient(pool.key).chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'hello' }],
      });
      expect(completion.choices[0]!.message.content).toBeTruthy();
      const [refused] = await fakeLog(pool.accounts[0]!.tag);
      expect(refused!.status).toBe(status);
      const gate = env.ACCOUNT_GATE.get(env.ACCOUNT_GATE.idFromName(`account:${pool.accounts[0]!.id}`));
      expect((await gate.state()).cooldownUntil).toBeGreaterThan(Date.now());
    },
  );

  it('an insufficient_quota error event in a stream is out of credit too, not a rate limit', () => {
    expect(classifyOpenAIStreamError('insufficient_quota')).toEqual({
      kind: 'server_error',
      status: 429,
      outOfCredit: true,
    });
    expect(classifyOpenAIStreamError('rate_limit_exceeded').kind).toBe('rate_limited');
  });

  it.each([
    ['openai', {}],
    [
      'azure-openai',
      {
        baseUrl: 'https://contoso.openai.azure.com?api-version=2024-10-21',
        modelMapping: { 'gpt-5': 'contoso-gpt5' },
      },
    ],
  ])(
    '%s out of quota (429 insufficient_quota) is out of credit, not rate-limited: fail over, cool down as failing',
    async (provider, extra) => {
      const pool = await seedEnterprise([
        { provider, scenario: '402', priority: 1, ...extra },
        { provider, priority: 2, ...extra },
      ]);
      const completion = await openaiClient(pool.key).chat.completions.create({
        model: 'gpt-5',
        messages: [{ role: 'user', content: 'hello' }],
      });
      expect(completion.choices[0]!.message.content).toBeTruthy();
      const [refused] = await fakeLog(pool.accounts[0]!.tag);
      expect(refused!.status).toBe(429);
      const gate = env.ACCOUNT_GATE.get(env.ACCOUNT_GATE.idFromName(`account:${pool.accounts[0]!.id}`));
      const state = await gate.state();
      expect(state.cooldownUntil).toBeGreaterThan(Date.now());
      // A rate limit's cooldown would have it back within the minute, to be refused again.
      expect(state.recentErrors.at(-1)).toMatchObject({ kind: 'server_error', status: 429 });
    },
  );

  it('an account out of credit with nowhere to fail over: the member reads a relay error, not a spent quota', async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai', credential: 'sk-fake.{tag}.402' });
    const failed = await openaiClient(carpool.key)
      .chat.completions.create({ model: 'gpt-5', messages: [{ role: 'user', content: 'hello' }] })
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(OpenAI.APIError);
    const error = failed as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(502);
    expect(error.type).toBe('api_error');
    expect(error.message).toContain('out of credit');
    expect(error.message).not.toMatch(/quota|billing/);
    const [refused] = await fakeLog(carpool.tag);
    expect(refused!.status).toBe(429);
  });

  it("DeepSeek's Anthropic endpoint out of balance (402): fail over, cool down, the member never sees a billing error", async () => {
    const pool = await seedEnterprise([
      { provider: 'anthropic-compatible', preset: 'deepseek', scenario: '402', priority: 1 },
      { provider: 'anthropic-compatible', preset: 'deepseek', priority: 2 },
    ]);
    const message = await anthropicClient(pool.key).messages.create({
      model: 'deepseek-chat',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'hello deepseek' }],
    });
    expect(message.content[0]).toMatchObject({ type: 'text' });
    const [refused] = await fakeLog(pool.accounts[0]!.tag);
    expect(`${refused!.host}${refused!.path}`).toBe('api.deepseek.com/anthropic/v1/messages');
    expect(refused!.status).toBe(402);
    const [served] = await fakeLog(pool.accounts[1]!.tag);
    expect(served!.status).toBe(200);
    const gate = env.ACCOUNT_GATE.get(env.ACCOUNT_GATE.idFromName(`account:${pool.accounts[0]!.id}`));
    expect((await gate.state()).cooldownUntil).toBeGreaterThan(Date.now());

    const alone = await seedCarpoolWith({
      provider: 'anthropic-compatible',
      preset: 'deepseek',
      credential: 'sk-fake.{tag}.402',
    });
    const failed = await anthropicClient(alone.key)
      .messages.create({
        model: 'deepseek-chat',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(Anthropic.APIError);
    const error = failed as InstanceType<typeof Anthropic.APIError>;
    expect(error.status).toBe(502);
    expect(error.error).toMatchObject({ error: { type: 'api_error' } });
  });

  it('Qwen explicit cache: writes metered as cache writes, hits as reads, the rest as input, streamed or not', async () => {
    // Qwen's list price as DashScope documents its explicit cache: writes at 125% of input, hits at 10%.
    const qwenPrice = {
      inputMicros: 800_000,
      outputMicros: 2_000_000,
      cacheWrite5mMicros: 1_000_000,
      cacheWrite1hMicros: 1_000_000,
      cacheReadMicros: 80_000,
    };
    expect((await admin('PUT', '/prices/qwen-plus', qwenPrice)).status).toBe(200);
    const carpool = await seedCarpoolWith({ provider: 'openai-compatible', preset: 'qwen' });
    // DashScope's explicit cache marks a content part as Anthropic does; the SDK's types lack it.
    const marked = {
      type: 'text',
      text: 'a long system prompt worth caching',
      cache_control: { type: 'ephemeral' },
    } as OpenAI.ChatCompletionContentPartText;
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'system', content: [marked] },
      { role: 'user', content: 'the question' },
    ];
    const client = openaiClient(carpool.key);
    await client.chat.completions.create({ model: 'qwen-plus', messages });
    const stream = await client.chat.completions.create({
      model: 'qwen-plus',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const _ of stream);
    const log = await fakeLog(carpool.tag);
    expect(log.map((e) => `${e.host}${e.path}`)).toEqual([
      'dashscope.aliyuncs.com/compatible-mode/v1/chat/completions',
      'dashscope.aliyuncs.com/compatible-mode/v1/chat/completions',
    ]);
    const rows = await requestLogFor(carpool.keyId, 2);
    for (const [i, row] of rows.entries()) {
      const usage = log[i]!.usage as unknown as {
        prompt_tokens: number;
        completion_tokens: number;
        prompt_tokens_details: { cached_tokens: number; cache_creation_input_tokens: number };
      };
      const { cached_tokens: read, cache_creation_input_tokens: written } = usage.prompt_tokens_details;
      expect(written).toBeGreaterThan(0);
      // prompt_tokens counts the cached and the written tokens: each is billed once, at its rate.
      expect(row).toMatchObject({
        input_tokens: usage.prompt_tokens - read - written,
        cache_write_5m_tokens: written,
        cache_write_1h_tokens: 0,
        cache_read_tokens: read,
        output_tokens: usage.completion_tokens,
        unpriced: 0,
      });
      const input = usage.prompt_tokens - read - written;
      const scaled =
        input * 800_000 + written * 1_000_000 + read * 80_000 + usage.completion_tokens * 2_000_000;
      expect(row!.cost_micros).toBe(Math.floor((scaled + 500_000) / 1_000_000));
    }
  });

  it('Kimi under Claude Code (converted): the message_delta carries the usage of the last choice', async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai-compatible', preset: 'kimi' });
    const message = await anthropicClient(carpool.key)
      .messages.stream({
        model: 'kimi-k2-0905-preview',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'hello kimi' }],
      })
      .finalMessage();
    const [upstream] = await fakeLog(carpool.tag);
    const usage = upstream!.usage as unknown as VendorUsage;
    expect(message.usage).toMatchObject({
      input_tokens: usage.prompt_tokens,
      output_tokens: usage.completion_tokens,
    });
  });
});

describe('AWS Bedrock', () => {
  it('serves the Anthropic SDK from Bedrock: signed request, event stream decoded, usage exact', async () => {
    const carpool = await seedCarpoolWith({
      provider: 'bedrock',
      credential: JSON.stringify({
        accessKeyId: 'sk-fake.{tag}.ok',
        secretAccessKey: 'test-secret-access-key',
        region: 'us-east-1',
      }),
      modelMapping: { 'claude-sonnet-4-5': 'us.anthropic.claude-sonnet-4-5-20250929-v1:0' },
    });
    const client = anthropicClient(carpool.key);
    const text = await client.messages
      .stream({
        model: 'claude-sonnet-4-5',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'hello bedrock' }],
      })
      .finalText();
    const plain = await client.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'plain bedrock' }],
    });
    const log = await fakeLog(carpool.tag);
    expect(log.map((e) => `${e.host}${e.path}`)).toEqual([
      'bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream',
      'bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke',
    ]);
    expect(log[0]!.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=sk-fake\.[0-9a-f]+\.ok\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/,
    );
    const sent = JSON.parse(log[0]!.body);
    expect(sent.anthropic_version).toBe('bedrock-2023-05-31');
    expect(sent.model).toBeUndefined();
    expect(text).toBe(log[0]!.text);
    expect(plain.content[0]).toMatchObject({ type: 'text', text: log[1]!.text });
    const rows = await requestLogFor(carpool.keyId, 2);
    for (const [i, row] of rows.entries()) {
      const usage = log[i]!.usage as { input_tokens: number; output_tokens: number };
      expect(row).toMatchObject({
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        status: 200,
      });
    }
  });
});

describe('AWS Bedrock errors', () => {
  const account = (scenario: string) =>
    seedCarpoolWith({
      provider: 'bedrock',
      credential: JSON.stringify({
        accessKeyId: `sk-fake.{tag}.${scenario}`,
        secretAccessKey: 'test-secret-access-key',
        region: 'us-east-1',
      }),
      modelMapping: { 'claude-sonnet-4-5': 'us.anthropic.claude-sonnet-4-5-20250929-v1:0' },
    });
  const ask = (key: string, path: string, body: Record<string, unknown>) =>
    relayFetch(`${RELAY}${path}`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        messages: [{ role: 'user', content: 'hi' }],
        ...body,
      }),
    });

  it("reach an Anthropic client as Anthropic error JSON, streamed or not, and an OpenAI client as OpenAI's", async () => {
    const carpool = await account('400');
    for (const stream of [false, true]) {
      const res = await ask(carpool.key, '/v1/messages', { max_tokens: 10, stream });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        type: 'error',
        error: {
          type: 'invalid_request_error',
          message: 'Malformed input request, please reformat your input and try again.',
        },
      });
    }
    const chat = await ask(carpool.key, '/v1/chat/completions', {});
    expect(chat.status).toBe(400);
    expect(await chat.json()).toMatchObject({
      error: {
        type: 'invalid_request_error',
        message: 'Malformed input request, please reformat your input and try again.',
      },
    });
  });

  it('a throttled account with nowhere to fail over passes on an Anthropic rate_limit_error', async () => {
    const carpool = await account('429');
    const res = await ask(carpool.key, '/v1/messages', { max_tokens: 10 });
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'Too many requests, please wait before trying again.' },
    });
  });
});

describe('format conversion', () => {
  it('serves the Anthropic SDK from an OpenAI-compatible account, streaming a tool call', async () => {
    const carpool = await seedCarpoolWith({
      provider: 'openai-compatible',
      preset: 'kimi',
      credential: 'sk-fake.{tag}.tool_call',
      modelMapping: { 'claude-sonnet-4-5': 'kimi-k2' },
    });
    const stream = anthropicClient(carpool.key).messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 256,
      tools: [
        {
          name: 'get_weather',
          description: 'Weather for a city',
          input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      ],
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    const message = await stream.finalMessage();
    const [upstream] = await fakeLog(carpool.tag);
    expect(`${upstream!.host}${upstream!.path}`).toBe('api.moonshot.ai/v1/chat/completions');
    const sent = JSON.parse(upstream!.body);
    expect(sent.model).toBe('kimi-k2');
    expect(sent.tools[0].function.name).toBe('get_weather');
    expect(sent.stream_options).toEqual({ include_usage: true });
    const toolUse = message.content.find((b) => b.type === 'tool_use');
    expect(toolUse).toMatchObject({ type: 'tool_use', name: 'get_weather' });
    expect(message.stop_reason).toBe('tool_use');
    const usage = upstream!.usage as unknown as ChatUsage;
    const [row] = await requestLogFor(carpool.keyId);
    expect(row!.model).toBe('kimi-k2');
    expect(row!.output_tokens).toBe(usage.completion_tokens);
    expect(message.usage.output_tokens).toBe(usage.completion_tokens);
  });

  it('serves an OpenAI chat client from an Anthropic account', async () => {
    const carpool = await seedCarpoolWith({ provider: 'anthropic' });
    const stream = await openaiClient(carpool.key).chat.completions.create({
      model: 'claude-haiku-4-5',
      stream: true,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'convert me' },
      ],
    });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    const [upstream] = await fakeLog(carpool.tag);
    expect(upstream!.path).toBe('/v1/messages');
    const sent = JSON.parse(upstream!.body);
    expect(sent.system).toBe('be brief');
    expect(sent.max_tokens).toBeGreaterThan(0);
    expect(text).toBe(upstream!.text);
    expect(finish).toBe('stop');
    const [row] = await requestLogFor(carpool.keyId);
    expect(row!.output_tokens).toBe((upstream!.usage as { output_tokens: number }).output_tokens);
  });

  it("lists an Anthropic account's models to an OpenAI client (Cherry Studio, Cursor)", async () => {
    const carpool = await seedCarpoolWith({ provider: 'anthropic' });
    const models = await openaiClient(carpool.key).models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id.startsWith('claude-'))).toBe(true);
    expect(models.data[0]).toMatchObject({ object: 'model', owned_by: 'anthropic' });
    const [upstream] = await fakeLog(carpool.tag);
    expect(upstream!.path).toBe('/v1/models');
  });
});
