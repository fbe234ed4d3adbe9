// OpenAI's envelope: response headers, the `{"error":{message,type,param,code}}` errors, and what its hosts (OpenAI, Azure) vary.
import { echo, type Spoken } from './completion';
import type { UpstreamCall } from './provider';
import { cfRay, randomHex } from './random-id';
import type { Json, JsonReply, Reply } from './reply';
import type { ErrorKind, Failure } from './scenarios';
import { tokensForBytes } from './tokens';

/** What differs between hosts that serve the OpenAI chat and Responses bodies. */
export interface OpenAiDialect {
  headers(call: UpstreamCall, contentType: string): Record<string, string>;
  failure(call: UpstreamCall, failure: Failure): Reply;
  /** Azure runs content filters and reports them: a preamble chunk in chat streams, fields in bodies. */
  readonly contentFilters: boolean;
}

/** gpt-5 models reason before they answer; the count is inside completion/output tokens, as at OpenAI. */
export const reasoningTokens = 3;

/** The echo, when the request caps output: reasoning comes out of the same budget, first. */
export function reasonedEcho(prompt: string, maxTokens: number | undefined): Spoken & { reasoning: number } {
  if (maxTokens === undefined) return { ...echo(prompt, undefined), reasoning: reasoningTokens };
  const reasoning = Math.min(reasoningTokens, maxTokens);
  return { ...echo(prompt, maxTokens - reasoning), reasoning };
}

const requestsPerMinute = 10_000;
const tokensPerMinute = 30_000_000;

/** Go's `time.Duration` text, which OpenAI uses for its reset headers: `7s`, `6m0s`, `1h0m0s`. */
export function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  return m > 0 ? `${m}m${s}s` : `${s}s`;
}

function openAiHeaders(
  call: UpstreamCall,
  contentType: string,
  limit?: { retryAfterSeconds: number },
): Record<string, string> {
  const promptTokens = tokensForBytes(call.bodyBytes);
  return {
    'content-type': contentType,
    'x-request-id': call.requestId,
    'openai-organization': 'fake-org-aicarpool',
    'openai-project': 'proj_fakeupstream000000000000',
    'openai-version': '2020-10-01',
    // Real values vary with load; a constant keeps replies comparable.
    'openai-processing-ms': '137',
    'x-ratelimit-limit-requests': String(requestsPerMinute),
    'x-ratelimit-limit-tokens': String(tokensPerMinute),
    'x-ratelimit-remaining-requests': limit === undefined ? String(requestsPerMinute - 1) : '0',
    'x-ratelimit-remaining-tokens': String(tokensPerMinute - promptTokens),
    'x-ratelimit-reset-requests': limit === undefined ? '6ms' : goDuration(limit.retryAfterSeconds),
    'x-ratelimit-reset-tokens': '0s',
    ...(limit === undefined ? {} : { 'retry-after': String(limit.retryAfterSeconds) }),
    // Cloudflare in front of the API adds its bot-management cookie and its own headers.
    'x-envoy-upstream-service-time': '131',
    'strict-transport-security': 'max-age=31536000; includeSubDomains; preload',
    'cf-cache-status': 'DYNAMIC',
    'set-cookie': `__cf_bm=${randomHex(43)}-${Math.floor(Date.now() / 1000)}-1.0.1.1-${randomHex(86)}; path=/; expires=${new Date(Date.now() + 1_800_000).toUTCString()}; domain=.${call.url.hostname}; HttpOnly; Secure; SameSite=None`,
    'x-content-type-options': 'nosniff',
    server: 'cloudflare',
    'cf-ray': cfRay(),
    'alt-svc': 'h3=":443"; ma=86400',
  };
}

export interface OpenAiError {
  readonly status: number;
  readonly type: string;
  readonly message: string;
  readonly param: string | null;
  readonly code: string | null;
}

// OpenAI has no 529: an overloaded server answers 503.
const overloaded: OpenAiError = {
  status: 503,
  type: 'server_error',
  message: 'The server is overloaded or not ready yet.',
  param: null,
  code: null,
};

const apiKeysPage = 'https://platform.openai.com/account/api-keys';

/** OpenAI shows the start and end of a wrong key, never all of it. */
function redact(key: string): string {
  return `${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`;
}

