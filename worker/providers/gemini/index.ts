// Google Gemini API (generativelanguage.googleapis.com): the model and method are in the path,
// the key in `x-goog-api-key`. Of the client's query string only a model list's paging
// (`pageSize`, `pageToken`) is forwarded: Gemini clients may put their relay key in `?key=`, and
// `alt=sse` is the adapter's own.
import { isObject } from '../../json';
import { type HeaderPolicy, retryAfterMs, upstreamHeaders, withBase } from '../headers';
import type { ErrorClass, Operation, ProviderAdapter } from '../types';
import { joinUrl, pickQuery } from '../url';

/**
 * Only the client library's name (`x-goog-api-client`). Google's other system parameters stay:
 * `x-goog-user-project` and `x-goog-quota-user` name whom to bill, and `x-goog-fieldmask` could
 * strip `usageMetadata` from the answer and with it the metering. Google documents no response
 * header a client needs beyond the base ones (its retry delay is in the error body).
 */
export const GEMINI_HEADERS: HeaderPolicy = withBase({
  upstream: ['x-goog-api-client'],
  downstream: [],
});

function geminiPath(operation: Operation): string {
  const model = encodeURIComponent(operation.model.replace(/^models\//, ''));
  switch (operation.kind) {
    case 'models':
      return `/v1beta/models${pickQuery(operation.search, ['pageSize', 'pageToken'])}`;
    case 'count_tokens':
      return `/v1beta/models/${model}:countTokens`;
    case 'generate':
      return operation.stream
        ? `/v1beta/models/${model}:streamGenerateContent?alt=sse`
        : `/v1beta/models/${model}:generateContent`;
  }
}

export const gemini: ProviderAdapter = {
  kind: 'gemini',
  defaultBaseUrl: 'https://generativelanguage.googleapis.com',
  wires: ['gemini'],
  models: ['gemini-*', 'gemma-*'],
  headers: GEMINI_HEADERS,
  buildRequest({ account, credential, operation, method, clientHeaders, body }) {
    const headers = upstreamHeaders(clientHeaders, GEMINI_HEADERS);
    headers.set('x-goog-api-key', credential);
    const [path, query] = geminiPath(operation).split('?');
    const url = joinUrl(account.baseUrl ?? 'https://generativelanguage.googleapis.com', path!);
    return new Request(query ? `${url}?${query}` : url, { method, headers, body });
  },
  classifyError: classifyGoogleError,
  refineError: refineGoogleError,
};

/**
 * Google's statuses, for the Gemini API and Code Assist alike. A bad API key is a 400
 * API_KEY_INVALID; 401/403 are token and permission problems (for Code Assist, also an account
 * that lost its project).
 */
export function classifyGoogleError(status: number, headers: Headers): ErrorClass {
  if (status === 429) return { kind: 'rate_limited', status, retryAfterMs: retryAfterMs(headers) };
  if (status === 401 || status === 403) return { kind: 'auth_failed', status };
  if (status === 503) return { kind: 'overloaded', status };
  if (status >= 500) return { kind: 'server_error', status };
  return { kind: 'client_error', status };
}

/**
 * Google puts its retry delay in the error body (`google.rpc.RetryInfo`, a Duration such as
 * `"7s"` or `"0.5s"`), not in a header. Null when the body has none.
 */
export function googleRetryDelayMs(body: string): number | null {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return null;
  }
  const details = isObject(json) && isObject(json.error) ? json.error.details : undefined;
  if (!Array.isArray(details)) return null;
  for (const detail of details) {
    if (!isObject(detail) || typeof detail['@type'] !== 'string') continue;
    if (!detail['@type'].endsWith('google.rpc.RetryInfo') || typeof detail.retryDelay !== 'string') continue;
    const match = /^(\d+(?:\.\d+)?)s$/.exec(detail.retryDelay);
    if (match) return Math.round(Number(match[1]) * 1000);
  }
  return null;
}

/**
 * Google's statuses mislead twice: a bad API key is a 400 (API_KEY_INVALID: the account's key, not
 * the member's, so passing it on would blame the member), and a 429's delay is in the body.
 */
export function refineGoogleError(classified: ErrorClass, body: string): ErrorClass | null {
  if (classified.kind === 'client_error' && classified.status === 400 && body.includes('API_KEY_INVALID'))
    return { kind: 'auth_failed', status: classified.status };
  if (classified.kind === 'rate_limited' && classified.retryAfterMs === null) {
    const delay = googleRetryDelayMs(body);
    return delay === null ? null : { ...classified, retryAfterMs: delay };
  }
  return null;
}
