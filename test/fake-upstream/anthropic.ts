// The Anthropic Messages API wire format: credentials, headers, error envelopes, messages, count_tokens, models.
import type { Provider, UpstreamCall } from './provider';
import { randomBase58 } from './random-id';
import { type Json, type JsonReply, type Reply, type StreamEvent, streamSteps } from './reply';
import type { Answer, ErrorKind, Failure } from './scenarios';
import { splitText, tokensForBytes, tokensForText, truncateToTokens } from './tokens';

const organizationId = 'f4ce0000-0000-4000-8000-00000000a1c0';
const requestsPerMinute = 4000;
const inputTokensPerMinute = 2_000_000;
const outputTokensPerMinute = 400_000;
// Long enough to recognise the prompt in a log, short enough to keep streams small.
const echoedCodePoints = 200;

export const models = [
  { id: 'claude-opus-4-5-20251101', display_name: 'Claude Opus 4.5', created_at: '2025-11-24T00:00:00Z' },
  { id: 'claude-haiku-4-5-20251001', display_name: 'Claude Haiku 4.5', created_at: '2025-10-15T00:00:00Z' },
  { id: 'claude-sonnet-4-5-20250929', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' },
  { id: 'claude-opus-4-1-20250805', display_name: 'Claude Opus 4.1', created_at: '2025-08-05T00:00:00Z' },
] as const;

const errors: Record<ErrorKind, { status: number; type: string; message: string }> = {
  invalid_request: {
    status: 400,
    type: 'invalid_request_error',
    message:
      'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
  },
  authentication: { status: 401, type: 'authentication_error', message: 'invalid x-api-key' },
  permission: {
    status: 403,
    type: 'permission_error',
    message: 'Your API key does not have permission to use the specified resource.',
  },
  not_found: { status: 404, type: 'not_found_error', message: 'Not Found' },
  rate_limit: {
    status: 429,
    type: 'rate_limit_error',
    message: `This request would exceed the rate limit for your organization (${organizationId}) of 4,000 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later.`,
  },
  server: { status: 500, type: 'api_error', message: 'Internal server error' },
  overloaded: { status: 529, type: 'overloaded_error', message: 'Overloaded' },
};

export type MessageUsage = {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  output_tokens: number;
  service_tier: 'standard';
};

type StopReason = 'end_turn' | 'max_tokens';

/** What one messages call will answer, derived only from the request so tests can predict it. */
interface Completion {
  readonly model: string;
  readonly text: string;
  readonly stopReason: StopReason;
  readonly usage: MessageUsage;
}

type JsonObject = { readonly [key: string]: unknown };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Anthropic writes reset times as RFC 3339 to the second.
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function headers(
  call: UpstreamCall,
  contentType: string,
  limit?: { retryAfterSeconds: number },
): Record<string, string> {
  const now = Date.now();
  const nextSecond = rfc3339(Math.ceil((now + 1) / 1000) * 1000);
  const requestsReset = limit === undefined ? nextSecond : rfc3339(now + limit.retryAfterSeconds * 1000);
  return {
    'content-type': contentType,
    'request-id': call.requestId,
    'anthropic-organization-id': organizationId,
    'anthropic-ratelimit-requests-limit': String(requestsPerMinute),
    'anthropic-ratelimit-requests-remaining': limit === undefined ? String(requestsPerMinute - 1) : '0',
    'anthropic-ratelimit-requests-reset': requestsReset,
    'anthropic-ratelimit-input-tokens-limit': String(inputTokensPerMinute),
    'anthropic-ratelimit-input-tokens-remaining': String(inputTokensPerMinute),
    'anthropic-ratelimit-input-tokens-reset': nextSecond,
    'anthropic-ratelimit-output-tokens-limit': String(outputTokensPerMinute),
    'anthropic-ratelimit-output-tokens-remaining': String(outputTokensPerMinute),
    'anthropic-ratelimit-output-tokens-reset': nextSecond,
    'anthropic-ratelimit-tokens-limit': String(inputTokensPerMinute + outputTokensPerMinute),
    'anthropic-ratelimit-tokens-remaining': String(inputTokensPerMinute + outputTokensPerMinute),
    'anthropic-ratelimit-tokens-reset': nextSecond,
    ...(limit === undefined ? {} : { 'retry-after': String(limit.retryAfterSeconds) }),
  };
}

function jsonReply(
  call: UpstreamCall,
  status: number,
  body: Json,
  usage: Json | null = null,
  text: string | null = null,
) {
  return {
    kind: 'json',
    status,
    headers: headers(call, 'application/json'),
    body,
    usage,
    text,
  } satisfies JsonReply;
}

function failure(call: UpstreamCall, { kind, message, retryAfterSeconds }: Failure): Reply {
  const error = errors[kind];
  const limit = retryAfterSeconds === undefined ? undefined : { retryAfterSeconds };
  return {
    kind: 'json',
    status: error.status,
    headers: headers(call, 'application/json', limit),
    body: {
      type: 'error',
      error: { type: error.type, message: message ?? error.message },
      request_id: call.requestId,
    },
    usage: null,
    text: null,
  };
}

/** The last text of the last user message: content as a string, or its last text block. */
function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  const message: unknown = messages.findLast((item) => isObject(item) && item.role === 'user');
  if (!isObject(message)) return '';
  const { content } = message;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const block: unknown = content.findLast((item) => isObject(item) && item.type === 'text');
  return isObject(block) && typeof block.text === 'string' ? block.text : '';
}

