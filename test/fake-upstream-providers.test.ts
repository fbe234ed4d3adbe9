// The fake's OpenAI, Azure OpenAI, Gemini and Bedrock wire formats, and the tool_call scenario on every provider.
import { describe, expect, it } from 'vitest';
import type { LogEntry } from './fake-upstream/index';
import { fakeLog } from './support/relay';
import { parseNamedEvents } from './support/sse';

type Json = Record<string, unknown>;

function newTag(): string {
  return crypto.randomUUID().slice(0, 8);
}

async function onlyEntry(tag: string): Promise<LogEntry> {
  const log = await fakeLog(tag);
  expect(log).toHaveLength(1);
  return log[0]!;
}

const tokens = (text: string) => Math.ceil(new TextEncoder().encode(text).length / 4);
const toolJson = '{"city":"Paris"}';

/** `data:`-only events; Gemini separates them with CRLF pairs. */
function dataEvents(text: string, separator = '\n\n'): string[] {
  expect(text.endsWith(separator)).toBe(true);
  return text
    .split(separator)
    .filter((block) => block.length > 0)
    .map((block) => {
      expect(block).toMatch(/^data: /);
      expect(block.includes('\n')).toBe(false);
      return block.slice('data: '.length);
    });
}

function postJson(url: string, headers: Record<string, string>, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('OpenAI chat completions', () => {
  const url = 'https://api.openai.com/v1/chat/completions';
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const chatBody = (text: string, extra: Json = {}) =>
    JSON.stringify({ model: 'gpt-5', messages: [{ role: 'user', content: text }], ...extra });

  it('streams data-only chunks with no usage at all when include_usage is not set', async () => {
    const tag = newTag();
    const response = await postJson(
      url,
      bearer(`sk-fake.${tag}.ok`),
      chatBody('hello there', { stream: true }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('9999');
    const events = dataEvents(await response.text());
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event) as Json);
    expect(chunks).toHaveLength(1 + 4 + 1);
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ object: 'chat.completion.chunk', model: 'gpt-5' });
      expect(chunk.id).toMatch(/^chatcmpl-/);
      expect('usage' in chunk).toBe(false);
    }
    const deltas = chunks.map((chunk) => (chunk.choices as Json[])[0]!);
    expect(deltas[0]).toMatchObject({ delta: { role: 'assistant', content: '' }, finish_reason: null });
    expect(
      deltas
        .slice(1, 5)
        .map((choice) => (choice.delta as { content: string }).content)
        .join(''),
    ).toBe('echo: hello there');
    expect(deltas[5]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' });

    const entry = await onlyEntry(tag);
    expect(entry).toMatchObject({
      id: response.headers.get('x-request-id'),
      path: '/v1/chat/completions',
      status: 200,
      usage: null,
      text: 'echo: hello there',
      scenario: 'ok',
    });
    expect(entry.headers.authorization).toBe(`Bearer sk-fake.${tag}.ok`);
  });

  it('adds a choices-less usage chunk before [DONE], and usage:null elsewhere, with include_usage', async () => {
    const tag = newTag();
    const body = chatBody('hello', { stream: true, stream_options: { include_usage: true } });
    const response = await postJson(url, bearer(`sk-fake.${tag}.ok`), body);
    const events = dataEvents(await response.text());
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event) as Json);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull();
    expect((chunks.at(-2)!.choices as Json[])[0]!.finish_reason).toBe('stop');

    const entry = await onlyEntry(tag);
    expect(last.usage).toEqual(entry.usage);
    expect(entry.usage).toEqual({
      prompt_tokens: tokens(body),
      completion_tokens: tokens('echo: hello') + 3,
      total_tokens: tokens(body) + tokens('echo: hello') + 3,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 3,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    });
  });

  it('answers a chat.completion with cached tokens inside prompt_tokens, on compatible vendors too', async () => {
    for (const vendorUrl of [
      url,
      'https://api.deepseek.com/v1/chat/completions',
      'https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions',
      'https://open.bigmodel.cn/api/paas/v4/chat/completions',
    ]) {
      const tag = newTag();
      const body = chatBody('hi', { prompt_cache_key: 'session-1' });
      const response = await postJson(vendorUrl, bearer(`sk-fake.${tag}`), body);
      expect(response.headers.get('content-type')).toBe('application/json');
      const completion = await response.json<Json>();
      expect(completion).toMatchObject({
        object: 'chat.completion',
        model: 'gpt-5',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: 'echo: hi', refusal: null },
            finish_reason: 'stop',
          },
        ],
      });
      const entry = await onlyEntry(tag);
      expect(completion.usage).toEqual(entry.usage);
      const cached = Math.floor(tokens(body) / 2);
      expect(entry.usage).toMatchObject({
        prompt_tokens: tokens(body),
        // DeepSeek documents its own names for cache hits and misses, not OpenAI's details.
        ...(vendorUrl.includes('deepseek')
          ? { prompt_cache_hit_tokens: cached, prompt_cache_miss_tokens: tokens(body) - cached }
          : { prompt_tokens_details: { cached_tokens: cached } }),
      });
    }
  });

  it("reports DashScope's explicit cache writes and reads in prompt_tokens_details, both inside prompt_tokens", async () => {
    const tag = newTag();
    const marked = { type: 'text', text: 'a long system prompt', cache_control: { type: 'ephemeral' } };
    const body = JSON.stringify({
      model: 'qwen-plus',
      messages: [
        { role: 'system', content: [marked] },
        { role: 'user', content: 'hi' },
      ],
    });
    const response = await postJson(
      'https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions',
      bearer(`sk-fake.${tag}`),
      body,
    );
    const completion = await response.json<Json>();
    const entry = await onlyEntry(tag);
    expect(completion.usage).toEqual(entry.usage);
    const written = Math.floor(tokens(body) / 4);
    expect(entry.usage).toMatchObject({
      prompt_tokens: tokens(body),
      prompt_tokens_details: {
        cached_tokens: Math.floor(tokens(body) / 2),
        cache_creation: { ephemeral_5m_input_tokens: written },
        cache_creation_input_tokens: written,
        cache_type: 'ephemeral',
      },
    });
  });

  it('answers an account out of quota with a 429 insufficient_quota, not a rate limit', async () => {
    const tag = newTag();
    const response = await postJson(url, bearer(`sk-fake.${tag}.402`), chatBody('hi'));
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBeNull();
    expect(await response.json()).toEqual({
      error: {
        type: 'insufficient_quota',
        code: 'insufficient_quota',
        param: null,
        message: expect.stringMatching(
          /^You exceeded your current quota, please check your plan and billing details/,
        ),
      },
    });
  });

  it("streams Moonshot's usage inside the last choice, with no usage chunk even when asked", async () => {
    const tag = newTag();
    const body = chatBody('hi kimi', {
      model: 'moonshot-v1-8k',
      stream: true,
      stream_options: { include_usage: true },
      prompt_cache_key: 'session-1',
    });
    const response = await postJson(
      'https://api.moonshot.ai/v1/chat/completions',
      bearer(`sk-fake.${tag}`),
      body,
    );
    const chunks = dataEvents(await response.text());
    expect(chunks.at(-1)).toBe('[DONE]');
    const parsed = chunks.slice(0, -1).map((line) => JSON.parse(line) as Json);
    expect(parsed.every((chunk) => Array.isArray(chunk.choices) && chunk.choices.length === 1)).toBe(true);
    expect(parsed.some((chunk) => 'usage' in chunk)).toBe(false);
    const last = (parsed.at(-1)!.choices as Json[])[0];
    const entry = await onlyEntry(tag);
    expect(last).toMatchObject({ finish_reason: 'stop', usage: entry.usage });
    // moonshot-v1 reports cache hits at the top of usage only.
    expect(entry.usage).toEqual({
      prompt_tokens: tokens(body),
      completion_tokens: expect.any(Number),
      total_tokens: expect.any(Number),
      cached_tokens: Math.floor(tokens(body) / 2),
    });
  });

  it('stops at max_completion_tokens with finish_reason length, reasoning first', async () => {
    const response = await postJson(
      url,
      bearer(`sk-fake.${newTag()}`),
      chatBody('hello there', { max_completion_tokens: 5 }),
    );
    const completion = await response.json<{ choices: Json[]; usage: Json }>();
    expect(completion.choices[0]).toMatchObject({
      finish_reason: 'length',
      message: { content: 'echo: he' },
    });
    expect(completion.usage).toMatchObject({ completion_tokens: 5 });
  });

  it('streams a tool call: id and name first, arguments over several chunks, finish_reason tool_calls', async () => {
    const tag = newTag();
    const tools = [
      { type: 'function', function: { name: 'lookup_weather', parameters: { type: 'object' } } },
      { type: 'function', function: { name: 'other' } },
    ];
    const body = chatBody('weather?', { stream: true, tools, stream_options: { include_usage: true } });
    const response = await postJson(url, bearer(`sk-fake.${tag}.tool_call`), body);
    const chunks = dataEvents(await response.text())
      .slice(0, -1)
      .map((event) => JSON.parse(event) as { choices: Json[]; usage: Json | null });
    const first = chunks[0]!.choices[0]!.delta as { tool_calls: Json[] };
    expect(first).toMatchObject({ role: 'assistant', content: null });
    expect(first.tool_calls).toEqual([
      {
        index: 0,
        id: expect.stringMatching(/^call_/),
        type: 'function',
        function: { name: 'lookup_weather', arguments: '' },
      },
    ]);
    const pieces = chunks
      .slice(1, -2)
      .map(
        (chunk) =>
          (chunk.choices[0]!.delta as { tool_calls: { function: { arguments: string } }[] }).tool_calls[0]!,
      );
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.map((piece) => piece.function.arguments).join('')).toBe(toolJson);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('tool_calls');
    const entry = await onlyEntry(tag);
    expect(entry).toMatchObject({ text: toolJson, usage: { completion_tokens: tokens(toolJson) + 3 } });
  });

  it('answers a tool call whole without streaming', async () => {
    const tools = [{ type: 'function', function: { name: 'lookup_weather' } }];
    const response = await postJson(
      url,
      bearer(`sk-fake.${newTag()}.tool_call`),
      chatBody('weather?', { tools }),
    );
    const completion = await response.json<{ choices: Json[] }>();
    expect(completion.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: {
        content: null,
        tool_calls: [{ type: 'function', function: { name: 'lookup_weather', arguments: toolJson } }],
      },
    });
  });

  it('signals a mid-stream failure as a data: {"error"} line and no [DONE]', async () => {
    for (const [scenario, contentChunks] of [
      ['overloaded_after_start', 0],
      ['midstream_error', 2],
    ] as const) {
      const tag = newTag();
      const response = await postJson(
        url,
        bearer(`sk-fake.${tag}.${scenario}`),
        chatBody('hello', { stream: true }),
      );
      expect(response.status).toBe(200);
      const events = dataEvents(await response.text());
      expect(events).toHaveLength(1 + contentChunks + 1);
      expect(JSON.parse(events.at(-1)!)).toEqual({
        error: {
          message: 'The server is overloaded or not ready yet.',
          type: 'server_error',
          param: null,
          code: null,
        },
      });
      expect(events).not.toContain('[DONE]');
    }
  });

  it('answers errors in the OpenAI envelope with their statuses and headers', async () => {
    const tag = newTag();
    const rateLimited = await postJson(url, bearer(`sk-fake.${tag}.429`), chatBody('hi'));
    expect(rateLimited.status).toBe(429);
    expect(rateLimited.headers.get('retry-after')).toBe('7');
    expect(rateLimited.headers.get('x-ratelimit-reset-requests')).toBe('7s');
    expect(rateLimited.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(await rateLimited.json()).toMatchObject({
      error: { type: 'requests', code: 'rate_limit_exceeded', param: null },
    });
    const sixMinutes = await postJson(url, bearer(`sk-fake.${tag}.429.360`), chatBody('hi'));
    expect(sixMinutes.headers.get('x-ratelimit-reset-requests')).toBe('6m0s');
    await sixMinutes.body?.cancel();

    for (const [scenario, status, type, code] of [
      ['400', 400, 'invalid_request_error', 'unsupported_parameter'],
      ['401', 401, 'invalid_request_error', 'invalid_api_key'],
      ['403', 403, 'request_forbidden', 'unsupported_country_region_territory'],
      ['500', 500, 'server_error', null],
      ['529', 503, 'server_error', null],
    ] as const) {
      const response = await postJson(
        url,
        bearer(`sk-fake.${tag}.${scenario}`),
        chatBody('hi', { stream: true }),
      );
      expect(response.status).toBe(status);
      const body = await response.json<{ error: Json }>();
      expect(body.error).toMatchObject({ type, code });
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    }
    const missing = await postJson(url, {}, chatBody('hi'));
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({
      error: { code: null, message: expect.stringMatching(/didn't provide/) },
    });
    expect((await fakeLog(tag)).map((entry) => entry.status)).toEqual([429, 429, 400, 401, 403, 500, 503]);
  });

  it('lists gpt-5 models', async () => {
    const response = await fetch('https://api.openai.com/v1/models', {
      headers: bearer(`sk-fake.${newTag()}`),
    });
    const list = await response.json<{ object: string; data: Json[] }>();
    expect(list.object).toBe('list');
    expect(list.data.length).toBeGreaterThan(1);
    for (const model of list.data) {
      expect(model).toEqual({
        id: expect.stringMatching(/^gpt-5/),
        object: 'model',
        created: expect.any(Number),
        owned_by: 'system',
      });
    }
  });
});

describe('OpenAI Responses', () => {
  const url = 'https://api.openai.com/v1/responses';
  const codexBody = (extra: Json = {}) =>
    JSON.stringify({
      model: 'gpt-5-codex',
      input: [
        { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'be brief' }] },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hello there' }] },
      ],
      store: false,
      stream: true,
      include: ['reasoning.encrypted_content'],
      prompt_cache_key: 'b1c0-session',
      ...extra,
    });

  it('streams numbered typed events ending in response.completed with usage, and no [DONE]', async () => {
    const tag = newTag();
    const body = codexBody();
    const response = await postJson(url, { authorization: `Bearer sk-fake.${tag}` }, body);
    const text = await response.text();
    expect(text).not.toContain('[DONE]');
    const events = parseNamedEvents(text);
    expect(events.map((event) => event.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    events.forEach(({ event, data }, index) => {
      expect(data.type).toBe(event);
      expect(data.sequence_number).toBe(index);
    });
    const deltas = events.filter((event) => event.event === 'response.output_text.delta');
    expect(deltas.map((event) => event.data.delta).join('')).toBe('echo: hello there');
    const completed = events.at(-1)!.data.response as Json;
    expect(completed).toMatchObject({
      object: 'response',
      status: 'completed',
      model: 'gpt-5-codex',
      store: false,
      prompt_cache_key: 'b1c0-session',
      output: [
        {
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: 'echo: hello there' }],
        },
      ],
    });
    expect(completed.id).toMatch(/^resp_/);
    expect((events[0]!.data.response as Json).id).toBe(completed.id);

    const entry = await onlyEntry(tag);
    expect(completed.usage).toEqual(entry.usage);
    const input = tokens(body);
    const output = tokens('echo: hello there') + 3;
    expect(entry.usage).toEqual({
      input_tokens: input,
      input_tokens_details: { cached_tokens: Math.floor(input / 2) },
      output_tokens: output,
      output_tokens_details: { reasoning_tokens: 3 },
      total_tokens: input + output,
    });
  });

  it('streams a function call with argument deltas', async () => {
    const tag = newTag();
    const tools = [{ type: 'function', name: 'shell', parameters: { type: 'object' } }];
    const response = await postJson(
      url,
      { authorization: `Bearer sk-fake.${tag}.tool_call` },
      codexBody({ tools }),
    );
    const events = parseNamedEvents(await response.text());
    expect(events.map((event) => event.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events[2]!.data.item).toMatchObject({
      type: 'function_call',
      name: 'shell',
      arguments: '',
      status: 'in_progress',
    });
    const deltas = events.filter((event) => event.event === 'response.function_call_arguments.delta');
    expect(deltas.map((event) => event.data.delta).join('')).toBe(toolJson);
    expect((events.at(-1)!.data.response as Json).output).toEqual([
      expect.objectContaining({
        type: 'function_call',
        name: 'shell',
        arguments: toolJson,
        call_id: expect.stringMatching(/^call_/),
      }),
    ]);
  });

  it('ends with response.failed after the start on overloaded_after_start', async () => {
    const response = await postJson(
      url,
      { authorization: `Bearer sk-fake.${newTag()}.overloaded_after_start` },
      codexBody(),
    );
    const events = parseNamedEvents(await response.text());
    expect(events.map((event) => event.event)).toEqual(['response.created', 'response.failed']);
    expect(events[1]!.data).toMatchObject({
      sequence_number: 1,
      response: { status: 'failed', error: { code: 'server_error' } },
    });
  });

  it('answers the response object without a stream', async () => {
    const tag = newTag();
    const response = await postJson(
      url,
      { authorization: `Bearer sk-fake.${tag}` },
      codexBody({ stream: false }),
    );
    const body = await response.json<Json>();
    expect(body).toMatchObject({ object: 'response', status: 'completed' });
    expect(body.usage).toEqual((await onlyEntry(tag)).usage);
  });
});

