// gemini-oauth (Gemini Code Assist on a Google account): signed in through the relay's PKCE flow
// against the fake Google token endpoint (test/fake-oauth/, the Gemini CLI's client with its
// secret, offline consent, refresh tokens that do not rotate), the Code Assist project found at
// sign-in and stored sealed with the tokens, and @google/genai served through the wrapped Code
// Assist API of the fake upstream (test/fake-upstream/code-assist.ts), metered from the unwrapped
// usageMetadata.

import { env } from 'cloudflare:test';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { decryptCredential } from '../worker/auth/credentials';
import { accountStub } from './support/gates';
import type { ApiErrorBody } from './support/groups';
import {
  consent,
  grant,
  newTag,
  OAUTH,
  type OAuthAccount,
  signIn,
  subscriptionCarpool,
} from './support/oauth';
import {
  ADMIN_TOKEN,
  admin,
  api,
  eventually,
  fakeLog,
  inIsolate,
  newUser,
  RELAY,
  type RequestLogRecord,
  relayFetch,
  withRelayFetch,
} from './support/relay';

const CLIENT_ID = '681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com';

async function storedCredential(accountId: string) {
  const row = await env.DB.prepare('SELECT credentials_enc FROM accounts WHERE id = ?')
    .bind(accountId)
    .first<{ credentials_enc: string }>();
  return {
    sealed: row!.credentials_enc,
    tokens: JSON.parse(await decryptCredential(env.CREDENTIALS_KEY, accountId, row!.credentials_enc)) as {
      accessToken: string;
      refreshToken: string;
      expiresAt: number;
      project: string | null;
    },
  };
}

function logRows(accountId: string, count: number) {
  return eventually(async () => {
    const { results } = await env.DB.prepare(
      'SELECT * FROM request_log WHERE account_id = ? ORDER BY created_at',
    )
      .bind(accountId)
      .all<RequestLogRecord>();
    return results.length >= count ? results : undefined;
  });
}

function geminiClient(key: string) {
  return new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: RELAY } });
}

