// Upstream errors re-dressed in the client's dialect. The status decides the type when there is one
// (it is what clients retry on); inside a stream there is no status, so the upstream's type decides.
import { isObject, numberOr, objectOr, stringOr } from '../json';

export interface UpstreamError {
  message: string;
  /** The upstream's own error type or code, if it gave one. */
  type: string | undefined;
}

/** Reads OpenAI `{error:{message,type,code}}`, Anthropic `{type:'error',error:{type,message}}` and common variants. */
export function readUpstreamError(body: unknown, status?: number): UpstreamError {
  const fallback = status === undefined ? 'Upstream error' : `Upstream error (HTTP ${status})`;
  if (typeof body === 'string') return { message: body.trim() || fallback, type: undefined };
  if (!isObject(body)) return { message: fallback, type: undefined };
  const inner = body.error;
  if (typeof inner === 'string') return { message: inner || fallback, type: stringOr(body.type) };
  const error = objectOr(inner) ?? body;
  const message = stringOr(error.message) ?? stringOr(body.message) ?? stringOr(body.detail) ?? fallback;
  const code = error.code;
  const type = stringOr(error.type) ?? (typeof code === 'string' ? code : undefined);
  return { message, type: type === 'error' ? undefined : type };
}

/** A numeric `code`/`status` some OpenAI-compatible servers put inside a streamed error. */
export function statusInError(body: unknown): number | undefined {
  const error = isObject(body) ? (objectOr(body.error) ?? body) : undefined;
  if (!error) return undefined;
  const status = numberOr(error.code) ?? numberOr(error.status) ?? numberOr(error.status_code);
  return status !== undefined && status >= 400 && status < 600 ? status : undefined;
}

export function anthropicErrorTypeForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** An OpenAI-side error type or code (`insufficient_quota`, `rate_limit_exceeded`, …) → Anthropic type. */
export function anthropicErrorTypeForHint(hint: string | undefined): string {
  const h = hint?.toLowerCase() ?? '';
  if (h.includes('quota') || h.includes('billing') || h.includes('balance')) return 'billing_error';
  if (h.includes('rate_limit') || h.includes('rate limit')) return 'rate_limit_error';
  if (h.includes('overload')) return 'overloaded_error';
  if (h.includes('auth') || h.includes('api_key')) return 'authentication_error';
  if (h.includes('permission')) return 'permission_error';
  if (h.includes('not_found')) return 'not_found_error';
  if (h.includes('timeout')) return 'timeout_error';
  if (h.includes('invalid') || h.includes('context_length')) return 'invalid_request_error';
  return 'api_error';
}

/** OpenAI `error.type` by status, as OpenAI itself and our own relay errors use them. */
export function openAIErrorTypeForStatus(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status === 504) return 'timeout';
  return status >= 500 ? 'api_error' : 'invalid_request_error';
}

/** An Anthropic error type → OpenAI `error.type`. */
export function openAIErrorTypeForAnthropic(type: string | undefined): string {
  switch (type) {
    case 'rate_limit_error':
      return 'rate_limit_error';
    case 'billing_error':
      return 'insufficient_quota';
    case 'timeout_error':
      return 'timeout';
    case 'api_error':
    case 'overloaded_error':
      return 'api_error';
    case undefined:
      return 'api_error';
    default:
      return 'invalid_request_error';
  }
}

export function anthropicErrorBody(type: string, message: string): unknown {
  return { type: 'error', error: { type, message } };
}

export function openAIErrorBody(message: string, type: string, code: string | null): unknown {
  return { error: { message, type, param: null, code } };
}
