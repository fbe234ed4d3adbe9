// Who is calling the API. In order: the operator token (`Authorization: Bearer <ADMIN_TOKEN>`, a
// system admin without a user: the automation path), then the other credentials registered in
// `resolvers` (personal access tokens, session cookies). Anonymous callers get a null caller;
// routes that need one use `requireCaller`. Writes made with the session cookie, and anonymous
// writes from a browser, must come from a trusted Origin (worker/auth/origin.ts).
import type { Context, MiddlewareHandler } from 'hono';
import { checkOrigin } from '../auth/origin';
import { sameSecret } from '../auth/secrets';
import { readSessionCookie } from '../auth/session-cookie';
import type { AppEnv } from '../context';
import { db } from '../db/client';
import type { Caller, Principal } from '../domain/caller';
import { principalOfSession, type SignInContext } from '../domain/sessions';
import { principalOfToken, TOKEN_PREFIX } from '../domain/tokens';
import { ApiError } from './errors';

/** A way to recognise a principal from a request; null when the request does not carry it. */
export type PrincipalResolver = (c: Context<AppEnv>) => Promise<Principal | null>;

export function bearer(c: Context<AppEnv>): string | null {
  const header = c.req.header('authorization');
  if (!header) return null;
  const match = /^Bearer\s+(.+)$/i.exec(header);
  return match ? match[1]!.trim() : null;
}

const operator: PrincipalResolver = async (c) => {
  const given = bearer(c);
  const expected = c.env.ADMIN_TOKEN;
  if (!given || !expected) return null;
  return (await sameSecret(given, expected)) ? { kind: 'operator' } : null;
};

const personalToken: PrincipalResolver = async (c) => {
  const given = bearer(c);
  return given?.startsWith(TOKEN_PREFIX) ? principalOfToken({ db: db(c.env) }, given) : null;
};

/** The session cookie, when the request names no other credential (an Authorization header). */
const sessionCookie: PrincipalResolver = async (c) => {
  if (c.req.header('authorization') !== undefined) return null;
  const token = readSessionCookie(c);
  return token ? principalOfSession({ db: db(c.env), env: c.env }, token) : null;
};

/** Tried in order; the first that recognises the request wins. */
export const resolvers: PrincipalResolver[] = [operator, personalToken, sessionCookie];

export function clientAddress(c: Context<AppEnv>): string | null {
  return c.req.header('cf-connecting-ip') ?? null;
}

/** What a sign-in records of the request: where from, and with which browser. */
export function signInContext(c: Context<AppEnv>): SignInContext {
  return { db: db(c.env), env: c.env, ip: clientAddress(c), userAgent: c.req.header('user-agent') ?? null };
}

export function principalMiddleware(): MiddlewareHandler<AppEnv> {
  return async function principal(c, next) {
    let found: Principal | null = null;
    for (const resolve of resolvers) {
      found = await resolve(c);
      if (found) break;
    }
    checkOrigin(
      c,
      found === null ? 'none' : found.kind === 'user' && found.via === 'session' ? 'session' : 'bearer',
    );
    c.set('caller', found ? { principal: found, db: db(c.env), env: c.env, ip: clientAddress(c) } : null);
    await next();
  };
}

export function requireCaller(c: Context<AppEnv>): Caller {
  const caller = c.get('caller');
  if (caller) return caller;
  // A bearer credential that no resolver recognised is wrong, not missing.
  throw new ApiError(
    'unauthorized',
    bearer(c)
      ? 'This token is not valid (expired, revoked or unknown).'
      : readSessionCookie(c)
        ? 'Your session has ended (expired, signed out or revoked): sign in again.'
        : 'Sign in, or send a token: Authorization: Bearer <token>.',
  );
}
