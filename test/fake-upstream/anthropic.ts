// The Anthropic Messages API wire format: credentials, headers, error envelopes, messages, count_tokens, models.
import { type MessageEvent, messageBody, messageEvents, planMessage } from './anthropic-messages';
import { type JsonObject, parseJsonObject } from './completion';
import type { Provider, UpstreamCall } from './provider';
import { cfRay, randomBase58 } from './random-id';
import { type Json, type JsonReply, type Reply, type StreamEvent, streamSteps, unstreamed } from './reply';
import type { Answer, ErrorKind, Failure } from './scenarios';
import { namedEvent } from './sse';
import { tokensForBytes } from './tokens';

const anthropicHost = 'api.anthropic.com';
const organizationId = 'f4ce0000-0000-4000-8000-00000000a1c0';
const requestsPerMinute = 4000;
const inputTokensPerMinute = 2_000_000;
const outputTokensPerMinute = 400_000;

export const models = [
  { id: 'claude-opus-4-5-20251101', display_name: 'Claude Opus 4.5', created_at: '2025-11-24T00:00:00Z' },
  { id: 'claude-haiku-4-5-20251001', display_name: 'Claude Haiku 4.5', created_at: '2025-10-15T00:00:00Z' },
  { id: 'claude-sonnet-4-5-20250929', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' },
  { id: 'claude-opus-4-1-20250805', display_name: 'Claude Opus 4.1', created_at: '2025-08-05T00:00:00Z' },
] as const;

const creditTooLow = {
  status: 400,
  type: 'invalid_request_error',
  message:
    'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
};

const errors: Record<ErrorKind, { status: number; type: string; message: string }> = {
  invalid_request: creditTooLow,
  billing: creditTooLow,
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
    // The API sits behind Google's load balancer and Cloudflare, which add their own.
    via: '1.1 google',
    'x-envoy-upstream-service-time': '137',
    'strict-transport-security': 'max-age=31536000; includeSubDomains; preload',
    'x-robots-tag': 'none',
    'cf-cache-status': 'DYNAMIC',
    server: 'cloudflare',
    'cf-ray': cfRay(),
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

/**
 * DeepSeek's Anthropic endpoint (api.deepseek.com/anthropic) out of balance. Its docs list the
 * OpenAI endpoint's 402 "Insufficient Balance" and say nothing of this endpoint's errors: assumed
 * the same status and words in Anthropic's envelope, with the type Anthropic gives a 402.
 */
const deepSeekInsufficientBalance = { status: 402, type: 'billing_error', message: 'Insufficient Balance' };

function failure(call: UpstreamCall, { kind, message, retryAfterSeconds }: Failure): Reply {
  const error =
    kind === 'billing' && call.url.hostname === 'api.deepseek.com'
      ? deepSeekInsufficientBalance
      : errors[kind];
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

const overloadedEvent = namedEvent('error', {
  type: 'error',
  error: { type: 'overloaded_error', message: 'Overloaded' },
});
// Byte-for-byte what Anthropic sends, space included.
const pingEvent = 'event: ping\ndata: {"type": "ping"}\n\n';

function frame({ type, data, ...event }: MessageEvent): StreamEvent {
  return { ...event, chunk: type === 'ping' ? pingEvent : namedEvent(type, data) };
}

function messages(call: UpstreamCall, request: JsonObject, answer: Answer): Reply {
  const plan = planMessage(
    call,
    request,
    answer,
    typeof request.model === 'string' ? request.model : models[0].id,
  );
  const { interruption } = answer;
  if (request.stream === true) {
    return {
      kind: 'stream',
      status: 200,
      headers: { ...headers(call, 'text/event-stream; charset=utf-8'), 'cache-control': 'no-cache' },
      chunkDelayMs: answer.chunkDelayMs,
      steps: streamSteps(messageEvents(plan, answer.chunks).map(frame), interruption, overloadedEvent),
    };
  }
  if (interruption?.ending === 'error_event') return failure(call, { kind: 'overloaded' });
  if (interruption !== null) return unstreamed(headers(call, 'application/json'), interruption);
  const text = plan.block.type === 'text' ? plan.block.text : plan.block.json;
  return jsonReply(call, 200, messageBody(plan), plan.usage, text);
}

const malformed: Failure = {
  kind: 'invalid_request',
  message: 'There was an error parsing the body of your request. Please ensure it is valid JSON.',
};

/**
 * The Messages API path, under the base path a compatible vendor serves it at
 * (`/anthropic/v1/messages` at DeepSeek and Moonshot, `/apps/anthropic/v1/…` at DashScope).
 */
function apiPath(url: URL): string {
  const at = url.pathname.indexOf('/v1/');
  return at > 0 ? url.pathname.slice(at) : url.pathname;
}

function answer(call: UpstreamCall, answer: Answer): Reply {
  const path = apiPath(call.url);
  const route = `${call.method} ${path}`;
  if (route === 'GET /v1/models') {
    const data = models.map((model) => ({ type: 'model', ...model }));
    return jsonReply(call, 200, { data, has_more: false, first_id: models[0].id, last_id: models[3].id });
  }
  if (call.method === 'GET' && path.startsWith('/v1/models/')) {
    const id = decodeURIComponent(path.slice('/v1/models/'.length));
    const model = models.find((candidate) => candidate.id === id);
    if (model === undefined) return failure(call, { kind: 'not_found', message: `model: ${id}` });
    return jsonReply(call, 200, { type: 'model', ...model });
  }
  if (route !== 'POST /v1/messages' && route !== 'POST /v1/messages/count_tokens') {
    return failure(call, { kind: 'not_found' });
  }
  const request = parseJsonObject(call.body);
  if (request === null) return failure(call, malformed);
  if (route === 'POST /v1/messages/count_tokens') {
    return jsonReply(call, 200, { input_tokens: tokensForBytes(call.bodyBytes) });
  }
  return messages(call, request, answer);
}

export const anthropic: Provider = {
  // `/v1/models` is OpenAI's path too: elsewhere than Anthropic's own host, the Anthropic headers tell.
  claims: (request, url) =>
    url.hostname === anthropicHost ||
    apiPath(url).startsWith('/v1/messages') ||
    (apiPath(url).startsWith('/v1/models') &&
      (request.headers.has('anthropic-version') || request.headers.has('x-api-key'))),
  newRequestId: () => `req_011C${randomBase58(20)}`,
  // x-api-key wins when both are present, as it does at Anthropic.
  credential: (request) =>
    request.headers.get('x-api-key') ??
    request.headers.get('authorization')?.replace(/^Bearer\s+/i, '') ??
    null,
  failure,
  answer,
};