// Prompt caching: a body that marks cache breakpoints reads half its tokens from cache and writes a
// quarter, the write split between TTLs in proportion to the breakpoints that ask for `"ttl":"1h"`.
function usageFor(call: UpstreamCall, outputTokens: number): MessageUsage {
  const total = tokensForBytes(call.bodyBytes);
  const breakpoints = call.body.split('"cache_control"').length - 1;
  if (breakpoints === 0) {
    return {
      input_tokens: total,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: outputTokens,
      service_tier: 'standard',
    };
  }
  const oneHourBreakpoints = Math.min(breakpoints, call.body.match(/"ttl"\s*:\s*"1h"/g)?.length ?? 0);
  const cacheRead = Math.max(1, Math.floor(total / 2));
  const cacheCreation = Math.max(1, Math.floor(total / 4));
  const oneHour = Math.floor((cacheCreation * oneHourBreakpoints) / breakpoints);
  return {
    input_tokens: Math.max(1, total - cacheRead - cacheCreation),
    cache_creation_input_tokens: cacheCreation,
    cache_read_input_tokens: cacheRead,
    cache_creation: {
      ephemeral_5m_input_tokens: cacheCreation - oneHour,
      ephemeral_1h_input_tokens: oneHour,
    },
    output_tokens: outputTokens,
    service_tier: 'standard',
  };
}

function complete(call: UpstreamCall, request: JsonObject): Completion {
  const echo = `echo: ${Array.from(lastUserText(request.messages)).slice(0, echoedCodePoints).join('')}`;
  const { max_tokens: maxTokens, model } = request;
  const capped =
    typeof maxTokens === 'number' &&
    Number.isSafeInteger(maxTokens) &&
    maxTokens > 0 &&
    tokensForText(echo) > maxTokens;
  const text = capped ? truncateToTokens(echo, maxTokens) : echo;
  return {
    model: typeof model === 'string' ? model : models[0].id,
    text,
    stopReason: capped ? 'max_tokens' : 'end_turn',
    usage: usageFor(call, tokensForText(text)),
  };
}

function sse(type: string, data: Json): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

const overloadedEvent = sse('error', {
  type: 'error',
  error: { type: 'overloaded_error', message: 'Overloaded' },
});
// Byte-for-byte what Anthropic sends, space included.
const pingEvent = 'event: ping\ndata: {"type": "ping"}\n\n';