function generate(key: string, text = 'hello code assist') {
  return relayFetch(`${RELAY}/v1beta/models/gemini-2.5-pro:generateContent`, {
    method: 'POST',
    headers: { 'x-goog-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text }] }] }),
  });
}

const geminiCarpool = (options: Parameters<typeof subscriptionCarpool>[1] = {}) =>
  subscriptionCarpool('gemini-oauth', options);

describe('signing in a Gemini Code Assist account', () => {
  it('is refused unless the deployment turns Gemini sign-in on (Google’s terms forbid it from other tools)', async () => {
    const start = (vars: Partial<Env>) =>
      inIsolate(
        `${RELAY}/admin/v1/accounts/oauth/start`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ kind: 'gemini-oauth', acceptTerms: true }),
        },
        vars,
      );
    const off = await start({ GEMINI_OAUTH_ENABLED: 'false' });
    expect(off.status).toBe(403);
    const body = (await off.json()) as ApiErrorBody;
    expect(body.error.code).toBe('forbidden');
    expect(body.error.message).toContain('GEMINI_OAUTH_ENABLED');
    // The other kinds need no switch; Gemini does once the operator sets it.
    expect((await start({ GEMINI_OAUTH_ENABLED: 'true' })).status).toBe(200);
    // The sign-in form learns which kinds it may offer.
    const offered = async (vars: Partial<Env>) => {
      const res = await inIsolate(
        `${RELAY}/admin/v1/accounts/oauth/kinds`,
        { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
        vars,
      );
      const { data } = (await res.json()) as { data: { kind: string; enabled: boolean }[] };
      return data.filter((k) => k.enabled).map((k) => k.kind);
    };
    expect(await offered({ GEMINI_OAUTH_ENABLED: 'false' })).toEqual(['claude-oauth', 'codex-oauth']);
    expect(await offered({ GEMINI_OAUTH_ENABLED: 'true' })).toEqual([
      'claude-oauth',
      'codex-oauth',
      'gemini-oauth',
    ]);
  });

  it("asks Google for offline access with the Gemini CLI's client, finds the project, seals it with the tokens", async () => {
    const owner = await newUser('Owner');
    const group = await api<{ id: string }>(owner.token, 'POST', '/groups', {
      name: 'plan',
      kind: 'carpool',
    });
    const start = await api<{ authorizeUrl: string; state: string; termsUrl: string; redirectUri: string }>(
      owner.token,
      'POST',
      '/accounts/oauth/start',
      { kind: 'gemini-oauth', groupId: group.json.id, acceptTerms: true },
    );
    expect(start.status).toBe(200);
    const url = new URL(start.json.authorizeUrl);
    expect(`${url.origin}${url.pathname}`).toBe(`${OAUTH}/gemini/authorize`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: CLIENT_ID,
      redirect_uri: 'https://codeassist.google.com/authcode',
      response_type: 'code',
      access_type: 'offline',
      prompt: 'consent',
      code_challenge_method: 'S256',
      state: start.json.state,
      scope:
        'https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile',
    });
    // The secret travels only to the token endpoint.
    expect(start.json.authorizeUrl).not.toContain('GOCSPX');
    expect(start.json.redirectUri).toBe('https://codeassist.google.com/authcode');
    expect(start.json.termsUrl).toMatch(/gemini-cli/);

    const tag = newTag();
    const callback = new URL(await consent(start.json.authorizeUrl, tag));
    // Google's authcode page shows the code alone; the dashboard sends the state it started with.
    const done = await api<OAuthAccount>(owner.token, 'POST', '/accounts/oauth/finish', {
      code: callback.searchParams.get('code'),
      state: start.json.state,
    });
    expect(done.status, JSON.stringify(done.json)).toBe(201);
    expect(done.json).toMatchObject({ provider: 'gemini-oauth', authKind: 'oauth', groupId: group.json.id });
    expect(JSON.stringify(done.json)).not.toMatch(/oat\.|ort\.|fake-project/);
    const { sealed, tokens } = await storedCredential(done.json.id);
    expect(sealed).not.toMatch(/oat\.|ort\.|fake-project/);
    expect(tokens.project).toBe(`fake-project-${tag}`);
    expect(tokens.refreshToken).toBe((await grant(tag)).refreshToken);
    const [load] = await fakeLog(tag);
    expect(load).toMatchObject({ host: 'cloudcode-pa.googleapis.com', path: '/v1internal:loadCodeAssist' });
  });

  it('onboards a Google account new to Code Assist into the free tier’s managed project', async () => {
    const c = await geminiCarpool({ prepare: { codeAssist: 'new' } });
    expect((await storedCredential(c.accountId)).tokens.project).toBe(`fake-managed-${c.tag}`);
    const paths = (await fakeLog(c.tag)).map((e) => e.path);
    expect(paths).toEqual(['/v1internal:loadCodeAssist', '/v1internal:onboardUser']);
    // And the account serves with it.
    const res = await generate(c.key);
    expect(res.status).toBe(200);
    await res.text();
  });

  it('refuses an account Code Assist will not serve, with Google’s reason', async () => {
    const owner = await newUser('Owner');
    const group = await api<{ id: string }>(owner.token, 'POST', '/groups', {
      name: 'plan',
      kind: 'carpool',
    });
    const tag = newTag();
    await grant(tag, { codeAssist: 'ineligible' });
    const res = await signIn(owner.token, 'gemini-oauth', tag, { groupId: group.json.id });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/not eligible for Gemini Code Assist/);
    const bound = await env.DB.prepare('SELECT bound_account_id FROM groups WHERE id = ?')
      .bind(group.json.id)
      .first<{ bound_account_id: string | null }>();
    expect(bound!.bound_account_id).toBeNull();
  });
});

