// A fake authorization server for the subscription accounts at https://oauth.test, reached like
// every outbound fetch of the relay through the fake-upstream worker: /claude/… and /codex/…, each
// with its provider's registered public client. It follows RFC 6749 (authorization code and
// refresh grants, `invalid_grant` errors) and RFC 7636 (PKCE, S256 only), and behaves as the real
// ones do where it matters to a relay: codes are single use and expire, refresh tokens rotate and
// are single use — presenting a spent one is taken as theft and revokes the whole grant — and a
// revoked grant refuses every refresh. Claude's token endpoint takes JSON with the state, Codex's
// a form; Codex's answer carries an ID token naming the ChatGPT account.
//
// Access tokens it issues (`oat.…`) are checked by the fake upstream (test/fake-upstream/index.ts):
// a live one is swapped for the person's fake key (`sk-fake.<tag>.<scenario>`, the login_hint), an
// expired or unknown one is a 401, and the grant's response headers (usage windows) are added.
//
// Test control (not OAuth): GET /test/grants/<tag> reads a grant's counters; POST sets faults
// ({revoke, expireAccess, accessTtlSeconds, failRefreshes, headers}), also before sign-in.

export const OAUTH_HOST = 'oauth.test';

type Kind = 'claude' | 'codex';

const CLIENTS: Record<Kind, string> = {
  claude: '9d1c250a-e61b-44d9-88ed-5944d1962f5e',
  codex: 'app_EMoamEEZ73f0CkXaXp7hrann',
};

const CODE_TTL_MS = 60_000;

interface Code {
  kind: Kind;
  tag: string;
  redirectUri: string;
  challenge: string;
  state: string;
  expiresAt: number;
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
  refreshes: number;
  refreshesRefused: number;
  exchanges: number;
  headers: Record<string, string>;
  serial: number;
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
      refreshes: 0,
      refreshesRefused: 0,
      exchanges: 0,
      headers: {},
      serial: 0,
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

/** Tokens for a grant: a new access token and a new refresh token (the old one is spent). */
function issue(grant: Grant): Record<string, unknown> {
  grant.serial++;
  const access = `oat.${grant.tag}.${grant.serial}.${random()}`;
  const refresh = `ort.${grant.tag}.${grant.serial}.${random()}`;
  if (grant.refreshToken) {
    grant.spentRefreshTokens.add(grant.refreshToken);
    byRefresh.delete(grant.refreshToken);
  }
  grant.refreshToken = refresh;
  byRefresh.set(refresh, grant.tag);
  grant.accessTokens.set(access, Date.now() + grant.accessTtlSeconds * 1000);
  byAccess.set(access, grant.tag);
  const body: Record<string, unknown> = {
    access_token: access,
    refresh_token: refresh,
    token_type: 'Bearer',
    expires_in: grant.accessTtlSeconds,
  };
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
  if (body.grant_type === 'authorization_code') {
    const code = codes.get(body.code ?? '');
    // Single use: the code is gone whatever happens next.
    codes.delete(body.code ?? '');
    if (!code || code.kind !== kind) return oauthError('invalid_grant', 'unknown or used code');
    if (code.expiresAt <= Date.now()) return oauthError('invalid_grant', 'code expired');
    if (code.redirectUri !== body.redirect_uri) return oauthError('invalid_grant', 'redirect_uri mismatch');
    if (!body.code_verifier || (await s256(body.code_verifier)) !== code.challenge)
      return oauthError('invalid_grant', 'PKCE verification failed');
    if (kind === 'claude' && body.state !== code.state) return oauthError('invalid_grant', 'state mismatch');
    const grant = grantOf(code.tag);
    grant.kind = kind;
    grant.revoked = false;
    grant.exchanges++;
    return json(issue(grant));
  }
  if (body.grant_type === 'refresh_token') {
    const presented = body.refresh_token ?? '';
    const tag = byRefresh.get(presented) ?? presented.split('.')[1] ?? '';
    const grant = grants.get(tag);
    if (!grant) return oauthError('invalid_grant', 'unknown refresh token');
    if (grant.failRefreshes > 0) {
      grant.failRefreshes--;
      return json({ error: 'temporarily_unavailable' }, 503);
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
    return json(issue(grant));
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
      headers?: Record<string, string>;
      scenario?: string;
    };
    if (input.revoke) grant.revoked = true;
    if (input.expireAccess) for (const t of grant.accessTokens.keys()) grant.accessTokens.set(t, 0);
    if (input.accessTtlSeconds !== undefined) grant.accessTtlSeconds = input.accessTtlSeconds;
    if (input.failRefreshes !== undefined) grant.failRefreshes = input.failRefreshes;
    if (input.headers) grant.headers = input.headers;
    if (input.scenario) grant.upstreamKey = `sk-fake.${tag}.${input.scenario}`;
  }
  return json({
    revoked: grant.revoked,
    refreshes: grant.refreshes,
    refreshesRefused: grant.refreshesRefused,
    exchanges: grant.exchanges,
    refreshToken: grant.refreshToken,
    liveAccessTokens: [...grant.accessTokens.values()].filter((at) => at > Date.now()).length,
  });
}

export async function oauth(request: Request, url: URL): Promise<Response> {
  const [, first, second] = url.pathname.split('/');
  if (first === 'test' && second === 'grants') return testControl(request, url.pathname.split('/')[3] ?? '');
  if (first !== 'claude' && first !== 'codex') return json({ error: 'not found' }, 404);
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
