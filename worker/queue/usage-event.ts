// One usage event per relayed request, sent to the Queue off the critical path and turned into
// D1 rows by the consumer. The schema is the contract between the two.
import * as z from 'zod';
import { usageSchema } from '../metering/usage';

export const usageEventSchema = z.object({
  requestId: z.string().min(1),
  at: z.number().int(),
  keyId: z.string(),
  userId: z.string(),
  groupId: z.string(),
  accountId: z.string(),
  provider: z.string(),
  surface: z.enum(['anthropic', 'openai-chat', 'openai-responses', 'gemini']),
  model: z.string(),
  stream: z.boolean(),
  status: z.number().int(),
  outcome: z.enum(['complete', 'client_abort', 'upstream_error', 'failed']),
  upstreamRequestId: z.string().nullable(),
  usage: usageSchema,
  ttfbMs: z.number().int().nullable(),
  durationMs: z.number().int(),
  errorType: z.string().nullable(),
});
export type UsageEvent = z.infer<typeof usageEventSchema>;
