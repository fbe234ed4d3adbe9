// A fake authorization server for the subscription accounts at https://oauth.test, reached like
// every outbound fetch of the relay through the fake-upstream worker: /claude/… and /codex/…, each
// with its provider's registered public client. It follows RFC 6749 (authorization code and
// refresh grants, `invalid_grant` errors) and RFC 7636 (PKCE, S256 only), and behaves as the real
// ones do where it matters to a relay: codes are single use and expire, refresh tokens rotate and
// are single use — presenting a spent one is taken as theft and revokes the whole grant — and a
// revoked grant refuses every refresh. Claude's token endpoint takes JSON with the state, Codex's
// a form; Codex's answer carries an ID token naming the ChatGPT account. /gemini/… is Google's as
// the Gemini CLI's installed-app client meets it: a form with the client secret (checked), a
// refresh token only for offline access and a fresh consent (`access_type=offline`, and
// `prompt=consent` once the person has consented before), and refresh tokens that do not rotate:
// a refresh answers a new access token only, and the same refresh token keeps working.
//
// The grant also holds the person's Gemini Code Assist standing for the fake upstream's
// cloudcode-pa.googleapis.com (loadCodeAssist, onboardUser): onboarded with a project, new (the
// free tier onboards them into a managed project), or ineligible.
//
// Access tokens it issues (`oat.…`) are checked by the fake upstream (test/fake-upstream/index.ts):
// a live one is swapped for the person's fake key (`sk-fake.<tag>.<scenario>`, the login_hint), an
// expired or unknown one is a 401, and the grant's response headers (usage windows) are added.
//
// Test control (not OAuth): GET /test/grants/<tag> reads a grant's counters; POST sets faults
// ({revoke, expireAccess, accessTtlSeconds, failRefreshes, failExchanges, blockRefreshes, refreshDelayMs,
// holdRefreshes, headers, codeAssist}), also before sign-in. `holdRefreshes: true` keeps every
// refresh that arrives waiting, request received and nothing answered (`refreshesHeld` counts
// them), until `holdRefreshes: false` lets them go on as they would have: a token endpoint slow at
// just the moment a test chooses. `blockRefreshes` plays the edge in front of a real token endpoint (Cloudflare
// fronts OpenAI's and Anthropic's): a 403 HTML challenge page, no OAuth answer at all.

export const OAUTH_HOST = 'oauth.test';

type Kind = 'claude' | 'codex' | 'gemini';

const CLIENTS: Record<Kind, string> = {
  claude: '9d1c250a-e61b-44d9-88ed-5944d1962f5e',
  codex: 'app_EMoamEEZ73f0CkXaXp7hrann',
  gemini: '681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com',
};

/** Google's installed-app clients have a secret, public by design but still checked. */
const SECRETS: Partial<Record<Kind, string>> = { gemini: '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' };

/** A person's Gemini Code Assist standing (the fake upstream's loadCodeAssist reads it). */
export type CodeAssistStanding = 'onboarded' | 'new' | 'ineligible';

const CODE_TTL_MS = 60_000;

const GEMINI_SCOPES = [
  'https://www.googleapis.com/auth/cloud-platform',
  'https://www.googleapis.com/auth/userinfo.email',
  'https://www.googleapis.com/auth/userinfo.profile',
].join(' ');

interface Code {
  kind: Kind;
  tag: string;
  redirectUri: string;
  challenge: string;
  state: string;
  expiresAt: number;
  /** Google: `access_type=offline` was asked, and `prompt=consent`. */
  offline: boolean;
  consent: boolean;
}

interface Grant {
  tag: string;
  /** The fake upstream key this person's requests play as. */
  upstreamKey: string;
  kind: Kind | null;
  revoked: boolean;
  refreshToken: string | null;
  spentRefreshTokens: Set<string>;
  accessTokens: Map<string, number>;
  accessTtlSeconds: number;
  /** Transient failures (503) the next refreshes get before one succeeds. */
  failRefreshes: number;
  /** Transient failures (503) the next code exchanges get, the code spent as any exchange spends it. */
  failExchanges: number;
  /** Refreshes the edge turns away (403 HTML) before the token endpoint sees one. */
  blockRefreshes: number;
  /** How long the token endpoint takes over a refresh (a struggling endpoint). */
  refreshDelayMs: number;
  /** Refreshes wait until this is false again; how many wait now. */
  holdRefreshes: boolean;
  refreshesHeld: number;
  refreshes: number;
  refreshesRefused: number;
  exchanges: number;
  headers: Record<string, string>;
  serial: number;
  /** Google: the person consented to this client before (a refresh token then needs prompt=consent). */
  consented: boolean;
  codeAssist: CodeAssistStanding;
  /** The Code Assist project, once onboarded. */
  project: string | null;
}