describe('Azure OpenAI', () => {
  const resource = 'https://fake-resource.openai.azure.com';
  const deploymentUrl = `${resource}/openai/deployments/my-gpt5/chat/completions?api-version=2024-10-21`;
  const chatBody = (extra: Json = {}) =>
    JSON.stringify({ messages: [{ role: 'user', content: 'hello' }], ...extra });

  it('streams an Azure filter preamble, then OpenAI chunks naming the deployment', async () => {
    const tag = newTag();
    const body = chatBody({ stream: true, stream_options: { include_usage: true } });
    const response = await postJson(deploymentUrl, { 'api-key': `sk-fake.${tag}` }, body);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-ms-deployment-name')).toBe('my-gpt5');
    const chunks = dataEvents(await response.text())
      .slice(0, -1)
      .map((event) => JSON.parse(event) as Json);
    expect(chunks[0]).toMatchObject({
      id: '',
      object: '',
      choices: [],
      prompt_filter_results: [{ prompt_index: 0 }],
    });
    expect(chunks[1]).toMatchObject({ object: 'chat.completion.chunk', model: 'my-gpt5' });
    const entry = await onlyEntry(tag);
    expect(chunks.at(-1)!.usage).toEqual(entry.usage);
    expect(entry).toMatchObject({
      path: '/openai/deployments/my-gpt5/chat/completions',
      search: '?api-version=2024-10-21',
      text: 'echo: hello',
    });
    expect(entry.headers['api-key']).toBe(`sk-fake.${tag}`);
  });

  it('answers 404 Resource not found without api-version, whatever the key', async () => {
    const tag = newTag();
    const response = await postJson(
      `${resource}/openai/deployments/my-gpt5/chat/completions`,
      { 'api-key': `sk-fake.${tag}` },
      chatBody(),
    );
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: '404', message: 'Resource not found' } });
    expect((await onlyEntry(tag)).status).toBe(404);
  });

  it('serves the v1 Responses API with the deployment as model and no api-version', async () => {
    const tag = newTag();
    const response = await postJson(
      `${resource}/openai/v1/responses`,
      { 'api-key': `sk-fake.${tag}` },
      {
        model: 'my-gpt5',
        input: 'hi',
      },
    );
    expect(await response.json()).toMatchObject({ model: 'my-gpt5', status: 'completed' });
  });

  it("answers auth and throttling in Azure's envelope", async () => {
    const tag = newTag();
    const unauthorized = await postJson(deploymentUrl, { 'api-key': 'not-a-fake-key' }, chatBody());
    expect(unauthorized.status).toBe(401);
    expect(await unauthorized.json()).toMatchObject({ error: { code: '401' } });
    const throttled = await postJson(deploymentUrl, { 'api-key': `sk-fake.${tag}.429.3` }, chatBody());
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('3');
    expect(throttled.headers.get('retry-after-ms')).toBe('3000');
    expect(await throttled.json()).toMatchObject({
      error: { code: '429', message: expect.stringMatching(/retry after 3 seconds/) },
    });
  });
});

