// Format conversion between Anthropic Messages and OpenAI Chat Completions: requests, streams fed
// in awkward pieces, whole bodies and errors, each way.
import { describe, expect, it } from 'vitest';
import { CONVERTED_REASONING_SIGNATURE, conversionFor, responseStreamOptions } from '../worker/convert';
import { anthropicToOpenAIChat } from '../worker/convert/anthropic-to-openai-chat';
import { openAIChatToAnthropic } from '../worker/convert/openai-chat-to-anthropic';
import { SseParser } from '../worker/metering/sse';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface SseEvent {
  event: string;
  data: unknown;
}

/** Runs `text` through the stream cut into `size`-byte pieces; returns the client's events. */
async function convertStream(
  stream: TransformStream<Uint8Array, Uint8Array>,
  text: string,
  size: number,
): Promise<SseEvent[]> {
  const bytes = encoder.encode(text);
  const writer = stream.writable.getWriter();
  const written = (async () => {
    for (let i = 0; i < bytes.length; i += size) await writer.write(bytes.slice(i, i + size));
    await writer.close();
  })();
  const out = await new Response(stream.readable).text();
  await written;
  return parseSse(out);
}

function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = new SseParser((event, data) =>
    events.push({ event, data: data === '[DONE]' ? '[DONE]' : JSON.parse(data) }),
  );
  parser.push(encoder.encode(text));
  parser.end();
  return events;
}

const SIZES = [1, 2, 5, 13, 64, 100_000];

function chatChunk(delta: object, finishReason: string | null = null, extra: object = {}): string {
  const chunk = {
    id: 'chatcmpl-abc',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'deepseek-chat',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...extra,
  };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

function usageChunk(usage: object): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-abc', object: 'chat.completion.chunk', choices: [], usage })}\r\n\r\n`;
}

function anthropicEvent(type: string, payload: object): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
}

const MESSAGE_START = {
  type: 'message_start',
  message: {
    id: 'msg_chatcmpl-abc',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5',
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 0, output_tokens: 0 },
  },
};

describe('conversionFor', () => {
  it('finds both directions and nothing for same-wire or unsupported pairs', () => {
    expect(conversionFor('anthropic', 'openai-chat')).toBe(anthropicToOpenAIChat);
    expect(conversionFor('openai-chat', 'anthropic')).toBe(openAIChatToAnthropic);
    expect(conversionFor('anthropic', 'anthropic')).toBeNull();
    expect(conversionFor('gemini', 'anthropic')).toBeNull();
  });
});

