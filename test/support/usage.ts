// Usage events as the relay sends them, for tests that put usage in D1 without relaying a request.
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