describe('Gemini', () => {
  const base = 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash';
  const geminiBody = (text: string, extra: Json = {}) =>
    JSON.stringify({ contents: [{ role: 'user', parts: [{ text }] }], ...extra });

  it('streams whole responses as CRLF-separated data events, usage complete in the last one', async () => {
    const tag = newTag();
    const body = geminiBody('hello there');
    const response = await postJson(
      `${base}:streamGenerateContent?alt=sse`,
      { 'x-goog-api-key': `sk-fake.${tag}` },
      body,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const chunks = dataEvents(await response.text(), '\r\n\r\n').map((event) => JSON.parse(event) as Json);
    expect(chunks).toHaveLength(4);
    const candidates = chunks.map((chunk) => (chunk.candidates as Json[])[0]!);
    for (const [index, candidate] of candidates.entries()) {
      expect(candidate.content).toMatchObject({ role: 'model' });
      expect('finishReason' in candidate).toBe(index === 3);
      expect(chunks[index]).toMatchObject({
        modelVersion: 'gemini-2.5-flash',
        responseId: chunks[0]!.responseId,
      });
    }
    const text = candidates
      .map((candidate) => (candidate.content as { parts: { text: string }[] }).parts[0]!.text)
      .join('');
    expect(text).toBe('echo: hello there');
    expect(candidates[3]!.finishReason).toBe('STOP');
    expect(chunks[0]!.usageMetadata).not.toHaveProperty('candidatesTokenCount');

    const entry = await onlyEntry(tag);
    expect(entry).toMatchObject({ id: chunks[0]!.responseId, text: 'echo: hello there', search: '?alt=sse' });
    expect(chunks[3]!.usageMetadata).toEqual(entry.usage);
    const prompt = tokens(body);
    const candidatesTokens = tokens('echo: hello there');
    expect(entry.usage).toEqual({
      promptTokenCount: prompt,
      candidatesTokenCount: candidatesTokens,
      totalTokenCount: prompt + candidatesTokens + 4,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt }],
      thoughtsTokenCount: 4,
    });
  });

  it('takes the key from ?key= and reports cached content when the body mentions cache', async () => {
    const tag = newTag();
    const body = geminiBody('hi', { cachedContent: 'cachedContents/abc' });
    const response = await postJson(`${base}:generateContent?key=sk-fake.${tag}`, {}, body);
    expect(response.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    const reply = await response.json<Json>();
    expect(reply).toMatchObject({
      candidates: [
        { content: { parts: [{ text: 'echo: hi' }], role: 'model' }, finishReason: 'STOP', index: 0 },
      ],
      modelVersion: 'gemini-2.5-flash',
    });
    const entry = await onlyEntry(tag);
    expect(reply.usageMetadata).toEqual(entry.usage);
    expect(entry.usage).toMatchObject({ cachedContentTokenCount: Math.floor(tokens(body) / 2) });
  });

  it('answers JSON mode with JSON that fits the schema', async () => {
    const generationConfig = {
      responseMimeType: 'application/json',
      responseJsonSchema: {
        type: 'object',
        properties: {
          reasoning: { type: 'string' },
          model_choice: { type: 'string', enum: ['flash', 'pro'] },
        },
      },
    };
    const response = await postJson(
      `${base}:generateContent`,
      { 'x-goog-api-key': `sk-fake.${newTag()}` },
      geminiBody('route', { generationConfig }),
    );
    const reply = await response.json<{ candidates: { content: { parts: { text: string }[] } }[] }>();
    expect(JSON.parse(reply.candidates[0]!.content.parts[0]!.text)).toEqual({
      reasoning: 'ok',
      model_choice: 'flash',
    });
    const plain = await postJson(
      `${base}:generateContent`,
      { 'x-goog-api-key': `sk-fake.${newTag()}` },
      geminiBody('x', { generationConfig: { responseMimeType: 'application/json' } }),
    );
    const plainReply = await plain.json<{ candidates: { content: { parts: { text: string }[] } }[] }>();
    expect(JSON.parse(plainReply.candidates[0]!.content.parts[0]!.text)).toEqual({ ok: true });
  });

  it('streams a functionCall part', async () => {
    const tag = newTag();
    const tools = [{ functionDeclarations: [{ name: 'read_file', parameters: { type: 'OBJECT' } }] }];
    const response = await postJson(
      `${base}:streamGenerateContent?alt=sse`,
      { 'x-goog-api-key': `sk-fake.${tag}.tool_call` },
      geminiBody('read', { tools }),
    );
    const chunks = dataEvents(await response.text(), '\r\n\r\n').map((event) => JSON.parse(event) as Json);
    expect(chunks).toHaveLength(1);
    expect((chunks[0]!.candidates as Json[])[0]).toMatchObject({
      content: { parts: [{ functionCall: { name: 'read_file', args: { city: 'Paris' } } }], role: 'model' },
      finishReason: 'STOP',
    });
    expect((await onlyEntry(tag)).usage).toMatchObject({ candidatesTokenCount: tokens(toolJson) });
  });

  it('sends an UNAVAILABLE error chunk mid-stream', async () => {
    const response = await postJson(
      `${base}:streamGenerateContent?alt=sse`,
      { 'x-goog-api-key': `sk-fake.${newTag()}.midstream_error` },
      geminiBody('hello'),
    );
    const events = dataEvents(await response.text(), '\r\n\r\n').map((event) => JSON.parse(event) as Json);
    expect(events).toHaveLength(3);
    expect(events[2]).toEqual({
      error: {
        code: 503,
        message: 'The model is overloaded. Please try again later.',
        status: 'UNAVAILABLE',
      },
    });
  });

  it('streams a JSON array without alt=sse', async () => {
    const response = await postJson(
      `${base}:streamGenerateContent`,
      { 'x-goog-api-key': `sk-fake.${newTag()}` },
      geminiBody('hi'),
    );
    const chunks = JSON.parse(await response.text()) as Json[];
    expect(chunks).toHaveLength(4);
  });

  it('answers errors as google.rpc statuses: a bad key is a 400, a missing one a 403', async () => {
    const bad = await postJson(
      `${base}:generateContent`,
      { 'x-goog-api-key': 'AIza-not-fake' },
      geminiBody('hi'),
    );
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: {
        code: 400,
        status: 'INVALID_ARGUMENT',
        details: [{ reason: 'API_KEY_INVALID' }, expect.anything()],
      },
    });
    const missing = await postJson(`${base}:generateContent`, {}, geminiBody('hi'));
    expect(missing.status).toBe(403);
    expect(await missing.json()).toMatchObject({ error: { status: 'PERMISSION_DENIED' } });

    const tag = newTag();
    for (const [scenario, code, status] of [
      ['400', 400, 'INVALID_ARGUMENT'],
      ['401', 400, 'INVALID_ARGUMENT'],
      ['403', 403, 'PERMISSION_DENIED'],
      ['429', 429, 'RESOURCE_EXHAUSTED'],
      ['500', 500, 'INTERNAL'],
      ['529', 503, 'UNAVAILABLE'],
    ] as const) {
      const response = await postJson(
        `${base}:generateContent`,
        { 'x-goog-api-key': `sk-fake.${tag}.${scenario}` },
        geminiBody('hi'),
      );
      expect(response.status).toBe(code);
      const body = await response.json<{ error: Json }>();
      expect(body.error).toMatchObject({ code, status });
      if (scenario === '429') {
        expect(body.error.details).toContainEqual({
          '@type': 'type.googleapis.com/google.rpc.RetryInfo',
          retryDelay: '7s',
        });
      }
    }
  });

  it('counts tokens and lists models', async () => {
    const key = { 'x-goog-api-key': `sk-fake.${newTag()}` };
    const body = geminiBody('count me');
    const counted = await postJson(`${base}:countTokens`, key, body);
    expect(await counted.json()).toMatchObject({ totalTokens: tokens(body) });
    const listed = await fetch('https://generativelanguage.googleapis.com/v1beta/models', { headers: key });
    const { models } = await listed.json<{ models: { name: string; displayName: string }[] }>();
    expect(models.map((model) => model.name)).toContain('models/gemini-2.5-flash');
  });
});

