// Signing in and out: email and password, an OIDC provider, sign-out here or everywhere, the
// caller's sessions and password. The session travels in the `carpool_session` cookie
// (worker/auth/session-cookie.ts); rules live in worker/domain/sessions.ts and oidc.ts.

import { createSelectSchema } from 'drizzle-zod';
import { getCookie, setCookie } from 'hono/cookie';
import { oidcConfig } from '../../auth/oidc';
import { NewPasswordSchema } from '../../auth/password';
import { clearSessionCookie, readSessionCookie, setSessionCookie } from '../../auth/session-cookie';
import { sessions, users } from '../../db/schema';
import { finishOidcSignIn, OIDC_FLOW_TTL_MS, startOidcSignIn } from '../../domain/oidc';
import {
  changePassword,
  listSessions,
  revokeSession,
  signInWithPassword,
  signOut,
  signOutEverywhere,
} from '../../domain/sessions';
import { ErrorSchema, jsonBody, jsonResponse, newRouter, rateLimitedResponse, route, z } from '../openapi';
import { requireCaller, signInContext } from '../principal';
import { selfId } from './me';

/** Holds the PKCE verifier between /auth/oidc/start and the callback, in this browser only. */
const OIDC_COOKIE = 'carpool_oidc';
const OIDC_COOKIE_PATH = '/api/v1/auth/oidc';

export const UserSchema = createSelectSchema(users).omit({ passwordHash: true }).openapi('SignedInUser');
export const SessionSchema = createSelectSchema(sessions).omit({ tokenHash: true }).openapi('Session');
const ListedSessionSchema = SessionSchema.extend({
  current: z.boolean().openapi({ description: 'The session this request came with.' }),
}).openapi('ListedSession');
export const SignedInSchema = z
  .object({ user: UserSchema, session: SessionSchema })
  .openapi('SignedIn', { description: 'The session cookie is set with this answer.' });

const LoginInput = z
  .strictObject({
    email: z.email().max(254),
    password: z.string().min(1).max(256),
  })
  .openapi('LoginInput');
const PasswordChangeInput = z
  .strictObject({
    currentPassword: z.string().min(1).max(256),
    newPassword: NewPasswordSchema,
  })
  .openapi('PasswordChangeInput');
const SessionsEnded = z.object({ sessionsEnded: z.number().int() }).openapi('SessionsEnded');
const SessionIdParam = z.object({
  sessionId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'sessionId', in: 'path' } }),
});
const OidcStartQuery = z.object({
  returnTo: z
    .string()
    .max(2048)
    .optional()
    .openapi({ description: 'Where to go once signed in: a path, or a URL on an allowed dashboard origin.' }),
});
// Providers add their own parameters (session_state, scope, authuser, …) to the redirect, which
// no one here chooses: known ones are read, others ignored, the one query that takes any.
const OidcCallbackQuery = z.looseObject({
  state: z.string().max(512).optional(),
  code: z.string().max(4096).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(1024).optional(),
  iss: z.string().max(1024).optional(),
});

const SignInMethodsSchema = z
  .object({
    password: z.boolean(),
    oidc: z.object({ issuer: z.string(), start: z.string() }).nullable().openapi({
      description: 'The configured OIDC provider, and where to send the browser to use it; null when none.',
    }),
  })
  .openapi('SignInMethods');

const redirect = (description: string) => ({
  description,
  headers: { location: { schema: { type: 'string' as const } } },
});

function callbackUrl(requestUrl: string): string {
  return `${new URL(requestUrl).origin}/api/v1/auth/oidc/callback`;
}