describe('Gemini clients on a Code Assist account', () => {
  it('@google/genai whole and streamed: wrapped for Code Assist, unwrapped back, metered exactly', async () => {
    const c = await geminiCarpool();
    const ai = geminiClient(c.key);
    const { whole, streamed } = await withRelayFetch(async () => {
      const whole = await ai.models.generateContent({
        model: 'gemini-2.5-pro',
        contents: 'hello code assist',
      });
      let streamed = '';
      let chunks = 0;
      for await (const chunk of await ai.models.generateContentStream({
        model: 'gemini-2.5-flash',
        contents: 'stream through code assist',
      })) {
        streamed += chunk.text ?? '';
        chunks++;
      }
      expect(chunks).toBeGreaterThan(1);
      return { whole, streamed };
    });
    type GeminiUsage = { promptTokenCount: number; candidatesTokenCount: number; thoughtsTokenCount: number };
    const rows = await logRows(c.accountId, 2);
    const generated = (await fakeLog(c.tag)).filter((e) => e.path !== '/v1internal:loadCodeAssist');
    for (const [i, row] of rows.entries()) {
      const usage = generated[i]!.usage as unknown as GeminiUsage;
      expect(usage.thoughtsTokenCount).toBeGreaterThan(0);
      expect(row.output_tokens).toBe(usage.candidatesTokenCount + usage.thoughtsTokenCount);
      expect(row.input_tokens + row.cache_read_tokens).toBe(usage.promptTokenCount);
      expect(row.cost_micros).toBeGreaterThan(0);
    }
    const counted = await withRelayFetch(() =>
      ai.models.countTokens({ model: 'gemini-2.5-pro', contents: 'count me' }),
    );
    const log = (await fakeLog(c.tag)).filter((e) => e.path !== '/v1internal:loadCodeAssist');
    expect(log.map((e) => `${e.path}${e.search}`)).toEqual([
      '/v1internal:generateContent',
      '/v1internal:streamGenerateContent?alt=sse',
      '/v1internal:countTokens',
    ]);
    for (const entry of log) {
      expect(entry.host).toBe('cloudcode-pa.googleapis.com');
      // The fake swapped the live access token for the person's key: the relay sent a live one.
      expect(entry.headers.authorization).toBe(`Bearer sk-fake.${c.tag}.ok`);
      expect(entry.headers['x-goog-api-key']).toBeUndefined();
      expect(JSON.stringify(entry)).not.toContain(c.key);
    }
    const sent = JSON.parse(log[0]!.body) as {
      model: string;
      project: string;
      request: { contents: unknown };
    };
    expect(sent).toMatchObject({ model: 'gemini-2.5-pro', project: `fake-project-${c.tag}` });
    expect(sent.request.contents).toEqual([{ role: 'user', parts: [{ text: 'hello code assist' }] }]);
    expect(JSON.parse(log[2]!.body)).toEqual({
      request: {
        model: 'models/gemini-2.5-pro',
        contents: [{ role: 'user', parts: [{ text: 'count me' }] }],
      },
    });

    expect(whole.text).toBe(log[0]!.text);
    // The trace id of the wrapper is the response's id, as gemini-cli makes it.
    expect(whole.responseId).toBe(log[0]!.id);
    expect(streamed).toBe(log[1]!.text);
    expect(counted.totalTokens).toBeGreaterThan(0);
  });

  it('a 429 RESOURCE_EXHAUSTED cools the account down for the RetryInfo delay', async () => {
    const c = await geminiCarpool();
    await grant(c.tag, { scenario: '429.40' });
    const res = await generate(c.key);
    expect(res.status).toBe(429);
    const body = (await res.json()) as { error: { status: string } };
    expect(body.error.status).toBe('RESOURCE_EXHAUSTED');
    const state = await accountStub(c.accountId).state();
    expect(state.cooldownUntil).not.toBeNull();
    const left = state.cooldownUntil! - Date.now();
    expect(left).toBeGreaterThan(30_000);
    expect(left).toBeLessThanOrEqual(40_000);
  });
});

