// Sign-in through an OIDC provider, end to end against the fake provider of test/fake-idp/
// (https://idp.test): start → the provider's authorization endpoint → the callback, which
// exchanges the code with the PKCE verifier, verifies the ID token and opens a session. Tampered,
// misdirected, replayed and stale sign-ins are refused.
import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { sha256Base64url } from '../worker/auth/encoding';
import { oidcConfig } from '../worker/auth/oidc';
import { db } from '../worker/db/client';
import { startOidcSignIn } from '../worker/domain/oidc';
import { CLIENT, type FakePerson, ISSUER } from './fake-idp';
import {
  browser,
  DASHBOARD_ORIGIN,
  login,
  passwordUser,
  sessionCookieOf,
  setCookie,
  signedIn,
} from './support/auth';
import { ADMIN_TOKEN, admin, api, newUser, RELAY } from './support/relay';

const CALLBACK = `${RELAY}/api/v1/auth/oidc/callback`;

/** A person the fake provider can sign in (by `login_hint`), unique to the test. */
async function person(p: Partial<FakePerson> = {}): Promise<FakePerson> {
  const id = crypto.randomUUID();
  const body: FakePerson = {
    sub: `sub-${id}`,
    email: `${id.slice(0, 8)}@corp.example`,
    email_verified: true,
    ...p,
  };
  const res = await fetch(`${ISSUER}/test/users`, { method: 'POST', body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  await res.body?.cancel();
  return body;
}

async function start(returnTo?: string) {
  const query = returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`;
  const res = await SELF.fetch(`${RELAY}/api/v1/auth/oidc/start${query}`, { redirect: 'manual' });
  const body = await res.text();
  return { res, body, location: res.headers.get('location'), flowCookie: setCookie(res, 'carpool_oidc') };
}

/** The browser at the provider: signs in as `who` and is sent back to the relay's callback. */
async function atProvider(location: string, who: string): Promise<URL> {
  const url = new URL(location);
  url.searchParams.set('login_hint', who);
  const res = await fetch(url, { redirect: 'manual' });
  await res.body?.cancel();
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location')!);
}

async function callback(url: URL | string, flowCookie: string | null) {
  const res = await SELF.fetch(url, {
    redirect: 'manual',
    headers: flowCookie === null ? {} : { cookie: `carpool_oidc=${flowCookie}` },
  });
  const text = await res.text();
  return {
    res,
    status: res.status,
    json: (text ? JSON.parse(text) : null) as { error: { message: string } } | null,
  };
}

/** The whole sign-in of `who`, as a browser makes it. */
async function signInAs(who: FakePerson, returnTo?: string) {
  const started = await start(returnTo);
  expect(started.res.status).toBe(302);
  const back = await atProvider(started.location!, who.sub);
  return callback(back, started.flowCookie!.value);
}

describe('OIDC sign-in', () => {
  it('is off, and says so, without OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET', async () => {
    for (const missing of ['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET'] as const) {
      const without = { ...env, [missing]: '' };
      expect(oidcConfig(without)).toBeNull();
      const ctx = { db: db(env), env: without, ip: null, userAgent: null };
      await expect(startOidcSignIn(ctx, { redirectUri: CALLBACK })).rejects.toThrow(/not configured/);
    }
  });

  it('is announced to the sign-in page', async () => {
    const methods = await browser(null, 'GET', '/auth/methods');
    expect(methods.json).toEqual({
      password: true,
      oidc: { issuer: ISSUER, start: '/api/v1/auth/oidc/start' },
    });
  });

  it('goes to the provider with PKCE S256, a state and a nonce, bound to this browser by a cookie', async () => {
    const { res, location, flowCookie } = await start();
    expect(res.status).toBe(302);
    const url = new URL(location!);
    expect(`${url.origin}${url.pathname}`).toBe(`${ISSUER}/authorize`);
    const q = url.searchParams;
    expect(Object.fromEntries(q)).toMatchObject({
      response_type: 'code',
      client_id: CLIENT.id,
      redirect_uri: CALLBACK,
      code_challenge_method: 'S256',
    });
    expect(q.get('scope')!.split(' ')).toEqual(expect.arrayContaining(['openid', 'email']));
    expect(q.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(flowCookie!.attributes).toEqual(
      expect.arrayContaining(['HttpOnly', 'Secure', 'SameSite=Lax', 'Path=/api/v1/auth/oidc', 'Max-Age=600']),
    );
    expect(q.get('code_challenge')).toBe(await sha256Base64url(flowCookie!.value));
    // D1 holds hashes only.
    const row = await env.DB.prepare('SELECT * FROM oidc_logins WHERE state_hash = ?')
      .bind(await sha256Base64url(q.get('state')!))
      .first<Record<string, unknown>>();
    expect(row).toMatchObject({ nonce_hash: await sha256Base64url(q.get('nonce')!), return_to: '/' });
    expect(JSON.stringify(row)).not.toContain(flowCookie!.value);
  });

  it('signs a new person in end to end: a user is created, linked, and holds a session', async () => {
    const ana = await person({ name: 'Ana Lima' });
    const done = await signInAs(ana);
    expect(done.status).toBe(302);
    expect(done.res.headers.get('location')).toBe('/');
    expect(setCookie(done.res, 'carpool_oidc')!.attributes).toContain('Max-Age=0');
    const session = sessionCookieOf(done.res);
    const me = await browser<{ userId: string; via: string }>(session, 'GET', '/me');
    expect(me.status).toBe(200);
    expect(me.json.via).toBe('session');
    const user = await env.DB.prepare('SELECT * FROM users WHERE id = ?')
      .bind(me.json.userId)
      .first<{ email: string; name: string; password_hash: string | null; system_role: string }>();
    expect(user).toMatchObject({
      email: ana.email,
      name: 'Ana Lima',
      password_hash: null,
      system_role: 'user',
    });
    const identity = await env.DB.prepare(
      'SELECT user_id FROM user_identities WHERE issuer = ? AND subject = ?',
    )
      .bind(ISSUER, ana.sub)
      .first<{ user_id: string }>();
    expect(identity!.user_id).toBe(me.json.userId);
    const sessions = await browser<{ data: { method: string }[] }>(session, 'GET', '/me/sessions');
    expect(sessions.json.data[0]!.method).toBe('oidc');

    // The same identity comes back to the same user.
    const again = await signInAs(ana);
    const me2 = await browser<{ userId: string }>(sessionCookieOf(again.res), 'GET', '/me');
    expect(me2.json.userId).toBe(me.json.userId);
  });

  it('knows a linked identity by issuer and subject, whatever email the provider gives later', async () => {
    const ana = await person();
    const first = await browser<{ userId: string }>(sessionCookieOf((await signInAs(ana)).res), 'GET', '/me');
    const renamed = await person({ sub: ana.sub, email: `renamed-${ana.email}` });
    const later = await browser<{ userId: string }>(
      sessionCookieOf((await signInAs(renamed)).res),
      'GET',
      '/me',
    );
    expect(later.json.userId).toBe(first.json.userId);
  });

  it('verifies ES256 ID tokens too', async () => {
    const done = await signInAs(await person({ alg: 'ES256' }));
    expect(done.status).toBe(302);
    expect((await browser(sessionCookieOf(done.res), 'GET', '/me')).status).toBe(200);
  });

  it('links a first sign-in to the existing user with the same verified email', async () => {
    const bob = await newUser('Bob');
    const done = await signInAs(await person({ email: bob.email.toUpperCase() }));
    expect(done.status).toBe(302);
    const me = await browser<{ userId: string }>(sessionCookieOf(done.res), 'GET', '/me');
    expect(me.json.userId).toBe(bob.id);
    // Only ASCII case folds: the Kelvin sign (U+212A) is not a `k`, so this is someone else.
    const local = `kim-${crypto.randomUUID().slice(0, 8)}`;
    const kim = await admin<{ id: string }>('POST', '/users', { email: `${local}@example.com`, name: 'Kim' });
    expect(kim.status).toBe(201);
    const lookalike = await signInAs(await person({ email: `\u212A${local.slice(1)}@example.com` }));
    expect(lookalike.status).toBe(302);
    const other = await browser<{ userId: string }>(sessionCookieOf(lookalike.res), 'GET', '/me');
    expect(other.json.userId).not.toBe(kim.json.id);
  });

  it('takes an account someone made with its email ahead of its owner: password, sessions, tokens and keys end', async () => {
    // Mallory signs up with Vic's address (nothing proves an address at sign-up), makes a token and a key.
    const mallory = await signedIn('Mallory');
    const token = await browser<{ token: string }>(mallory.session, 'POST', '/me/tokens', {
      body: { name: 'stay' },
    });
    expect(token.status).toBe(201);
    const group = await browser<{ id: string }>(mallory.session, 'POST', '/groups', {
      body: { name: 'Squat', kind: 'carpool' },
    });
    const key = await browser<{ id: string }>(mallory.session, 'POST', `/groups/${group.json.id}/keys`, {
      body: { name: 'laptop' },
    });
    expect(key.status).toBe(201);

    // Vic, whose address it is, signs in through the provider, which vouches for it.
    const done = await signInAs(await person({ email: mallory.email }));
    expect(done.status).toBe(302);
    const vic = sessionCookieOf(done.res);
    expect((await browser<{ userId: string }>(vic, 'GET', '/me')).json.userId).toBe(mallory.id);

    expect((await login(mallory.email, mallory.password)).status).toBe(401);
    expect((await browser(mallory.session, 'GET', '/me')).status).toBe(401);
    expect((await api(token.json.token, 'GET', '/me')).status).toBe(401);
    const keys = await browser<{ data: { id: string; status: string }[] }>(
      vic,
      'GET',
      `/groups/${group.json.id}/keys`,
    );
    expect(keys.json.data.find((k) => k.id === key.json.id)?.status).toBe('revoked');

    // Once linked, the identity is proof: a password set later (a password link) survives sign-ins.
    await env.DB.prepare(
      'UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE id = ?) WHERE id = ?',
    )
      .bind((await passwordUser()).id, mallory.id)
      .run();
    expect(
      (await signInAs(await person({ email: mallory.email, sub: `again-${crypto.randomUUID()}` }))).status,
    ).toBe(302);
    const row = await env.DB.prepare('SELECT password_hash FROM users WHERE id = ?')
      .bind(mallory.id)
      .first<{ password_hash: string | null }>();
    expect(row!.password_hash).not.toBeNull();
  });

  it('refuses a disabled person and opens no session', async () => {
    const dana = await newUser('Dana');
    expect((await api(ADMIN_TOKEN, 'PATCH', `/users/${dana.id}`, { disabled: true })).status).toBe(200);
    const who = await person({ email: dana.email });
    const refused = await signInAs(who);
    expect(refused.status).toBe(403);
    expect(refused.json!.error.message).toContain('disabled');
    expect(setCookie(refused.res, 'carpool_session')).toBeNull();
  });

  it('refuses an email the provider has not verified, and creates nobody', async () => {
    const bob = await newUser('Bob');
    const claimsBob = await signInAs(await person({ email: bob.email, email_verified: false }));
    expect(claimsBob.status).toBe(401);
    expect(claimsBob.json!.error.message).toContain('not verified');
    const stranger = await person({ email_verified: false });
    expect((await signInAs(stranger)).status).toBe(401);
    const count = await env.DB.prepare('SELECT count(*) AS n FROM users WHERE email = ?')
      .bind(stranger.email)
      .first<{ n: number }>();
    expect(count!.n).toBe(0);
  });

  it.each([
    ['tamper', 'signature does not verify'],
    ['rogue-key', 'signature does not verify'],
    ['alg-none', 'algorithm none is not accepted'],
    ['nonce', 'nonce'],
    ['aud', 'another client'],
    ['issuer', 'another issuer'],
    ['expired', 'expired'],
  ] as const)('refuses an ID token with fault %s', async (fault, why) => {
    const done = await signInAs(await person({ fault }));
    expect(done.status).toBe(401);
    expect(done.json!.error.message).toContain(why);
    expect(setCookie(done.res, 'carpool_session')).toBeNull();
  });

  it('refuses a replayed callback, one from another browser, and a stale one', async () => {
    const ana = await person();
    const started = await start();
    const back = await atProvider(started.location!, ana.sub);
    const elsewhere = await callback(back, null);
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.json!.error.message).toContain('another browser');
    // The state was consumed by that attempt.
    const replayed = await callback(back, started.flowCookie!.value);
    expect(replayed.status).toBe(400);
    expect(replayed.json!.error.message).toContain('expired or was already used');

    const fresh = await start();
    const freshBack = await atProvider(fresh.location!, ana.sub);
    await env.DB.prepare('UPDATE oidc_logins SET expires_at = ? WHERE state_hash = ?')
      .bind(Date.now() - 1, await sha256Base64url(freshBack.searchParams.get('state')!))
      .run();
    expect((await callback(freshBack, fresh.flowCookie!.value)).status).toBe(400);
  });

  it('says what the provider said when it did not sign the person in', async () => {
    const started = await start();
    const back = await atProvider(started.location!, 'nobody-registered');
    expect(back.searchParams.get('error')).toBe('access_denied');
    const done = await callback(back, started.flowCookie!.value);
    expect(done.status).toBe(401);
    expect(done.json!.error.message).toContain('access_denied');
  });

  it('returns to a path or an allowed dashboard URL, never to another site', async () => {
    const ana = await person();
    expect((await signInAs(ana, '/groups/1')).res.headers.get('location')).toBe('/groups/1');
    const dash = `${DASHBOARD_ORIGIN}/welcome`;
    expect((await signInAs(ana, dash)).res.headers.get('location')).toBe(dash);
    for (const evil of [
      'https://evil.test/',
      '//evil.test/x',
      '/\\evil.test',
      // A browser drops the tab (`//evil.test`); a line break cannot even be a header.
      '/\t/evil.test',
      '/\n/x',
      '/x\r\nset-cookie: a=b',
    ]) {
      expect((await start(evil)).res.status, JSON.stringify(evil)).toBe(400);
    }
  });
});