const codes = new Map<string, Code>();
const grants = new Map<string, Grant>();
const byRefresh = new Map<string, string>();
const byAccess = new Map<string, string>();

function grantOf(tag: string): Grant {
  let grant = grants.get(tag);
  if (!grant) {
    grant = {
      tag,
      upstreamKey: `sk-fake.${tag}.ok`,
      kind: null,
      revoked: false,
      refreshToken: null,
      spentRefreshTokens: new Set(),
      accessTokens: new Map(),
      accessTtlSeconds: 3600,
      failRefreshes: 0,
      failExchanges: 0,
      blockRefreshes: 0,
      refreshDelayMs: 0,
      holdRefreshes: false,
      refreshesHeld: 0,
      refreshes: 0,
      refreshesRefused: 0,
      exchanges: 0,
      headers: {},
      serial: 0,
      consented: false,
      codeAssist: 'onboarded',
      project: `fake-project-${tag}`,
    };
    grants.set(tag, grant);
  }
  return grant;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
}

const oauthError = (error: string, description: string, status = 400) =>
  json({ error, error_description: description }, status);

function random(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function s256(verifier: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  let binary = '';
  for (const b of digest) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const b64url = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/**
 * Tokens for a grant: a new access token and, unless `refresh` is false (Google's refreshes, or a
 * sign-in without offline consent), a new refresh token (the old one is spent).
 */
function issue(grant: Grant, refresh = true): Record<string, unknown> {
  grant.serial++;
  const access = `oat.${grant.tag}.${grant.serial}.${random()}`;
  grant.accessTokens.set(access, Date.now() + grant.accessTtlSeconds * 1000);
  byAccess.set(access, grant.tag);
  const body: Record<string, unknown> = {
    access_token: access,
    token_type: 'Bearer',
    expires_in: grant.accessTtlSeconds,
  };
  if (refresh) {
    const token = `ort.${grant.tag}.${grant.serial}.${random()}`;
    if (grant.refreshToken) {
      grant.spentRefreshTokens.add(grant.refreshToken);
      byRefresh.delete(grant.refreshToken);
    }
    grant.refreshToken = token;
    byRefresh.set(token, grant.tag);
    body.refresh_token = token;
  }
  if (grant.kind === 'gemini') body.scope = GEMINI_SCOPES;
  if (grant.kind === 'codex') {
    const claims = {
      iss: `https://${OAUTH_HOST}`,
      email: `${grant.tag}@example.com`,
      'https://api.openai.com/auth': { chatgpt_account_id: `acct-${grant.tag}`, chatgpt_plan_type: 'plus' },
    };
    body.id_token = `${b64url('{"alg":"none"}')}.${b64url(JSON.stringify(claims))}.`;
  }
  return body;
}

async function readBody(request: Request, kind: Kind): Promise<Record<string, string> | null> {
  const type = request.headers.get('content-type') ?? '';
  try {
    if (kind === 'claude') {
      if (!type.startsWith('application/json')) return null;
      return (await request.json()) as Record<string, string>;
    }
    if (!type.startsWith('application/x-www-form-urlencoded')) return null;
    return Object.fromEntries(new URLSearchParams(new TextDecoder().decode(await request.arrayBuffer())));
  } catch {
    return null;
  }
}

async function token(request: Request, kind: Kind): Promise<Response> {
  const body = await readBody(request, kind);
  if (!body) return oauthError('invalid_request', 'unsupported body encoding');
  if (body.client_id !== CLIENTS[kind]) return oauthError('invalid_client', 'unknown client', 401);
  if (SECRETS[kind] !== undefined && body.client_secret !== SECRETS[kind])
    return oauthError('invalid_client', 'Unauthorized', 401);
  if (body.grant_type === 'authorization_code') {
    const code = codes.get(body.code ?? '');
    // Single use: the code is gone whatever happens next.
    codes.delete(body.code ?? '');
    if (!code || code.kind !== kind) return oauthError('invalid_grant', 'unknown or used code');
    const failing = grants.get(code.tag);
    if (failing && failing.failExchanges > 0) {
      failing.failExchanges--;
      return json({ error: 'temporarily_unavailable' }, 503);
    }
    if (code.expiresAt <= Date.now()) return oauthError('invalid_grant', 'code expired');
    if (code.redirectUri !== body.redirect_uri) return oauthError('invalid_grant', 'redirect_uri mismatch');
    if (!body.code_verifier || (await s256(body.code_verifier)) !== code.challenge)
      return oauthError('invalid_grant', 'PKCE verification failed');
    if (kind === 'claude' && body.state !== code.state) return oauthError('invalid_grant', 'state mismatch');
    const grant = grantOf(code.tag);
    grant.kind = kind;
    grant.revoked = false;
    grant.exchanges++;
    if (kind === 'gemini') {
      // Google: a refresh token for offline access, and only on a consent screen actually shown.
      const refresh = code.offline && (code.consent || !grant.consented);
      grant.consented = true;
      return json(issue(grant, refresh));
    }
    return json(issue(grant));
  }
  if (body.grant_type === 'refresh_token') {
    const presented = body.refresh_token ?? '';
    const tag = byRefresh.get(presented) ?? presented.split('.')[1] ?? '';
    const grant = grants.get(tag);
    if (!grant) return oauthError('invalid_grant', 'unknown refresh token');
    if (grant.holdRefreshes) {
      grant.refreshesHeld++;
      // Polled rather than a promise the test control resolves: that would be another request's.
      while (grant.holdRefreshes) await new Promise((r) => setTimeout(r, 10));
      grant.refreshesHeld--;
    }
    if (grant.refreshDelayMs > 0) await new Promise((r) => setTimeout(r, grant.refreshDelayMs));
    if (grant.failRefreshes > 0) {
      grant.failRefreshes--;
      return json({ error: 'temporarily_unavailable' }, 503);
    }
    if (grant.blockRefreshes > 0) {
      grant.blockRefreshes--;
      return new Response(
        '<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Enable JavaScript and cookies to continue</body></html>',
        { status: 403, headers: { 'content-type': 'text/html; charset=UTF-8', 'cf-mitigated': 'challenge' } },
      );
    }
    grant.refreshes++;
    if (grant.revoked) {
      grant.refreshesRefused++;
      return oauthError('invalid_grant', 'the grant was revoked');
    }
    if (presented !== grant.refreshToken) {
      // A spent refresh token presented again: whoever holds the family may be a thief.
      grant.refreshesRefused++;
      grant.revoked = grant.spentRefreshTokens.has(presented) || grant.revoked;
      return oauthError('invalid_grant', 'refresh token already used; the grant is revoked');
    }
    if (kind === 'codex' && body.scope !== undefined && body.scope !== 'openid profile email')
      return oauthError('invalid_scope', 'scope');
    // Google does not rotate: the refresh token stays as it is.
    return json(issue(grant, kind !== 'gemini'));
  }
  return oauthError('unsupported_grant_type', String(body.grant_type));
}

/** The sign-in page: signs in the person named by login_hint at once and sends them back with a code. */
function authorize(url: URL, kind: Kind): Response {
  const p = url.searchParams;
  if (p.get('client_id') !== CLIENTS[kind]) return oauthError('invalid_client', 'unknown client');
  if (p.get('response_type') !== 'code') return oauthError('unsupported_response_type', 'code only');
  if (p.get('code_challenge_method') !== 'S256' || !p.get('code_challenge'))
    return oauthError('invalid_request', 'PKCE S256 required');
  const redirect = p.get('redirect_uri');
  const hint = p.get('login_hint');
  if (!redirect || !hint) return oauthError('invalid_request', 'redirect_uri and login_hint required');
  const code = random();
  codes.set(code, {
    kind,
    tag: hint,
    redirectUri: redirect,
    challenge: p.get('code_challenge')!,
    state: p.get('state') ?? '',
    expiresAt: Date.now() + CODE_TTL_MS,
    offline: p.get('access_type') === 'offline',
    consent: (p.get('prompt') ?? '').split(' ').includes('consent'),
  });
  const back = new URL(redirect);
  back.searchParams.set('code', code);
  if (p.get('state')) back.searchParams.set('state', p.get('state')!);
  return new Response(null, { status: 302, headers: { location: back.toString() } });
}

async function testControl(request: Request, tag: string): Promise<Response> {
  const grant = grantOf(tag);
  if (request.method === 'POST') {
    const input = (await request.json()) as {
      revoke?: boolean;
      expireAccess?: boolean;
      accessTtlSeconds?: number;
      failRefreshes?: number;
      failExchanges?: number;
      blockRefreshes?: number;
      refreshDelayMs?: number;
      holdRefreshes?: boolean;
      headers?: Record<string, string>;
      scenario?: string;
      codeAssist?: CodeAssistStanding;
    };
    if (input.revoke) grant.revoked = true;
    if (input.expireAccess) for (const t of grant.accessTokens.keys()) grant.accessTokens.set(t, 0);
    if (input.accessTtlSeconds !== undefined) grant.accessTtlSeconds = input.accessTtlSeconds;
    if (input.failRefreshes !== undefined) grant.failRefreshes = input.failRefreshes;
    if (input.failExchanges !== undefined) grant.failExchanges = input.failExchanges;
    if (input.blockRefreshes !== undefined) grant.blockRefreshes = input.blockRefreshes;
    if (input.refreshDelayMs !== undefined) grant.refreshDelayMs = input.refreshDelayMs;
    if (input.holdRefreshes !== undefined) grant.holdRefreshes = input.holdRefreshes;
    if (input.headers) grant.headers = input.headers;
    if (input.scenario) grant.upstreamKey = `sk-fake.${tag}.${input.scenario}`;
    if (input.codeAssist) {
      grant.codeAssist = input.codeAssist;
      grant.project = input.codeAssist === 'onboarded' ? `fake-project-${tag}` : null;
    }
  }
  return json({
    revoked: grant.revoked,
    refreshes: grant.refreshes,
    refreshesRefused: grant.refreshesRefused,
    refreshesHeld: grant.refreshesHeld,
    exchanges: grant.exchanges,
    refreshToken: grant.refreshToken,
    liveAccessTokens: [...grant.accessTokens.values()].filter((at) => at > Date.now()).length,
    codeAssist: grant.codeAssist,
    project: grant.project,
  });
}

export async function oauth(request: Request, url: URL): Promise<Response> {
  const [, first, second] = url.pathname.split('/');
  if (first === 'test' && second === 'grants') return testControl(request, url.pathname.split('/')[3] ?? '');
  if (first !== 'claude' && first !== 'codex' && first !== 'gemini') return json({ error: 'not found' }, 404);
  if (second === 'authorize' && request.method === 'GET') return authorize(url, first);
  if (second === 'token' && request.method === 'POST') return token(request, first);
  return json({ error: 'not found' }, 404);
}

/**
 * For the fake upstream: what an access token of this server stands for. A live token: the
 * person's fake key and the headers their plan's responses carry. Expired, unknown or revoked: null.
 */
export function resolveAccessToken(token: string): { key: string; headers: Record<string, string> } | null {
  const tag = byAccess.get(token);
  const grant = tag === undefined ? undefined : grants.get(tag);
  if (!grant || grant.revoked) return null;
  const expiresAt = grant.accessTokens.get(token);
  if (expiresAt === undefined || expiresAt <= Date.now()) return null;
  return { key: grant.upstreamKey, headers: grant.headers };
}

/**
 * For the fake Code Assist API: the standing of the person a fake upstream key stands for
 * (`sk-fake.<tag>.…`), and onboarding them (the free tier's managed project). Null: no such person.
 */
export function codeAssistOf(tag: string): { standing: CodeAssistStanding; project: string | null } | null {
  const grant = grants.get(tag);
  return grant ? { standing: grant.codeAssist, project: grant.project } : null;
}

export function onboardCodeAssist(tag: string): string | null {
  const grant = grants.get(tag);
  if (!grant || grant.codeAssist === 'ineligible') return null;
  grant.codeAssist = 'onboarded';
  grant.project ??= `fake-managed-${tag}`;
  return grant.project;
}
