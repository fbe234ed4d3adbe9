// Subscription accounts (claude-oauth, codex-oauth): signed in through the relay's PKCE flow
// against the fake authorization server (test/fake-oauth/), refreshed once for everyone in the
// account's gate with rotated single-use refresh tokens saved before reuse, disabled (and alerted)
// when the grant is revoked, and scheduled by the usage windows the fake upstream reports.
import { env, runInDurableObject } from 'cloudflare:test';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { AccountGate } from '../durable-objects/account-gate';
import { decryptCredential, encryptCredential } from '../worker/auth/credentials';
import { accountStub } from './support/gates';
import { type ApiErrorBody, memberOf } from './support/groups';
import {
  consent,
  grant,
  newTag,
  OAUTH,
  type OAuthAccount,
  signIn,
  subscriptionCarpool,
  type Window,
} from './support/oauth';
import {
  ADMIN_TOKEN,
  admin,
  anthropicClient,
  api,
  eventually,
  fakeLog,
  leasesInUse,
  newUser,
  RELAY,
  type RequestLogRecord,
  relayFetch,
  scriptFake,
  streamMessage,
} from './support/relay';

const claudeCarpool = (options: Parameters<typeof subscriptionCarpool>[1] = {}) =>
  subscriptionCarpool('claude-oauth', options);

function message(key: string) {
  return anthropicClient(key).messages.create({
    model: 'claude-sonnet-4-5',
    max_tokens: 50,
    system: 'Be brief.',
    messages: [{ role: 'user', content: 'hello' }],
  });
}

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
    },
  };
}

