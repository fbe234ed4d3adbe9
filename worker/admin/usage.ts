// Usage read-outs from the hourly aggregates: totals, and breakdowns by model, member and hour.
import { and, eq, gte, lt, type SQL, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import * as z from 'zod';
import { ApiError } from '../api/errors';
import type { AppEnv } from '../context';
import { db } from '../db/client';
import { usageHourly } from '../db/schema';
import { validate } from './validate';

const DAY_MS = 86_400_000;

const usageQuerySchema = z.object({
  keyId: z.string().optional(),
  groupId: z.string().optional(),
  userId: z.string().optional(),
  accountId: z.string().optional(),
  from: z.coerce.number().int().optional(),
  to: z.coerce.number().int().optional(),
});

const sums = {
  requests: sql<number>`coalesce(sum(${usageHourly.requests}), 0)`,
  errors: sql<number>`coalesce(sum(${usageHourly.errors}), 0)`,
  inputTokens: sql<number>`coalesce(sum(${usageHourly.inputTokens}), 0)`,
  outputTokens: sql<number>`coalesce(sum(${usageHourly.outputTokens}), 0)`,
  cacheWrite5mTokens: sql<number>`coalesce(sum(${usageHourly.cacheWrite5mTokens}), 0)`,
  cacheWrite1hTokens: sql<number>`coalesce(sum(${usageHourly.cacheWrite1hTokens}), 0)`,
  cacheReadTokens: sql<number>`coalesce(sum(${usageHourly.cacheReadTokens}), 0)`,
  costMicros: sql<number>`coalesce(sum(${usageHourly.costMicros}), 0)`,
  unpricedRequests: sql<number>`coalesce(sum(${usageHourly.unpricedRequests}), 0)`,
};

export const usageRoutes = new Hono<AppEnv>();

usageRoutes.get('/', validate('query', usageQuerySchema), async (c) => {
  const q = c.req.valid('query');
  if (!q.keyId && !q.groupId && !q.userId && !q.accountId) {
    throw new ApiError('invalid_request', 'Name one of keyId, groupId, userId or accountId.');
  }
  const to = q.to ?? Date.now();
  const from = q.from ?? to - 30 * DAY_MS;
  const filters: SQL[] = [gte(usageHourly.hour, from - (from % 3_600_000)), lt(usageHourly.hour, to)];
  if (q.keyId) filters.push(eq(usageHourly.keyId, q.keyId));
  if (q.groupId) filters.push(eq(usageHourly.groupId, q.groupId));
  if (q.userId) filters.push(eq(usageHourly.userId, q.userId));
  if (q.accountId) filters.push(eq(usageHourly.accountId, q.accountId));
  const where = and(...filters);
  const d = db(c.env);
  const [totals, byModel, byMember, byHour] = await d.batch([
    d.select(sums).from(usageHourly).where(where),
    d
      .select({ model: usageHourly.model, ...sums })
      .from(usageHourly)
      .where(where)
      .groupBy(usageHourly.model),
    d
      .select({ userId: usageHourly.userId, ...sums })
      .from(usageHourly)
      .where(where)
      .groupBy(usageHourly.userId),
    d
      .select({ hour: usageHourly.hour, ...sums })
      .from(usageHourly)
      .where(where)
      .groupBy(usageHourly.hour)
      .orderBy(usageHourly.hour),
  ]);
  return c.json({ from, to, totals: totals[0], byModel, byMember, byHour });
});
