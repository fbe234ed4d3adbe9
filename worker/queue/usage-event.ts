// One usage event per relayed request, sent to the Queue off the critical path and turned into
// D1 rows by the consumer. The schema is the contract between the two.
import * as z from 'zod';
import { usageSchema } from '../metering/usage';

// Every string is bounded (ids are UUIDs, the model name is capped at the surface), so an event is
// at most about 1.5 KB: far below the Queue's 128 KB message limit, by construction.
export const usageEventSchema = z.object({
  requestId: z.string().min(1).max(64),
  at: z.number().int(),
  keyId: z.string().max(64),
  userId: z.string().max(64),
  groupId: z.string().max(64),
  accountId: z.string().max(64),
  provider: z.string().max(32),
  surface: z.enum(['anthropic', 'openai-chat', 'openai-responses', 'gemini']),
  model: z.string().max(256),
  stream: z.boolean(),
  status: z.number().int(),
  outcome: z.enum(['complete', 'client_abort', 'upstream_error', 'failed']),
  upstreamRequestId: z.string().max(128).nullable(),
  usage: usageSchema,
  /** Output tokens estimated from what streamed: the upstream's own count never came. */
  estimated: z.boolean().default(false),
  ttfbMs: z.number().int().nullable(),
  durationMs: z.number().int(),
  errorType: z.string().max(64).nullable(),
});
export type UsageEvent = z.infer<typeof usageEventSchema>;
