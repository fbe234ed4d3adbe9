// Codex on a ChatGPT subscription (Plus/Pro, signed in with the Codex CLI's OAuth client): the
// Responses API of the ChatGPT backend, https://chatgpt.com/backend-api/codex/responses. What it
// requires (sources: router-for-me/CLIProxyAPI internal/runtime/executor/codex_executor.go,
// Wei-Shaw/claude-relay-service src/services/openaiResponsesRelayService.js; both follow the Codex CLI):
// - `Authorization: Bearer <access token>` and `chatgpt-account-id: <the ChatGPT account>`;
// - `store: false` (the backend keeps no responses); the relay sets it when a client did not;
// - `instructions` (the Codex CLI sends its own; other clients must send one: not invented here);
// - `stream: true`: a non-streamed request is asked streamed and its answer read whole off the
//   stream (`whole-answer.ts`).
// Usage windows come back as `x-codex-{primary,secondary}-{used-percent,window-minutes,
// reset-after-seconds,reset-at}`; they are identified by their length, not their position.
import type { JsonObject } from '../../convert/types';
import { accessTokenOf } from '../../oauth/credential';
import { exhaustedFor, nameOfLength, type UsageWindow } from '../../oauth/windows';
import { type HeaderPolicy, retryAfterMs, upstreamHeaders, withBase } from '../headers';
import { OPENAI_MODELS } from '../openai';
import type { ErrorClass, ProviderAdapter, UpstreamCall } from '../types';
import { joinUrl } from '../url';
import { wholeAnswer } from './whole-answer';

const BASE_URL = 'https://chatgpt.com/backend-api/codex';

/**
 * The probe: the backend lists no models a relay may read, so a credential is checked with the
 * smallest request it accepts — streamed (it refuses `stream: false`), with instructions (required)
 * and `store: false`. Only the status is read; the stream is cancelled at once. A small model every
 * plan serves: providers retire models, change it here when this one goes.
 */
const PROBE_MODEL = 'gpt-5.1-codex-mini';
const PROBE_BODY = {
  model: PROBE_MODEL,
  instructions: 'Reply with one word.',
  input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'ping' }] }],
  store: false,
  stream: true,
};

/**
 * Up: betas and the Codex CLI's own identification (`originator`, its session and conversation
 * ids, which the backend uses for prompt caching). Down: the request id and the usage windows, so
 * the Codex CLI can show its limits as it does when signed in itself.
 */
export const CODEX_OAUTH_HEADERS: HeaderPolicy = withBase({
  upstream: ['openai-beta', 'originator', 'session_id', 'conversation_id', 'version', 'x-client-request-id'],
  downstream: ['x-request-id', 'x-codex-*', 'retry-after-ms'],
});

export function codexWindows(headers: Headers, now = Date.now()): UsageWindow[] {
  const windows: UsageWindow[] = [];
  for (const slot of ['primary', 'secondary']) {
    const used = headers.get(`x-codex-${slot}-used-percent`);
    if (used === null || !Number.isFinite(Number(used))) continue;
    const minutes = Number(headers.get(`x-codex-${slot}-window-minutes`));
    const after = Number(headers.get(`x-codex-${slot}-reset-after-seconds`) ?? Number.NaN);
    const at = Number(headers.get(`x-codex-${slot}-reset-at`) ?? Number.NaN);
    const usedPercent = Number(used);
    const known = Number.isFinite(minutes) && minutes > 0;
    windows.push({
      name: known ? nameOfLength(minutes) : slot,
      windowMinutes: known ? minutes : null,
      usedPercent,
      usedPpm: Math.max(0, Math.round(usedPercent * 10_000)),
      resetAt: Number.isFinite(at) && at > 0 ? at * 1000 : Number.isFinite(after) ? now + after * 1000 : null,
      exhausted: usedPercent >= 100,
    });
  }
  return windows;
}

/**
 * `store: false` and `stream: true`, which the ChatGPT backend insists on; the bytes stay untouched
 * when already so.
 */