describe('refreshing a Code Assist account', () => {
  it('20 concurrent requests on an expired token: one refresh, the same refresh token kept, the project too', async () => {
    const c = await geminiCarpool({ maxConcurrency: 20, prepare: { accessTtlSeconds: 1 } });
    const before = await storedCredential(c.accountId);
    await new Promise((r) => setTimeout(r, 1100));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => generate(c.key, `hi ${i}`)));
    for (const res of results) {
      expect(res.status).toBe(200);
      await res.text();
    }
    const after = await grant(c.tag);
    expect(after).toMatchObject({ refreshes: 1, refreshesRefused: 0, revoked: false });
    // Google did not rotate: the refresh token is the one from the sign-in, and still works.
    expect(after.refreshToken).toBe(before.tokens.refreshToken);
    const stored = await storedCredential(c.accountId);
    expect(stored.tokens.refreshToken).toBe(before.tokens.refreshToken);
    expect(stored.tokens.accessToken).not.toBe(before.tokens.accessToken);
    expect(stored.tokens.project).toBe(`fake-project-${c.tag}`);
    // A second expiry refreshes again with the same token.
    await grant(c.tag, { expireAccess: true });
    const again = await generate(c.key);
    expect(again.status).toBe(200);
    await again.text();
    expect(await grant(c.tag)).toMatchObject({ refreshes: 2, refreshesRefused: 0 });
  });

  it('invalid_grant disables the account with the reason; signing in again brings it back', async () => {
    const c = await geminiCarpool({ prepare: { accessTtlSeconds: 1 } });
    await grant(c.tag, { revoke: true });
    await new Promise((r) => setTimeout(r, 1100));
    const res = await generate(c.key);
    expect(res.status).toBe(503);
    await res.text();
    const account = await admin<OAuthAccount>('GET', `/accounts/${c.accountId}`);
    expect(account.json.enabled).toBe(false);
    expect(account.json.disabledReason).toMatch(/invalid_grant/);

    // The same person consents again: with prompt=consent Google issues a new refresh token.
    const back = await signIn(c.owner.token, 'gemini-oauth', c.tag, { accountId: c.accountId });
    expect(back.status, JSON.stringify(back.json)).toBe(201);
    expect(back.json).toMatchObject({ id: c.accountId, enabled: true, disabledReason: null });
    await grant(c.tag, { accessTtlSeconds: 3600 });
    const served = await generate(c.key);
    expect(served.status).toBe(200);
    await served.text();
  });

  it('the fake Google token endpoint checks the client secret and does not rotate', async () => {
    const c = await geminiCarpool();
    const { tokens } = await storedCredential(c.accountId);
    const refresh = (secret: string) =>
      fetch(`${OAUTH}/gemini/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: CLIENT_ID,
          client_secret: secret,
          refresh_token: tokens.refreshToken,
        }),
      });
    const wrong = await refresh('not-the-secret');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });
    for (let i = 0; i < 2; i++) {
      const ok = await refresh('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');
      expect(ok.status).toBe(200);
      const body = (await ok.json()) as Record<string, unknown>;
      expect(body.refresh_token).toBeUndefined();
      expect(body.access_token).toMatch(/^oat\./);
    }
  });
});

describe('probing a Code Assist account', () => {
  it('asks Code Assist about the account (it lists no models): fine while signed in, failed once the grant is revoked', async () => {
    const c = await geminiCarpool();
    const probe = () =>
      admin<{ ok: boolean; status: number | null }>('POST', `/accounts/${c.accountId}/probe`);
    expect((await probe()).json).toMatchObject({ ok: true, status: 200 });
    const asked = (await fakeLog(c.tag)).filter((e) => e.path.endsWith(':loadCodeAssist'));
    expect(asked.length).toBeGreaterThan(0);
    await grant(c.tag, { revoke: true, expireAccess: true });
    expect((await probe()).json).toMatchObject({ ok: false });
  });
});

describe('what a Code Assist account does not serve', () => {
  it('other surfaces find no account: Gemini is served natively only, as for the gemini kind', async () => {
    const c = await geminiCarpool();
    const res = await relayFetch(`${RELAY}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': c.key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({
        model: 'gemini-2.5-pro',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const body = (await res.json()) as ApiErrorBody & { type?: string };
    expect(JSON.stringify(body)).toMatch(/error/);
    expect((await fakeLog(c.tag)).map((e) => e.path)).toEqual(['/v1internal:loadCodeAssist']);
  });
});