describe('the fake provider', () => {
  /** An authorization code for `who`, with the verifier its challenge was made from. */
  async function code(who: string) {
    const verifier = 'v'.repeat(43);
    const url = new URL(`${ISSUER}/authorize`);
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: CLIENT.id,
      redirect_uri: CLIENT.redirectUris[0]!,
      scope: 'openid email',
      state: 's',
      nonce: 'n',
      code_challenge: await sha256Base64url(verifier),
      code_challenge_method: 'S256',
      login_hint: who,
    }))
      url.searchParams.set(k, v);
    const res = await fetch(url, { redirect: 'manual' });
    await res.body?.cancel();
    return { code: new URL(res.headers.get('location')!).searchParams.get('code')!, verifier };
  }

  function exchange(form: Record<string, string>, secret = CLIENT.secret) {
    return fetch(`${ISSUER}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${btoa(`${CLIENT.id}:${secret}`)}`,
      },
      body: new URLSearchParams(form),
    });
  }

  it('checks the PKCE verifier, spends a code once, and authenticates the client, as RFC 6749 and 7636 say', async () => {
    const ana = await person();
    const base = { grant_type: 'authorization_code', redirect_uri: CLIENT.redirectUris[0]! };
    const first = await code(ana.sub);
    const wrongVerifier = await exchange({ ...base, code: first.code, code_verifier: 'w'.repeat(43) });
    expect(wrongVerifier.status).toBe(400);
    expect(await wrongVerifier.json()).toMatchObject({ error: 'invalid_grant' });

    const second = await code(ana.sub);
    const ok = await exchange({ ...base, code: second.code, code_verifier: second.verifier });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ token_type: 'Bearer', id_token: expect.any(String) });
    const reused = await exchange({ ...base, code: second.code, code_verifier: second.verifier });
    expect(await reused.json()).toMatchObject({ error: 'invalid_grant' });

    const third = await code(ana.sub);
    const badClient = await exchange({ ...base, code: third.code, code_verifier: third.verifier }, 'wrong');
    expect(badClient.status).toBe(401);
    expect(await badClient.json()).toMatchObject({ error: 'invalid_client' });

    const noPkce = await fetch(
      `${ISSUER}/authorize?response_type=code&client_id=${CLIENT.id}&redirect_uri=${encodeURIComponent(
        CLIENT.redirectUris[0]!,
      )}&scope=openid&state=s&login_hint=${ana.sub}`,
      { redirect: 'manual' },
    );
    await noPkce.body?.cancel();
    expect(new URL(noPkce.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });
});
