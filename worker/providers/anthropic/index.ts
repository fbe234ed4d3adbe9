// Anthropic Messages API (api.anthropic.com, or any base URL an account names).
import { type HeaderPolicy, retryAfterMs, upstreamHeaders, withBase } from '../headers';
import type { ErrorClass, Operation, ProviderAdapter, UpstreamCall } from '../types';
import { joinUrl, pickQuery } from '../url';

export const DEFAULT_VERSION = '2023-06-01';

export const PATHS: Record<Operation['kind'], string> = {
  generate: '/v1/messages',
  count_tokens: '/v1/messages/count_tokens',
  models: '/v1/models',
};

/** The query parameters Anthropic defines per operation (Claude Code sends `?beta=true`). */
export const QUERY: Record<Operation['kind'], readonly string[]> = {
  generate: ['beta'],
  count_tokens: ['beta'],
  models: ['beta', 'before_id', 'after_id', 'limit'],
};

/**
 * Versions and betas; idempotency keys; and what Claude Code sends to be recognised as itself
 * (`x-app`, its session id, which the body's `metadata.user_id` repeats anyway). Downstream:
 * the request id and the rate-limit headers. `anthropic-organization-id` never crosses.
 */
export const ANTHROPIC_HEADERS: HeaderPolicy = withBase({
  upstream: ['anthropic-version', 'anthropic-beta', 'idempotency-key', 'x-app', 'x-claude-code-session-id'],
  downstream: ['request-id', 'anthropic-ratelimit-*', 'x-should-retry'],
});

export function anthropicRequest(call: UpstreamCall, defaultBaseUrl: string, bearerToo: boolean): Request {
  const { account, credential, operation, method, clientHeaders, body } = call;
  const headers = upstreamHeaders(clientHeaders, ANTHROPIC_HEADERS);
  if (account.authKind === 'oauth' || bearerToo) headers.set('authorization', `Bearer ${credential}`);
  if (account.authKind !== 'oauth') headers.set('x-api-key', credential);
  if (!headers.has('anthropic-version')) headers.set('anthropic-version', DEFAULT_VERSION);
  // Only a client of the Anthropic wire has a query string worth keeping.
  const search = operation.wire === 'anthropic' ? pickQuery(operation.search, QUERY[operation.kind]) : '';
  const url = joinUrl(account.baseUrl ?? defaultBaseUrl, PATHS[operation.kind]) + search;
  return new Request(url, { method, headers, body });
}

export function classifyAnthropicError(status: number, headers: Headers): ErrorClass {
  if (status === 429) {
    return { kind: 'rate_limited', status, retryAfterMs: retryAfterMs(headers) ?? rateLimitReset(headers) };
  }
  if (status === 529) return { kind: 'overloaded', status };
  if (status === 401 || status === 403) return { kind: 'auth_failed', status };
  // Payment Required is the account's balance, whatever the body says (Anthropic's `billing_error`,
  // DeepSeek's /anthropic endpoint's "Insufficient Balance"): it fails over like a 5xx.
  if (status === 402) return { kind: 'server_error', status, outOfCredit: true };
  if (status >= 500) return { kind: 'server_error', status };
  return { kind: 'client_error', status };
}

/**
 * Anthropic answers an account out of prepaid credit with a 400 `invalid_request_error`: the
 * account's failure, not the member's request, so it cools down and fails over like a 5xx.
 */
export function refineAnthropicError(classified: ErrorClass, body: string): ErrorClass | null {
  if (
    classified.kind === 'client_error' &&
    classified.status === 400 &&
    /credit balance is too low/i.test(body)
  )
    return { kind: 'server_error', status: classified.status, outOfCredit: true };
  return null;
}

/** Anthropic's models, however they are served: `claude-opus-4-1`, `claude-sonnet-4-5-20250929`… */
export const CLAUDE_MODELS = ['claude-*'] as const;

export const anthropic: ProviderAdapter = {
  kind: 'anthropic',
  defaultBaseUrl: 'https://api.anthropic.com',
  wires: ['anthropic'],
  models: CLAUDE_MODELS,
  headers: ANTHROPIC_HEADERS,
  buildRequest: (call) => anthropicRequest(call, 'https://api.anthropic.com', false),
  classifyError: classifyAnthropicError,
  refineError: refineAnthropicError,
};

/** The latest of the `anthropic-ratelimit-*-reset` RFC 3339 times that lie in the future. */
function rateLimitReset(headers: Headers, now = Date.now()): number | null {
  let latest: number | null = null;
  for (const [name, value] of headers) {
    if (!name.startsWith('anthropic-ratelimit-') || !name.endsWith('-reset')) continue;
    const at = Date.parse(value);
    if (!Number.isNaN(at) && at > now && (latest === null || at - now > latest)) latest = at - now;
  }
  return latest;
}
