// OpenAI (api.openai.com/v1): Chat Completions and Responses, bearer key.
import { type HeaderPolicy, retryAfterMs, upstreamHeaders, withBase } from '../headers';
import type { ErrorClass, Operation, ProviderAdapter, UpstreamCall } from '../types';
import { joinUrl } from '../url';

export function openAIPath(operation: Operation): string {
  if (operation.kind === 'models') return '/models';
  if (operation.kind === 'count_tokens') throw new Error('OpenAI has no token counting endpoint');
  return operation.wire === 'openai-responses' ? '/responses' : '/chat/completions';
}

/**
 * Betas, the client's own request id (OpenAI logs it beside its `x-request-id`) and idempotency
 * keys. `openai-organization` and `openai-project` never cross: upstream they would bill another
 * organisation or project of the account's key, downstream they name the account's.
 */
export const OPENAI_HEADERS: HeaderPolicy = withBase({
  upstream: ['openai-beta', 'x-client-request-id', 'idempotency-key'],
  downstream: [
    'x-request-id',
    'openai-version',
    'openai-processing-ms',
    'x-ratelimit-*',
    'retry-after-ms',
    'x-should-retry',
  ],
});

export function openAIRequest(call: UpstreamCall, defaultBaseUrl: string): Request {
  const headers = upstreamHeaders(call.clientHeaders, OPENAI_HEADERS);
  headers.set('authorization', `Bearer ${call.credential}`);
  const url = joinUrl(call.account.baseUrl ?? defaultBaseUrl, openAIPath(call.operation));
  return new Request(url, { method: call.method, headers, body: call.body });
}

/** `x-ratelimit-reset-requests: 6m0s` / `1.5s` / `250ms` → milliseconds (the longer of requests and tokens). */
export function openAIRateLimitReset(headers: Headers): number | null {
  let longest: number | null = null;
  for (const name of ['x-ratelimit-reset-requests', 'x-ratelimit-reset-tokens']) {
    const value = headers.get(name);
    if (!value) continue;
    let ms = 0;
    for (const [, amount, unit] of value.matchAll(/([\d.]+)(ms|s|m|h)/g)) {
      ms += Number(amount) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
    }
    if (ms > 0 && (longest === null || ms > longest)) longest = ms;
  }
  return longest;
}

export function classifyOpenAIError(status: number, headers: Headers): ErrorClass {
  if (status === 429) {
    return {
      kind: 'rate_limited',
      status,
      retryAfterMs: retryAfterMs(headers) ?? openAIRateLimitReset(headers),
    };
  }
  if (status === 401 || status === 403) return { kind: 'auth_failed', status };
  // Payment Required is about the account's balance (DeepSeek's "Insufficient Balance"), never the
  // member's request: it fails over like a 5xx, and the account cools down.
  if (status === 402) return { kind: 'server_error', status, outOfCredit: true };
  if (status === 503 || status === 529) return { kind: 'overloaded', status };
  if (status >= 500) return { kind: 'server_error', status };
  return { kind: 'client_error', status };
}

/**
 * OpenAI says "spent" with the status it uses for "too fast": a 429 whose `error.type` is
 * `insufficient_quota` (its `code` names which: `insufficient_quota`, `credit_balance_exhausted`,
 * a spend limit…). Waiting a rate-limit's minute fixes nothing; a top-up does. Azure and the
 * OpenAI-compatible vendors that copy OpenAI's errors answer the same.
 */
export function refineOpenAIError(classified: ErrorClass, body: string): ErrorClass | null {
  if (classified.kind === 'rate_limited' && /"type"\s*:\s*"insufficient_quota"/.test(body))
    return { kind: 'server_error', status: classified.status, outOfCredit: true };
  return null;
}

/** OpenAI's model names: `gpt-4o`, `gpt-5-codex`, the `o1`/`o3`/`o4-mini` reasoning series, `codex-mini-latest`, `chatgpt-4o-latest`. */
export const OPENAI_MODELS = ['gpt-*', 'o[0-9]*', 'codex-*', 'chatgpt-*'] as const;

export const openai: ProviderAdapter = {
  kind: 'openai',
  defaultBaseUrl: 'https://api.openai.com/v1',
  wires: ['openai-chat', 'openai-responses'],
  models: OPENAI_MODELS,
  headers: OPENAI_HEADERS,
  buildRequest: (call) => openAIRequest(call, 'https://api.openai.com/v1'),
  classifyError: classifyOpenAIError,
  refineError: refineOpenAIError,
};
