// The session cookie: `carpool_session`, HttpOnly (no script reads it), Secure (browsers accept
// Secure cookies on http://localhost too), SameSite=Lax (not sent on cross-site writes), Path=/,
// living as long as the session may. Its value is the session token; D1 keeps only its hash.
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppEnv } from '../context';

export const SESSION_COOKIE = 'carpool_session';

export function readSessionCookie(c: Context<AppEnv>): string | null {
  return getCookie(c, SESSION_COOKIE) ?? null;
}

export function setSessionCookie(
  c: Context<AppEnv>,
  issued: { token: string; session: { expiresAt: number } },
) {
  setCookie(c, SESSION_COOKIE, issued.token, {
    httpOnly: true,
    secure: true,
    sameSite: 'Lax',
    path: '/',
    maxAge: Math.max(0, Math.ceil((issued.session.expiresAt - Date.now()) / 1000)),
  });
}

export function clearSessionCookie(c: Context<AppEnv>) {
  deleteCookie(c, SESSION_COOKIE, { httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
}