// An independent reader of AWS event-stream frames, so the fake's encoder is checked, not trusted.
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = crcTable[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

interface Frame {
  headers: Record<string, string>;
  payload: string;
}

function decodeFrames(bytes: Uint8Array): Frame[] {
  const frames: Frame[] = [];
  const decoder = new TextDecoder();
  let offset = 0;
  while (offset < bytes.length) {
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset);
    const total = view.getUint32(0);
    const headersLength = view.getUint32(4);
    expect(view.getUint32(8)).toBe(crc32(bytes.subarray(offset, offset + 8)));
    expect(view.getUint32(total - 4)).toBe(crc32(bytes.subarray(offset, offset + total - 4)));
    const headers: Record<string, string> = {};
    let at = offset + 12;
    while (at < offset + 12 + headersLength) {
      const nameLength = bytes[at]!;
      const name = decoder.decode(bytes.subarray(at + 1, at + 1 + nameLength));
      at += 1 + nameLength;
      expect(bytes[at]).toBe(7);
      const valueLength = (bytes[at + 1]! << 8) | bytes[at + 2]!;
      headers[name] = decoder.decode(bytes.subarray(at + 3, at + 3 + valueLength));
      at += 3 + valueLength;
    }
    frames.push({ headers, payload: decoder.decode(bytes.subarray(at, offset + total - 4)) });
    offset += total;
  }
  return frames;
}

