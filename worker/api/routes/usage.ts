// /usage: token and cost read-outs, scoped by the caller (worker/domain/usage.ts).
import { readUsage } from '../../domain/usage';
import { jsonResponse, newRouter, route, z } from '../openapi';
import { requireCaller } from '../principal';

const id = z.string().min(1).max(64).optional();
const UsageQuery = z.object({
  keyId: id,
  groupId: id,
  userId: id,
  accountId: id,
  from: z.coerce
    .number()
    .int()
    .optional()
    .openapi({ description: 'ms since the epoch; default: 30 days before `to`' }),
  to: z.coerce.number().int().optional().openapi({ description: 'ms since the epoch; default now' }),
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
    byMember: z.array(Sums.extend({ userId: z.string() })),
    byHour: z.array(Sums.extend({ hour: z.number().int() })),
  })
  .openapi('Usage');

export const usageRoutes = newRouter().openapi(
  route('signed-in', {
    method: 'get',
    path: '/usage',
    summary: "Usage by key, group, user or account: one's own, one's groups' totals, all of what one manages",
    request: { query: UsageQuery },
    responses: { 200: jsonResponse(UsageSchema, 'Totals and breakdowns; integers (tokens, micro-dollars).') },
  }),
  async (c) => c.json(await readUsage(requireCaller(c), c.req.valid('query')), 200),
);