/** OpenAI's error for each kind; the 401 tells a missing key from a wrong one, as OpenAI does. */
export function openAiError(call: UpstreamCall, { kind, message, retryAfterSeconds }: Failure): OpenAiError {
  const errors: Record<ErrorKind, OpenAiError> = {
    invalid_request: {
      status: 400,
      type: 'invalid_request_error',
      message:
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
      param: 'max_tokens',
      code: 'unsupported_parameter',
    },
    authentication: authenticationError(call),
    permission: {
      status: 403,
      type: 'request_forbidden',
      message: 'Country, region, or territory not supported',
      param: null,
      code: 'unsupported_country_region_territory',
    },
    not_found: {
      status: 404,
      type: 'invalid_request_error',
      message: `Invalid URL (${call.method} ${call.url.pathname})`,
      param: null,
      code: null,
    },
    rate_limit: {
      status: 429,
      // OpenAI names which limit was hit (`requests` or `tokens`) in the type.
      type: 'requests',
      // …and the organisation it counts against, as the real message does.
      message: `Rate limit reached in organization org-Fake0Aicarpool0Org on requests per min (RPM): Limit ${requestsPerMinute}, Used ${requestsPerMinute}, Requested 1. Please try again in ${goDuration(retryAfterSeconds ?? 1)}. Visit https://platform.openai.com/account/rate-limits to learn more.`,
      param: null,
      code: 'rate_limit_exceeded',
    },
    server: {
      status: 500,
      type: 'server_error',
      message: 'The server had an error while processing your request. Sorry about that!',
      param: null,
      code: null,
    },
    overloaded,
    billing: billingError(call),
  };
  const error = errors[kind];
  return message === undefined ? error : { ...error, message };
}

/**
 * An account out of credit, as each vendor words it: OpenAI with a 429 `insufficient_quota`,
 * DeepSeek with a 402 "Insufficient Balance", DashScope (Qwen) with a 400 `Arrearage`.
 */
function billingError(call: UpstreamCall): OpenAiError {
  switch (call.url.hostname) {
    case 'api.deepseek.com':
      return {
        status: 402,
        type: 'unknown_error',
        message: 'Insufficient Balance',
        param: null,
        code: 'invalid_request_error',
      };
    case 'dashscope.aliyuncs.com':
      return {
        status: 400,
        type: 'Arrearage',
        message:
          'Access denied, please make sure your account is in good standing. For details, see: https://help.aliyun.com/zh/model-studio/error-code#overdue-payment',
        param: null,
        code: 'Arrearage',
      };
    default:
      return {
        status: 429,
        type: 'insufficient_quota',
        message:
          'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
        param: null,
        code: 'insufficient_quota',
      };
  }
}

function authenticationError(call: UpstreamCall): OpenAiError {
  const key = call.headers.get('authorization')?.replace(/^Bearer\s+/i, '') ?? '';
  if (key === '') {
    return {
      status: 401,
      type: 'invalid_request_error',
      message: `You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from ${apiKeysPage}.`,
      param: null,
      code: null,
    };
  }
  return {
    status: 401,
    type: 'invalid_request_error',
    message: `Incorrect API key provided: ${redact(key)}. You can find your API key at ${apiKeysPage}.`,
    param: null,
    code: 'invalid_api_key',
  };
}

export function errorEnvelope({ message, type, param, code }: OpenAiError): Json {
  return { error: { message, type, param, code } };
}

export const openAiDialect: OpenAiDialect = {
  headers: (call, contentType) => openAiHeaders(call, contentType),
  failure(call, failure) {
    const error = openAiError(call, failure);
    const limit =
      failure.retryAfterSeconds === undefined ? undefined : { retryAfterSeconds: failure.retryAfterSeconds };
    return {
      kind: 'json',
      status: error.status,
      headers: openAiHeaders(call, 'application/json', limit),
      body: errorEnvelope(error),
      usage: null,
      text: null,
    };
  },
  contentFilters: false,
};

export function jsonReply(
  dialect: OpenAiDialect,
  call: UpstreamCall,
  body: Json,
  usage: Json | null = null,
  text: string | null = null,
): JsonReply {
  return { kind: 'json', status: 200, headers: dialect.headers(call, 'application/json'), body, usage, text };
}

export function newOpenAiRequestId(): string {
  return `req_${randomHex(32)}`;
}

/** The mid-stream error OpenAI writes as a `data:` line; the SDKs raise it as an APIError. */
export const streamErrorData: Json = errorEnvelope(overloaded);
