// zod validation for admin routes, wired once: a failure becomes an ApiError with the issues.
import { zValidator } from '@hono/zod-validator';
import type { ValidationTargets } from 'hono';
import * as z from 'zod';
import { ApiError } from '../api/errors';

export function validate<Target extends keyof ValidationTargets, Schema extends z.ZodType>(
  target: Target,
  schema: Schema,
) {
  return zValidator(target, schema, (result) => {
    if (!result.success) {
      const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      throw new ApiError(
        'invalid_request',
        `Invalid ${target}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
        issues,
      );
    }
  });
}

/**
 * A field that has a column but no behaviour yet: it may be left out (or sent as `value`, its
 * default); anything else is refused, because a setting accepted and ignored is a silent lie.
 */
export function notSupportedYet<const T extends string | null = null>(why: string, value: T = null as T) {
  const shown = value === null ? 'null' : `"${value}"`;
  return z.literal(value, { error: `not supported yet (${why}); leave it out or send ${shown}` }).optional();
}