function streamEvents(completion: Completion, chunks: number): StreamEvent[] {
  const { model, text, stopReason, usage } = completion;
  const startUsage: MessageUsage = { ...usage, output_tokens: 1 };
  const message = {
    id: `msg_01${randomBase58(22)}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: startUsage,
  };
  let sent = '';
  const deltas = splitText(text, chunks).map((piece): StreamEvent => {
    sent += piece;
    const delta = { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } };
    return { chunk: sse('content_block_delta', delta), phase: 'delta', text: sent };
  });
  // message_delta usage is cumulative: Anthropic repeats the input and cache counts beside the final output.
  const finalUsage = {
    input_tokens: usage.input_tokens,
    cache_creation_input_tokens: usage.cache_creation_input_tokens,
    cache_read_input_tokens: usage.cache_read_input_tokens,
    output_tokens: usage.output_tokens,
  };
  return [
    {
      chunk: sse('message_start', { type: 'message_start', message }),
      phase: 'start',
      usage: startUsage,
      text: '',
    },
    {
      chunk: sse('content_block_start', {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'text', text: '' },
      }),
      phase: 'other',
    },
    { chunk: pingEvent, phase: 'other' },
    ...deltas,
    { chunk: sse('content_block_stop', { type: 'content_block_stop', index: 0 }), phase: 'other' },
    {
      chunk: sse('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: finalUsage,
      }),
      phase: 'other',
      usage,
    },
    { chunk: sse('message_stop', { type: 'message_stop' }), phase: 'other' },
  ];
}

function messages(call: UpstreamCall, request: JsonObject, answer: Answer): Reply {
  const completion = complete(call, request);
  const { interruption } = answer;
  if (request.stream === true) {
    return {
      kind: 'stream',
      status: 200,
      headers: { ...headers(call, 'text/event-stream; charset=utf-8'), 'cache-control': 'no-cache' },
      chunkDelayMs: answer.chunkDelayMs,
      steps: streamSteps(streamEvents(completion, answer.chunks), interruption, overloadedEvent),
    };
  }
  // Without a stream there is no "middle": an error event becomes an error status, a drop or stall
  // happens before the body.
  if (interruption?.ending === 'error_event') return failure(call, { kind: 'overloaded' });
  if (interruption !== null) {
    return {
      kind: 'stream',
      status: 200,
      headers: headers(call, 'application/json'),
      chunkDelayMs: 0,
      steps: [
        interruption.ending === 'drop' ? { kind: 'drop' } : { kind: 'stall', forMs: interruption.forMs },
      ],
    };
  }
  const { model, text, stopReason, usage } = completion;
  const body = {
    id: `msg_01${randomBase58(22)}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text }],
    stop_reason: stopReason,
    stop_sequence: null,
    usage,
  };
  return jsonReply(call, 200, body, usage, text);
}

function parseBody(call: UpstreamCall): JsonObject | null {
  try {
    const parsed: unknown = JSON.parse(call.body);
    // Nothing is validated beyond parsing: clients send fields and roles the fake need not understand.
    return isObject(parsed) ? parsed : {};
  } catch {
    return null;
  }
}

const malformed: Failure = {
  kind: 'invalid_request',
  message: 'There was an error parsing the body of your request. Please ensure it is valid JSON.',
};

function answer(call: UpstreamCall, answer: Answer): Reply {
  const route = `${call.method} ${call.url.pathname}`;
  if (route === 'GET /v1/models') {
    const data = models.map((model) => ({ type: 'model', ...model }));
    return jsonReply(call, 200, { data, has_more: false, first_id: models[0].id, last_id: models[3].id });
  }
  if (call.method === 'GET' && call.url.pathname.startsWith('/v1/models/')) {
    const id = decodeURIComponent(call.url.pathname.slice('/v1/models/'.length));
    const model = models.find((candidate) => candidate.id === id);
    if (model === undefined) return failure(call, { kind: 'not_found', message: `model: ${id}` });
    return jsonReply(call, 200, { type: 'model', ...model });
  }
  if (route !== 'POST /v1/messages' && route !== 'POST /v1/messages/count_tokens') {
    return failure(call, { kind: 'not_found' });
  }
  const request = parseBody(call);
  if (request === null) return failure(call, malformed);
  if (route === 'POST /v1/messages/count_tokens') {
    return jsonReply(call, 200, { input_tokens: tokensForBytes(call.bodyBytes) });
  }
  return messages(call, request, answer);
}

export const anthropic: Provider = {
  claims: (_method, url) => url.pathname.startsWith('/v1/messages') || url.pathname.startsWith('/v1/models'),
  newRequestId: () => `req_011C${randomBase58(20)}`,
  // x-api-key wins when both are present, as it does at Anthropic.
  credential: (request) =>
    request.headers.get('x-api-key') ??
    request.headers.get('authorization')?.replace(/^Bearer\s+/i, '') ??
    null,
  failure,
  answer,
};
