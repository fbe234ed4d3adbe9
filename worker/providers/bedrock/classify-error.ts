// Bedrock's error statuses, told apart by `x-amzn-ErrorType` where the status alone is ambiguous
// (a 429 may be throttling or a model still loading; a 400 may be an account quota).
import { retryAfterMs } from '../headers';
import type { ErrorClass } from '../types';

export function classifyBedrockError(status: number, headers: Headers): ErrorClass {
  // Coral-style values carry a namespace after a colon: `ThrottlingException:http://internal…`.
  const type = (headers.get('x-amzn-errortype') ?? '').split(':')[0]!;
  switch (type) {
    case 'ThrottlingException':
    // An account-level quota, not the request's fault: another account may still serve it.
    case 'ServiceQuotaExceededException':
      // Bedrock names no wait; the scheduler's default cooldown applies unless a proxy adds one.
      return { kind: 'rate_limited', status, retryAfterMs: retryAfterMs(headers) };
    case 'ServiceUnavailableException':
    case 'ModelNotReadyException':
      return { kind: 'overloaded', status };
    // The model failed or ran out of time (424 and 408): the upstream's fault, not the client's.
    case 'ModelErrorException':
    case 'ModelTimeoutException':
      return { kind: 'server_error', status };
  }
  if (status === 429) return { kind: 'rate_limited', status, retryAfterMs: retryAfterMs(headers) };
  if (status === 401 || status === 403) return { kind: 'auth_failed', status };
  if (status === 503) return { kind: 'overloaded', status };
  if (status >= 500) return { kind: 'server_error', status };
  return { kind: 'client_error', status };
}
