// Claude subscription accounts (Pro/Max, signed in with Claude Code's OAuth client): the Messages
// API at api.anthropic.com with the account's OAuth access token. What the provider requires of
// a request made with such a token (sources: Wei-Shaw/claude-relay-service
// src/services/claudeRelayService.js, router-for-me/CLIProxyAPI internal/runtime/executor/claude_executor.go):
// - `Authorization: Bearer <access token>` and never `x-api-key`;
// - the beta `oauth-2025-04-20` in `anthropic-beta`, beside the client's own betas;
// - a system prompt opening with Claude Code's identity line: the relay adds it as a first
//   system block when the client (any client but Claude Code) did not send it.
// Usage windows come back as `anthropic-ratelimit-unified-<window>-{utilization,reset,status}`:
// utilization a fraction, reset epoch seconds, status `allowed` / `allowed_warning` / `rejected`.
import type { JsonObject } from '../../convert/types';
import { accessTokenOf } from '../../oauth/credential';
import { exhaustedFor, lengthOfName, type UsageWindow } from '../../oauth/windows';
import { CLAUDE_MODELS, DEFAULT_VERSION, PATHS, QUERY } from '../anthropic';
import { type HeaderPolicy, retryAfterMs, upstreamHeaders, withBase } from '../headers';
import type { ErrorClass, ProviderAdapter, UpstreamCall } from '../types';
import { joinUrl, pickQuery } from '../url';

export const OAUTH_BETA = 'oauth-2025-04-20';
export const CLAUDE_CODE_IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude.";
const BASE_URL = 'https://api.anthropic.com';

/** As for API-key accounts; the unified usage headers are among `anthropic-ratelimit-*`. */
export const CLAUDE_OAUTH_HEADERS: HeaderPolicy = withBase({
  upstream: ['anthropic-version', 'anthropic-beta', 'idempotency-key', 'x-app', 'x-claude-code-session-id'],
  downstream: ['request-id', 'anthropic-ratelimit-*', 'x-should-retry'],
});

function withBeta(existing: string | null): string {
  const betas = (existing ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  return betas.includes(OAUTH_BETA) ? betas.join(',') : [OAUTH_BETA, ...betas].join(',');
}

/** The body with Claude Code's identity as its first system block, unless it opens with it already. */
export function withIdentity(body: ArrayBuffer | null): ArrayBuffer | null {
  if (!body) return body;
  let json: JsonObject;
  try {
    json = JSON.parse(new TextDecoder().decode(body)) as JsonObject;
  } catch {
    return body;
  }
  const system = json.system;
  const first =
    typeof system === 'string' ? system : Array.isArray(system) ? (system[0] as JsonObject)?.text : null;
  if (typeof first === 'string' && first.startsWith(CLAUDE_CODE_IDENTITY)) return body;
  const identity = { type: 'text', text: CLAUDE_CODE_IDENTITY };
  json.system =
    typeof system === 'string' && system
      ? [identity, { type: 'text', text: system }]
      : Array.isArray(system)
        ? [identity, ...system]
        : [identity];
  return new TextEncoder().encode(JSON.stringify(json)).buffer as ArrayBuffer;
}

export function claudeWindows(headers: Headers): UsageWindow[] {
  const windows: UsageWindow[] = [];
  for (const [name, value] of headers) {
    const match = /^anthropic-ratelimit-unified-(.+)-utilization$/.exec(name);
    if (!match) continue;
    const window = match[1]!;
    const fraction = Number(value);
    if (!Number.isFinite(fraction)) continue;
    const reset = Number(headers.get(`anthropic-ratelimit-unified-${window}-reset`));
    const status = headers.get(`anthropic-ratelimit-unified-${window}-status`);
    const usedPercent = Math.round(fraction * 1000) / 10;
    windows.push({
      name: window,
      windowMinutes: lengthOfName(window),
      usedPercent,
      usedPpm: Math.max(0, Math.round(fraction * 1_000_000)),
      resetAt: Number.isFinite(reset) && reset > 0 ? reset * 1000 : null,
      exhausted: status === 'rejected' || usedPercent >= 100,
    });
  }
  return windows;
}

export const claudeOAuth: ProviderAdapter = {
  kind: 'claude-oauth',
  defaultBaseUrl: BASE_URL,
  wires: ['anthropic'],
  models: CLAUDE_MODELS,
  headers: CLAUDE_OAUTH_HEADERS,
  buildRequest({ account, credential, operation, method, clientHeaders, body }: UpstreamCall): Request {
    const headers = upstreamHeaders(clientHeaders, CLAUDE_OAUTH_HEADERS);
    headers.set('authorization', `Bearer ${accessTokenOf(credential).accessToken}`);
    headers.set('anthropic-beta', withBeta(headers.get('anthropic-beta')));
    if (!headers.has('anthropic-version')) headers.set('anthropic-version', DEFAULT_VERSION);
    const search = operation.wire === 'anthropic' ? pickQuery(operation.search, QUERY[operation.kind]) : '';
    const url = joinUrl(account.baseUrl ?? BASE_URL, PATHS[operation.kind]) + search;
    const shaped = operation.kind === 'generate' ? withIdentity(body) : body;
    return new Request(url, { method, headers, body: shaped });
  },
  classifyError(status: number, headers: Headers): ErrorClass {
    if (status === 429) {
      const reset = Number(headers.get('anthropic-ratelimit-unified-reset'));
      const unified = Number.isFinite(reset) && reset * 1000 > Date.now() ? reset * 1000 - Date.now() : null;
      return {
        kind: 'rate_limited',
        status,
        retryAfterMs: exhaustedFor(claudeWindows(headers)) ?? unified ?? retryAfterMs(headers),
      };
    }
    if (status === 529) return { kind: 'overloaded', status };
    if (status === 401 || status === 403) return { kind: 'auth_failed', status };
    if (status >= 500) return { kind: 'server_error', status };
    return { kind: 'client_error', status };
  },
  usageWindows: claudeWindows,
};