describe('Anthropic request → OpenAI chat request', () => {
  it('carries system, text, images, tool use and tool results in order, and drops what chat cannot take', () => {
    const body = {
      model: 'claude-sonnet-4-5',
      max_tokens: 32000,
      system: [
        { type: 'text', text: 'You are Claude Code.' },
        { type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } },
      ],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0K' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Anthropic thoughts', signature: 'EqQBCkYIBxgCKkDx' },
            { type: 'text', text: 'Let me look.' },
            { type: 'tool_use', id: 'toolu_01', name: 'Read', input: { file_path: '/a.ts' } },
            { type: 'tool_use', id: 'toolu_02', name: 'Bash', input: { command: 'ls' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_01', content: 'const a = 1;' },
            {
              type: 'tool_result',
              tool_use_id: 'toolu_02',
              is_error: true,
              content: [{ type: 'text', text: 'ls: denied' }],
            },
            { type: 'text', text: 'Continue.', cache_control: { type: 'ephemeral' } },
          ],
        },
        { role: 'system', content: 'A mid-conversation reminder.' },
        { role: 'assistant', content: 'Done.' },
      ],
      tools: [
        {
          name: 'Read',
          description: 'Reads a file',
          input_schema: { type: 'object', properties: { file_path: { type: 'string' } } },
          cache_control: { type: 'ephemeral' },
        },
        { type: 'custom', name: 'Bash', input_schema: { type: 'object', properties: {} } },
        { type: 'web_search_20250305', name: 'web_search', max_uses: 5 },
      ],
      tool_choice: { type: 'any' },
      stop_sequences: ['</end>'],
      temperature: 0.5,
      top_p: 0.9,
      top_k: 40,
      stream: true,
      thinking: { type: 'enabled', budget_tokens: 10000 },
      context_management: { edits: [] },
      output_config: { effort: 'high' },
      metadata: {
        user_id: '{"device_id":"0123456789abcdef0123456789abcdef","account_uuid":"","session_id":"x"}',
      },
    };
    expect(anthropicToOpenAIChat.request(body, 'deepseek-chat')).toEqual({
      model: 'deepseek-chat',
      messages: [
        { role: 'system', content: 'You are Claude Code.\n\nBe brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0K' } },
          ],
        },
        {
          role: 'assistant',
          content: 'Let me look.',
          tool_calls: [
            {
              id: 'toolu_01',
              type: 'function',
              function: { name: 'Read', arguments: '{"file_path":"/a.ts"}' },
            },
            { id: 'toolu_02', type: 'function', function: { name: 'Bash', arguments: '{"command":"ls"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_01', content: 'const a = 1;' },
        { role: 'tool', tool_call_id: 'toolu_02', content: 'Error: ls: denied' },
        { role: 'user', content: 'Continue.' },
        { role: 'system', content: 'A mid-conversation reminder.' },
        { role: 'assistant', content: 'Done.' },
      ],
      max_tokens: 32000,
      temperature: 0.5,
      top_p: 0.9,
      stop: ['</end>'],
      tools: [
        {
          type: 'function',
          function: {
            name: 'Read',
            description: 'Reads a file',
            parameters: { type: 'object', properties: { file_path: { type: 'string' } } },
          },
        },
        { type: 'function', function: { name: 'Bash', parameters: { type: 'object', properties: {} } } },
      ],
      tool_choice: 'required',
      stream: true,
      stream_options: { include_usage: true },
      user: '{"device_id":"0123456789abcdef0123456789abcdef","account_uuid":"',
    });
  });

  it('hands converted reasoning back, moves tool-result images to the user turn, and maps the other choices', () => {
    const body = {
      max_tokens: 100,
      messages: [
        { role: 'user', content: 'Show me the chart.' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'I should open it.', signature: CONVERTED_REASONING_SIGNATURE },
            { type: 'tool_use', id: 'call_1', name: 'Read', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 'call_1',
              content: [{ type: 'image', source: { type: 'url', url: 'https://x.test/chart.png' } }],
            },
          ],
        },
      ],
      tools: [{ name: 'Read', input_schema: { type: 'object' } }],
      tool_choice: { type: 'tool', name: 'Read', disable_parallel_tool_use: true },
    };
    const out = anthropicToOpenAIChat.request(body, 'kimi-k2');
    expect(out.messages).toEqual([
      { role: 'user', content: 'Show me the chart.' },
      {
        role: 'assistant',
        content: null,
        reasoning_content: 'I should open it.',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'Read', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '(image attached in the next message)' },
      { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x.test/chart.png' } }] },
    ]);
    expect(out.tool_choice).toEqual({ type: 'function', function: { name: 'Read' } });
    expect(out.parallel_tool_calls).toBe(false);
    expect(out).not.toHaveProperty('stream');
    expect(out).not.toHaveProperty('stream_options');
  });

  it('leaves tools and tool_choice out when only server tools were offered', () => {
    const out = anthropicToOpenAIChat.request(
      {
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
        tools: [{ type: 'web_search_20250305', name: 'web_search' }],
        tool_choice: { type: 'auto' },
      },
      'qwen-max',
    );
    expect(out).toEqual({ model: 'qwen-max', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });
  });
});

