// /budgets: thin handlers over worker/domain/budgets.ts.
import { createSelectSchema } from 'drizzle-zod';
import { PERIODS } from '../../budgets/periods';
import { budgetReconciliations, budgets } from '../../db/schema';
import { createBudget, deleteBudget, getBudget, listBudgets, updateBudget } from '../../domain/budgets';
import {
  errorResponse,
  IdParam,
  jsonBody,
  jsonResponse,
  newRouter,
  orNull,
  route,
  TimeZone,
  z,
} from '../openapi';
import { requireCaller } from '../principal';

const BudgetSchema = createSelectSchema(budgets).openapi('Budget');

const LiveSchema = z
  .object({
    budgetId: z.string(),
    periodKey: z.string(),
    limitMicros: z.number().int(),
    spentMicros: z.number().int().nullable(),
    reservedMicros: z.number().int().nullable().optional(),
    allowanceMicros: z.number().int().nullable().optional(),
    grantedMicros: z.number().int().optional(),
    resetsAt: z.number().int().nullable(),
  })
  .passthrough()
  .openapi('BudgetCounters');

const ReconciliationSchema = createSelectSchema(budgetReconciliations)
  .omit({ budgetId: true })
  .openapi('BudgetReconciliation', {
    description:
      "The cron's last comparison of the enforcing counter's settled spend with D1 (docs/budgets.md#reconciliation).",
  });

const BudgetWithStateSchema = BudgetSchema.extend({
  live: orNull(LiveSchema),
  reconciliation: orNull(ReconciliationSchema),
}).openapi('BudgetWithState');

const id = z.string().min(1).max(64);
const BudgetInput = z
  .strictObject({
    scope: z.enum(['enterprise', 'department', 'group', 'member', 'key']),
    enterpriseId: id.optional(),
    departmentId: id.optional(),
    groupId: id.optional(),
    userId: id.optional(),
    keyId: id.optional(),
    period: z.enum(PERIODS),
    limitMicros: z.number().int().min(0).max(1_000_000_000_000),
    mode: z.enum(['hard', 'soft']).optional(),
    timeZone: TimeZone.optional(),
  })
  .openapi('BudgetInput');

const BudgetChanges = z
  .strictObject({
    limitMicros: z.number().int().min(0).max(1_000_000_000_000).optional(),
    mode: z.enum(['hard', 'soft']).optional(),
    timeZone: TimeZone.optional(),
  })
  .openapi('BudgetChanges');

const ListQuery = z.object({ enterpriseId: id.optional(), groupId: id.optional() });

export const budgetRoutes = newRouter()
  .openapi(
    route('signed-in', {
      method: 'post',
      path: '/budgets',
      summary:
        'Set a budget: enterprise and department (enterprise.manage), group and member (group.manage), key (group.manage, or its holder)',
      request: jsonBody(BudgetInput),
      responses: {
        409: errorResponse('Its target has a budget for this period already.'),
        201: jsonResponse(BudgetSchema, 'The budget.'),
      },
    }),
    async (c) => c.json(await createBudget(requireCaller(c), c.req.valid('json')), 201),
  )
  .openapi(
    route('signed-in', {
      method: 'get',
      path: '/budgets',
      summary: 'The budgets the caller may see, optionally of one enterprise or group',
      request: { query: ListQuery },
      responses: { 200: jsonResponse(z.object({ data: z.array(BudgetSchema) }), 'The budgets.') },
    }),
    async (c) => c.json({ data: await listBudgets(requireCaller(c), c.req.valid('query')) }, 200),
  )
  .openapi(
    route('signed-in', {
      method: 'get',
      path: '/budgets/{id}',
      summary: 'One budget with its live counters (spent, reserved, when it resets)',
      request: { params: IdParam },
      responses: { 200: jsonResponse(BudgetWithStateSchema, 'The budget.') },
    }),
    async (c) => c.json(await getBudget(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('signed-in', {
      method: 'patch',
      path: '/budgets/{id}',
      summary: 'Change a budget’s limit, mode or time zone',
      request: { params: IdParam, ...jsonBody(BudgetChanges) },
      responses: { 200: jsonResponse(BudgetSchema, 'The budget.') },
    }),
    async (c) =>
      c.json(await updateBudget(requireCaller(c), c.req.valid('param').id, c.req.valid('json')), 200),
  )
  .openapi(
    route('signed-in', {
      method: 'delete',
      path: '/budgets/{id}',
      summary: 'Remove a budget',
      request: { params: IdParam },
      responses: { 204: { description: 'Removed.' } },
    }),
    async (c) => {
      await deleteBudget(requireCaller(c), c.req.valid('param').id);
      return c.body(null, 204);
    },
  );
