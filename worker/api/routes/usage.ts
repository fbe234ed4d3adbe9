// /usage: token and cost read-outs, the request log and their CSV exports, scoped by the caller
// (worker/domain/usage.ts, worker/domain/request-log.ts).
import { createSelectSchema } from 'drizzle-zod';
import { requestLog } from '../../db/schema';
import {
  listRequests,
  OUTCOMES,
  PAGE_MAX,
  REQUEST_CSV_HEADER,
  requestRows,
  USAGE_CSV_HEADER,
  usageRows,
} from '../../domain/request-log';
import { readUsage } from '../../domain/usage';
import { csvResponse } from '../../usage/csv';
import { epochMs, jsonResponse, newRouter, route, z } from '../openapi';
import { requireCaller } from '../principal';

const id = z.string().min(1).max(64).optional();
/**
 * A moment in a query: ms since the epoch, within the dates a clock can show (±8.64e15); an
 * empty value (`from=`) means the default, as if it were left out.
 */
const UsageQuery = z.object({
  keyId: id,
  groupId: id,
  userId: id,
  accountId: id,
  enterpriseId: id.openapi({
    description: "the enterprise's every group; for its owners and admins (and a system admin)",
  }),
  departmentId: id.openapi({ description: "a department's groups; for its enterprise's owners and admins" }),
  model: z.string().min(1).max(200).optional().openapi({ description: 'narrows to one model' }),
  from: epochMs('ms since the epoch; default: 30 days before `to`'),
  to: epochMs('ms since the epoch; default now'),
});

const RequestLogQuery = UsageQuery.extend({
  from: epochMs('ms since the epoch (inclusive)'),
  to: epochMs('ms since the epoch (exclusive)'),
  status: z.coerce.number().int().min(100).max(599).optional().openapi({ description: 'HTTP status' }),
  outcome: z.enum(OUTCOMES).optional(),
  cursor: z.string().max(512).optional().openapi({ description: '`nextCursor` of the previous page' }),
  limit: z.coerce.number().int().min(1).max(PAGE_MAX).optional().openapi({ description: 'default 100' }),
});

const RequestLogEntry = createSelectSchema(requestLog).openapi('RequestLogEntry');

const csv = (description: string) => ({
  description,
  content: { 'text/csv': { schema: z.string() } },
});

const Sums = z.object({
  requests: z.number().int(),
  errors: z.number().int(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cacheWrite5mTokens: z.number().int(),
  cacheWrite1hTokens: z.number().int(),
  cacheReadTokens: z.number().int(),
  costMicros: z.number().int().openapi({ description: 'micro-dollars' }),
  unpricedRequests: z.number().int(),
});

const UsageSchema = z
  .object({
    from: z.number().int(),
    to: z.number().int(),
    totals: Sums,
    byModel: z.array(Sums.extend({ model: z.string() })),
    byGroup: z
      .array(
        Sums.extend({
          groupId: z.string(),
          name: z.string().nullable().openapi({ description: "the group's name; null: group gone" }),
        }),
      )
      .openapi({ description: 'scoped like the totals: only groups whose rows the caller reads' }),
    byMember: z.array(
      Sums.extend({
        userId: z.string(),
        name: z.string().nullable().openapi({ description: "the member's display name; null: unknown user" }),
      }),
    ),
    byKey: z
      .array(
        Sums.extend({
          keyId: z.string(),
          name: z
            .string()
            .nullable()
            .openapi({ description: "the key's name ('' if unnamed); null: key gone" }),
          prefix: z.string().nullable().openapi({
            description: "the key's first and last characters, as in the key list; null: key gone",
          }),
        }),
      )
      .openapi({
        description: 'scoped like byMember: a plain member asking for their group sees only their keys',
      }),
    byDay: z.array(Sums.extend({ day: z.number().int().openapi({ description: 'UTC day start, ms' }) })),
    byHour: z
      .array(Sums.extend({ hour: z.number().int() }))
      .openapi({ description: 'ranges up to 7 days; longer ones: [] (see byDay)' }),
    sources: z
      .array(
        z.object({ grain: z.enum(['hour', 'day', 'month']), from: z.number().int(), to: z.number().int() }),
      )
      .openapi({ description: 'which aggregate answered which part of the range (UTC)' }),
  })
  .openapi('Usage');

export const usageRoutes = newRouter()
  .openapi(
    route('signed-in', {
      method: 'get',
      path: '/usage',
      summary:
        "Usage by key, group, user, account, enterprise or department: one's own, one's groups' totals, all of what one manages",
      request: { query: UsageQuery },
      responses: {
        200: jsonResponse(UsageSchema, 'Totals and breakdowns; integers (tokens, micro-dollars).'),
      },
    }),
    async (c) => c.json(await readUsage(requireCaller(c), c.req.valid('query')), 200),
  )
  .openapi(
    route('signed-in', {
      method: 'get',
      path: '/usage.csv',
      summary: 'The aggregate rows behind /usage as CSV (same filters and scope)',
      request: { query: UsageQuery },
      responses: {
        200: csv('One row per period, group, member, key, account and model; month, day or hour rows (UTC).'),
      },
    }),
    async (c) =>
      csvResponse('usage.csv', USAGE_CSV_HEADER, await usageRows(requireCaller(c), c.req.valid('query'))),
  )
  .openapi(
    route('signed-in', {
      method: 'get',
      path: '/usage/requests',
      summary: "The request log, newest first: one's own requests, all of the groups one manages",
      request: { query: RequestLogQuery },
      responses: {
        200: jsonResponse(
          z
            .object({ data: z.array(RequestLogEntry), nextCursor: z.string().nullable() })
            .openapi('RequestLogPage'),
          'A page; pass nextCursor for the next one (null: the last page).',
        ),
      },
    }),
    async (c) => c.json(await listRequests(requireCaller(c), c.req.valid('query')), 200),
  )
  .openapi(
    route('signed-in', {
      method: 'get',
      path: '/usage/requests.csv',
      summary: 'The request log as CSV (same filters and scope as /usage/requests, every page)',
      request: { query: RequestLogQuery.omit({ cursor: true, limit: true }) },
      responses: { 200: csv('One row per request, newest first.') },
    }),
    async (c) =>
      csvResponse(
        'requests.csv',
        REQUEST_CSV_HEADER,
        await requestRows(requireCaller(c), c.req.valid('query')),
      ),
  );
