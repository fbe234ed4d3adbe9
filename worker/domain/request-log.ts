// The request log: one row per relayed request, and per request of a known key refused before any
// upstream call (outcome `refused`: no account, no tokens, no cost), kept REQUEST_LOG_RETENTION_DAYS days (the
// aggregates stay). Listed newest first with a cursor, filtered by key, member, group, account,
// model, status, outcome and time, and scoped like usage (worker/domain/usage.ts): one's own
// requests, every request of the groups one manages, all of them for a system admin. Also the
// trim the cron runs, and the CSV exports of the log and of the aggregates.
import { and, asc, desc, eq, gte, lt, lte, or, type SQL, sql } from 'drizzle-orm';
import { ApiError } from '../api/errors';
import { type Db, db } from '../db/client';
import { requestLog } from '../db/schema';
import { coverage, DAY_MS, hourRange } from '../usage/coverage';
import { type Cell, dollars } from '../usage/csv';
import type { Caller } from './caller';
import { decodeCursor, encodeCursor } from './cursor';
import { AGGREGATES, filtersOn, NAME_ONE, namesScope, type UsageQuery, usageScope } from './usage';

/** `refused`: answered with an error before any upstream call (worker/relay/refusals.ts). */
export const OUTCOMES = ['complete', 'client_abort', 'upstream_error', 'failed', 'refused'] as const;

export interface RequestLogQuery extends UsageQuery {
  status?: number;
  outcome?: (typeof OUTCOMES)[number];
  cursor?: string;
  /** Rows per page; default 100, at most 1000. */
  limit?: number;
}

export const PAGE_MAX = 1000;

interface Cursor {
  createdAt: number;
  requestId: string;
}

/** The filters as SQL, after checking them against the caller's scope (404 outside it). */
export async function requestLogWhere(caller: Caller, q: RequestLogQuery): Promise<SQL | undefined> {
  const scope = await usageScope(caller, q);
  return and(
    ...filtersOn(requestLog, q),
    q.status !== undefined ? eq(requestLog.status, q.status) : undefined,
    q.outcome ? eq(requestLog.outcome, q.outcome) : undefined,
    q.from !== undefined ? gte(requestLog.createdAt, q.from) : undefined,
    q.to !== undefined ? lt(requestLog.createdAt, q.to) : undefined,
    scope.rows(requestLog),
    scope.memberRows(requestLog),
  );
}

/** One page of the log, newest first, after the cursor (one more row than asked: is there more?). */
export function pageQuery(d: Db, where: SQL | undefined, cursor: Cursor | null, limit: number) {
  const after = cursor
    ? and(
        // The first bound is what an index on (…, created_at) can seek to.
        lte(requestLog.createdAt, cursor.createdAt),
        or(lt(requestLog.createdAt, cursor.createdAt), lt(requestLog.requestId, cursor.requestId)),
      )
    : undefined;
  return d
    .select()
    .from(requestLog)
    .where(and(where, after))
    .orderBy(desc(requestLog.createdAt), desc(requestLog.requestId))
    .limit(limit + 1);
}

/** Checks the filters against the caller's scope once; then pages of the log, newest first. */
async function pager(caller: Caller, q: RequestLogQuery) {
  const where = await requestLogWhere(caller, q);
  return async (cursor: Cursor | null, limit: number) => {
    const rows = await pageQuery(caller.db, where, cursor, limit);
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const last = page.at(-1);
    return { data: page, nextCursor: more && last ? encodeCursor(last.createdAt, last.requestId) : null };
  };
}

export async function listRequests(caller: Caller, q: RequestLogQuery) {
  const limit = Math.min(q.limit ?? 100, PAGE_MAX);
  const page = await pager(caller, q);
  const cursor = q.cursor ? decodeCursor(q.cursor, 'string') : null;
  return page(cursor ? { createdAt: cursor.at, requestId: cursor.id } : null, limit);
}

export const REQUEST_CSV_HEADER = [
  'request_id',
  'created_at',
  'created_at_ms',
  'group_id',
  'user_id',
  'key_id',
  'account_id',
  'provider',
  'surface',
  'model',
  'stream',
  'status',
  'outcome',
  'input_tokens',
  'output_tokens',
  'cache_write_5m_tokens',
  'cache_write_1h_tokens',
  'cache_read_tokens',
  'cost_micros',
  'cost_dollars',
  'unpriced',
  'estimated',
  'ttfb_ms',
  'duration_ms',
  'error_type',
  'upstream_request_id',
] as const;

