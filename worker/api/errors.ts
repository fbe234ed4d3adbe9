// The API's one error envelope: `{"error":{"code","message","requestId","details"}}` with a
// stable code, for every route under /api/v1 and /admin/v1. A refusal of the request's fields
// (`invalid_request`) carries them as `details`: a list of issues, machine-readable, so that a
// client can say them in its reader's language.
import { z } from '@hono/zod-openapi';
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

/**
 * One refused field. `path` and `code` (zod's issue codes, plus `custom` for a rule of ours named
 * by `rule`) always; the bound, format or allowed values where the rule has them. `message` is
 * the English words of the envelope's message for this field. The input itself is never echoed:
 * it may be a secret.
 */
export const ValidationIssueSchema = z
  .object({
    path: z
      .string()
      .openapi({ description: 'The field, dotted (`keyBounds.allowedModels.0`); empty for the whole body.' }),
    code: z.string().openapi({
      description:
        '`invalid_type`, `too_small`, `too_big`, `invalid_format`, `invalid_value`, `not_multiple_of`, `unrecognized_keys`, `invalid_union`, or `custom` (then see `rule`).',
    }),
    message: z
      .string()
      .openapi({ description: 'The English words for this field, as in the envelope’s message.' }),
    origin: z.string().optional().openapi({
      description: 'What was bounded: `string` (length), `number`, `int`, `array` (items), `date`…',
    }),
    minimum: z
      .number()
      .optional()
      .openapi({ description: '`too_small`: the bound (a length, a count of items or a value).' }),
    maximum: z.number().optional().openapi({ description: '`too_big`: the bound.' }),
    inclusive: z
      .boolean()
      .optional()
      .openapi({ description: 'Whether the bound itself is allowed (`>=`, `<=`); false for `>` and `<`.' }),
    exact: z.boolean().optional().openapi({ description: 'The length must be exactly the bound.' }),
    expected: z
      .string()
      .optional()
      .openapi({ description: 'The type expected (`invalid_type`): `string`, `number`, `object`…' }),
    required: z
      .boolean()
      .optional()
      .openapi({ description: 'The field was missing (an `invalid_type` whose input was absent).' }),
    format: z
      .string()
      .optional()
      .openapi({ description: '`invalid_format`: `url`, `email`, `uuid`, `datetime`, `regex`…' }),
    values: z
      .array(z.union([z.string(), z.number(), z.boolean(), z.null()]))
      .optional()
      .openapi({ description: '`invalid_value`: the values allowed.' }),
    keys: z
      .array(z.string())
      .optional()
      .openapi({ description: '`unrecognized_keys`: the fields not known.' }),
    divisor: z.number().optional().openapi({ description: '`not_multiple_of`: the divisor.' }),
    rule: z.string().optional().openapi({
      description: '`custom`: which of our rules, e.g. `time_zone`, `future`, `unknown_reference`.',
    }),
  })
  .openapi('ValidationIssue');
export type ValidationIssue = z.infer<typeof ValidationIssueSchema>;

/** zod's issue, as far as this module reads it (its union is wider than what is copied out). */
type ZodIssueLike = {
  code?: string;
  path: PropertyKey[];
  message: string;
  origin?: unknown;
  minimum?: unknown;
  maximum?: unknown;
  inclusive?: unknown;
  exact?: unknown;
  expected?: unknown;
  format?: unknown;
  values?: unknown;
  keys?: unknown;
  divisor?: unknown;
  params?: unknown;
};

const finite = (v: unknown) => (typeof v === 'number' || typeof v === 'bigint' ? Number(v) : undefined);
const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
const flag = (v: unknown) => (typeof v === 'boolean' ? v : undefined);
const jsonValue = (v: unknown) =>
  v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : String(v);

/** What the request held at `path`; undefined where the path stops short (a missing field). */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let at = input;
  for (const key of path) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

/**
 * zod's issues as the envelope's `details`: only the fields above, each JSON-safe. `input` is the
 * value zod was given (the body, the query): a field is `required` when an `invalid_type` issue's
 * path finds nothing in it. zod reports the input itself only when asked per parse, which
 * @hono/zod-openapi does not, and its English message is no contract.
 */
export function validationIssues(issues: readonly ZodIssueLike[], input: unknown): ValidationIssue[] {
  return issues.map((i) => {
    const rule = (i.params as { rule?: unknown } | undefined)?.rule;
    const issue: ValidationIssue = {
      path: i.path.map(String).join('.'),
      code: i.code ?? 'custom',
      message: i.message,
      origin: text(i.origin),
      minimum: finite(i.minimum),
      maximum: finite(i.maximum),
      inclusive: flag(i.inclusive),
      exact: flag(i.exact),
      expected: text(i.expected),
      required: i.code === 'invalid_type' && valueAt(input, i.path) === undefined ? true : undefined,
      format: text(i.format),
      values: Array.isArray(i.values) ? i.values.map(jsonValue) : undefined,
      keys: Array.isArray(i.keys) ? i.keys.map(String) : undefined,
      divisor: finite(i.divisor),
      rule: text(rule),
    };
    for (const k of Object.keys(issue) as (keyof ValidationIssue)[])
      if (issue[k] === undefined) delete issue[k];
    return issue;
  });
}

/**
 * An `invalid_request` about one field, found past validation (a rule the domain keeps): its
 * details the same issue list a validation failure carries. `whole` is the envelope's message,
 * as it was worded before details said the field (clients may show it).
 */
export function fieldRefusal(
  path: string,
  message: string,
  more: Partial<Omit<ValidationIssue, 'path' | 'message'>> = {},
  whole = `${path}: ${message}`,
): ApiError {
  return new ApiError('invalid_request', whole, [{ path, code: 'custom', message, ...more }]);
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

/** The header naming the request on every answer of the API (the OpenAPI document declares it). */
export const REQUEST_ID_HEADER = 'x-carpool-request-id';

export function renderApiError(error: ApiError, requestId: string): Response {
  const body = { error: { code: error.code, message: error.message, requestId, details: error.details } };
  const headers: Record<string, string> = { [REQUEST_ID_HEADER]: requestId };
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
