// Queue consumer: batches of usage events become request-log rows and hourly aggregates in one
// D1 batch (one transaction). The request id makes it idempotent: an aggregate is only added to
// when its request-log row was inserted by this very batch, so a redelivered batch adds nothing.
import { db } from '../db/client';
import { requestLog } from '../db/schema';
import { costOf } from '../metering/cost';
import { priceTable } from '../metering/price-overrides';
import { type UsageEvent, usageEventSchema } from './usage-event';

const HOUR_MS = 3_600_000;

export async function consumeUsageBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const events: UsageEvent[] = [];
  for (const message of batch.messages) {
    const parsed = usageEventSchema.safeParse(message.body);
    if (parsed.success) events.push(parsed.data);
    // A malformed event will never parse on a retry either: it is dropped, loudly.
    else console.error('usage event rejected', { id: message.id, issues: parsed.error.issues.length });
  }
  if (events.length > 0) await writeUsage(env, events);
  batch.ackAll();
}

export async function writeUsage(env: Env, events: UsageEvent[]): Promise<void> {
  const table = await priceTable(env);
  const d = db(env);
  const statements = events.flatMap((event) => {
    const { costMicros, unpriced } = costOf(event.model, event.usage, table, event.at);
    const failed = event.status >= 400 || event.errorType !== null || event.outcome === 'upstream_error';
    const u = event.usage;
    const logRow = d
      .insert(requestLog)
      .values({
        requestId: event.requestId,
        createdAt: event.at,
        keyId: event.keyId,
        userId: event.userId,
        groupId: event.groupId,
        accountId: event.accountId,
        provider: event.provider,
        surface: event.surface,
        model: event.model,
        stream: event.stream,
        status: event.status,
        outcome: event.outcome,
        upstreamRequestId: event.upstreamRequestId,
        inputTokens: u.inputTokens,
        outputTokens: u.outputTokens,
        cacheWrite5mTokens: u.cacheWrite5mTokens,
        cacheWrite1hTokens: u.cacheWrite1hTokens,
        cacheReadTokens: u.cacheReadTokens,
        costMicros,
        unpriced,
        ttfbMs: event.ttfbMs,
        durationMs: event.durationMs,
        errorType: event.errorType,
      })
      .onConflictDoNothing()
      .toSQL();
    return [
      env.DB.prepare(logRow.sql).bind(...logRow.params),
      // changes() is the row count of the INSERT just above, inside the same D1 transaction.
      env.DB.prepare(AGGREGATE_SQL).bind(
        Math.floor(event.at / HOUR_MS) * HOUR_MS,
        event.keyId,
        event.userId,
        event.groupId,
        event.accountId,
        event.model,
        failed ? 1 : 0,
        u.inputTokens,
        u.outputTokens,
        u.cacheWrite5mTokens,
        u.cacheWrite1hTokens,
        u.cacheReadTokens,
        costMicros,
        unpriced ? 1 : 0,
      ),
    ];
  });
  if (statements.length > 0) await env.DB.batch(statements);
}

const AGGREGATE_SQL = `
        INSERT INTO usage_hourly (hour, key_id, user_id, group_id, account_id, model, requests, errors,
          input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens,
          cost_micros, unpriced_requests)
        SELECT ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?
        WHERE changes() = 1
        ON CONFLICT (hour, key_id, account_id, model) DO UPDATE SET
          requests = requests + excluded.requests,
          errors = errors + excluded.errors,
          input_tokens = input_tokens + excluded.input_tokens,
          output_tokens = output_tokens + excluded.output_tokens,
          cache_write_5m_tokens = cache_write_5m_tokens + excluded.cache_write_5m_tokens,
          cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens,
          cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
          cost_micros = cost_micros + excluded.cost_micros,
          unpriced_requests = unpriced_requests + excluded.unpriced_requests`;
