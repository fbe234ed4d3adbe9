// Who can sign in, and how: email and password, sessions in an HttpOnly cookie stored hashed,
// their expiry and revocation, the sign-in rate limits, the Origin check on cookie writes, CORS for
// the dashboard's origins, and password changes.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../worker/auth/api-key';
import { base64url } from '../worker/auth/encoding';
import { ACCOUNT_FAILURES, ADDRESS_FAILURES, LOGIN_WINDOW_MS } from '../worker/auth/login-limits';
import {
  browser,
  DASHBOARD_ORIGIN,
  login,
  newAddress,
  passwordUser,
  sessionCookieOf,
  setCookie,
  signedIn,
} from './support/auth';
import { ADMIN_TOKEN, admin, api, newUser, RELAY } from './support/relay';

interface Me {
  userId: string;
  via: string;
}
interface ErrorBody {
  error: { code: string; message: string; requestId: string };
}

/** An error body without its request id, to compare two answers. */
function stable(json: unknown): unknown {
  const { error } = json as ErrorBody;
  return { ...error, requestId: undefined };
}

async function row<T>(query: string, ...binds: unknown[]): Promise<T | null> {
  return env.DB.prepare(query)
    .bind(...binds)
    .first<T>();
}

describe('password sign-in', () => {
  it('sets an HttpOnly, Secure, SameSite=Lax session cookie that signs the browser in', async () => {
    const ana = await passwordUser('Ana');
    const res = await login(ana.email.toUpperCase(), ana.password);
    expect(res.status).toBe(200);
    expect(res.json.user).toMatchObject({ id: ana.id, email: ana.email });
    expect(JSON.stringify(res.json)).not.toMatch(/passwordHash|tokenHash|pbkdf2/);
    const cookie = setCookie(res.res, 'carpool_session')!;
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookie.attributes).toEqual(
      expect.arrayContaining(['HttpOnly', 'Secure', 'SameSite=Lax', 'Path=/', `Max-Age=${30 * 24 * 3600}`]),
    );
    const me = await browser<Me>(cookie.value, 'GET', '/me');
    expect(me).toMatchObject({ status: 200, json: { userId: ana.id, via: 'session' } });
  });

  it('stores the password as a self-describing PBKDF2 hash and the session only as its SHA-256', async () => {
    const ana = await signedIn('Ana');
    const user = await row<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = ?', ana.id);
    expect(user!.password_hash).toMatch(/^pbkdf2-sha256\$100000\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(user!.password_hash).not.toContain(ana.password);
    const stored = await row<{ token_hash: string }>(
      'SELECT token_hash FROM sessions WHERE user_id = ?',
      ana.id,
    );
    expect(stored!.token_hash).toBe(await sha256Hex(ana.session));
    // Neither leaves the server: not in the operator's user list either.
    const listed = await admin('GET', '/users');
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.json)).toContain(ana.id);
    expect(JSON.stringify(listed.json)).not.toMatch(/pbkdf2|passwordHash/);
  });

  it('verifies a hash made with other iterations and redoes it at today’s count', async () => {
    const ana = await passwordUser('Ana');
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const key = await crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(ana.password),
      'PBKDF2',
      false,
      ['deriveBits'],
    );
    const bits = await crypto.subtle.deriveBits(
      { name: 'PBKDF2', hash: 'SHA-256', salt, iterations: 1000 },
      key,
      256,
    );
    const old = `pbkdf2-sha256$1000$${base64url(salt)}$${base64url(bits)}`;
    await env.DB.prepare('UPDATE users SET password_hash = ? WHERE id = ?').bind(old, ana.id).run();
    expect((await login(ana.email, 'not the password')).status).toBe(401);
    expect((await login(ana.email, ana.password)).status).toBe(200);
    const user = await row<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = ?', ana.id);
    expect(user!.password_hash).toMatch(/^pbkdf2-sha256\$100000\$/);
    expect((await login(ana.email, ana.password)).status).toBe(200);
  });

  it('answers a wrong password and an unknown email alike, in similar time', async () => {
    const ana = await passwordUser('Ana');
    const wrong = await login(ana.email, 'wrong password');
    const unknown = await login(`nobody-${crypto.randomUUID()}@example.com`, 'wrong password');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(stable(unknown.json)).toEqual(stable(wrong.json));
    expect((wrong.json as unknown as ErrorBody).error.message).toBe('Wrong email or password.');

    // Both do the same PBKDF2 work (without it an unknown email answers in about half the time):
    // timed alternately, the medians stay within a factor of 1.6 of each other.
    const time = async (email: string) => {
      const start = performance.now();
      const res = await login(email, 'wrong password');
      expect(res.status).toBe(401);
      return performance.now() - start;
    };
    const known: number[] = [];
    const missing: number[] = [];
    for (let i = 0; i < 8; i++) {
      known.push(await time(ana.email));
      missing.push(await time(`nobody-${crypto.randomUUID()}@example.com`));
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = median(known) / median(missing);
    expect(ratio, `known ${median(known)} ms, unknown ${median(missing)} ms`).toBeLessThan(1.6);
    expect(ratio, `known ${median(known)} ms, unknown ${median(missing)} ms`).toBeGreaterThan(1 / 1.6);
  });

  it('refuses a person without a password like a wrong password', async () => {
    const bob = await newUser('Bob');
    const res = await login(bob.email, 'anything at all');
    expect(res.status).toBe(401);
    expect((res.json as unknown as ErrorBody).error.message).toBe('Wrong email or password.');
  });

  it('refuses malformed and unknown fields', async () => {
    const res = await browser<ErrorBody>(null, 'POST', '/auth/login', {
      body: { email: 'a@example.com', password: 'x', remember: true },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain('remember');
  });
});

describe('sign-in rate limits', () => {
  /** Moves every window of these limit keys back past its end. */
  async function expireWindows(...keys: string[]) {
    for (const key of keys)
      await env.DB.prepare('UPDATE login_limits SET window_start = window_start - ? WHERE key = ?')
        .bind(LOGIN_WINDOW_MS, key)
        .run();
  }

  it('trips per account, before the password is checked, and clears with the window', async () => {
    const ana = await passwordUser('Ana');
    for (let i = 0; i < ACCOUNT_FAILURES; i++) {
      // From ever new addresses: only the account's count can trip.
      expect((await login(ana.email, `guess ${i}`)).status).toBe(401);
    }
    const tripped = await login(ana.email, ana.password);
    expect(tripped.status).toBe(429);
    expect((tripped.json as unknown as ErrorBody).error.code).toBe('rate_limited');
    const retryAfter = Number(tripped.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(LOGIN_WINDOW_MS / 1000 - 60);
    expect(retryAfter).toBeLessThanOrEqual(LOGIN_WINDOW_MS / 1000);
    // An unknown email trips the same way: the limit tells nothing about who exists.
    const ghost = `ghost-${crypto.randomUUID()}@example.com`;
    for (let i = 0; i < ACCOUNT_FAILURES; i++) await login(ghost, 'guess');
    const ghostTripped = await login(ghost, 'guess');
    expect(ghostTripped.status).toBe(429);
    expect(stable(ghostTripped.json)).toMatchObject({ code: 'rate_limited' });

    await expireWindows(`account:${ana.email}`);
    expect((await login(ana.email, ana.password)).status).toBe(200);
  });

  it('starts an account afresh after a successful sign-in', async () => {
    const ana = await passwordUser('Ana');
    for (let i = 0; i < ACCOUNT_FAILURES - 1; i++) expect((await login(ana.email, 'guess')).status).toBe(401);
    expect((await login(ana.email, ana.password)).status).toBe(200);
    for (let i = 0; i < ACCOUNT_FAILURES; i++) expect((await login(ana.email, 'guess')).status).toBe(401);
    expect((await login(ana.email, 'guess')).status).toBe(429);
  });

  it('trips per client address across accounts, and other addresses are not affected', async () => {
    const ana = await passwordUser('Ana');
    const ip = newAddress();
    for (let i = 0; i < ADDRESS_FAILURES; i++) {
      expect((await login(`nobody-${i}-${crypto.randomUUID()}@example.com`, 'guess', { ip })).status).toBe(
        401,
      );
    }
    const tripped = await login(ana.email, ana.password, { ip });
    expect(tripped.status).toBe(429);
    expect(Number(tripped.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await login(ana.email, ana.password, { ip: newAddress() })).status).toBe(200);
    await expireWindows(`address:${ip}`);
    expect((await login(ana.email, ana.password, { ip })).status).toBe(200);
  });

  it('gives a successful sign-in’s slot back to its address', async () => {
    const ana = await passwordUser('Ana');
    const ip = newAddress();
    for (let i = 0; i < 3; i++) expect((await login(ana.email, ana.password, { ip })).status).toBe(200);
    const limit = await row<{ failures: number }>(
      'SELECT failures FROM login_limits WHERE key = ?',
      `address:${ip}`,
    );
    expect(limit!.failures).toBe(0);
  });

  it('counts parallel guesses exactly: no more than the limit get through', async () => {
    const ana = await passwordUser('Ana');
    const answers = await Promise.all(
      Array.from({ length: ACCOUNT_FAILURES + 5 }, () => login(ana.email, 'guess')),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(ACCOUNT_FAILURES);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
  });

  it('buckets an IPv6 client by its /64', async () => {
    const ana = await passwordUser('Ana');
    for (let i = 0; i < ADDRESS_FAILURES; i++)
      await login(`nobody-${i}-${crypto.randomUUID()}@example.com`, 'guess', { ip: `2001:db8:7::${i + 1}` });
    expect((await login(ana.email, ana.password, { ip: '2001:db8:7:0:ffff::1' })).status).toBe(429);
    expect((await login(ana.email, ana.password, { ip: '2001:db8:8::1' })).status).toBe(200);
  });
});

describe('sessions', () => {
  it('end at their absolute expiry', async () => {
    const ana = await signedIn('Ana');
    expect((await browser(ana.session, 'GET', '/me')).status).toBe(200);
    await env.DB.prepare('UPDATE sessions SET expires_at = ? WHERE token_hash = ?')
      .bind(Date.now() - 1, await sha256Hex(ana.session))
      .run();
    const res = await browser<ErrorBody>(ana.session, 'GET', '/me');
    expect(res.status).toBe(401);
    expect(res.json.error.message).toContain('session has ended');
  });

  it('end after SESSION_IDLE_TTL_MS unused, and each use moves that point on', async () => {
    const ana = await signedIn('Ana');
    const hash = await sha256Hex(ana.session);
    const idle = Number(env.SESSION_IDLE_TTL_MS);
    // Used two minutes ago: this use records itself.
    await env.DB.prepare('UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?')
      .bind(Date.now() - 120_000, hash)
      .run();
    expect((await browser(ana.session, 'GET', '/me')).status).toBe(200);
    const seen = await row<{ last_seen_at: number }>(
      'SELECT last_seen_at FROM sessions WHERE token_hash = ?',
      hash,
    );
    expect(Date.now() - seen!.last_seen_at).toBeLessThan(10_000);
    await env.DB.prepare('UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?')
      .bind(Date.now() - idle - 1, hash)
      .run();
    expect((await browser(ana.session, 'GET', '/me')).status).toBe(401);
  });

  it('are refused when forged or malformed', async () => {
    expect((await browser(base64url(crypto.getRandomValues(new Uint8Array(32))), 'GET', '/me')).status).toBe(
      401,
    );
    expect((await browser('not-a-token', 'GET', '/me')).status).toBe(401);
  });

  it('end with logout, which clears the cookie', async () => {
    const ana = await signedIn('Ana');
    const out = await browser(ana.session, 'POST', '/auth/logout');
    expect(out.status).toBe(204);
    expect(setCookie(out.res, 'carpool_session')).toMatchObject({ value: '' });
    expect(setCookie(out.res, 'carpool_session')!.attributes).toContain('Max-Age=0');
    expect((await browser(ana.session, 'GET', '/me')).status).toBe(401);
    // Signing out without a session is no error.
    expect((await browser(null, 'POST', '/auth/logout')).status).toBe(204);
  });

  it('all end with logout-all; personal access tokens stay', async () => {
    const ana = await signedIn('Ana');
    const laptop = sessionCookieOf((await login(ana.email, ana.password)).res);
    const token = await api<{ token: string }>(ADMIN_TOKEN, 'POST', `/users/${ana.id}/tokens`, {
      name: 'ci',
    });
    const bob = await signedIn('Bob');
    const out = await browser<{ sessionsEnded: number }>(ana.session, 'POST', '/auth/logout-all');
    expect(out).toMatchObject({ status: 200, json: { sessionsEnded: 2 } });
    expect((await browser(ana.session, 'GET', '/me')).status).toBe(401);
    expect((await browser(laptop, 'GET', '/me')).status).toBe(401);
    expect((await api(token.json.token, 'GET', '/me')).status).toBe(200);
    expect((await browser(bob.session, 'GET', '/me')).status).toBe(200);
  });

  it('make personal access tokens only within 15 minutes of signing in; a token makes none', async () => {
    const ana = await signedIn('Ana');
    const hash = await sha256Hex(ana.session);
    // Signed in 14 minutes ago: still recent.
    await env.DB.prepare('UPDATE sessions SET created_at = ? WHERE token_hash = ?')
      .bind(Date.now() - 14 * 60_000, hash)
      .run();
    const made = await browser<{ token: string }>(ana.session, 'POST', '/me/tokens', {
      body: { name: 'ci' },
    });
    expect(made.status).toBe(201);
    // A cookie stolen from a session opened 16 minutes ago cannot mint a credential that outlives it.
    await env.DB.prepare('UPDATE sessions SET created_at = ? WHERE token_hash = ?')
      .bind(Date.now() - 16 * 60_000, hash)
      .run();
    for (const path of ['/me/tokens', `/users/${ana.id}/tokens`]) {
      const stale = await browser<{ error: { code: string; message: string; details: unknown } }>(
        ana.session,
        'POST',
        path,
        { body: { name: 'later' } },
      );
      expect(stale.status).toBe(403);
      expect(stale.json.error).toMatchObject({ code: 'forbidden', details: { status: 'sign_in_again' } });
      expect(stale.json.error.message).toContain('Sign in again');
    }
    // Nor can the token itself: a leaked one is revoked for good, not replaced by its thief.
    const again = await api<{ error: { details: unknown } }>(made.json.token, 'POST', '/me/tokens', {
      name: 'spare',
    });
    expect(again).toMatchObject({ status: 403, json: { error: { details: { status: 'sign_in_again' } } } });
    // A fresh sign-in can; the session's other uses were never limited.
    expect((await browser(ana.session, 'GET', '/me/tokens')).status).toBe(200);
    const fresh = sessionCookieOf((await login(ana.email, ana.password)).res);
    expect((await browser(fresh, 'POST', '/me/tokens', { body: { name: 'later' } })).status).toBe(201);
  });

  it('are listed for their owner, the current one marked, and revoked one by one', async () => {
    const ana = await signedIn('Ana');
    const laptop = sessionCookieOf(
      (
        await browser(null, 'POST', '/auth/login', {
          body: { email: ana.email, password: ana.password },
          headers: { 'user-agent': `Laptop/1.0 ${'x'.repeat(600)}` },
          ip: '192.0.2.7',
        })
      ).res,
    );
    const listed = await browser<{ data: { id: string; current: boolean; userAgent: string; ip: string }[] }>(
      ana.session,
      'GET',
      '/me/sessions',
    );
    expect(listed.status).toBe(200);
    expect(listed.json.data).toHaveLength(2);
    expect(JSON.stringify(listed.json)).not.toMatch(/tokenHash|token_hash/);
    const current = listed.json.data.find((s) => s.current)!;
    const other = listed.json.data.find((s) => !s.current)!;
    expect(other).toMatchObject({ ip: '192.0.2.7' });
    expect(other.userAgent.length).toBe(256);

    const bob = await signedIn('Bob');
    expect((await browser(bob.session, 'DELETE', `/me/sessions/${other.id}`)).status).toBe(404);
    expect((await browser(laptop, 'GET', '/me')).status).toBe(200);
    expect((await browser(ana.session, 'DELETE', `/me/sessions/${other.id}`)).status).toBe(200);
    expect((await browser(laptop, 'GET', '/me')).status).toBe(401);
    expect((await browser(ana.session, 'DELETE', `/me/sessions/${other.id}`)).status).toBe(404);
    const self = await browser(ana.session, 'DELETE', `/me/sessions/${current.id}`);
    expect(self.status).toBe(200);
    expect(setCookie(self.res, 'carpool_session')!.attributes).toContain('Max-Age=0');
    expect((await browser(ana.session, 'GET', '/me')).status).toBe(401);
  });

  it('are nobody’s business but their owner’s: the operator token is no user', async () => {
    expect((await api(ADMIN_TOKEN, 'GET', '/me/sessions')).status).toBe(400);
    expect((await api(null, 'GET', '/me/sessions')).status).toBe(401);
  });
});

describe('password change', () => {
  it('needs the current password, ends the other sessions and keeps this one', async () => {
    const ana = await signedIn('Ana');
    const phone = sessionCookieOf((await login(ana.email, ana.password)).res);
    const wrong = await browser<ErrorBody>(ana.session, 'PUT', '/me/password', {
      body: { currentPassword: 'not it', newPassword: 'a brand new secret' },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.json.error.message).toContain('current password');
    const short = await browser<ErrorBody>(ana.session, 'PUT', '/me/password', {
      body: { currentPassword: ana.password, newPassword: 'short' },
    });
    expect(short.status).toBe(400);
    const changed = await browser<{ sessionsEnded: number }>(ana.session, 'PUT', '/me/password', {
      body: { currentPassword: ana.password, newPassword: 'a brand new secret' },
    });
    expect(changed).toMatchObject({ status: 200, json: { sessionsEnded: 1 } });
    expect((await browser(phone, 'GET', '/me')).status).toBe(401);
    expect((await browser(ana.session, 'GET', '/me')).status).toBe(200);
    expect((await login(ana.email, ana.password)).status).toBe(401);
    expect((await login(ana.email, 'a brand new secret')).status).toBe(200);
  });

  it('counts wrong current passwords against the account’s limit', async () => {
    const ana = await signedIn('Ana');
    for (let i = 0; i < ACCOUNT_FAILURES; i++) {
      const res = await browser(ana.session, 'PUT', '/me/password', {
        body: { currentPassword: `guess ${i}`, newPassword: 'a brand new secret' },
      });
      expect(res.status).toBe(403);
    }
    const tripped = await browser(ana.session, 'PUT', '/me/password', {
      body: { currentPassword: ana.password, newPassword: 'a brand new secret' },
    });
    expect(tripped.status).toBe(429);
  });
});

describe('cross-site request forgery', () => {
  it('refuses cookie writes without an Origin or from a foreign one, and allows ours and the dashboard’s', async () => {
    const ana = await signedIn('Ana');
    const none = await browser<ErrorBody>(ana.session, 'POST', '/me/tokens', {
      body: { name: 'x' },
      origin: null,
    });
    expect(none.status).toBe(403);
    expect(none.json.error.code).toBe('forbidden');
    expect(none.json.error.message).toContain('Origin');
    const foreign = await browser<ErrorBody>(ana.session, 'POST', '/me/tokens', {
      body: { name: 'x' },
      origin: 'https://evil.test',
    });
    expect(foreign.status).toBe(403);
    expect(foreign.json.error.message).toContain('https://evil.test');
    // A look-alike of the own origin is not it.
    const lookalike = await browser(ana.session, 'DELETE', '/me/sessions/x', {
      origin: `${RELAY}.evil.test`,
    });
    expect(lookalike.status).toBe(403);
    expect((await browser(ana.session, 'POST', '/auth/logout', { origin: 'https://evil.test' })).status).toBe(
      403,
    );
    expect((await browser(ana.session, 'GET', '/me')).status).toBe(200);

    expect(
      (await browser(ana.session, 'POST', '/me/tokens', { body: { name: 'x' }, origin: RELAY })).status,
    ).toBe(201);
    const dash = await browser(ana.session, 'POST', '/me/tokens', {
      body: { name: 'y' },
      origin: DASHBOARD_ORIGIN,
    });
    expect(dash.status).toBe(201);
  });

  it('does not apply to bearer tokens', async () => {
    const ana = await newUser('Ana');
    const res = await browser(null, 'PATCH', '/me', {
      body: { name: 'Ana B' },
      origin: 'https://evil.test',
      headers: { authorization: `Bearer ${ana.token}` },
    });
    expect(res.status).toBe(200);
  });

  it('refuses a sign-in posted from a foreign origin, and accepts one without an Origin (curl)', async () => {
    const ana = await passwordUser('Ana');
    expect((await login(ana.email, ana.password, { origin: 'https://evil.test' })).status).toBe(403);
    expect((await login(ana.email, ana.password, { origin: null })).status).toBe(200);
    expect((await login(ana.email, ana.password, { origin: DASHBOARD_ORIGIN })).status).toBe(200);
  });
});

describe('CORS', () => {
  function preflight(origin: string) {
    return browser(null, 'OPTIONS', '/auth/login', {
      origin,
      headers: { 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
  }

  it('grants an allowed dashboard origin, with credentials', async () => {
    const res = await preflight(DASHBOARD_ORIGIN);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(DASHBOARD_ORIGIN);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toContain('content-type');
    const other = await preflight('https://other-dash.test');
    expect(other.headers.get('access-control-allow-origin')).toBe('https://other-dash.test');
    // Answers, errors included, can be read by the dashboard.
    const me = await browser(null, 'GET', '/me', { origin: DASHBOARD_ORIGIN });
    expect(me.status).toBe(401);
    expect(me.headers.get('access-control-allow-origin')).toBe(DASHBOARD_ORIGIN);
    expect(me.headers.get('access-control-expose-headers')).toContain('retry-after');
  });

  it('grants nothing to any other origin', async () => {
    const res = await preflight('https://evil.test');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    const me = await browser(null, 'GET', '/me', { origin: 'https://evil.test' });
    expect(me.headers.get('access-control-allow-origin')).toBeNull();
  });
});