describe('signing in a subscription account', () => {
  it('makes a PKCE authorization URL, exchanges the pasted callback and stores the tokens encrypted', async () => {
    const owner = await newUser('Owner');
    const group = await api<{ id: string }>(owner.token, 'POST', '/groups', {
      name: 'plan',
      kind: 'carpool',
    });
    const start = await api<{ authorizeUrl: string; state: string; termsUrl: string; redirectUri: string }>(
      owner.token,
      'POST',
      '/accounts/oauth/start',
      { kind: 'claude-oauth', groupId: group.json.id, acceptTerms: true },
    );
    expect(start.status).toBe(200);
    const url = new URL(start.json.authorizeUrl);
    expect(`${url.origin}${url.pathname}`).toBe(`${OAUTH}/claude/authorize`);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('client_id')).toBe('9d1c250a-e61b-44d9-88ed-5944d1962f5e');
    expect(url.searchParams.get('state')).toBe(start.json.state);
    expect(start.json.termsUrl).toMatch(/^https:\/\/www\.anthropic\.com\//);
    // The state is stored hashed only.
    const stored = await env.DB.prepare('SELECT state_hash, verifier_enc FROM oauth_flows').all<{
      state_hash: string;
      verifier_enc: string;
    }>();
    expect(JSON.stringify(stored.results)).not.toContain(start.json.state);

    const tag = newTag();
    const callback = new URL(await consent(start.json.authorizeUrl, tag));
    // Pasted as Claude's page shows it: `code#state`.
    const code = `${callback.searchParams.get('code')}#${callback.searchParams.get('state')}`;
    const done = await api<OAuthAccount>(owner.token, 'POST', '/accounts/oauth/finish', { code });
    expect(done.status, JSON.stringify(done.json)).toBe(201);
    expect(done.json).toMatchObject({ provider: 'claude-oauth', authKind: 'oauth', groupId: group.json.id });
    expect(JSON.stringify(done.json)).not.toMatch(/oat\.|ort\./);
    const { sealed, tokens } = await storedCredential(done.json.id);
    expect(sealed).not.toMatch(/oat\.|ort\./);
    expect(tokens.refreshToken).toBe((await grant(tag)).refreshToken);

    // A replayed finish finds nothing: the sign-in was single use.
    const again = await api<ApiErrorBody>(owner.token, 'POST', '/accounts/oauth/finish', { code });
    expect(again.status).toBe(404);

    // Members' requests flow, shaped as the provider requires of OAuth tokens.
    const key = await api<{ key: string }>(owner.token, 'POST', '/keys', { groupId: group.json.id });
    const reply = await message(key.json.key);
    expect(reply.content[0]).toMatchObject({ type: 'text' });
    const [entry] = await fakeLog(tag);
    expect(entry!.host).toBe('api.anthropic.com');
    expect(entry!.headers['anthropic-beta']).toContain('oauth-2025-04-20');
    expect(entry!.headers['x-api-key']).toBeUndefined();
    const body = JSON.parse(entry!.body) as { system: { text: string }[] };
    expect(body.system[0]!.text).toBe("You are Claude Code, Anthropic's official CLI for Claude.");
    expect(body.system[1]!.text).toBe('Be brief.');
  });

  it('refuses without the terms, outside the caller’s scope, for another person, and by hand', async () => {
    const owner = await newUser('Owner');
    const group = await api<{ id: string }>(owner.token, 'POST', '/groups', {
      name: 'plan',
      kind: 'carpool',
    });
    const start = (body: Record<string, unknown>, token = owner.token) =>
      api<ApiErrorBody>(token, 'POST', '/accounts/oauth/start', { kind: 'claude-oauth', ...body });
    expect((await start({ groupId: group.json.id })).status).toBe(400);
    const declined = await start({ groupId: group.json.id, acceptTerms: false });
    expect(declined.status).toBe(400);
    expect(declined.json.error.message).toMatch(/acceptTerms/);
    // A member is not the owner; a stranger does not see the group; nor another enterprise.
    const member = await memberOf(group.json.id);
    expect((await start({ groupId: group.json.id, acceptTerms: true }, member.token)).status).toBe(403);
    const stranger = await newUser('Stranger');
    expect((await start({ groupId: group.json.id, acceptTerms: true }, stranger.token)).status).toBe(404);
    const enterprise = await admin<{ id: string }>('POST', '/enterprises', { name: 'Other' });
    expect((await start({ enterpriseId: enterprise.json.id, acceptTerms: true })).status).toBe(404);

    // Only whoever started a sign-in finishes it.
    const started = await api<{ authorizeUrl: string }>(owner.token, 'POST', '/accounts/oauth/start', {
      kind: 'claude-oauth',
      groupId: group.json.id,
      acceptTerms: true,
    });
    const callbackUrl = await consent(started.json.authorizeUrl, newTag());
    const stolen = await api<ApiErrorBody>(stranger.token, 'POST', '/accounts/oauth/finish', { callbackUrl });
    expect(stolen.status).toBe(404);
    // An expired sign-in says so.
    await env.DB.prepare('UPDATE oauth_flows SET expires_at = 0').run();
    const late = await api<ApiErrorBody>(owner.token, 'POST', '/accounts/oauth/finish', { callbackUrl });
    expect(late.status).toBe(400);
    expect(late.json.error.message).toMatch(/expired/);

    // Tokens cannot be typed in: the kinds exist only through the sign-in.
    const byHand = await admin<ApiErrorBody>('POST', '/accounts', {
      name: 'x',
      provider: 'claude-oauth',
      credential: 'anything',
    });
    expect(byHand.status).toBe(400);
    expect(byHand.json.error.message).toMatch(/oauth\/start/);
  });

  it('sends its tokens to its provider only: its base URL cannot be moved to another host', async () => {
    const plan = await subscriptionCarpool('claude-oauth');
    const moved = await api<ApiErrorBody>(plan.owner.token, 'PATCH', `/groups/${plan.groupId}/account`, {
      baseUrl: 'https://collector.test',
    });
    expect(moved.status).toBe(400);
    expect(moved.json.error.message).toMatch(/sign in again/);
    const read = await api<{ baseUrl: string | null }>(
      plan.owner.token,
      'GET',
      `/groups/${plan.groupId}/account`,
    );
    expect(read.json.baseUrl).not.toBe('https://collector.test');
  });

  it('is refused a code with the wrong PKCE verifier, a used code, and an expired one', async () => {
    // The fake checks PKCE as the real servers do (so the relay's sign-ins above prove its verifier).
    const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'; // S256 of the RFC 7636 example verifier
    const redirect = 'https://platform.claude.com/oauth/code/callback';
    const authorize = `${OAUTH}/claude/authorize?client_id=9d1c250a-e61b-44d9-88ed-5944d1962f5e&response_type=code&redirect_uri=${encodeURIComponent(redirect)}&code_challenge=${challenge}&code_challenge_method=S256&state=s&login_hint=${newTag()}`;
    const code = async () =>
      new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location')!).searchParams.get(
        'code',
      )!;
    const exchange = (c: string, verifier: string) =>
      fetch(`${OAUTH}/claude/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          grant_type: 'authorization_code',
          client_id: '9d1c250a-e61b-44d9-88ed-5944d1962f5e',
          code: c,
          redirect_uri: redirect,
          code_verifier: verifier,
          state: 's',
        }),
      });
    const wrong = await exchange(await code(), 'not-the-verifier-not-the-verifier-not-the-v');
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_grant' });
    const good = await code();
    const right = await exchange(good, 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk');
    expect(right.status).toBe(200);
    expect((await exchange(good, 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).status).toBe(400);
  });
});

describe('token refresh in the account gate', () => {
  it('50 concurrent requests on an expired token cause exactly one refresh', async () => {
    const c = await claudeCarpool({ maxConcurrency: 50, prepare: { accessTtlSeconds: 1 } });
    await new Promise((r) => setTimeout(r, 1100));
    const before = await grant(c.tag);
    expect(before.refreshes).toBe(0);
    const results = await Promise.all(Array.from({ length: 50 }, () => streamMessage(c.key)));
    for (const res of results) {
      expect(res.status).toBe(200);
      await res.text();
    }
    const after = await grant(c.tag);
    expect(after.refreshes).toBe(1);
    expect(after.revoked).toBe(false);
    // The rotated token is what D1 holds now.
    expect((await storedCredential(c.accountId)).tokens.refreshToken).toBe(after.refreshToken);
  });

  it('an upstream 401 refreshes once for everyone and the requests are served', async () => {
    const c = await claudeCarpool({ maxConcurrency: 20 });
    // The provider stops honouring the access token before the relay thinks it expires.
    await grant(c.tag, { expireAccess: true });
    const results = await Promise.all(Array.from({ length: 20 }, () => streamMessage(c.key)));
    for (const res of results) {
      expect(res.status).toBe(200);
      await res.text();
    }
    expect((await grant(c.tag)).refreshes).toBe(1);
  });

  it('a rotated refresh token survives a gate eviction and is the one used next', async () => {
    const c = await claudeCarpool({ prepare: { accessTtlSeconds: 1 } });
    await new Promise((r) => setTimeout(r, 1100));
    expect((await streamMessage(c.key)).status).toBe(200);
    const rotated = await grant(c.tag);
    expect(rotated.refreshes).toBe(1);
    const outcome = await runInDurableObject(accountStub(c.accountId), async (_gate: AccountGate, state) => {
      // A new instance over the same storage, as the runtime builds after an eviction.
      const fresh = new AccountGate(state, env);
      await state.blockConcurrencyWhile(async () => {});
      const loaded = JSON.parse(
        state.storage.sql.exec<{ json: string }>('SELECT json FROM config').one().json,
      ) as {
        credentialsEnc: string;
      };
      // As after an upstream 401: the rebuilt gate refreshes with the token it loaded.
      const account = await fresh.refreshAfterRejection(loaded.credentialsEnc);
      return { enabled: fresh.state().enabled, refreshed: account !== null };
    });
    expect(outcome).toEqual({ enabled: true, refreshed: true });
    const after = await grant(c.tag);
    // Had the spent token been used, the fake would have revoked the grant.
    expect(after).toMatchObject({ refreshes: 2, refreshesRefused: 0, revoked: false });
  });

  it('a push of an older credential (a stale D1 read) does not undo a refresh', async () => {
    const c = await claudeCarpool({ prepare: { accessTtlSeconds: 1 } });
    const before = await storedCredential(c.accountId);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await streamMessage(c.key)).status).toBe(200);
    const after = await storedCredential(c.accountId);
    expect(after.tokens.refreshToken).not.toBe(before.tokens.refreshToken);
    // An admin change that read the row before the refresh pushes the old credential.
    await runInDurableObject(accountStub(c.accountId), async (gate: AccountGate) => {
      const row = await env.DB.prepare('SELECT * FROM accounts WHERE id = ?').bind(c.accountId).first<{
        provider: 'claude-oauth';
        auth_kind: 'oauth';
        max_concurrency: number;
      }>();
      await gate.configure({
        id: c.accountId,
        provider: row!.provider,
        authKind: row!.auth_kind,
        baseUrl: null,
        credentialsEnc: before.sealed,
        credentialGeneration: 0,
        modelMapping: null,
        maxConcurrency: row!.max_concurrency,
        enabled: true,
        disabledReason: null,
      });
    });
    // The next refresh still uses the rotated token: the grant is not revoked.
    await grant(c.tag, { expireAccess: true });
    const res = await streamMessage(c.key);
    expect(res.status).toBe(200);
    await res.text();
    expect(await grant(c.tag)).toMatchObject({ refreshes: 2, refreshesRefused: 0, revoked: false });
  });

  it('a slow token endpoint does not hold up requests while the access token is still valid', async () => {
    // Four-second tokens: refreshed from their second half on, still good for about two seconds.
    const c = await claudeCarpool({ prepare: { accessTtlSeconds: 4 } });
    await grant(c.tag, { accessTtlSeconds: 4, refreshDelayMs: 3000 });
    await new Promise((r) => setTimeout(r, 2200));
    const started = Date.now();
    const res = await streamMessage(c.key);
    expect(res.status).toBe(200);
    await res.text();
    expect(Date.now() - started).toBeLessThan(1500);
    // The refresh still happened, once, behind the request.
    await eventually(async () => ((await grant(c.tag)).refreshes === 1 ? true : null));
    await grant(c.tag, { refreshDelayMs: 0 });
  });

  it('transient refresh failures are retried with backoff and the account stays', async () => {
    const c = await claudeCarpool({ prepare: { accessTtlSeconds: 1 } });
    await new Promise((r) => setTimeout(r, 1100));
    await grant(c.tag, { failRefreshes: 2 });
    const res = await streamMessage(c.key);
    expect(res.status).toBe(200);
    await res.text();
    expect(await grant(c.tag)).toMatchObject({ refreshes: 1, revoked: false });
    const account = await admin<OAuthAccount>('GET', `/accounts/${c.accountId}`);
    expect(account.json.enabled).toBe(true);
  });

  it("a token endpoint's edge refusing with a non-OAuth 4xx (a 403 challenge page) is transient: the account stays", async () => {
    const c = await claudeCarpool({ prepare: { accessTtlSeconds: 1 } });
    await new Promise((r) => setTimeout(r, 1100));
    await grant(c.tag, { blockRefreshes: 3 });
    const refused = await streamMessage(c.key);
    expect(refused.status).toBe(503);
    await refused.text();
    const account = await admin<OAuthAccount & { live: { reason: string } }>(
      'GET',
      `/accounts/${c.accountId}`,
    );
    expect(account.json.enabled).toBe(true);
    expect(account.json.disabledReason).toBeNull();
    // The grant was never spent: once the edge lets refreshes through, the account serves again.
    const res = await streamMessage(c.key);
    expect(res.status).toBe(200);
    await res.text();
    expect(await grant(c.tag)).toMatchObject({ refreshes: 1, revoked: false });
  });

  it('a revoked grant disables the account with the reason, and alerts', async () => {
    const c = await claudeCarpool({ prepare: { accessTtlSeconds: 1 } });
    const hooks = newTag();
    const endpoint = await admin<{ id: string }>('POST', `/groups/${c.groupId}/alerts/endpoints`, {
      name: 'ops',
      url: `https://hooks.test/hooks/${hooks}`,
      format: 'json',
    });
    const rule = await admin('POST', `/groups/${c.groupId}/alerts/rules`, {
      name: 'disabled',
      kind: 'account.disabled',
      endpointIds: [endpoint.json.id],
    });
    expect(rule.status).toBe(201);
    await grant(c.tag, { revoke: true });
    await new Promise((r) => setTimeout(r, 1100));
    const res = await streamMessage(c.key);
    expect(res.status).toBe(503);
    await res.text();
    const account = await admin<OAuthAccount & { live: { reason: string } }>(
      'GET',
      `/accounts/${c.accountId}`,
    );
    expect(account.json.enabled).toBe(false);
    expect(account.json.disabledReason).toMatch(/sign-in revoked or expired \(invalid_grant/);
    expect(account.json.live.reason).toMatch(/invalid_grant/);
    const received = await eventually(async () => {
      const list = (await (await fetch(`http://fake.control/hooks?tag=${hooks}`)).json()) as {
        body: string;
      }[];
      return list.length >= 1 ? list : null;
    });
    const event = JSON.parse(received[0]!.body) as { type: string; text: string; subject: { id: string } };
    expect(event).toMatchObject({ type: 'account.disabled', subject: { id: c.accountId } });
    expect(event.text).toMatch(/invalid_grant/);

    // Signing in again (by whoever may change the account) brings it back with new tokens.
    const member = await memberOf(c.groupId);
    const refused = await api<ApiErrorBody>(member.token, 'POST', '/accounts/oauth/start', {
      kind: 'claude-oauth',
      accountId: c.accountId,
      acceptTerms: true,
    });
    expect(refused.status).toBe(403);
    const again = await signIn(c.owner.token, 'claude-oauth', newTag(), { accountId: c.accountId });
    expect(again.status, JSON.stringify(again.json)).toBe(201);
    expect(again.json).toMatchObject({ id: c.accountId, enabled: true, disabledReason: null });
    const back = await streamMessage(c.key);
    expect(back.status).toBe(200);
    await back.text();
  });

  it('the fake revokes a grant whose spent refresh token is presented again', async () => {
    const c = await claudeCarpool();
    const { tokens } = await storedCredential(c.accountId);
    const refresh = (token: string) =>
      fetch(`${OAUTH}/claude/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          grant_type: 'refresh_token',
          client_id: '9d1c250a-e61b-44d9-88ed-5944d1962f5e',
          refresh_token: token,
        }),
      });
    expect((await refresh(tokens.refreshToken)).status).toBe(200);
    const reused = await refresh(tokens.refreshToken);
    expect(reused.status).toBe(400);
    expect(await reused.json()).toMatchObject({ error: 'invalid_grant' });
    expect((await grant(c.tag)).revoked).toBe(true);
  });
});

describe('a refresh still out when the account is signed in again', () => {
  type Live = OAuthAccount & {
    live: {
      reason: string | null;
      cooldownUntil: number | null;
      oauth: { lastRefreshError: string | null } | null;
    };
  };

  /** A carpool whose next request starts a refresh of its grant that the token endpoint holds. */
  async function refreshHeld() {
    const c = await claudeCarpool();
    // The provider ends the access token early: the next request's 401 starts a refresh.
    await grant(c.tag, { expireAccess: true, holdRefreshes: true });
    const pending = streamMessage(c.key);
    await eventually(async () => ((await grant(c.tag)).refreshesHeld === 1 ? true : null));
    return { ...c, pending };
  }

  /** Asserts the account serves as `tag` now, not as `old`: what the upstream was given. */
  async function servesAs(key: string, tag: string, old: string) {
    const [mine, theirs] = [(await fakeLog(tag)).length, (await fakeLog(old)).length];
    const res = await streamMessage(key);
    expect(res.status).toBe(200);
    await res.text();
    expect((await fakeLog(tag)).length).toBe(mine + 1);
    expect((await fakeLog(old)).length).toBe(theirs);
  }

  it("is dropped: the new sign-in's tokens stay, in the gate and in D1", async () => {
    const c = await refreshHeld();
    const login = newTag();
    const again = await signIn(c.owner.token, 'claude-oauth', login, { accountId: c.accountId });
    expect(again.status, JSON.stringify(again.json)).toBe(201);
    const signedIn = await storedCredential(c.accountId);
    expect(signedIn.tokens.refreshToken).toBe((await grant(login)).refreshToken);
    // The old grant's refresh now answers, with good tokens of the old sign-in.
    await grant(c.tag, { holdRefreshes: false });
    const res = await c.pending;
    expect(res.status).toBe(200);
    await res.text();
    expect(await grant(c.tag)).toMatchObject({ refreshes: 1, refreshesRefused: 0, refreshesHeld: 0 });
    expect((await storedCredential(c.accountId)).sealed).toBe(signedIn.sealed);
    await servesAs(c.key, login, c.tag);
    const account = await admin<Live>('GET', `/accounts/${c.accountId}`);
    expect(account.json).toMatchObject({ enabled: true, disabledReason: null });
    expect(account.json.live).toMatchObject({ reason: null, cooldownUntil: null });
    expect(account.json.live.oauth?.lastRefreshError ?? null).toBeNull();
  });

  it('a refusal of the old grant neither disables nor cools down the new sign-in', async () => {
    const c = await refreshHeld();
    const login = newTag();
    const again = await signIn(c.owner.token, 'claude-oauth', login, { accountId: c.accountId });
    expect(again.status, JSON.stringify(again.json)).toBe(201);
    const signedIn = await storedCredential(c.accountId);
    // The person revoked the old grant when they signed in anew: its refresh is refused.
    await grant(c.tag, { revoke: true, holdRefreshes: false });
    const res = await c.pending;
    expect(res.status).toBe(200);
    await res.text();
    expect(await grant(c.tag)).toMatchObject({ refreshesRefused: 1, refreshesHeld: 0 });
    const account = await admin<Live>('GET', `/accounts/${c.accountId}`);
    expect(account.json).toMatchObject({ enabled: true, disabledReason: null });
    expect(account.json.live).toMatchObject({ reason: null, cooldownUntil: null });
    expect(account.json.live.oauth?.lastRefreshError ?? null).toBeNull();
    expect((await storedCredential(c.accountId)).sealed).toBe(signedIn.sealed);
    await servesAs(c.key, login, c.tag);
  });

  it.each([
    { answer: 'tokens', revoke: false },
    { answer: 'a refusal', revoke: true },
  ])(
    'a sign-in D1 has and the gate has not heard of yet wins over the refresh too ($answer)',
    async ({ revoke }) => {
      const c = await refreshHeld();
      // Another login's tokens, sealed for this account, written to D1 as a sign-in does, whose
      // push to the gate has not arrived (the window between reauthorizeAccount's write and push).
      const other = await claudeCarpool();
      const { tokens } = await storedCredential(other.accountId);
      const sealed = await encryptCredential(env.CREDENTIALS_KEY, c.accountId, JSON.stringify(tokens));
      await env.DB.prepare(
        'UPDATE accounts SET credentials_enc = ?, credential_generation = credential_generation + 1 WHERE id = ?',
      )
        .bind(sealed, c.accountId)
        .run();
      await grant(c.tag, { revoke, holdRefreshes: false });
      const res = await c.pending;
      expect(res.status).toBe(200);
      await res.text();
      expect((await grant(c.tag)).refreshes).toBe(1);
      expect((await storedCredential(c.accountId)).sealed).toBe(sealed);
      const account = await admin<Live>('GET', `/accounts/${c.accountId}`);
      expect(account.json).toMatchObject({ enabled: true, disabledReason: null });
      // The gate took the sign-in from D1 when its write-back was refused.
      await servesAs(c.key, other.tag, c.tag);
    },
  );

  it("a new sign-in's push wins over the old grant's refresh even when it got its tokens first", async () => {
    // The other login signs in first: its tokens are older than the refresh below.
    const other = await claudeCarpool();
    const c = await claudeCarpool();
    await grant(c.tag, { expireAccess: true });
    const res = await streamMessage(c.key);
    expect(res.status).toBe(200);
    await res.text();
    expect((await grant(c.tag)).refreshes).toBe(1);
    // The sign-in's write and push (reauthorizeAccount) land after that refresh's write-back.
    const { tokens } = await storedCredential(other.accountId);
    const sealed = await encryptCredential(env.CREDENTIALS_KEY, c.accountId, JSON.stringify(tokens));
    const row = await env.DB.prepare(
      'UPDATE accounts SET credentials_enc = ?, credential_generation = credential_generation + 1 WHERE id = ? RETURNING *',
    )
      .bind(sealed, c.accountId)
      .first<{ max_concurrency: number; credential_generation: number }>();
    await runInDurableObject(accountStub(c.accountId), (gate: AccountGate) =>
      gate.configure({
        id: c.accountId,
        provider: 'claude-oauth',
        authKind: 'oauth',
        baseUrl: null,
        credentialsEnc: sealed,
        credentialGeneration: row!.credential_generation,
        modelMapping: null,
        maxConcurrency: row!.max_concurrency,
        enabled: true,
        disabledReason: null,
      }),
    );
    await servesAs(c.key, other.tag, c.tag);
  });
});

describe('usage windows', () => {
  it('a window at 100 % moves new sessions to another account until its reset', async () => {
    const run = newTag();
    const enterprise = await admin<{ id: string }>('POST', '/enterprises', { name: `ent ${run}` });
    const first = newTag();
    const second = newTag();
    const resetAt = Math.ceil((Date.now() + 3000) / 1000);
    await grant(first, {
      headers: {
        'anthropic-ratelimit-unified-status': 'rejected',
        'anthropic-ratelimit-unified-5h-utilization': '1.0',
        'anthropic-ratelimit-unified-5h-reset': String(resetAt),
        'anthropic-ratelimit-unified-5h-status': 'rejected',
        'anthropic-ratelimit-unified-7d-utilization': '0.42',
        'anthropic-ratelimit-unified-7d-reset': String(resetAt + 86_400),
        'anthropic-ratelimit-unified-7d-status': 'allowed',
      },
    });
    const a = await signIn(ADMIN_TOKEN, 'claude-oauth', first, {
      enterpriseId: enterprise.json.id,
      priority: 1,
    });
    const b = await signIn(ADMIN_TOKEN, 'claude-oauth', second, {
      enterpriseId: enterprise.json.id,
      priority: 2,
    });
    expect([a.status, b.status]).toEqual([201, 201]);
    const user = await newUser('Member');
    const group = await admin<{ id: string }>('POST', '/groups', {
      name: `dept ${run}`,
      kind: 'enterprise',
      enterpriseId: enterprise.json.id,
    });
    await admin('POST', `/groups/${group.json.id}/members`, { userId: user.id, role: 'member' });
    const key = await admin<{ key: string }>('POST', '/keys', { groupId: group.json.id, userId: user.id });

    const ask = async (session: string) => {
      const res = await streamMessage(key.json.key, { session });
      expect(res.status).toBe(200);
      await res.text();
    };
    await ask('s1');
    expect((await fakeLog(first)).length).toBe(1);
    await eventually(async () => ((await leasesInUse(a.json.id)) === 0 ? true : null));
    const read = await admin<{ live: { windows: Window[]; reason: string | null } }>(
      'GET',
      `/accounts/${a.json.id}`,
    );
    const windows = Object.fromEntries(read.json.live.windows.map((w) => [w.name, w]));
    expect(windows['5h']).toMatchObject({
      windowMinutes: 300,
      usedPercent: 100,
      exhausted: true,
      resetAt: resetAt * 1000,
    });
    expect(windows['7d']).toMatchObject({ windowMinutes: 10080, usedPercent: 42, exhausted: false });
    expect(read.json.live.reason).toMatch(/usage window 5h used up/);

    // New sessions go to the other account while the window is used up…
    await ask('s2');
    await ask('s3');
    expect((await fakeLog(first)).length).toBe(1);
    expect((await fakeLog(second)).length).toBe(2);
    // …and come back after the reset (the fake now reports room again).
    await grant(first, { headers: {} });
    await new Promise((r) => setTimeout(r, Math.max(0, resetAt * 1000 - Date.now() + 200)));
    await ask('s4');
    expect((await fakeLog(first)).length).toBe(2);
  });

  it("a Codex plan's spent usage cools the account down until the reset its 429 body names", async () => {
    const c = await subscriptionCarpool('codex-oauth');
    // No window headers and no retry-after: only the body's resets_at says when (an hour).
    await grant(c.tag, { scenario: '429.3600' });
    const res = await relayFetch(`${RELAY}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-5-codex', input: 'hello', instructions: 'Be brief.', stream: true }),
    });
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ error: { type: 'usage_limit_reached' } });
    const { cooldownUntil } = await accountStub(c.accountId).state();
    expect(cooldownUntil).toBeGreaterThan(Date.now() + 3_500_000);
    expect(cooldownUntil).toBeLessThanOrEqual(Date.now() + 3_601_000);
  });

  it('Codex windows are named by their length, and requests carry the ChatGPT account', async () => {
    const owner = await newUser('Owner');
    const group = await api<{ id: string }>(owner.token, 'POST', '/groups', {
      name: 'codex',
      kind: 'carpool',
    });
    const tag = newTag();
    // A plan that reports its weekly window as primary.
    await grant(tag, {
      headers: {
        'x-codex-primary-used-percent': '37',
        'x-codex-primary-window-minutes': '10080',
        'x-codex-primary-reset-after-seconds': '86400',
        'x-codex-secondary-used-percent': '12.5',
        'x-codex-secondary-window-minutes': '300',
        'x-codex-secondary-reset-after-seconds': '600',
      },
    });
    const account = await signIn(owner.token, 'codex-oauth', tag, { groupId: group.json.id });
    expect(account.status, JSON.stringify(account.json)).toBe(201);
    const key = await api<{ key: string }>(owner.token, 'POST', '/keys', { groupId: group.json.id });
    const client = new OpenAI({
      apiKey: key.json.key,
      baseURL: `${RELAY}/v1`,
      fetch: relayFetch,
      maxRetries: 0,
    });
    const response = await client.responses.create({
      model: 'gpt-5-codex',
      input: 'hello',
      instructions: 'Be brief.',
    });
    expect(response.status).toBe('completed');
    const [entry] = await fakeLog(tag);
    expect(entry!.host).toBe('chatgpt.com');
    expect(entry!.path).toBe('/backend-api/codex/responses');
    expect(entry!.headers['chatgpt-account-id']).toBe(`acct-${tag}`);
    expect(JSON.parse(entry!.body)).toMatchObject({ store: false, instructions: 'Be brief.' });
    await eventually(async () => ((await leasesInUse(account.json.id)) === 0 ? true : null));
    const read = await api<{ live: { windows: Window[] } }>(
      owner.token,
      'GET',
      `/groups/${group.json.id}/account`,
    );
    const windows = Object.fromEntries(read.json.live.windows.map((w) => [w.name, w]));
    expect(windows['7d']).toMatchObject({ windowMinutes: 10080, usedPercent: 37, exhausted: false });
    expect(windows['5h']).toMatchObject({ windowMinutes: 300, usedPercent: 12.5 });
  });
});

