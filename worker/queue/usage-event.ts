// One usage event per relayed request, sent to the Queue off the critical path and turned into
// D1 rows by the consumer. The schema is the contract between the two. Every string in it is
// bounded, so an event always fits in one Queue message (128 KB): one that did not would be
// refused by `send`, and its request never metered.
import * as z from 'zod';
import { clip, MODEL_NAME_MAX } from '../limits';
import { usageSchema } from '../metering/usage';

/** Our own ids (UUIDs) and names; generous, they are never longer than 40. */
const ID_MAX = 64;
/** Strings an upstream chooses (its request id header, the type of its error event). */
const UPSTREAM_TEXT_MAX = 256;

export const usageEventSchema = z.object({
  requestId: z.string().min(1).max(ID_MAX),
  at: z.number().int(),
  keyId: z.string().max(ID_MAX),
  userId: z.string().max(ID_MAX),
  groupId: z.string().max(ID_MAX),
  accountId: z.string().max(ID_MAX),
  provider: z.string().max(ID_MAX),
  surface: z.enum(['anthropic', 'openai-chat', 'openai-responses', 'gemini']),
  model: z.string().max(MODEL_NAME_MAX),
  stream: z.boolean(),
  status: z.number().int(),
  /**
   * `refused`: the relay answered the key with an error before any upstream call (a budget, a key
   * limit or rule, no account for the model…). Such a row has no account (`accountId` and
   * `provider` are ''), no tokens and no cost, and no aggregate counts it (the triggers skip it:
   * migrations/0024_refusals_in_the_log.sql).
   */
  outcome: z.enum(['complete', 'client_abort', 'upstream_error', 'failed', 'refused']),
  upstreamRequestId: z.string().max(UPSTREAM_TEXT_MAX).nullable(),
  usage: usageSchema,
  /** Output tokens estimated from what streamed: the upstream's own count never came. */
  estimated: z.boolean().default(false),
  /**
   * The cost the relay charged the request's budgets: the consumer records this very integer, so
   * budgets and reports agree (absent in older events: the consumer prices them).
   */
  costMicros: z.number().int().nonnegative().optional(),
  unpriced: z.boolean().optional(),
  ttfbMs: z.number().int().nullable(),
  durationMs: z.number().int(),
  errorType: z.string().max(UPSTREAM_TEXT_MAX).nullable(),
  /**
   * The request's share of its subscription's plan window, in parts per million of the window
   * (the rise its answer reported: durable-objects/account-gate.ts). Absent when the answer
   * reported no window (API-key accounts).
   */
  windowPpm: z.number().int().nonnegative().optional(),
});
export type UsageEvent = z.infer<typeof usageEventSchema>;

/**
 * The event with every string cut to its bound, so none can be built over them. Only the
 * upstream's strings are ever cut in practice: ids are UUIDs, and a model name over its bound is
 * refused with a 400 at the surface. Nothing here throws: settling must not fail half-way.
 */
export function usageEvent(fields: UsageEvent): UsageEvent {
  const nullable = (text: string | null, max: number) => (text === null ? null : clip(text, max));
  return {
    ...fields,
    requestId: clip(fields.requestId, ID_MAX),
    keyId: clip(fields.keyId, ID_MAX),
    userId: clip(fields.userId, ID_MAX),
    groupId: clip(fields.groupId, ID_MAX),
    accountId: clip(fields.accountId, ID_MAX),
    provider: clip(fields.provider, ID_MAX),
    model: clip(fields.model, MODEL_NAME_MAX),
    upstreamRequestId: nullable(fields.upstreamRequestId, UPSTREAM_TEXT_MAX),
    errorType: nullable(fields.errorType, UPSTREAM_TEXT_MAX),
  };
}