describe('what a conversion refuses rather than drops', () => {
  const chat = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
  it('OpenAI chat → Anthropic: fields that change the answer, by name; hints pass', () => {
    const refused = (extra: object) => openAIChatToAnthropic.refusal({ ...chat, ...extra });
    expect(refused({ n: 2 })).toMatch(/^n: 2/);
    expect(refused({ top_logprobs: 3 })).toMatch(/^logprobs/);
    expect(refused({ response_format: { type: 'json_object' } })).toMatch(/^response_format: json_object/);
    expect(refused({ modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'mp3' } })).toMatch(
      /^audio/,
    );
    expect(refused({ web_search_options: {} })).toMatch(/^web_search_options/);
    expect(refused({ tools: [{ type: 'custom', custom: { name: 'x' } }] })).toMatch(/^tools/);
    expect(refused({ stop: ' ' })).toMatch(/^stop/);
    expect(
      refused({
        messages: [
          { role: 'user', content: [{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }] },
        ],
      }),
    ).toMatch(/^messages: an input_audio part/);
    expect(
      refused({ messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-1' } }] }] }),
    ).toMatch(/file_id/);
    expect(
      refused({
        n: 1,
        logprobs: false,
        seed: 1,
        presence_penalty: 1,
        response_format: { type: 'text' },
        stop: ['END'],
      }),
    ).toBeNull();
  });
  it('Anthropic → OpenAI chat: structured output and more stop sequences than OpenAI takes', () => {
    const refused = (extra: object) => anthropicToOpenAIChat.refusal({ ...chat, max_tokens: 5, ...extra });
    expect(refused({ output_config: { format: { type: 'json_schema', schema: {} } } })).toMatch(
      /^output_config.format/,
    );
    expect(refused({ stop_sequences: ['a', 'b', 'c', 'd', 'e'] })).toMatch(/^stop_sequences: 5/);
    expect(
      refused({
        thinking: { type: 'enabled', budget_tokens: 1024 },
        top_k: 5,
        stop_sequences: ['a', 'b', 'c', 'd'],
      }),
    ).toBeNull();
  });
});

describe('OpenAI chat request → Anthropic request', () => {
  it('carries system, images, tool calls and results, merging turns Anthropic needs alternating', () => {
    const body = {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'You are helpful.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare these.' },
            { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQ', detail: 'high' } },
            { type: 'image_url', image_url: { url: 'https://x.test/b.png' } },
          ],
        },
        { role: 'user', content: 'Then check the weather.' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'call.b:1', type: 'function', function: { name: 'weather', arguments: '{"city":' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_a', content: 'Sunny' },
        { role: 'tool', tool_call_id: 'call.b:1', content: [{ type: 'text', text: 'Rain' }] },
        { role: 'user', content: 'Summarise.' },
        { role: 'assistant', content: 'In short: ' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'weather',
            description: 'Weather for a city',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        },
        { type: 'function', function: { name: 'noop' } },
      ],
      tool_choice: 'required',
      parallel_tool_calls: false,
      max_completion_tokens: 2048,
      stop: '###',
      temperature: 1.4,
      top_p: 0.8,
      n: 1,
      seed: 7,
      presence_penalty: 0.5,
      response_format: { type: 'json_object' },
      stream: true,
      stream_options: { include_usage: true },
      user: 'user-42',
    };
    expect(openAIChatToAnthropic.request(body, 'claude-sonnet-4-5')).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 2048,
      system: 'You are helpful.\n\nAnswer in English.',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare these.' },
            { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } },
            { type: 'image', source: { type: 'url', url: 'https://x.test/b.png' } },
            { type: 'text', text: 'Then check the weather.' },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 'call_a', name: 'weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'call_b_1', name: 'weather', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_a', content: 'Sunny' },
            { type: 'tool_result', tool_use_id: 'call_b_1', content: 'Rain' },
            { type: 'text', text: 'Summarise.' },
          ],
        },
        { role: 'assistant', content: [{ type: 'text', text: 'In short:' }] },
      ],
      tools: [
        {
          name: 'weather',
          description: 'Weather for a city',
          input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
        { name: 'noop', input_schema: { type: 'object', properties: {} } },
      ],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      stop_sequences: ['###'],
      temperature: 1,
      stream: true,
      metadata: { user_id: 'user-42' },
    });
    expect(responseStreamOptions(body)).toEqual({ includeUsage: true });
    expect(responseStreamOptions({ stream: true })).toEqual({ includeUsage: false });
  });

  it('defaults max_tokens, maps the other tool choices, and reads legacy functions', () => {
    const base = {
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'f' } }],
    };
    const convert = (extra: object) =>
      openAIChatToAnthropic.request({ ...base, ...extra }, 'claude-haiku-4-5');
    expect(convert({}).max_tokens).toBe(4096);
    expect(convert({ max_tokens: 50 }).max_tokens).toBe(50);
    expect(convert({ tool_choice: 'auto' }).tool_choice).toEqual({ type: 'auto' });
    expect(convert({ tool_choice: 'none' }).tool_choice).toEqual({ type: 'none' });
    expect(convert({ tool_choice: { type: 'function', function: { name: 'f' } } }).tool_choice).toEqual({
      type: 'tool',
      name: 'f',
    });
    expect(convert({ top_p: 0.5 }).top_p).toBe(0.5);

    const legacy = openAIChatToAnthropic.request(
      {
        messages: [
          { role: 'user', content: 'add' },
          { role: 'assistant', content: null, function_call: { name: 'sum', arguments: '{"a":1}' } },
          { role: 'function', name: 'sum', content: '1' },
        ],
        functions: [{ name: 'sum', parameters: { type: 'object', properties: { a: { type: 'number' } } } }],
        function_call: { name: 'sum' },
      },
      'claude-haiku-4-5',
    );
    const [, assistant, result] = legacy.messages as { content: { id?: string; tool_use_id?: string }[] }[];
    expect(assistant?.content[0]?.id).toMatch(/^toolu_/);
    expect(result?.content[0]?.tool_use_id).toBe(assistant?.content[0]?.id);
    expect(legacy.tool_choice).toEqual({ type: 'tool', name: 'sum' });
  });
});

