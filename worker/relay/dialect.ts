// Errors in each client's own dialect. A failure is described once (a RelayError with a kind)
// and rendered as Anthropic, OpenAI or Google error JSON depending on the surface it hit.
import { HTTPException } from 'hono/http-exception';

export type Dialect = 'anthropic' | 'openai' | 'google';

export type RelayErrorKind =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'too_large'
  | 'unsupported_encoding'
  | 'rate_limited'
  | 'budget'
  | 'upstream'
  | 'unavailable'
  | 'overloaded'
  | 'timeout'
  | 'internal';

interface KindInfo {
  status: number;
  /** Where a dialect says it with another status (only Anthropic has 529). */
  statusIn?: Partial<Record<Dialect, number>>;
  anthropic: string;
  openai: string;
  google: string;
}

const KINDS: Record<RelayErrorKind, KindInfo> = {
  invalid_request: {
    status: 400,
    anthropic: 'invalid_request_error',
    openai: 'invalid_request_error',
    google: 'INVALID_ARGUMENT',
  },
  authentication: {
    status: 401,
    anthropic: 'authentication_error',
    openai: 'invalid_request_error',
    google: 'UNAUTHENTICATED',
  },
  permission: {
    status: 403,
    anthropic: 'permission_error',
    openai: 'invalid_request_error',
    google: 'PERMISSION_DENIED',
  },
  not_found: {
    status: 404,
    anthropic: 'not_found_error',
    openai: 'invalid_request_error',
    google: 'NOT_FOUND',
  },
  too_large: {
    status: 413,
    anthropic: 'request_too_large',
    openai: 'invalid_request_error',
    google: 'INVALID_ARGUMENT',
  },
  // RFC 9110 §15.5.16: a content coding the server cannot decode is a 415.
  unsupported_encoding: {
    status: 415,
    anthropic: 'invalid_request_error',
    openai: 'invalid_request_error',
    google: 'INVALID_ARGUMENT',
  },
  rate_limited: {
    status: 429,
    anthropic: 'rate_limit_error',
    openai: 'rate_limit_error',
    google: 'RESOURCE_EXHAUSTED',
  },
  // 402, not 429: the CLIs retry a 429 (Codex six times, Gemini CLI with backoff; Claude Code
  // unless told not to) and none retries a 402, which is what a spent budget needs: the member
  // sees the message at once. Anthropic names it `billing_error`; OpenAI's quota error type is
  // `insufficient_quota`.
  budget: {
    status: 402,
    anthropic: 'billing_error',
    openai: 'insufficient_quota',
    google: 'RESOURCE_EXHAUSTED',
  },
  upstream: { status: 502, anthropic: 'api_error', openai: 'api_error', google: 'UNAVAILABLE' },
  unavailable: { status: 503, anthropic: 'api_error', openai: 'api_error', google: 'UNAVAILABLE' },
  overloaded: {
    status: 529,
    statusIn: { openai: 503, google: 503 },
    anthropic: 'overloaded_error',
    openai: 'api_error',
    google: 'UNAVAILABLE',
  },
  timeout: { status: 504, anthropic: 'timeout_error', openai: 'timeout', google: 'DEADLINE_EXCEEDED' },
  internal: { status: 500, anthropic: 'api_error', openai: 'api_error', google: 'INTERNAL' },
};

export interface RelayErrorOptions {
  /** Seconds a client should wait before retrying; sent as `retry-after`. */
  retryAfterSec?: number;
  /** False for errors a retry cannot fix (bad key): sent as `x-should-retry: false`. */
  retryable?: boolean;
  /** A stable machine code for OpenAI's `code` field and our logs. */
  code?: string;
  /** Upstream attempts the request made before this error; sent as `x-carpool-attempts` when more than one. */
  attempts?: number;
}

export class RelayError extends HTTPException {
  constructor(
    readonly kind: RelayErrorKind,
    message: string,
    readonly options: RelayErrorOptions = {},
  ) {
    super(KINDS[kind].status as 400, { message });
  }
}

/** The HTTP status a client of this dialect gets for the error (only Anthropic has 529). */
export function statusIn(error: RelayError, dialect: Dialect): number {
  const info = KINDS[error.kind];
  return info.statusIn?.[dialect] ?? info.status;
}

export function renderRelayError(error: RelayError, dialect: Dialect, requestId: string): Response {
  const info = KINDS[error.kind];
  const status = statusIn(error, dialect);
  const headers = new Headers({ 'content-type': 'application/json', 'x-carpool-request-id': requestId });
  if (error.options.retryAfterSec !== undefined) {
    headers.set('retry-after', String(Math.max(1, Math.ceil(error.options.retryAfterSec))));
  }
  if (error.options.retryable === false) headers.set('x-should-retry', 'false');
  const attempts = error.options.attempts ?? 1;
  if (attempts > 1) headers.set('x-carpool-attempts', String(attempts));
  return new Response(JSON.stringify(errorBody(error, info, status, dialect, requestId)), {
    status,
    headers,
  });
}

function errorBody(
  error: RelayError,
  info: KindInfo,
  status: number,
  dialect: Dialect,
  requestId: string,
): unknown {
  switch (dialect) {
    case 'anthropic':
      return {
        type: 'error',
        error: { type: info.anthropic, message: error.message },
        request_id: requestId,
      };
    case 'openai':
      return {
        error: { message: error.message, type: info.openai, param: null, code: error.options.code ?? null },
      };
    case 'google':
      return { error: { code: status, message: error.message, status: info.google } };
  }
}
