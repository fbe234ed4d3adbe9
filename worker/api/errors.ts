// The API's one error envelope: `{"error":{"code","message","requestId","details"}}` with a
// stable code, for every route under /api/v1 and /admin/v1.
import { HTTPException } from 'hono/http-exception';

export const API_ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  /** A body sent as anything but `application/json`. */
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  /** A provider the relay had to ask (an OAuth token endpoint) did not answer usefully. */
  bad_gateway: 502,
} as const;
export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

export class ApiError extends HTTPException {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(API_ERROR_STATUS[code], { message });
  }
}

/** A 429 that says, in `retry-after` too, when trying again can succeed. */
export class RetryLaterError extends ApiError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('rate_limited', message, { retryAfterSeconds });
  }
}

export function renderApiError(error: ApiError, requestId: string): Response {
  const body = { error: { code: error.code, message: error.message, requestId, details: error.details } };
  const headers: Record<string, string> = { 'x-carpool-request-id': requestId };
  if (error instanceof RetryLaterError) headers['retry-after'] = String(error.retryAfterSeconds);
  return Response.json(body, { status: error.status, headers });
}

/**
 * A rule the database itself keeps (a trigger's `RAISE(ABORT, 'conflict: …')`, see
 * migrations/), as the 409 it is, worded for people; null for any other error. drizzle wraps D1's
 * error, so the trigger's words are somewhere down the cause chain.
 */
export function constraintConflict(err: unknown): ApiError | null {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const match = /conflict: (.+?)(?:: SQLITE_CONSTRAINT.*)?$/s.exec(e.message);
    if (match) return new ApiError('conflict', match[1]!);
  }
  return null;
}
