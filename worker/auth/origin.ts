// Which web origins may use the session cookie. A cookie-authenticated write (POST, PUT, PATCH,
// DELETE) must carry an `Origin` header naming the API's own origin or one of ALLOWED_ORIGINS (the
// dashboard's, when it is deployed apart): SameSite=Lax keeps the cookie off cross-site writes in
// today's browsers, and this check refuses them whatever the browser. Requests with a bearer token
// carry no ambient credential and are not checked. CORS, with credentials, is granted to
// ALLOWED_ORIGINS only.
import type { Context, MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { ApiError } from '../api/errors';
import type { AppEnv } from '../context';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const parsed = new Map<string, ReadonlySet<string>>();

/** ALLOWED_ORIGINS as a set of origins (`scheme://host[:port]`); entries that are no URL are ignored. */
export function allowedOrigins(env: Env): ReadonlySet<string> {
  const raw = env.ALLOWED_ORIGINS ?? '';
  let set = parsed.get(raw);
  if (!set) {
    const origins = raw
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean)
      .flatMap((entry) => {
        try {
          return [new URL(entry).origin];
        } catch {
          return [];
        }
      });
    set = new Set(origins);
    parsed.set(raw, set);
  }
  return set;
}

/** The request's own origin, or a configured dashboard origin. */
export function isTrustedOrigin(c: Context<AppEnv>, origin: string): boolean {
  return origin === new URL(c.req.url).origin || allowedOrigins(c.env).has(origin);
}

export function isUnsafeMethod(method: string): boolean {
  return UNSAFE_METHODS.has(method.toUpperCase());
}

/**
 * The Origin rule for writes. With a session cookie an Origin is required and must be trusted;
 * without credentials (sign-in, setup) an Origin that is present must be trusted, so no other site
 * can sign a browser into an account of its choosing, while curl, which sends none, still works.
 */
export function checkOrigin(c: Context<AppEnv>, credential: 'session' | 'bearer' | 'none'): void {
  if (credential === 'bearer' || !isUnsafeMethod(c.req.method)) return;
  const origin = c.req.header('origin');
  if (origin === undefined && credential === 'none') return;
  if (origin !== undefined && isTrustedOrigin(c, origin)) return;
  throw new ApiError(
    'forbidden',
    origin === undefined
      ? 'A write with the session cookie must carry an Origin header (cross-site request forgery protection).'
      : `Origin ${origin.slice(0, 200)} may not make this request (cross-site request forgery protection); ` +
          'the API accepts its own origin and those in ALLOWED_ORIGINS.',
  );
}

/**
 * CORS for /api/v1, credentials allowed, to ALLOWED_ORIGINS only. Another origin gets no CORS
 * header at all (its preflight finds no route), so a browser keeps the answer from it.
 */
export function apiCors(): MiddlewareHandler<AppEnv> {
  const grant = cors({
    origin: (origin) => origin,
    credentials: true,
    allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowHeaders: ['content-type', 'authorization'],
    exposeHeaders: ['retry-after', 'x-carpool-request-id'],
    maxAge: 600,
  });
  return async function apiCors(c, next) {
    const origin = c.req.header('origin');
    if (origin !== undefined && allowedOrigins(c.env).has(origin)) return grant(c, next);
    await next();
  };
}
