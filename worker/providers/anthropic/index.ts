// Anthropic Messages API (api.anthropic.com, or any base URL an account names).
import { jsonMeter, sseMeter } from '../../metering/meter';
import { emptyUsage } from '../../metering/usage';
import { anthropicErrorEvent } from '../../relay/dialect';
import { retryAfterMs, upstreamHeaders } from '../headers';
import type { ErrorClass, ProviderAdapter, UpstreamCall, UpstreamFailure } from '../types';
import { AnthropicStreamUsage, readAnthropicBody } from './usage';

const DEFAULT_VERSION = '2023-06-01';

export const anthropic: ProviderAdapter = {
  kind: 'anthropic',
  defaultBaseUrl: 'https://api.anthropic.com',

  buildRequest({ account, credential, path, method, clientHeaders, body }: UpstreamCall): Request {
    const headers = upstreamHeaders(clientHeaders);
    if (account.authKind === 'oauth') headers.set('authorization', `Bearer ${credential}`);
    else headers.set('x-api-key', credential);
    if (!headers.has('anthropic-version')) headers.set('anthropic-version', DEFAULT_VERSION);
    const base = (account.baseUrl ?? this.defaultBaseUrl).replace(/\/+$/, '');
    return new Request(`${base}${path}`, { method, headers, body });
  },

  meter(stream: boolean) {
    return stream
      ? sseMeter(new AnthropicStreamUsage())
      : jsonMeter(readAnthropicBody, () => ({ usage: emptyUsage(), errorType: null }));
  },

  classifyError(status: number, headers: Headers): ErrorClass {
    if (status === 429) {
      return { kind: 'rate_limited', status, retryAfterMs: retryAfterMs(headers) ?? rateLimitReset(headers) };
    }
    if (status === 529) return { kind: 'overloaded', status };
    if (status === 401 || status === 403) return { kind: 'auth_failed', status };
    if (status >= 500) return { kind: 'server_error', status };
    return { kind: 'client_error', status };
  },

  classifyStreamError(errorType: string): UpstreamFailure {
    if (errorType === 'overloaded_error') return { kind: 'overloaded', status: 529 };
    if (errorType === 'rate_limit_error') return { kind: 'rate_limited', status: 429, retryAfterMs: null };
    return { kind: 'server_error', status: 500 };
  },

  streamErrorTail(message: string): Uint8Array {
    return anthropicErrorEvent('api_error', message);
  },
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
