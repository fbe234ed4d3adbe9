// The admin API's one error envelope: `{"error":{"code","message","requestId"}}` with a stable code.
import { HTTPException } from 'hono/http-exception';

export const ADMIN_ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  internal: 500,
} as const;
export type AdminErrorCode = keyof typeof ADMIN_ERROR_STATUS;

export class AdminError extends HTTPException {
  constructor(
    readonly code: AdminErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(ADMIN_ERROR_STATUS[code], { message });
  }
}

export function renderAdminError(error: AdminError, requestId: string): Response {
  const body = { error: { code: error.code, message: error.message, requestId, details: error.details } };
  return Response.json(body, { status: error.status, headers: { 'x-carpool-request-id': requestId } });
}