function requestCells(r: typeof requestLog.$inferSelect): Cell[] {
  return [
    r.requestId,
    new Date(r.createdAt).toISOString(),
    r.createdAt,
    r.groupId,
    r.userId,
    r.keyId,
    r.accountId,
    r.provider,
    r.surface,
    r.model,
    r.stream,
    r.status,
    r.outcome,
    r.inputTokens,
    r.outputTokens,
    r.cacheWrite5mTokens,
    r.cacheWrite1hTokens,
    r.cacheReadTokens,
    r.costMicros,
    dollars(r.costMicros),
    r.unpriced,
    r.estimated,
    r.ttfbMs,
    r.durationMs,
    r.errorType,
    r.upstreamRequestId,
  ];
}

/** The whole filtered log as CSV rows, page by page (the scope is checked before the first). */
export async function requestRows(caller: Caller, q: RequestLogQuery): Promise<AsyncIterable<Cell[][]>> {
  const page = await pager(caller, q);
  return (async function* () {
    let cursor: Cursor | null = null;
    do {
      const { data, nextCursor } = await page(cursor, PAGE_MAX);
      if (data.length > 0) yield data.map(requestCells);
      cursor = nextCursor ? { createdAt: data.at(-1)!.createdAt, requestId: data.at(-1)!.requestId } : null;
    } while (cursor);
  })();
}

export const USAGE_CSV_HEADER = [
  'period_start',
  'period',
  'group_id',
  'user_id',
  'key_id',
  'account_id',
  'model',
  'requests',
  'errors',
  'input_tokens',
  'output_tokens',
  'cache_write_5m_tokens',
  'cache_write_1h_tokens',
  'cache_read_tokens',
  'cost_micros',
  'cost_dollars',
  'unpriced_requests',
] as const;

/**
 * The aggregate rows of a usage query as CSV rows, from the coarsest aggregates that fit the
 * range (the `period` column says which: month, day or hour; all UTC), in time order.
 */
export async function usageRows(caller: Caller, q: UsageQuery): Promise<AsyncIterable<Cell[][]>> {
  if (!namesScope(q)) throw new ApiError('invalid_request', NAME_ONE);
  const to = q.to ?? Date.now();
  const from = q.from ?? to - 30 * DAY_MS;
  if (from > to) throw new ApiError('invalid_request', '`from` is after `to`.');
  const scope = await usageScope(caller, q);
  const range = hourRange(from, to);
  const d = caller.db;
  return (async function* () {
    for (const segment of coverage(range.from, range.to)) {
      const { table, bucket } = AGGREGATES[segment.grain];
      const where = and(
        ...filtersOn(table, q),
        gte(bucket, segment.from),
        lt(bucket, segment.to),
        scope.rows(table),
        scope.memberRows(table),
      );
      for (let offset = 0; ; offset += PAGE_MAX) {
        const rows = await d
          .select({ start: sql<number>`${bucket}`, row: table })
          .from(table)
          .where(where)
          .orderBy(asc(bucket), asc(table.groupId), asc(table.userId), asc(table.keyId), asc(table.model))
          .limit(PAGE_MAX)
          .offset(offset);
        if (rows.length > 0)
          yield rows.map(({ start, row: r }): Cell[] => [
            new Date(start).toISOString(),
            segment.grain,
            r.groupId,
            r.userId,
            r.keyId,
            r.accountId,
            r.model,
            r.requests,
            r.errors,
            r.inputTokens,
            r.outputTokens,
            r.cacheWrite5mTokens,
            r.cacheWrite1hTokens,
            r.cacheReadTokens,
            r.costMicros,
            dollars(r.costMicros),
            r.unpricedRequests,
          ]);
        if (rows.length < PAGE_MAX) break;
      }
    }
  })();
}

/** Rows trimmed per statement: well inside D1's limits on one statement's work. */
const TRIM_BATCH = 1000;
/** Statements per cron run; what is left goes at the next run. */
const TRIM_BATCHES_PER_RUN = 50;

/**
 * Deletes request-log rows older than REQUEST_LOG_RETENTION_DAYS, oldest first, in bounded
 * batches. The aggregates are untouched (their triggers fire on INSERT only).
 */
export async function trimRequestLog(env: Env, now = Date.now()): Promise<{ deleted: number }> {
  const days = Number(env.REQUEST_LOG_RETENTION_DAYS ?? '30');
  if (!Number.isFinite(days) || days <= 0) return { deleted: 0 };
  const cutoff = now - days * DAY_MS;
  const d = db(env);
  let deleted = 0;
  for (let i = 0; i < TRIM_BATCHES_PER_RUN; i++) {
    const oldest = d
      .select({ id: requestLog.requestId })
      .from(requestLog)
      .where(lt(requestLog.createdAt, cutoff))
      .orderBy(asc(requestLog.createdAt))
      .limit(TRIM_BATCH);
    const result = await d.delete(requestLog).where(sql`${requestLog.requestId} IN ${oldest}`);
    const changes = result.meta.changes ?? 0;
    deleted += changes;
    if (changes < TRIM_BATCH) break;
  }
  return { deleted };
}
