// The provider's token endpoint (RFC 6749 §4.1.3 code exchange, §6 refresh) and how its failures
// are classified: a grant the provider no longer honours (invalid_grant, revoked, any other OAuth
// error answered with a 4xx) is permanent, and the account must be signed in again; 5xx, 429 and
// network failures are transient, and the same refresh token may be tried again (it was not
// consumed). So is a 4xx that is no OAuth error answer (§5.2: JSON with an `error`): the edge in
// front of the endpoint spoke (a Cloudflare challenge page is a 403 in HTML), not the
// authorization server, and disabling every account that happened to refresh then would make
// someone sign each in again for nothing.

import type { OAuthKind, OAuthProviderConfig } from './config';
import { type OAuthCredential, OAuthCredentialSchema } from './credential';

const TOKEN_TIMEOUT_MS = 15_000;

export type TokenResult =
  | { ok: true; credential: OAuthCredential }
  | { ok: false; permanent: boolean; message: string };

interface TokenResponse {
  access_token?: unknown;
  refresh_token?: unknown;
  expires_in?: unknown;
  id_token?: unknown;
}

async function post(config: OAuthProviderConfig, fields: Record<string, string>): Promise<Response> {
  const body =
    config.tokenEncoding === 'json' ? JSON.stringify(fields) : new URLSearchParams(fields).toString();
  return fetch(config.tokenUrl, {
    method: 'POST',
    headers: {
      'content-type':
        config.tokenEncoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body,
    signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
  });
}

/** The ChatGPT account id, from the ID token's `https://api.openai.com/auth` claim (not verified: it only routes). */
function chatgptAccountIdOf(idToken: unknown): string | null {
  if (typeof idToken !== 'string') return null;
  try {
    const payload = idToken.split('.')[1] ?? '';
    const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
    const auth = json['https://api.openai.com/auth'] as Record<string, unknown> | undefined;
    return typeof auth?.chatgpt_account_id === 'string' ? auth.chatgpt_account_id : null;
  } catch {
    return null;
  }
}

async function read(kind: OAuthKind, res: Response, previous: OAuthCredential | null): Promise<TokenResult> {
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON: the status decides.
  }
  if (!res.ok) {
    // The server's own error answer: RFC 6749's `error` code, or an API-style `error` object.
    const nested =
      typeof json.error === 'object' && json.error !== null ? (json.error as Record<string, unknown>) : null;
    const oauthError = typeof json.error === 'string' || nested !== null;
    const named = typeof json.error === 'string' ? json.error : (nested?.type ?? nested?.code);
    const code = typeof named === 'string' ? named : `HTTP ${res.status}`;
    const detail = typeof json.error_description === 'string' ? json.error_description : nested?.message;
    const description = typeof detail === 'string' ? `: ${detail}` : '';
    const permanent = oauthError && res.status < 500 && res.status !== 429 && res.status !== 408;
    // Only the error code and description: a token endpoint's body never holds a secret on failure.
    return { ok: false, permanent, message: `${code}${description}`.slice(0, 300) };
  }
  const body = json as TokenResponse;
  // Without a refresh token the account would die within the hour (Google issues one only with
  // offline access and consent): the sign-in is refused rather than half made.
  if (!previous && typeof body.refresh_token !== 'string')
    return {
      ok: false,
      permanent: true,
      message: 'no refresh token was issued (offline access not granted)',
    };
  const now = Date.now();
  const parsed = OAuthCredentialSchema.safeParse({
    accessToken: body.access_token,
    // Providers that do not rotate leave the old refresh token valid.
    refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : previous?.refreshToken,
    expiresAt: now + (typeof body.expires_in === 'number' ? body.expires_in : 3600) * 1000,
    obtainedAt: now,
    chatgptAccountId:
      kind === 'codex-oauth'
        ? (chatgptAccountIdOf(body.id_token) ?? previous?.chatgptAccountId ?? null)
        : null,
    // Found at sign-in, not by the token endpoint: a refresh keeps it.
    project: previous?.project ?? null,
  });
  if (!parsed.success)
    return { ok: false, permanent: false, message: 'the token endpoint answered without usable tokens' };
  return { ok: true, credential: parsed.data };
}

export async function exchangeCode(
  kind: OAuthKind,
  config: OAuthProviderConfig,
  input: { code: string; verifier: string; state: string },
): Promise<TokenResult> {
  const fields: Record<string, string> = {
    grant_type: 'authorization_code',
    client_id: config.clientId,
    code: input.code,
    redirect_uri: config.redirectUri,
    code_verifier: input.verifier,
  };
  if (config.clientSecret) fields.client_secret = config.clientSecret;
  if (config.stateInExchange) fields.state = input.state;
  try {
    return await read(kind, await post(config, fields), null);
  } catch {
    return { ok: false, permanent: false, message: 'the token endpoint could not be reached' };
  }
}

export async function refreshTokens(
  kind: OAuthKind,
  config: OAuthProviderConfig,
  current: OAuthCredential,
): Promise<TokenResult> {
  const fields: Record<string, string> = {
    grant_type: 'refresh_token',
    client_id: config.clientId,
    refresh_token: current.refreshToken,
  };
  if (config.clientSecret) fields.client_secret = config.clientSecret;
  if (config.refreshScopes) fields.scope = config.refreshScopes;
  try {
    return await read(kind, await post(config, fields), current);
  } catch {
    return { ok: false, permanent: false, message: 'the token endpoint could not be reached' };
  }
}
