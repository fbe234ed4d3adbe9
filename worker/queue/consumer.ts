// Queue consumer: a batch of usage events becomes request-log rows and hourly aggregates in one
// D1 statement. The request id makes it idempotent: a redelivered event adds nothing.
import { costOf } from '../metering/cost';
import { priceTable } from '../metering/price-overrides';
import { metrics } from '../metrics';
import { type UsageEvent, usageEventSchema } from './usage-event';

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

/**
 * Writes a batch of events as ONE statement: the rows are one JSON parameter, inserted with
 * `ON CONFLICT DO NOTHING` (the request id is the key), and the hourly totals are kept by a
 * trigger that fires only for rows actually inserted (migrations/0002_usage_in_one_statement.sql);
 * members' shares of a subscription's window likewise (window_share_hourly).
 * A redelivered batch therefore adds nothing, and one D1 round trip serves a hundred requests.
 */
export async function writeUsage(env: Env, events: UsageEvent[]): Promise<void> {
  if (events.length === 0) return;
  const table = await priceTable(env);
  const rows = events.map((event) => {
    const { costMicros, unpriced } =
      event.costMicros !== undefined
        ? { costMicros: event.costMicros, unpriced: event.unpriced ?? false }
        : costOf(event.model, event.usage, table, event.at);
    const u = event.usage;
    return [
      event.requestId,
      event.at,
      event.keyId,
      event.userId,
      event.groupId,
      event.accountId,
      event.provider,
      event.surface,
      event.model,
      event.stream ? 1 : 0,
      event.status,
      event.outcome,
      event.upstreamRequestId,
      u.inputTokens,
      u.outputTokens,
      u.cacheWrite5mTokens,
      u.cacheWrite1hTokens,
      u.cacheReadTokens,
      costMicros,
      unpriced ? 1 : 0,
      event.estimated ? 1 : 0,
      event.ttfbMs,
      event.durationMs,
      event.errorType,
      event.windowPpm ?? null,
    ];
  });
  metrics.d1Statements++;
  await env.DB.prepare(INSERT_SQL).bind(JSON.stringify(rows)).run();
}

const COLUMNS = [
  'request_id',
  'created_at',
  'key_id',
  'user_id',
  'group_id',
  'account_id',
  'provider',
  'surface',
  'model',
  'stream',
  'status',
  'outcome',
  'upstream_request_id',
  'input_tokens',
  'output_tokens',
  'cache_write_5m_tokens',
  'cache_write_1h_tokens',
  'cache_read_tokens',
  'cost_micros',
  'unpriced',
  'estimated',
  'ttfb_ms',
  'duration_ms',
  'error_type',
  'window_ppm',
];

// Each row is a JSON array in COLUMNS order. `WHERE true` lets SQLite parse the upsert clause
// after a SELECT.
const INSERT_SQL = `INSERT INTO request_log (${COLUMNS.join(', ')})
  SELECT ${COLUMNS.map((_, i) => `value ->> ${i}`).join(', ')} FROM json_each(?) WHERE true
  ON CONFLICT (request_id) DO NOTHING`;