describe('OpenAI chat stream → Anthropic events', () => {
  const textStream = [
    chatChunk({ role: 'assistant', content: '' }),
    chatChunk({ content: 'Hel' }),
    chatChunk({ content: 'lo, wörld' }),
    chatChunk({}, 'stop'),
    usageChunk({
      prompt_tokens: 120,
      completion_tokens: 5,
      total_tokens: 125,
      prompt_tokens_details: { cached_tokens: 100 },
    }),
    'data: [DONE]\n\n',
  ].join('');

  it('emits the exact Anthropic sequence however the upstream bytes are cut', async () => {
    for (const size of SIZES) {
      const events = await convertStream(
        anthropicToOpenAIChat.responseStream('claude-sonnet-4-5'),
        textStream,
        size,
      );
      expect(events).toEqual([
        { event: 'message_start', data: MESSAGE_START },
        { event: 'ping', data: { type: 'ping' } },
        {
          event: 'content_block_start',
          data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        },
        {
          event: 'content_block_delta',
          data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } },
        },
        {
          event: 'content_block_delta',
          data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'lo, wörld' } },
        },
        { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
        {
          event: 'message_delta',
          data: {
            type: 'message_delta',
            delta: { stop_reason: 'end_turn', stop_sequence: null },
            usage: { input_tokens: 20, cache_read_input_tokens: 100, output_tokens: 5 },
          },
        },
        { event: 'message_stop', data: { type: 'message_stop' } },
      ]);
    }
  });

  it('writes each event as soon as it is complete', async () => {
    const stream = anthropicToOpenAIChat.responseStream('claude-sonnet-4-5');
    const writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    const first = chatChunk({ role: 'assistant', content: '' });
    void writer.write(encoder.encode(first + chatChunk({ content: 'Hi' }).slice(0, 20)));
    const { value } = await reader.read();
    expect(parseSse(decoder.decode(value)).map((e) => e.event)).toEqual(['message_start', 'ping']);
    await writer.abort();
    await reader.cancel().catch(() => {});
  });

  it('keeps every argument of parallel calls whose fragments the server interleaves', async () => {
    const stream = [
      chatChunk({ role: 'assistant', content: null }),
      chatChunk({
        tool_calls: [
          { index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } },
          { index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '' } },
        ],
      }),
      chatChunk({
        tool_calls: [
          { index: 0, function: { arguments: '{"city":' } },
          { index: 1, function: { arguments: '{"tz":' } },
        ],
      }),
      chatChunk({
        tool_calls: [
          { index: 1, function: { arguments: '"CET"}' } },
          { index: 0, function: { arguments: '"Paris"}' } },
        ],
      }),
      chatChunk({}, 'tool_calls'),
      'data: [DONE]\n\n',
    ].join('');
    for (const size of SIZES) {
      const events = await convertStream(
        anthropicToOpenAIChat.responseStream('claude-sonnet-4-5'),
        stream,
        size,
      );
      const inputs = new Map<number, string>();
      const names = new Map<number, string>();
      for (const { data } of events) {
        const event = data as {
          type: string;
          index: number;
          content_block?: { name: string };
          delta?: { partial_json?: string };
        };
        if (event.type === 'content_block_start') names.set(event.index, event.content_block!.name);
        if (event.delta?.partial_json)
          inputs.set(event.index, (inputs.get(event.index) ?? '') + event.delta.partial_json);
      }
      expect([...names.values()]).toEqual(['get_weather', 'get_time']);
      expect([...inputs.values()].map((json) => JSON.parse(json))).toEqual([
        { city: 'Paris' },
        { tz: 'CET' },
      ]);
      // One block at a time, as Anthropic streams: each starts after the one before it stopped.
      const order = events
        .map((e) => e.event)
        .filter((e) => e.startsWith('content_block_') && e !== 'content_block_delta');
      expect(order).toEqual([
        'content_block_start',
        'content_block_stop',
        'content_block_start',
        'content_block_stop',
      ]);
    }
  });

  it('turns a tool call spread over several chunks into a tool_use block', async () => {
    const stream = [
      chatChunk({ role: 'assistant', content: null }),
      chatChunk({ content: 'Checking.' }),
      chatChunk({
        tool_calls: [
          { index: 0, id: 'call_9', type: 'function', function: { name: 'weather', arguments: '' } },
        ],
      }),
      chatChunk({ tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] }),
      chatChunk({ tool_calls: [{ index: 0, function: { arguments: 'ty": "Par' } }] }),
      chatChunk({ tool_calls: [{ index: 0, function: { arguments: 'is"}' } }] }),
      chatChunk({ tool_calls: [{ index: 1, id: 'call_10', function: { name: 'time', arguments: '{}' } }] }),
      chatChunk({}, 'tool_calls'),
      usageChunk({ prompt_tokens: 50, completion_tokens: 30, total_tokens: 80 }),
      'data: [DONE]\n\n',
    ].join('');
    for (const size of SIZES) {
      const events = await convertStream(
        anthropicToOpenAIChat.responseStream('claude-sonnet-4-5'),
        stream,
        size,
      );
      expect(events.map((e) => e.data)).toEqual([
        MESSAGE_START,
        { type: 'ping' },
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Checking.' } },
        { type: 'content_block_stop', index: 0 },
        {
          type: 'content_block_start',
          index: 1,
          content_block: { type: 'tool_use', id: 'call_9', name: 'weather', input: {} },
        },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"ci' } },
        {
          type: 'content_block_delta',
          index: 1,
          delta: { type: 'input_json_delta', partial_json: 'ty": "Par' },
        },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: 'is"}' } },
        { type: 'content_block_stop', index: 1 },
        {
          type: 'content_block_start',
          index: 2,
          content_block: { type: 'tool_use', id: 'call_10', name: 'time', input: {} },
        },
        { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{}' } },
        { type: 'content_block_stop', index: 2 },
        {
          type: 'message_delta',
          delta: { stop_reason: 'tool_use', stop_sequence: null },
          usage: { input_tokens: 50, cache_read_input_tokens: 0, output_tokens: 30 },
        },
        { type: 'message_stop' },
      ]);
    }
  });

  it('streams reasoning as a signed thinking block before the answer', async () => {
    const stream = [
      chatChunk({ role: 'assistant', reasoning_content: 'Think' }),
      chatChunk({ reasoning_content: 'ing.' }),
      chatChunk({ content: 'Answer' }, 'length'),
      'data: [DONE]\n\n',
    ].join('');
    const events = await convertStream(anthropicToOpenAIChat.responseStream('claude-sonnet-4-5'), stream, 7);
    expect(events.slice(2).map((e) => e.data)).toEqual([
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Think' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'ing.' } },
      {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'signature_delta', signature: CONVERTED_REASONING_SIGNATURE },
      },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Answer' } },
      { type: 'content_block_stop', index: 1 },
      {
        type: 'message_delta',
        delta: { stop_reason: 'max_tokens', stop_sequence: null },
        usage: { input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
      },
      { type: 'message_stop' },
    ]);
  });

  it('turns an upstream error into an Anthropic error event and a cut-off stream into one too', async () => {
    const failed = await convertStream(
      anthropicToOpenAIChat.responseStream('claude-sonnet-4-5'),
      `${chatChunk({ content: 'Hi' })}data: {"error":{"message":"Rate limit reached","type":"rate_limit_exceeded","code":null}}\n\n${chatChunk({ content: 'ignored' })}`,
      3,
    );
    expect(failed.map((e) => e.event)).toEqual([
      'message_start',
      'ping',
      'content_block_start',
      'content_block_delta',
      'error',
    ]);
    expect(failed.at(-1)?.data).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'Rate limit reached' },
    });

    const cut = await convertStream(
      anthropicToOpenAIChat.responseStream('claude-sonnet-4-5'),
      chatChunk({ content: 'Hi' }),
      4,
    );
    expect(cut.at(-1)).toEqual({
      event: 'error',
      data: {
        type: 'error',
        error: { type: 'api_error', message: 'Upstream stream ended before completion' },
      },
    });
  });
});

