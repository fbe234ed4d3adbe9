// Token usage in one shape for every provider. Cache writes are kept apart by TTL because
// Anthropic prices a 1-hour cache write higher than a 5-minute one.
import * as z from 'zod';

export const usageSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  cacheWrite5mTokens: z.number().int().nonnegative(),
  cacheWrite1hTokens: z.number().int().nonnegative(),
  cacheReadTokens: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof usageSchema>;

export function emptyUsage(): Usage {
  return {
    inputTokens: 0,
    outputTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    cacheReadTokens: 0,
  };
}
