// Usage events as the relay sends them, for tests that put usage in D1 without relaying a request,
// delivered through the real queue consumer; and moving a group's usage into a past month.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { expect } from 'vitest';
import worker from '../../worker/index';
import type { Usage } from '../../worker/metering/usage';
import type { UsageEvent } from '../../worker/queue/usage-event';

/** Whose usage it is. */
export interface UsageIds {
  keyId: string;
  userId: string;
  groupId: string;
  accountId: string;
}

/**
 * A complete, non-streamed Anthropic answer of one input and one output token; `fields` replace
 * any of it (`usage` field by field).
 */
export function usageEventFor(
  ids: UsageIds,
  at: number,
  fields: Partial<Omit<UsageEvent, 'usage'>> & { usage?: Partial<Usage> } = {},
): UsageEvent {
  const { usage, ...rest } = fields;
  return {
    requestId: crypto.randomUUID(),
    at,
    ...ids,
    provider: 'anthropic',
    surface: 'anthropic',
    model: 'claude-sonnet-4-5',
    stream: false,
    status: 200,
    outcome: 'complete',
    upstreamRequestId: null,
    usage: {
      inputTokens: 1,
      outputTokens: 1,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      cacheReadTokens: 0,
      ...usage,
    },
    estimated: false,
    unpriced: false,
    ttfbMs: 5,
    durationMs: 20,
    errorType: null,
    ...rest,
  };
}

/** Usage events through the real queue consumer, as the relay's late ones arrive; none retried. */
export async function deliverUsage(events: UsageEvent[]): Promise<void> {
  const batch = createMessageBatch<UsageEvent>(
    'aicarpool-usage',
    events.map((body, i) => ({ id: `usage${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch<unknown>, env);
  expect((await getQueueResult(batch, ctx)).retryMessages).toEqual([]);
}

/**
 * Moves a group back in time in D1: created (with everyone in it) at `at`; with `usageAt`, its
 * usage so far (hourly aggregates and window shares alike) shifted so that it starts in the hour
 * of `usageAt`. The relay records usage only "now", and only a month that is over can be closed.
 */
export async function backdate(groupId: string, at: number, usageAt?: number): Promise<void> {
  const statements = [
    env.DB.prepare('UPDATE groups SET created_at = ? WHERE id = ?').bind(at, groupId),
    env.DB.prepare('UPDATE group_members SET created_at = ? WHERE group_id = ?').bind(at, groupId),
    env.DB.prepare('UPDATE membership_periods SET joined_at = ? WHERE group_id = ?').bind(at, groupId),
  ];
  if (usageAt !== undefined) {
    const first = await env.DB.prepare('SELECT min(hour) AS h FROM usage_hourly WHERE group_id = ?')
      .bind(groupId)
      .first<{ h: number | null }>();
    if (first?.h == null) throw new Error(`group ${groupId} has no usage to move`);
    const shift = first.h - usageAt;
    statements.push(
      env.DB.prepare('UPDATE usage_hourly SET hour = hour - ? WHERE group_id = ?').bind(shift, groupId),
      env.DB.prepare('UPDATE window_share_hourly SET hour = hour - ? WHERE group_id = ?').bind(
        shift,
        groupId,
      ),
    );
  }
  await env.DB.batch(statements);
}