function shaped(body: ArrayBuffer | null): ArrayBuffer | null {
  if (!body) return body;
  try {
    const json = JSON.parse(new TextDecoder().decode(body)) as JsonObject;
    if (json.store === false && json.stream === true) return body;
    json.store = false;
    json.stream = true;
    return new TextEncoder().encode(JSON.stringify(json)).buffer as ArrayBuffer;
  } catch {
    return body;
  }
}

export const codexOAuth: ProviderAdapter = {
  kind: 'codex-oauth',
  defaultBaseUrl: BASE_URL,
  wires: ['openai-responses'],
  models: OPENAI_MODELS,
  headers: CODEX_OAUTH_HEADERS,
  buildRequest({ account, credential, operation, method, clientHeaders, body }: UpstreamCall): Request {
    if (operation.kind !== 'generate') throw new Error('the ChatGPT backend serves responses only');
    const tokens = accessTokenOf(credential);
    const headers = upstreamHeaders(clientHeaders, CODEX_OAUTH_HEADERS);
    headers.set('authorization', `Bearer ${tokens.accessToken}`);
    if (tokens.chatgptAccountId) headers.set('chatgpt-account-id', tokens.chatgptAccountId);
    if (!headers.has('openai-beta')) headers.set('openai-beta', 'responses=experimental');
    if (!headers.has('originator')) headers.set('originator', 'codex_cli_rs');
    // Asked streamed whatever the client asked (`shaped`); the answer is an event stream.
    headers.set('accept', 'text/event-stream');
    return new Request(joinUrl(account.baseUrl ?? BASE_URL, '/responses'), {
      method,
      headers,
      body: shaped(body),
    });
  },
  wholeAnswer: (response) => wholeAnswer(response),
  classifyError(status: number, headers: Headers): ErrorClass {
    if (status === 429)
      return {
        kind: 'rate_limited',
        status,
        retryAfterMs: exhaustedFor(codexWindows(headers)) ?? retryAfterMs(headers),
      };
    if (status === 401 || status === 403) return { kind: 'auth_failed', status };
    if (status === 503) return { kind: 'overloaded', status };
    if (status >= 500) return { kind: 'server_error', status };
    return { kind: 'client_error', status };
  },
  // The plan's spent usage says when it comes back in the 429's body (as the Codex CLI reads it),
  // which matters when no window header or retry-after does: otherwise the account would be asked
  // again after the default cooldown, and refused, until the plan resets hours later.
  refineError(classified, body) {
    if (classified.kind !== 'rate_limited' || classified.retryAfterMs !== null) return null;
    const retryAfterMs = usageLimitResetMs(body);
    return retryAfterMs === null ? null : { ...classified, retryAfterMs };
  },
  usageWindows: (headers) => codexWindows(headers),
  probeRequest(account, credential) {
    return codexOAuth.buildRequest({
      account,
      credential,
      operation: { wire: 'openai-responses', kind: 'generate', model: PROBE_MODEL, stream: true, search: '' },
      method: 'POST',
      clientHeaders: new Headers({ 'content-type': 'application/json', accept: 'text/event-stream' }),
      body: new TextEncoder().encode(JSON.stringify(PROBE_BODY)).buffer as ArrayBuffer,
    });
  },
};

/** `{"error":{"type":"usage_limit_reached","resets_at":<epoch s>,"resets_in_seconds":<s>}}` → ms from now. */
export function usageLimitResetMs(body: string, now = Date.now()): number | null {
  let error: unknown;
  try {
    error = (JSON.parse(body) as { error?: unknown }).error;
  } catch {
    return null;
  }
  if (typeof error !== 'object' || error === null) return null;
  const { resets_at: at, resets_in_seconds: inSeconds } = error as Record<string, unknown>;
  if (typeof at === 'number' && Number.isFinite(at)) return Math.max(0, at * 1000 - now);
  if (typeof inSeconds === 'number' && Number.isFinite(inSeconds)) return Math.max(0, inSeconds * 1000);
  return null;
}
