// A group's usage for a month, its bill (the live preview of an open month), its statements (JSON
// and CSV), adjustments and settled marks: thin handlers over worker/domain/billing.ts. Amounts
// are integer micro-dollars.
import { MONTH_PATTERN } from '../../billing/months';
import { SPLIT_MODES } from '../../billing/split';
import { statementCsv } from '../../billing/statement';
import {
  addAdjustment,
  closeMonth,
  getStatement,
  groupUsage,
  listStatements,
  previewBill,
  setSettled,
} from '../../domain/billing';
import { displayText, errorResponse, IdParam, jsonBody, jsonResponse, newRouter, route, z } from '../openapi';
import { requireCaller } from '../principal';

const month = z
  .string()
  .regex(MONTH_PATTERN, 'a month as YYYY-MM')
  .openapi({ description: 'A calendar month (YYYY-MM) in the group’s time zone.', example: '2026-10' });
const MonthQuery = z.object({ month: month.optional() });
const int = z.number().int();
const micros = (description: string) => int.openapi({ description: `${description} (micro-dollars)` });

const GroupUsageSchema = z
  .object({
    month: z.string(),
    timeZone: z.string(),
    from: int,
    to: int,
    groupInfo: z.object({
      name: z.string(),
      memberCount: int,
      boundAccount: z.object({ id: z.string(), name: z.string(), provider: z.string() }).nullable(),
    }),
    currentPeriod: z.object({
      totalRequests: int,
      totalTokens: int,
      totalCost: micros('API-equivalent cost of the month'),
      costPerMember: micros('totalCost over the current members, rounded down'),
    }),
    memberBreakdown: z.array(
      z.object({
        userId: z.string(),
        userName: z.string(),
        requests: int,
        tokens: int,
        cost: micros('API-equivalent cost'),
      }),
    ),
  })
  .openapi('GroupUsage');

const usageFields = {
  requests: int,
  inputTokens: int,
  outputTokens: int,
  cacheWrite5mTokens: int,
  cacheWrite1hTokens: int,
  cacheReadTokens: int,
  costMicros: micros('API-equivalent cost'),
  meteredMicros: micros('the part of the cost billed at API price'),
  windowPpm: int.openapi({
    description:
      'Summed share of the subscription’s plan window (its longest usage window), parts per million of the window; 0 without windows.',
  }),
};

const StatementLineSchema = z
  .object({
    userId: z.string(),
    userName: z.string(),
    daysPresent: int,
    ...usageFields,
    lateCostMicros: micros('API-equivalent cost of late usage from closed months'),
    lateMeteredMicros: micros('its metered part'),
    lateWindowPpm: int.openapi({
      description: 'Window share carried in with late usage (ppm of the window).',
    }),
    windowSharePpm: int.openapi({
      description:
        'Their part of the group’s window share (own + late), parts per million, rounded down; 0 when nobody has any. The weight of the `window` split mode.',
    }),
    sharePpm: int.openapi({ description: 'Their part of the bill, parts per million, rounded down.' }),
    feePartMicros: micros('their part of the fixed fee'),
    usagePartMicros: micros('their part of the metered cost'),
    adjustmentsMicros: micros('the sum of their adjustments'),
    amountMicros: micros('what they owe for the month: their parts plus adjustments'),
    owesPayerMicros: micros('what they owe the fee payer (0 for the payer)'),
    settled: z.boolean().nullable().openapi({ description: 'null while the month is open.' }),
  })
  .openapi('StatementLine');

const AdjustmentSchema = z
  .object({
    id: z.string(),
    userId: z.string(),
    amountMicros: micros('signed: positive adds to what they owe'),
    reason: z.string(),
    createdBy: z.string(),
    createdAt: int,
  })
  .openapi('Adjustment');

const StatementSchema = z
  .object({
    groupId: z.string(),
    groupName: z.string(),
    month: z.string(),
    timeZone: z.string(),
    from: int,
    to: int,
    daysInMonth: int,
    status: z.enum(['open', 'closed']),
    closedAt: int.nullable(),
    closedBy: z.string().nullable(),
    splitMode: z.enum(SPLIT_MODES),
    splitFallback: z.boolean().openapi({
      description:
        'The mode’s weighting was empty (no usage; for `window`, no window share, as on an API-key account), so the bill was split by presence.',
    }),
    prorateByDays: z.boolean(),
    accountId: z.string().nullable(),
    feePayer: z
      .object({
        userId: z.string(),
        userName: z.string(),
        paidMicros: micros('what they paid the provider: the fee and the metered cost'),
        ownAmountMicros: micros('their own amount'),
        owedMicros: micros('what the others owe them'),
      })
      .nullable(),
    totals: z.object({
      ...usageFields,
      fixedFeeMicros: micros('the account’s fixed fee'),
      lateMeteredMicros: micros('metered cost of late usage carried in'),
      billMicros: micros('fixed fee + metered + late metered: what is split'),
      adjustmentsMicros: micros('the sum of the adjustments'),
      totalMicros: micros('bill + adjustments = the sum of the lines’ amounts'),
    }),
    lines: z.array(StatementLineSchema),
    adjustments: z.array(AdjustmentSchema),
    lateUsage: z.array(
      z
        .object({ fromMonth: z.string(), userId: z.string(), ...usageFields, note: z.string() })
        .openapi('LateUsage'),
    ),
  })
  .openapi('Statement');

const StatementSummarySchema = z
  .object({
    month: z.string(),
    closedAt: int,
    closedBy: z.string(),
    billMicros: micros('the bill'),
    totalMicros: micros('bill + adjustments'),
  })
  .openapi('StatementSummary');