export const authRoutes = newRouter()
  .openapi(
    route('public', {
      method: 'get',
      path: '/auth/methods',
      summary: 'How people can sign in here (for the sign-in page)',
      responses: { 200: jsonResponse(SignInMethodsSchema, 'The sign-in methods.') },
    }),
    async (c) => {
      const oidc = oidcConfig(c.env);
      return c.json(
        { password: true, oidc: oidc ? { issuer: oidc.issuer, start: '/api/v1/auth/oidc/start' } : null },
        200,
      );
    },
  )
  .openapi(
    route('public', {
      method: 'post',
      path: '/auth/login',
      summary: 'Sign in with email and password (sets the session cookie)',
      description:
        'A wrong password and an unknown email get the same 401. Failed attempts are limited per account and per client address: 429 with retry-after.',
      request: jsonBody(LoginInput),
      responses: {
        200: jsonResponse(SignedInSchema, 'Signed in; `set-cookie: carpool_session=…`.'),
        401: jsonResponse(ErrorSchema, 'Wrong email or password.'),
        429: rateLimitedResponse('Too many failed attempts; retry-after says when to try again.'),
      },
    }),
    async (c) => {
      const issued = await signInWithPassword(signInContext(c), c.req.valid('json'));
      setSessionCookie(c, issued);
      return c.json({ user: issued.user, session: issued.session }, 200);
    },
  )
  .openapi(
    route('public', {
      method: 'post',
      path: '/auth/logout',
      summary: 'End this session and clear its cookie',
      responses: { 204: { description: 'Signed out (also when there was no session).' } },
    }),
    async (c) => {
      await signOut(signInContext(c), c.get('caller'), readSessionCookie(c));
      clearSessionCookie(c);
      return c.body(null, 204);
    },
  )
  .openapi(
    route('profile.manage', {
      method: 'post',
      path: '/auth/logout-all',
      summary: 'End every session of the caller (personal access tokens stay)',
      responses: { 200: jsonResponse(SessionsEnded, 'How many sessions ended.') },
    }),
    async (c) => {
      const ended = await signOutEverywhere(requireCaller(c), selfId(c));
      clearSessionCookie(c);
      return c.json({ sessionsEnded: ended }, 200);
    },
  )
  .openapi(
    route('profile.manage', {
      method: 'put',
      path: '/me/password',
      summary: 'Change the caller’s password (ends their other sessions)',
      request: jsonBody(PasswordChangeInput),
      responses: {
        429: rateLimitedResponse('Too many wrong current passwords; retry-after says when to try again.'),
        200: jsonResponse(SessionsEnded, 'Changed; how many other sessions ended.'),
      },
    }),
    async (c) => c.json(await changePassword(requireCaller(c), selfId(c), c.req.valid('json')), 200),
  )
  .openapi(
    route('profile.manage', {
      method: 'get',
      path: '/me/sessions',
      summary: 'The caller’s active sessions',
      responses: { 200: jsonResponse(z.object({ data: z.array(ListedSessionSchema) }), 'The sessions.') },
    }),
    async (c) => c.json({ data: await listSessions(requireCaller(c), selfId(c)) }, 200),
  )
  .openapi(
    route('profile.manage', {
      method: 'delete',
      path: '/me/sessions/{sessionId}',
      summary: 'End one of the caller’s sessions',
      request: { params: SessionIdParam },
      responses: { 200: jsonResponse(SessionSchema, 'The ended session.') },
    }),
    async (c) => {
      const caller = requireCaller(c);
      const ended = await revokeSession(caller, selfId(c), c.req.valid('param').sessionId);
      if (caller.principal.kind === 'user' && caller.principal.credentialId === ended.id)
        clearSessionCookie(c);
      return c.json(ended, 200);
    },
  )
  .openapi(
    route('public', {
      method: 'get',
      path: '/auth/oidc/start',
      summary: 'Sign in with the configured OIDC provider: redirects there',
      request: { query: OidcStartQuery },
      responses: {
        302: redirect('To the provider’s authorization endpoint.'),
        404: jsonResponse(ErrorSchema, 'No OIDC provider is configured.'),
      },
    }),
    async (c) => {
      const { location, verifier } = await startOidcSignIn(signInContext(c), {
        redirectUri: callbackUrl(c.req.url),
        returnTo: c.req.valid('query').returnTo,
      });
      setCookie(c, OIDC_COOKIE, verifier, {
        httpOnly: true,
        secure: true,
        sameSite: 'Lax',
        path: OIDC_COOKIE_PATH,
        maxAge: OIDC_FLOW_TTL_MS / 1000,
      });
      return c.redirect(location, 302);
    },
  )
  .openapi(
    route('public', {
      method: 'get',
      path: '/auth/oidc/callback',
      summary: 'Where the OIDC provider sends the browser back: signs in and redirects',
      request: { query: OidcCallbackQuery },
      responses: {
        302: redirect('Signed in (`set-cookie: carpool_session=…`); to `returnTo`, by default `/`.'),
        401: jsonResponse(ErrorSchema, 'The provider or its ID token was refused.'),
      },
    }),
    async (c) => {
      const { issued, returnTo } = await finishOidcSignIn(
        signInContext(c),
        c.req.valid('query'),
        getCookie(c, OIDC_COOKIE) ?? null,
        callbackUrl(c.req.url),
      );
      setCookie(c, OIDC_COOKIE, '', {
        httpOnly: true,
        secure: true,
        sameSite: 'Lax',
        path: OIDC_COOKIE_PATH,
        maxAge: 0,
      });
      setSessionCookie(c, issued);
      return c.redirect(returnTo, 302);
    },
  );
