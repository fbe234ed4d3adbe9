// Test helpers for signing in as a browser does: the session cookie read from `set-cookie` and
// sent back in `cookie`, an Origin header on writes, a client address per test.
import { env } from 'cloudflare:test';
import { db } from '../../worker/db/client';
import { createPasswordUser } from '../../worker/domain/sessions';
import { inIsolate, RELAY } from './relay';

export const OWN_ORIGIN = RELAY;
export const DASHBOARD_ORIGIN = 'https://dash.test';

export interface Answer<T> {
  status: number;
  json: T;
  headers: Headers;
  res: Response;
}

/** A fresh client address, so that tests do not share an address's sign-in limit. */
export function newAddress(): string {
  const b = crypto.getRandomValues(new Uint8Array(3));
  return `10.${b[0]}.${b[1]}.${b[2]}`;
}

/** The value of cookie `name` among a response's `set-cookie` headers, with its attributes. */
export function setCookie(res: Response, name: string): { value: string; attributes: string[] } | null {
  for (const header of res.headers.getSetCookie()) {
    const [pair = '', ...attributes] = header.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    if (pair.slice(0, eq) === name) return { value: pair.slice(eq + 1), attributes };
  }
  return null;
}

export function sessionCookieOf(res: Response): string {
  const cookie = setCookie(res, 'carpool_session');
  if (!cookie?.value) throw new Error(`no session cookie in ${res.status}`);
  return cookie.value;
}

/** A call to /api/v1 as a browser: the session cookie (when given) and, by default, our own Origin on writes. */
export async function browser<T = Record<string, unknown>>(
  session: string | null,
  method: string,
  path: string,
  options: { body?: unknown; origin?: string | null; ip?: string; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const origin = options.origin === undefined ? (method === 'GET' ? null : OWN_ORIGIN) : options.origin;
  const res = await inIsolate(`${RELAY}/api/v1${path}`, {
    method,
    redirect: 'manual',
    headers: {
      ...(session ? { cookie: `carpool_session=${session}` } : {}),
      ...(origin ? { origin } : {}),
      ...(options.ip ? { 'cf-connecting-ip': options.ip } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : null) as T, headers: res.headers, res };
}

export function login(
  email: string,
  password: string,
  options: { ip?: string; origin?: string | null } = {},
) {
  return browser<{ user: { id: string }; session: { id: string } }>(null, 'POST', '/auth/login', {
    body: { email, password },
    ip: options.ip ?? newAddress(),
    origin: options.origin,
  });
}

/** A user who signs in with a password (made through the domain function invites will use). */
export async function passwordUser(
  name = 'Person',
  password = 'correct horse battery',
): Promise<{ id: string; email: string; password: string }> {
  const email = `${crypto.randomUUID().slice(0, 12)}@example.com`;
  const user = await createPasswordUser(db(env), { email, name, password });
  return { id: user.id, email, password };
}

/** A user signed in with a password: their session cookie. */
export async function signedIn(name = 'Person') {
  const user = await passwordUser(name);
  const res = await login(user.email, user.password);
  if (res.status !== 200) throw new Error(`login: ${res.status} ${JSON.stringify(res.json)}`);
  return { ...user, session: sessionCookieOf(res.res) };
}
