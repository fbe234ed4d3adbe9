// The OIDC relying party's protocol side (OpenID Connect Core 1.0, authorization code flow with
// PKCE S256): the provider's discovery document and key set (cached per isolate), the
// authorization URL, the code exchange at the token endpoint, and ID token verification
// (signature, `iss`, `aud`/`azp`, `exp`, `iat`, `nonce`). Which user the identity is, is the
// domain's business (worker/domain/oidc.ts).
import { z } from '@hono/zod-openapi';
import { ApiError } from '../api/errors';
import { sha256Base64url } from './encoding';
import { type Jwk, JwkSchema, JwtError, jwtKeyId, verifyJwt } from './jwt';

export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
}

/** OIDC sign-in is on when OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are all set. */
export function oidcConfig(env: Env): OidcConfig | null {
  const issuer = env.OIDC_ISSUER?.trim();
  const clientId = env.OIDC_CLIENT_ID?.trim();
  const clientSecret = env.OIDC_CLIENT_SECRET;
  return issuer && clientId && clientSecret ? { issuer, clientId, clientSecret } : null;
}

const DiscoverySchema = z.looseObject({
  issuer: z.string(),
  authorization_endpoint: z.url(),
  token_endpoint: z.url(),
  jwks_uri: z.url(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
  code_challenge_methods_supported: z.array(z.string()).optional(),
});
export type Discovery = z.infer<typeof DiscoverySchema>;

const JwksSchema = z.object({ keys: z.array(JwkSchema) });

const TokenResponseSchema = z.looseObject({ id_token: z.string().min(1), token_type: z.string() });
const TokenErrorSchema = z.looseObject({ error: z.string(), error_description: z.string().optional() });

const ClaimsSchema = z.looseObject({
  iss: z.string(),
  sub: z.string().min(1).max(255),
  aud: z.union([z.string(), z.array(z.string())]),
  exp: z.number(),
  iat: z.number(),
  nonce: z.string().optional(),
  azp: z.string().optional(),
  email: z.string().max(254).optional(),
  // Some providers send the boolean as a string.
  email_verified: z
    .union([z.boolean(), z.enum(['true', 'false'])])
    .optional()
    .transform((v) => v === true || v === 'true'),
  name: z.string().optional(),
});
export type IdTokenClaims = z.infer<typeof ClaimsSchema>;

const CACHE_MS = 3_600_000;
/** A key set is fetched again for an unknown key id, but not more often than this. */
const JWKS_REFRESH_MS = 60_000;
const FETCH_TIMEOUT_MS = 10_000;
/** Clocks disagree a little; a token this close to its expiry (or this early) still counts. */
const CLOCK_SKEW_S = 60;

const discoveries = new Map<string, { doc: Discovery; at: number }>();
const keySets = new Map<string, { keys: Jwk[]; at: number }>();

function providerFailed(what: string): ApiError {
  return new ApiError('internal', `The identity provider could not be reached or answered badly (${what}).`);
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  if (!res.ok) {
    await res.body?.cancel();
    throw providerFailed(`${res.status} from ${new URL(url).pathname}`);
  }
  return res.json();
}

/** The provider's metadata from `<issuer>/.well-known/openid-configuration`, whose `issuer` must be ours. */
export async function discover(config: OidcConfig): Promise<Discovery> {
  const cached = discoveries.get(config.issuer);
  if (cached && Date.now() - cached.at < CACHE_MS) return cached.doc;
  const url = `${config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const parsed = DiscoverySchema.safeParse(await getJson(url));
  if (!parsed.success) throw providerFailed('a malformed discovery document');
  if (parsed.data.issuer !== config.issuer) throw providerFailed(`discovery names another issuer`);
  discoveries.set(config.issuer, { doc: parsed.data, at: Date.now() });
  return parsed.data;
}

async function keySet(uri: string, refresh: boolean): Promise<Jwk[]> {
  const cached = keySets.get(uri);
  if (cached && Date.now() - cached.at < (refresh ? JWKS_REFRESH_MS : CACHE_MS)) return cached.keys;
  const parsed = JwksSchema.safeParse(await getJson(uri));
  if (!parsed.success) throw providerFailed('a malformed key set');
  keySets.set(uri, { keys: parsed.data.keys, at: Date.now() });
  return parsed.data.keys;
}

export async function pkceChallenge(verifier: string): Promise<string> {
  return sha256Base64url(verifier);
}

export function authorizationUrl(
  discovery: Discovery,
  config: OidcConfig,
  params: { redirectUri: string; state: string; nonce: string; codeChallenge: string },
): string {
  const url = new URL(discovery.authorization_endpoint);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', config.clientId);
  url.searchParams.set('redirect_uri', params.redirectUri);
  url.searchParams.set('scope', 'openid email profile');
  url.searchParams.set('state', params.state);
  url.searchParams.set('nonce', params.nonce);
  url.searchParams.set('code_challenge', params.codeChallenge);
  url.searchParams.set('code_challenge_method', 'S256');
  return url.toString();
}

/** RFC 6749 §2.3.1: the client id and secret are form-encoded before they are joined. */
function basicAuth(config: OidcConfig): string {
  const enc = (s: string) => encodeURIComponent(s).replaceAll('%20', '+');
  return `Basic ${btoa(`${enc(config.clientId)}:${enc(config.clientSecret)}`)}`;
}

/** Exchanges the authorization code (with the PKCE verifier) for the ID token. */
export async function exchangeCode(
  discovery: Discovery,
  config: OidcConfig,
  params: { code: string; redirectUri: string; verifier: string },
): Promise<string> {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: params.code,
    redirect_uri: params.redirectUri,
    code_verifier: params.verifier,
  });
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  // client_secret_basic is the default (OIDC Core §9); client_secret_post when that is all it takes.
  const methods = discovery.token_endpoint_auth_methods_supported;
  if (methods && !methods.includes('client_secret_basic') && methods.includes('client_secret_post')) {
    form.set('client_id', config.clientId);
    form.set('client_secret', config.clientSecret);
  } else {
    headers.authorization = basicAuth(config);
  }
  const res = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers,
    body: form,
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const error = TokenErrorSchema.safeParse(body);
    throw new ApiError(
      'unauthorized',
      error.success
        ? `The identity provider refused the sign-in: ${error.data.error.slice(0, 64)}${
            error.data.error_description ? ` (${error.data.error_description.slice(0, 200)})` : ''
          }.`
        : `The identity provider refused the sign-in (${res.status}).`,
    );
  }
  const parsed = TokenResponseSchema.safeParse(body);
  if (!parsed.success) throw providerFailed('a token response without an ID token');
  return parsed.data.id_token;
}

function refused(why: string): ApiError {
  return new ApiError('unauthorized', `The identity provider's ID token was refused: ${why}.`);
}

/**
 * The ID token's claims once its signature verifies with the provider's keys and it was issued by
 * our issuer, to our client, for this sign-in (nonce), and is still valid.
 */
export async function verifyIdToken(
  discovery: Discovery,
  config: OidcConfig,
  idToken: string,
  expected: { nonceHash: string },
): Promise<IdTokenClaims> {
  let payload: unknown;
  try {
    let keys = await keySet(discovery.jwks_uri, false);
    const kid = jwtKeyId(idToken);
    if (kid !== undefined && !keys.some((k) => k.kid === kid)) keys = await keySet(discovery.jwks_uri, true);
    payload = await verifyJwt(idToken, keys);
  } catch (error) {
    if (error instanceof JwtError) throw refused(error.message);
    throw error;
  }
  const parsed = ClaimsSchema.safeParse(payload);
  if (!parsed.success) throw refused('its claims are malformed');
  const claims = parsed.data;
  const now = Math.floor(Date.now() / 1000);
  if (claims.iss !== config.issuer) throw refused('it was issued by another issuer');
  const audiences = typeof claims.aud === 'string' ? [claims.aud] : claims.aud;
  if (!audiences.includes(config.clientId)) throw refused('it was issued to another client (aud)');
  if ((audiences.length > 1 || claims.azp !== undefined) && claims.azp !== config.clientId)
    throw refused('it was issued to another party (azp)');
  if (claims.exp + CLOCK_SKEW_S <= now) throw refused('it has expired');
  if (claims.iat - CLOCK_SKEW_S > now) throw refused('it was issued in the future');
  if (claims.nonce === undefined || (await sha256Base64url(claims.nonce)) !== expected.nonceHash)
    throw refused('its nonce is not the one of this sign-in');
  return claims;
}
