// Bedrock's errors in Anthropic's vocabulary. AWS names an error by its exception type (the
// `x-amzn-ErrorType` header of an HTTP error, `:exception-type` of a stream's exception frame) and
// gives only `{"message"}` in the body; an Anthropic client reads `{"type":"error","error":{type,
// message}}` and decides on `error.type` (Claude Code retries `overloaded_error`, not others).
import { anthropicErrorBody, anthropicErrorTypeForStatus } from '../../convert/errors';

/** By lower-cased exception name: the HTTP header says `ThrottlingException`, a frame `throttlingException`. */
const ANTHROPIC_ERROR_TYPES: Readonly<Record<string, string>> = {
  throttlingexception: 'rate_limit_error',
  servicequotaexceededexception: 'rate_limit_error',
  serviceunavailableexception: 'overloaded_error',
  modelnotreadyexception: 'overloaded_error',
  validationexception: 'invalid_request_error',
  accessdeniedexception: 'permission_error',
  resourcenotfoundexception: 'not_found_error',
  modeltimeoutexception: 'timeout_error',
};

/**
 * The Anthropic error type of a Bedrock exception. A model's own failure passed on by Bedrock
 * (`ModelStreamErrorException`, `ModelErrorException`) carries the model's status, which says more
 * than the wrapper: a 529 there is Claude overloaded. Another exception not named here goes by the
 * HTTP status when there is one (not inside a stream).
 */
export function anthropicErrorType(
  exception: string,
  original: number | null,
  status: number | null = null,
): string {
  const name = exception.split(':')[0]!.toLowerCase();
  if (MODEL_FAILURES.has(name))
    return original !== null && original >= 400 ? anthropicErrorTypeForStatus(original) : 'api_error';
  return ANTHROPIC_ERROR_TYPES[name] ?? (status === null ? 'api_error' : anthropicErrorTypeForStatus(status));
}

/** Failures of the model behind Bedrock, carrying the model's own status (`originalStatusCode`). */
const MODEL_FAILURES: ReadonlySet<string> = new Set(['modelerrorexception', 'modelstreamerrorexception']);

/** Bedrock's HTTP error body → Anthropic's error JSON; null leaves a body of another shape alone. */
export function anthropicErrorBodyOf(json: unknown, status: number, exception: string | null): unknown {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return null;
  const body = json as Record<string, unknown>;
  // Already Anthropic's (a proxy in front of Bedrock that answers like Anthropic): left alone.
  if (body.type === 'error') return null;
  const message =
    typeof body.message === 'string' ? body.message : typeof body.Message === 'string' ? body.Message : null;
  if (message === null) return null;
  const original = typeof body.originalStatusCode === 'number' ? body.originalStatusCode : null;
  const type = exception
    ? anthropicErrorType(exception, original, status)
    : anthropicErrorTypeForStatus(status);
  return anthropicErrorBody(type, message);
}