describe('Anthropic stream → OpenAI chat chunks', () => {
  const textStream = [
    anthropicEvent('message_start', {
      message: {
        id: 'msg_01XY',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5-20250929',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: 12,
          cache_creation_input_tokens: 30,
          cache_read_input_tokens: 100,
          output_tokens: 1,
        },
      },
    }),
    anthropicEvent('ping', {}),
    anthropicEvent('content_block_start', {
      index: 0,
      content_block: { type: 'thinking', thinking: '', signature: '' },
    }),
    anthropicEvent('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Hmm.' } }),
    anthropicEvent('content_block_delta', {
      index: 0,
      delta: { type: 'signature_delta', signature: 'EqQB' },
    }),
    anthropicEvent('content_block_stop', { index: 0 }),
    anthropicEvent('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
    anthropicEvent('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'Héllo' } }),
    anthropicEvent('content_block_delta', { index: 1, delta: { type: 'text_delta', text: ' there' } }),
    anthropicEvent('content_block_stop', { index: 1 }),
    anthropicEvent('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 9 },
    }),
    anthropicEvent('message_stop', {}),
  ].join('');

  it('emits the exact chunk sequence, with the usage chunk when asked, however the bytes are cut', async () => {
    for (const size of SIZES) {
      const events = await convertStream(
        openAIChatToAnthropic.responseStream('gpt-4o', { includeUsage: true }),
        textStream,
        size,
      );
      expect(events.every((e) => e.event === 'message')).toBe(true);
      const chunks = events.map((e) => e.data);
      const envelope = {
        id: 'chatcmpl-01XY',
        object: 'chat.completion.chunk',
        created: expect.any(Number),
        model: 'gpt-4o',
      };
      const choice = (delta: object, finish_reason: string | null = null) => ({
        ...envelope,
        choices: [{ index: 0, delta, logprobs: null, finish_reason }],
        usage: null,
      });
      expect(chunks).toEqual([
        choice({ role: 'assistant', content: '' }),
        choice({ reasoning_content: 'Hmm.' }),
        choice({ content: 'Héllo' }),
        choice({ content: ' there' }),
        choice({}, 'stop'),
        {
          ...envelope,
          choices: [],
          usage: {
            prompt_tokens: 142,
            completion_tokens: 9,
            total_tokens: 151,
            prompt_tokens_details: { cached_tokens: 100 },
          },
        },
        '[DONE]',
      ]);
    }
  });

  it('leaves the usage chunk out unless the client asked for it', async () => {
    const events = await convertStream(openAIChatToAnthropic.responseStream('gpt-4o'), textStream, 9);
    const chunks = events.map((e) => e.data);
    expect(chunks.at(-1)).toBe('[DONE]');
    expect(chunks.at(-2)).toMatchObject({ choices: [{ delta: {}, finish_reason: 'stop' }] });
    expect(chunks.some((c) => typeof c === 'object' && c !== null && 'usage' in c)).toBe(false);
  });

  it('streams tool_use blocks as tool_calls with argument fragments', async () => {
    const stream = [
      anthropicEvent('message_start', {
        message: { id: 'msg_02', usage: { input_tokens: 40, output_tokens: 1 } },
      }),
      anthropicEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      anthropicEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Sure.' } }),
      anthropicEvent('content_block_stop', { index: 0 }),
      anthropicEvent('content_block_start', {
        index: 1,
        content_block: { type: 'tool_use', id: 'toolu_01A', name: 'weather', input: {} },
      }),
      anthropicEvent('content_block_delta', {
        index: 1,
        delta: { type: 'input_json_delta', partial_json: '' },
      }),
      anthropicEvent('content_block_delta', {
        index: 1,
        delta: { type: 'input_json_delta', partial_json: '{"city":' },
      }),
      anthropicEvent('content_block_delta', {
        index: 1,
        delta: { type: 'input_json_delta', partial_json: ' "Paris"}' },
      }),
      anthropicEvent('content_block_stop', { index: 1 }),
      anthropicEvent('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 22 } }),
      anthropicEvent('message_stop', {}),
    ].join('');
    for (const size of SIZES) {
      const events = await convertStream(
        openAIChatToAnthropic.responseStream('gpt-4o', { includeUsage: true }),
        stream,
        size,
      );
      const chunks = events.map(
        (e) => e.data as { choices?: { delta: object; finish_reason: string | null }[] },
      );
      expect(chunks.map((c) => (typeof c === 'string' ? c : (c.choices?.[0]?.delta ?? 'usage')))).toEqual([
        { role: 'assistant', content: '' },
        { content: 'Sure.' },
        {
          tool_calls: [
            { index: 0, id: 'toolu_01A', type: 'function', function: { name: 'weather', arguments: '' } },
          ],
        },
        { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
        { tool_calls: [{ index: 0, function: { arguments: ' "Paris"}' } }] },
        {},
        'usage',
        '[DONE]',
      ]);
      expect(chunks[5]?.choices?.[0]?.finish_reason).toBe('tool_calls');
      expect(chunks[6]).toMatchObject({
        usage: {
          prompt_tokens: 40,
          completion_tokens: 22,
          total_tokens: 62,
          prompt_tokens_details: { cached_tokens: 0 },
        },
      });
    }
  });

  it('turns an Anthropic error event into an OpenAI error chunk and ends, and reports a cut-off stream', async () => {
    const failed = await convertStream(
      openAIChatToAnthropic.responseStream('gpt-4o'),
      [
        anthropicEvent('message_start', { message: { id: 'msg_03', usage: { input_tokens: 1 } } }),
        anthropicEvent('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }),
        anthropicEvent('message_stop', {}),
      ].join(''),
      5,
    );
    expect(failed.map((e) => e.data).slice(1)).toEqual([
      { error: { message: 'Overloaded', type: 'api_error', param: null, code: 'overloaded_error' } },
    ]);

    const cut = await convertStream(
      openAIChatToAnthropic.responseStream('gpt-4o'),
      anthropicEvent('message_start', { message: { id: 'msg_04' } }),
      5,
    );
    expect(cut.at(-1)?.data).toEqual({
      error: {
        message: 'Upstream stream ended before completion',
        type: 'api_error',
        param: null,
        code: null,
      },
    });
  });
});

describe('whole responses', () => {
  it('turns a chat.completion into an Anthropic message', () => {
    const completion = {
      id: 'chatcmpl-7',
      object: 'chat.completion',
      created: 1,
      model: 'deepseek-chat',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Looking it up.',
            reasoning_content: 'Need the weather.',
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
              { id: 'call_2', type: 'function', function: { name: 'weather', arguments: 'not json' } },
            ],
          },
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 90, completion_tokens: 12, total_tokens: 102, prompt_cache_hit_tokens: 64 },
    };
    expect(anthropicToOpenAIChat.responseBody(completion, 'claude-sonnet-4-5')).toEqual({
      id: 'msg_chatcmpl-7',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [
        { type: 'thinking', thinking: 'Need the weather.', signature: CONVERTED_REASONING_SIGNATURE },
        { type: 'text', text: 'Looking it up.' },
        { type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Oslo' } },
        { type: 'tool_use', id: 'call_2', name: 'weather', input: {} },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 26, cache_read_input_tokens: 64, output_tokens: 12 },
    });
  });

  it('turns an Anthropic message into a chat.completion', () => {
    const message = {
      id: 'msg_01Q',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [
        { type: 'text', text: 'Calling ' },
        { type: 'text', text: 'the tool.' },
        { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Rome' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: {
        input_tokens: 10,
        cache_creation_input_tokens: 5,
        cache_read_input_tokens: 200,
        output_tokens: 8,
      },
    };
    expect(openAIChatToAnthropic.responseBody(message, 'gpt-4o')).toEqual({
      id: 'chatcmpl-01Q',
      object: 'chat.completion',
      created: expect.any(Number),
      model: 'gpt-4o',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Calling the tool.',
            tool_calls: [
              {
                id: 'toolu_1',
                type: 'function',
                function: { name: 'weather', arguments: '{"city":"Rome"}' },
              },
            ],
            refusal: null,
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: 215,
        completion_tokens: 8,
        total_tokens: 223,
        prompt_tokens_details: { cached_tokens: 200 },
      },
    });
  });
});

