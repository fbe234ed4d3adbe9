// Operator authentication for /admin/v1: the ADMIN_TOKEN secret as a bearer token, compared in
// constant time so its length and content cannot be probed by timing.
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../api/errors';
import type { AppEnv } from '../context';

export function operatorAuth(): MiddlewareHandler<AppEnv> {
  return async function operatorAuth(c, next) {
    const expected = c.env.ADMIN_TOKEN;
    const given = (c.req.header('authorization') ?? '').replace(/^Bearer\s+/i, '');
    if (!expected || !given || !(await sameSecret(given, expected))) {
      throw new ApiError(
        'unauthorized',
        'A valid operator token is required (Authorization: Bearer <ADMIN_TOKEN>).',
      );
    }
    await next();
  };
}

async function sameSecret(a: string, b: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [ha, hb] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(a)),
    crypto.subtle.digest('SHA-256', encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(ha, hb);
}