function chunkEvent(frame: Frame): Json {
  expect(frame.headers).toEqual({
    ':event-type': 'chunk',
    ':content-type': 'application/json',
    ':message-type': 'event',
  });
  const { bytes, p } = JSON.parse(frame.payload) as { bytes: string; p: string };
  expect(p.length).toBeGreaterThan(0);
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(bytes), (c) => c.charCodeAt(0))));
}

describe('AWS Bedrock', () => {
  const modelId = encodeURIComponent('us.anthropic.claude-sonnet-4-5-20250929-v1:0');
  const host = 'https://bedrock-runtime.us-east-1.amazonaws.com';
  const sigV4 = (accessKeyId: string) => ({
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20261101/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=${'ab'.repeat(32)}`,
    'x-amz-date': '20261101T120000Z',
  });
  const bedrockBody = (text: string, extra: Json = {}) =>
    JSON.stringify({
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 1024,
      messages: [{ role: 'user', content: text }],
      ...extra,
    });

  it('streams Anthropic events in checksummed event-stream frames, with invocation metrics at the end', async () => {
    const tag = newTag();
    const body = bedrockBody('hello there');
    const response = await postJson(
      `${host}/model/${modelId}/invoke-with-response-stream`,
      sigV4(`sk-fake.${tag}`),
      body,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/vnd.amazon.eventstream');
    const events = decodeFrames(new Uint8Array(await response.arrayBuffer())).map(chunkEvent);
    expect(events.map((event) => event.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const message = events[0]!.message as Json;
    expect(message).toMatchObject({ model: 'claude-sonnet-4-5-20250929', role: 'assistant' });
    expect(message.id).toMatch(/^msg_bdrk_/);
    const text = events
      .slice(2, 6)
      .map((event) => (event.delta as { text: string }).text)
      .join('');
    expect(text).toBe('echo: hello there');
    const entry = await onlyEntry(tag);
    expect(entry.usage).toMatchObject({
      input_tokens: tokens(body),
      output_tokens: tokens('echo: hello there'),
    });
    expect(events[7]!.usage).toMatchObject({ output_tokens: tokens('echo: hello there') });
    expect(events[8]!['amazon-bedrock-invocationMetrics']).toEqual({
      inputTokenCount: tokens(body),
      outputTokenCount: tokens('echo: hello there'),
      invocationLatency: 0,
      firstByteLatency: 0,
    });
    expect(entry.headers['x-amz-date']).toBe('20261101T120000Z');
    expect(entry.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=sk-fake\./);
    expect(entry.id).toBe(response.headers.get('x-amzn-requestid'));
  });

  it('streams a tool_use block as input_json_delta frames', async () => {
    const tools = [{ name: 'get_forecast', input_schema: { type: 'object' } }];
    const response = await postJson(
      `${host}/model/${modelId}/invoke-with-response-stream`,
      sigV4(`sk-fake.${newTag()}.tool_call`),
      bedrockBody('weather?', { tools }),
    );
    const events = decodeFrames(new Uint8Array(await response.arrayBuffer())).map(chunkEvent);
    expect(events[1]!.content_block).toMatchObject({ type: 'tool_use', name: 'get_forecast', input: {} });
    const json = events
      .filter((event) => event.type === 'content_block_delta')
      .map((event) => (event.delta as { type: string; partial_json: string }).partial_json)
      .join('');
    expect(json).toBe(toolJson);
    expect(events.find((event) => event.type === 'message_delta')!.delta).toMatchObject({
      stop_reason: 'tool_use',
    });
  });

  it('ends a failing stream with an exception frame', async () => {
    const response = await postJson(
      `${host}/model/${modelId}/invoke-with-response-stream`,
      sigV4(`sk-fake.${newTag()}.overloaded_after_start`),
      bedrockBody('hi'),
    );
    const frames = decodeFrames(new Uint8Array(await response.arrayBuffer()));
    expect(frames).toHaveLength(2);
    expect(chunkEvent(frames[0]!).type).toBe('message_start');
    expect(frames[1]!.headers).toMatchObject({
      ':message-type': 'exception',
      ':exception-type': 'modelStreamErrorException',
    });
  });

  it('answers invoke with an Anthropic message and token headers', async () => {
    const tag = newTag();
    const response = await postJson(
      `${host}/model/${modelId}/invoke`,
      sigV4(`sk-fake.${tag}`),
      bedrockBody('hi'),
    );
    const message = await response.json<Json>();
    expect(message).toMatchObject({
      type: 'message',
      content: [{ type: 'text', text: 'echo: hi' }],
      stop_reason: 'end_turn',
    });
    const entry = await onlyEntry(tag);
    expect(message.usage).toEqual(entry.usage);
    expect(response.headers.get('x-amzn-bedrock-output-token-count')).toBe(String(tokens('echo: hi')));
  });

  it('rejects a body with model or stream, or without anthropic_version', async () => {
    const key = sigV4(`sk-fake.${newTag()}`);
    const url = `${host}/model/${modelId}/invoke`;
    for (const [body, detail] of [
      [bedrockBody('hi', { model: 'claude' }), 'extraneous key [model]'],
      [bedrockBody('hi', { stream: true }), 'extraneous key [stream]'],
      [JSON.stringify({ max_tokens: 5, messages: [] }), 'required key [anthropic_version]'],
    ] as const) {
      const response = await postJson(url, key, body);
      expect(response.status).toBe(400);
      expect(response.headers.get('x-amzn-errortype')).toBe('ValidationException');
      expect(((await response.json()) as { message: string }).message).toContain(detail);
    }
  });

  it('answers a missing or malformed signature with 403 UnrecognizedClientException', async () => {
    const url = `${host}/model/${modelId}/invoke`;
    const unsigned: Record<string, string>[] = [
      {},
      { authorization: 'AWS4-HMAC-SHA256 garbage', 'x-amz-date': '20261101T120000Z' },
    ];
    for (const headers of unsigned) {
      const response = await postJson(url, headers, bedrockBody('hi'));
      expect(response.status).toBe(403);
      expect(response.headers.get('x-amzn-errortype')).toBe('UnrecognizedClientException');
      expect(await response.json()).toEqual({
        message: 'The security token included in the request is invalid.',
      });
    }
  });

  it('maps throttling and overload to AWS exceptions', async () => {
    const tag = newTag();
    for (const [scenario, status, type] of [
      ['429', 429, 'ThrottlingException'],
      ['500', 500, 'InternalServerException'],
      ['529', 503, 'ServiceUnavailableException'],
    ] as const) {
      const response = await postJson(
        `${host}/model/${modelId}/invoke`,
        sigV4(`sk-fake.${tag}.${scenario}`),
        bedrockBody('hi'),
      );
      expect(response.status).toBe(status);
      expect(response.headers.get('x-amzn-errortype')).toBe(type);
      expect(Object.keys(await response.json())).toEqual(['message']);
    }
  });
});

describe('Anthropic tool_call and routing', () => {
  it('streams a tool_use block with input_json_delta and stop_reason tool_use', async () => {
    const tag = newTag();
    const body = {
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 1024,
      stream: true,
      tools: [{ name: 'Bash', input_schema: { type: 'object' } }],
      messages: [{ role: 'user', content: 'run ls' }],
    };
    const response = await postJson(
      'https://api.anthropic.com/v1/messages',
      { 'x-api-key': `sk-fake.${tag}.tool_call` },
      body,
    );
    const events = parseNamedEvents(await response.text());
    expect(events[1]!.data.content_block).toMatchObject({
      type: 'tool_use',
      name: 'Bash',
      input: {},
      id: expect.stringMatching(/^toolu_/),
    });
    const deltas = events
      .filter((event) => event.event === 'content_block_delta')
      .map((event) => event.data.delta as Json);
    expect(deltas.every((delta) => delta.type === 'input_json_delta')).toBe(true);
    expect(deltas.map((delta) => delta.partial_json).join('')).toBe(toolJson);
    expect(events.find((event) => event.event === 'message_delta')!.data.delta).toMatchObject({
      stop_reason: 'tool_use',
    });
    expect(await onlyEntry(tag)).toMatchObject({
      text: toolJson,
      usage: { output_tokens: tokens(toolJson) },
    });

    const whole = await postJson(
      'https://api.anthropic.com/v1/messages',
      { 'x-api-key': `sk-fake.${tag}.tool_call` },
      { ...body, stream: false },
    );
    expect(await whole.json()).toMatchObject({
      content: [{ type: 'tool_use', name: 'Bash', input: { city: 'Paris' } }],
      stop_reason: 'tool_use',
    });
  });

  it("serves a vendor's Anthropic endpoint under its base path, and DeepSeek's says 402 out of balance", async () => {
    const tag = newTag();
    const body = { model: 'deepseek-chat', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] };
    const served = await postJson(
      'https://api.deepseek.com/anthropic/v1/messages',
      { 'x-api-key': `sk-fake.${tag}` },
      body,
    );
    expect(served.status).toBe(200);
    expect(await served.json()).toMatchObject({ type: 'message', content: [{ type: 'text' }] });
    const spent = await postJson(
      'https://api.deepseek.com/anthropic/v1/messages',
      { 'x-api-key': `sk-fake.${tag}.402` },
      body,
    );
    expect(spent.status).toBe(402);
    expect(await spent.json()).toMatchObject({
      type: 'error',
      error: { type: 'billing_error', message: 'Insufficient Balance' },
    });
    // Anthropic's own API words an account out of credit as a 400.
    const anthropic = await postJson(
      'https://api.anthropic.com/v1/messages',
      { 'x-api-key': `sk-fake.${tag}.402` },
      body,
    );
    expect(anthropic.status).toBe(400);
    await anthropic.body?.cancel();
  });

  it('sends /v1/models to Anthropic when the request carries Anthropic headers, else to OpenAI', async () => {
    const anthropicList = await fetch('https://relay-upstream.example/v1/models', {
      headers: { 'x-api-key': `sk-fake.${newTag()}`, 'anthropic-version': '2023-06-01' },
    });
    expect(await anthropicList.json()).toMatchObject({ has_more: false });
    const openAiList = await fetch('https://relay-upstream.example/v1/models', {
      headers: { authorization: `Bearer sk-fake.${newTag()}` },
    });
    expect(await openAiList.json()).toMatchObject({ object: 'list' });
  });
});