describe('a Codex subscription asked without streaming', () => {
  // The ChatGPT backend answers only streams: the relay asks streamed and answers the one body.
  const codexClient = (key: string) =>
    new OpenAI({ apiKey: key, baseURL: `${RELAY}/v1`, fetch: relayFetch, maxRetries: 0 });
  const ask = (key: string) =>
    codexClient(key).responses.create({
      model: 'gpt-5-codex',
      instructions: 'Be brief.',
      input: 'hello',
      stream: false,
    });
  const logRows = (accountId: string) =>
    eventually(async () => {
      const { results } = await env.DB.prepare('SELECT * FROM request_log WHERE account_id = ?')
        .bind(accountId)
        .all<RequestLogRecord>();
      return results.length > 0 ? results : undefined;
    });

  it('is served the whole Response off the stream, metered exactly', async () => {
    const c = await subscriptionCarpool('codex-oauth');
    const { data: response, response: raw } = await ask(c.key).withResponse();
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('application/json');
    expect(response).toMatchObject({ object: 'response', status: 'completed', model: 'gpt-5-codex' });
    expect(response.output_text.length).toBeGreaterThan(0);
    const [entry] = await fakeLog(c.tag);
    expect(JSON.parse(entry!.body)).toMatchObject({ stream: true, store: false });
    expect(entry!.headers.accept).toBe('text/event-stream');
    const usage = response.usage!;
    expect(usage.output_tokens).toBeGreaterThan(0);
    const [row] = await logRows(c.accountId);
    expect(row).toMatchObject({
      status: 200,
      outcome: 'complete',
      input_tokens: usage.input_tokens - (usage.input_tokens_details?.cached_tokens ?? 0),
      output_tokens: usage.output_tokens,
      cache_read_tokens: usage.input_tokens_details?.cached_tokens ?? 0,
    });
  });

  it('answers a failed stream with the OpenAI error and its status, not a 200', async () => {
    const c = await subscriptionCarpool('codex-oauth');
    await scriptFake(c.tag, ['midstream_error']);
    const failed = await ask(c.key).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(OpenAI.APIError);
    expect((failed as InstanceType<typeof OpenAI.APIError>).status).toBe(500);
    expect((failed as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({
      type: 'server_error',
      code: 'server_error',
      message: 'The server is overloaded or not ready yet.',
    });
    const [row] = await logRows(c.accountId);
    expect(row!.status).toBe(500);
  });

  it('cuts a stream that stalls before its response, within the headers timeout, and settles', async () => {
    const c = await subscriptionCarpool('codex-oauth');
    await scriptFake(c.tag, ['stall.2']);
    const stalled = await ask(c.key).catch((err: unknown) => err);
    expect(stalled).toBeInstanceOf(OpenAI.APIError);
    expect((stalled as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    const [row] = await logRows(c.accountId);
    expect(row).toMatchObject({ status: 504, outcome: 'failed', error_type: 'timeout' });
    await eventually(async () => ((await leasesInUse(c.accountId)) === 0 ? true : null));
  });

  it('treats a stream cut before its response as an upstream failure', async () => {
    const c = await subscriptionCarpool('codex-oauth');
    await scriptFake(c.tag, ['drop']);
    const cut = await ask(c.key).catch((err: unknown) => err);
    expect(cut).toBeInstanceOf(OpenAI.APIError);
    expect((cut as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    const [row] = await logRows(c.accountId);
    expect(row!.status).toBe(502);
  });
});

describe('probing a subscription account', () => {
  const probe = (accountId: string) =>
    admin<{ ok: boolean; status: number | null }>('POST', `/accounts/${accountId}/probe`);

  it('asks the ChatGPT backend what it accepts: a streamed response with instructions, nothing stored', async () => {
    const c = await subscriptionCarpool('codex-oauth');
    const result = await probe(c.accountId);
    expect(result.json).toMatchObject({ ok: true, status: 200 });
    const [entry] = await fakeLog(c.tag);
    expect(entry!.method).toBe('POST');
    expect(entry!.path).toBe('/backend-api/codex/responses');
    expect(entry!.headers['chatgpt-account-id']).toBe(`acct-${c.tag}`);
    expect(JSON.parse(entry!.body)).toMatchObject({
      stream: true,
      store: false,
      instructions: expect.any(String),
    });
  });

  it('makes the tokens fresh first: an access token that lapsed, or one the provider ended early', async () => {
    const lapsed = await claudeCarpool({ prepare: { accessTtlSeconds: 1 } });
    await new Promise((r) => setTimeout(r, 1100));
    expect((await probe(lapsed.accountId)).json).toMatchObject({ ok: true, status: 200 });
    expect((await grant(lapsed.tag)).refreshes).toBe(1);

    const ended = await subscriptionCarpool('codex-oauth');
    await grant(ended.tag, { expireAccess: true });
    expect((await probe(ended.accountId)).json).toMatchObject({ ok: true, status: 200 });
    expect((await grant(ended.tag)).refreshes).toBe(1);
  });

  it('still fails when the sign-in is gone', async () => {
    const c = await claudeCarpool();
    await grant(c.tag, { revoke: true, expireAccess: true });
    expect((await probe(c.accountId)).json).toMatchObject({ ok: false, status: 401 });
  });
});
