// The API's one error envelope: `{"error":{"code","message","requestId","details"}}` with a
// stable code, for every route under /api/v1 and /admin/v1.
import { HTTPException } from 'hono/http-exception';

export const API_ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  internal: 500,
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

export function renderApiError(error: ApiError, requestId: string): Response {
  const body = { error: { code: error.code, message: error.message, requestId, details: error.details } };
  return Response.json(body, { status: error.status, headers: { 'x-carpool-request-id': requestId } });
}
