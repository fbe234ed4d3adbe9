// The pieces every API route file shares: an OpenAPIHono whose validation failures become the
// one error envelope, the envelope's schema, and `route`, which declares a route with the
// permission it needs (`x-permission`, read by the role × route matrix test and shown in the
// reference) and the errors it can answer.
import { createRoute, OpenAPIHono, type RouteConfig, z } from '@hono/zod-openapi';
import { isTimeZone } from '../budgets/periods';
import type { AppEnv } from '../context';
import type { Action } from '../domain/permissions';
import {
  API_ERROR_STATUS,
  ApiError,
  REQUEST_ID_HEADER,
  ValidationIssueSchema,
  validationIssues,
} from './errors';

export { z };

export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook(result, _c) {
      if (result.success) return;
      // @hono/zod-validator hands the hook the value it validated (`data`) on failure too;
      // @hono/zod-openapi's type of the hook leaves it out there.
      const input = 'data' in result ? result.data : undefined;
      const issues = validationIssues(result.error.issues, input);
      throw new ApiError(
        'invalid_request',
        `Invalid ${result.target}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
        issues,
      );
    },
  });
}

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(API_ERROR_STATUS) as [keyof typeof API_ERROR_STATUS]),
      message: z.string(),
      requestId: z.string(),
      details: z
        .union([z.array(ValidationIssueSchema), z.record(z.string(), z.unknown())])
        .optional()
        .openapi({
          description:
            'For `invalid_request` about fields: one ValidationIssue per refused field. For other refusals an object, e.g. `{status}` naming the refusal or `{retryAfterSeconds}`.',
        }),
    }),
  })
  .openapi('Error');

/**
 * An error answer in the envelope, for a route's own statuses beyond those every route declares
 * (a 409 its domain rule gives, a 429, a 502): a client generated from the document knows them.
 */
export const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorSchema } },
});

/** A 429 (RetryLaterError): the envelope, and `retry-after`, the seconds until trying again can succeed. */
export const rateLimitedResponse = (description: string) => ({
  ...errorResponse(description),
  headers: {
    'retry-after': {
      // Every 429 of the API is a RetryLaterError, which always sets it (renderApiError).
      required: true,
      description: 'Seconds until trying again can succeed (also in `error.details.retryAfterSeconds`).',
      schema: { type: 'integer' as const, minimum: 0 },
    },
  },
});

/**
 * The request id header every answer of the API carries (worker/app.ts), registered once as the
 * component `RequestId` (worker/api/index.ts) that every response refers to.
 */
export const requestIdHeader = {
  required: true,
  description: 'The id of this request (an error’s `requestId` too): quote it when reporting a problem.',
  schema: { type: 'string' as const },
};

type Responses = NonNullable<RouteConfig['responses']>;

/** Each response of `responses`, declaring the request id header (by reference) beside its own. */
function withRequestId(responses: Responses): Responses {
  const ref = { [REQUEST_ID_HEADER]: { $ref: '#/components/headers/RequestId' } };
  return Object.fromEntries(
    Object.entries(responses).map(([status, response]) => {
      if ('$ref' in response) return [status, response];
      if (response.headers instanceof z.ZodObject)
        throw new Error('declare response headers as objects, not zod');
      return [status, { ...response, headers: { ...ref, ...response.headers } }];
    }),
  );
}

/**
 * Who may call a route: an action of the permission table (checked by the domain function on the
 * resource the route names), `signed-in` (any principal; the domain function decides what it
 * shows), or `public` (no credential).
 */
export type Permission = Action | 'signed-in' | 'public';

/** A JSON body, validated and documented. */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { body: { content: { 'application/json': { schema } }, required: true, description } };
}

/** A JSON response of `schema` with `status`. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/**
 * A stable name for an operation, from its method and path (`GET /groups/{id}/members` →
 * `getGroupsIdMembers`), for clients generated from the document; unique because method and path are.
 */
export function operationIdOf(method: string, path: string): string {
  const words = path
    .replace(/\{(\w+)\{[^}]*\}\}/g, '{$1}')
    .split(/[/{}_-]+/)
    .filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

/**
 * A query schema as a route takes it: an object that has not chosen what to do with unknown
 * parameters refuses them (`unrecognized_keys`, a 400), as bodies do, because a parameter accepted
 * and ignored reads as a filter that was applied (`GET /audit?action=` once did). A schema that
 * must take parameters others add (an identity provider's redirect) says so with `z.looseObject`.
 */
export function strictQuery<T extends RouteConfig['request']>(request: T): T {
  const query = request?.query;
  if (!(query instanceof z.ZodObject) || query.def.catchall !== undefined) return request;
  return { ...request, query: query.strict() };
}

export function route<const R extends RouteConfig>(permission: Permission, config: R) {
  return createRoute({
    operationId: operationIdOf(config.method, config.path),
    ...config,
    ...(config.request ? { request: strictQuery(config.request) } : {}),
    'x-permission': permission,
    security: permission === 'public' ? [] : [{ bearer: [] }, { session: [] }],
    responses: withRequestId({
      ...config.responses,
      400: errorResponse(
        'The request is malformed: the message names each field; for refused fields, details lists them as ValidationIssues.',
      ),
      ...(config.request?.body ? { 415: errorResponse('The body was not sent as `application/json`.') } : {}),
      ...(permission === 'public'
        ? {}
        : {
            401: errorResponse('No valid credential.'),
            403: errorResponse('The caller sees the resource but their role does not allow this.'),
            404: errorResponse('No such resource, or not one the caller may see.'),
          }),
    }),
  } as R);
}

/**
 * A named schema (one registered with `.openapi('Name')`) or null. Not `.nullable()`: on a named
 * schema, zod-to-openapi 9 drops the null from the reference (`live: {$ref}`), marks the named
 * schema itself nullable for every use, or writes `allOf: [{$ref}, {type: [object, null]}]`,
 * which no null satisfies; the union is documented as `anyOf: [{$ref}, {type: null}]`.
 */
export function orNull<T extends z.ZodType>(schema: T) {
  return z.union([schema, z.null()]);
}

/**
 * A name or short text people read (a person's, a group's, a reason): trimmed, no control
 * characters (NUL, line breaks), and something visible, not only zero-width or space characters.
 * Emoji joined with zero-width joiners stay allowed.
 */
export function displayText(max = 100) {
  return z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((s) => !/\p{Cc}/u.test(s), {
      message: 'must not contain control characters',
      params: { rule: 'control_characters' },
    })
    .refine((s) => /[^\p{Cf}\p{Z}]/u.test(s), {
      message: 'must contain a visible character',
      params: { rule: 'visible_character' },
    });
}

/** An IANA time zone (`Europe/Paris`, `UTC`), as groups and budgets take it; not a UTC offset. */
export const TimeZone = z
  .string()
  .min(1)
  .max(64)
  .refine(isTimeZone, {
    message: 'not an IANA time zone (a name such as Europe/Paris or UTC, not an offset)',
    params: { rule: 'time_zone' },
  });

/**
 * An upstream's base URL: http(s), with no user or password in it. It is shown to whoever may see
 * the account and kept in the audit log; secrets go in `credential`, which is sealed.
 */
export const UpstreamUrl = z.url({ protocol: /^https?$/ }).refine(
  (value) => {
    // zod runs a refinement after a failed format check too: not a URL is that check's to say.
    const url = URL.parse(value);
    return !url || (!url.username && !url.password);
  },
  {
    message: 'a base URL carries no user or password: put secrets in credential',
    params: { rule: 'url_credentials' },
  },
);

/** A link's token in the path (an invite's, a password link's): checked by its owner's pattern. */
export const TokenParam = z.object({
  token: z
    .string()
    .min(1)
    .max(100)
    .openapi({ param: { name: 'token', in: 'path' } }),
});

/**
 * A time in a query string, in ms since the epoch; an empty value is none. Documented as the
 * integer it is: zod-to-openapi tries null on a coerced number, sees it pass (`Number(null)` is
 * 0) and would declare the parameter nullable, which no query string is (`?from=null` is a 400).
 */
export function epochMs(description: string) {
  return z
    .preprocess(
      (v) => (v === '' ? undefined : v),
      z.coerce.number().int().min(-8.64e15).max(8.64e15).optional(),
    )
    .openapi({ type: 'integer', description });
}

/** A path id, as every `{id}` route takes it. */
export const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'id', in: 'path' } }),
});

/**
 * A field that has a column but no behaviour yet: it may be left out (or sent as `value`, its
 * default); anything else is refused, because a setting accepted and ignored is a silent lie.
 */
export function notSupportedYet<const T extends string | null = null>(why: string, value: T = null as T) {
  const shown = value === null ? 'null' : `"${value}"`;
  return z.literal(value, { error: `not supported yet (${why}); leave it out or send ${shown}` }).optional();
}