describe('errors', () => {
  it('dresses OpenAI-side errors as Anthropic errors by status', () => {
    const openAIError = {
      error: { message: 'Invalid API key', type: 'invalid_request_error', code: 'invalid_api_key' },
    };
    expect(anthropicToOpenAIChat.errorBody(401, openAIError)).toEqual({
      type: 'error',
      error: { type: 'authentication_error', message: 'Invalid API key' },
    });
    const cases: [number, string][] = [
      [400, 'invalid_request_error'],
      [403, 'permission_error'],
      [404, 'not_found_error'],
      [413, 'request_too_large'],
      [429, 'rate_limit_error'],
      [500, 'api_error'],
      [503, 'api_error'],
      [529, 'overloaded_error'],
    ];
    for (const [status, type] of cases) {
      expect(anthropicToOpenAIChat.errorBody(status, null)).toEqual({
        type: 'error',
        error: { type, message: `Upstream error (HTTP ${status})` },
      });
    }
    expect(anthropicToOpenAIChat.errorBody(422, { detail: 'bad field' })).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'bad field' },
    });
  });

  it('dresses Anthropic errors as OpenAI errors', () => {
    expect(
      openAIChatToAnthropic.errorBody(429, {
        type: 'error',
        error: { type: 'rate_limit_error', message: 'Slow down' },
        request_id: 'req_1',
      }),
    ).toEqual({
      error: { message: 'Slow down', type: 'rate_limit_error', param: null, code: 'rate_limit_error' },
    });
    expect(
      openAIChatToAnthropic.errorBody(400, {
        type: 'error',
        error: { type: 'invalid_request_error', message: 'max_tokens: too large' },
      }),
    ).toEqual({
      error: {
        message: 'max_tokens: too large',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_request_error',
      },
    });
    expect(openAIChatToAnthropic.errorBody(529, 'Overloaded')).toEqual({
      error: { message: 'Overloaded', type: 'api_error', param: null, code: null },
    });
    expect(openAIChatToAnthropic.errorBody(500, null)).toEqual({
      error: { message: 'Upstream error (HTTP 500)', type: 'api_error', param: null, code: null },
    });
  });
});