const AdjustmentInput = z
  .strictObject({
    userId: z.string().min(1).max(64),
    amountMicros: int
      .min(-1_000_000_000_000)
      .max(1_000_000_000_000)
      .refine((n) => n !== 0, {
        message: 'an adjustment of zero changes nothing',
        params: { rule: 'not_zero' },
      }),
    reason: displayText(500),
    month: month.optional().openapi({ description: 'An open month; default the current one.' }),
  })
  .openapi('AdjustmentInput');

const StatementMonthParams = IdParam.extend({
  month: z
    .string()
    .regex(/^(19[7-9]\d|[2-9]\d{3})-(0[1-9]|1[0-2])(\.csv)?$/, 'a month as YYYY-MM (or YYYY-MM.csv)')
    .openapi({ param: { name: 'month', in: 'path' }, example: '2026-10' }),
});

const one = (description: string) => ({ 200: jsonResponse(StatementSchema, description) });

export const billingRoutes = newRouter()
  .openapi(
    route('group.view', {
      method: 'get',
      path: '/groups/{id}/usage',
      summary:
        'A group’s usage for a month (default the current one): totals and every member’s line (members see each other’s: the carpool shares one bill)',
      request: { params: IdParam, query: MonthQuery },
      responses: { 200: jsonResponse(GroupUsageSchema, 'The usage; costs in micro-dollars.') },
    }),
    async (c) =>
      c.json(await groupUsage(requireCaller(c), c.req.valid('param').id, c.req.valid('query').month), 200),
  )
  .openapi(
    route('group.view', {
      method: 'get',
      path: '/groups/{id}/statements',
      summary: 'The group’s closed months',
      request: { params: IdParam },
      responses: {
        200: jsonResponse(
          z.object({ data: z.array(StatementSummarySchema) }),
          'The statements, oldest first.',
        ),
      },
    }),
    async (c) => c.json({ data: await listStatements(requireCaller(c), c.req.valid('param').id) }, 200),
  )
  .openapi(
    route('group.view', {
      method: 'get',
      path: '/groups/{id}/statements/current',
      summary:
        'The live bill of the current month, or of an open past month (?month=): the statement it would be',
      request: { params: IdParam, query: MonthQuery },
      responses: {
        200: jsonResponse(StatementSchema, 'The preview (status "open").'),
        409: errorResponse(
          'The month asked for is closed (read its statement), or the group did not exist in it.',
        ),
      },
    }),
    async (c) =>
      c.json(await previewBill(requireCaller(c), c.req.valid('param').id, c.req.valid('query').month), 200),
  )
  .openapi(
    route('group.manage', {
      method: 'post',
      path: '/groups/{id}/statements',
      summary: 'Close a past month: its statement is frozen (409 if closed already or not over)',
      request: { params: IdParam, ...jsonBody(z.strictObject({ month }).openapi('StatementClose')) },
      responses: {
        409: errorResponse('The month is closed already, not over, or the group did not exist in it.'),
        201: jsonResponse(StatementSchema, 'The statement.'),
      },
    }),
    async (c) =>
      c.json(await closeMonth(requireCaller(c), c.req.valid('param').id, c.req.valid('json').month), 201),
  )
  .openapi(
    route('group.view', {
      method: 'get',
      path: '/groups/{id}/statements/{month}',
      summary: 'A closed month’s statement, as JSON or (`{month}.csv`, or ?format=csv) CSV',
      request: {
        params: StatementMonthParams,
        query: z.object({ format: z.enum(['json', 'csv']).optional() }),
      },
      responses: {
        200: {
          description: 'The statement; CSV has a header, a row per person and a totals row.',
          content: {
            'application/json': { schema: StatementSchema },
            'text/csv': { schema: z.string() },
          },
        },
      },
    }),
    async (c) => {
      const { id, month: param } = c.req.valid('param');
      const csv = param.endsWith('.csv') || c.req.valid('query').format === 'csv';
      const m = param.replace(/\.csv$/, '');
      const view = await getStatement(requireCaller(c), id, m);
      if (!csv) return c.json(view, 200);
      return c.body(statementCsv(view), 200, {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="statement-${id}-${m}.csv"`,
      });
    },
  )
  .openapi(
    route('group.manage', {
      method: 'put',
      path: '/groups/{id}/statements/{month}/settlements/{userId}',
      summary: 'Mark a person’s line of a closed statement settled, or not',
      request: {
        params: IdParam.extend({
          month: month.openapi({ param: { name: 'month', in: 'path' } }),
          userId: z
            .string()
            .min(1)
            .max(64)
            .openapi({ param: { name: 'userId', in: 'path' } }),
        }),
        ...jsonBody(z.strictObject({ settled: z.boolean() }).openapi('SettlementInput')),
      },
      responses: one('The statement.'),
    }),
    async (c) => {
      const { id, month: m, userId } = c.req.valid('param');
      return c.json(await setSettled(requireCaller(c), id, m, userId, c.req.valid('json').settled), 200);
    },
  )
  .openapi(
    route('group.manage', {
      method: 'post',
      path: '/groups/{id}/adjustments',
      summary: 'Adjust a person’s amount in an open month, with a reason (frozen into its statement)',
      request: { params: IdParam, ...jsonBody(AdjustmentInput) },
      responses: {
        409: errorResponse('The month is closed, or the group did not exist in it.'),
        201: jsonResponse(
          AdjustmentSchema.extend({ month: z.string(), groupId: z.string() }),
          'The adjustment.',
        ),
      },
    }),
    async (c) => {
      const row = await addAdjustment(requireCaller(c), c.req.valid('param').id, c.req.valid('json'));
      return c.json(row, 201);
    },
  );
