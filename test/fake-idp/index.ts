// A fake OpenID Connect provider at https://idp.test for the relay's sign-in tests, reached like
// every outbound fetch of the relay through the fake-upstream worker. It follows OpenID Connect
// Core 1.0, RFC 6749 (authorization code grant, error responses) and RFC 7636 (PKCE, S256 only):
// discovery, a JWKS with an RSA and an EC key, an authorization endpoint that signs in the person
// named by `login_hint` and redirects back with a code, and a token endpoint that authenticates the
// client (client_secret_basic or client_secret_post), checks the code, its redirect URI and the
// PKCE verifier, and issues an ID token signed RS256 or ES256.
//
// Test control (not part of OIDC): `POST /test/users` registers a person the authorization
// endpoint can sign in, with the faults their ID tokens should carry.

export const IDP_HOST = 'idp.test';
export const ISSUER = `https://${IDP_HOST}`;

/** The one registered client: the relay under test. */
export const CLIENT = {
  id: 'carpool-relay',
  secret: 'fake-idp-secret',
  redirectUris: ['http://relay.test/api/v1/auth/oidc/callback'],
};

/** What can be wrong with an ID token, for the tests that make sure the relay refuses it. */
export type Fault =
  | 'tamper' // the payload changed after signing
  | 'nonce' // another sign-in's nonce
  | 'aud' // issued to another client
  | 'expired'
  | 'issuer' // claims another issuer
  | 'alg-none' // unsigned
  | 'rogue-key'; // signed with a key the JWKS does not hold

export interface FakePerson {
  /** The subject, and what the tests pass as `login_hint`. */
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  alg?: 'RS256' | 'ES256';
  fault?: Fault;
}

interface Grant {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce: string | null;
  person: FakePerson;
  expiresAt: number;
}

const CODE_TTL_MS = 60_000;
const people = new Map<string, FakePerson>();
const grants = new Map<string, Grant>();

interface Keys {
  rsa: CryptoKeyPair;
  ec: CryptoKeyPair;
  rogue: CryptoKeyPair;
  jwks: { keys: JsonWebKey[] };
}
// Generated on first use: the runtime allows no random values outside a request.
let keys: Promise<Keys> | undefined;

function loadKeys(): Promise<Keys> {
  keys ??= (async () => {
    const rsaParams = {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    };
    const rsa = (await crypto.subtle.generateKey(rsaParams, true, ['sign', 'verify'])) as CryptoKeyPair;
    const rogue = (await crypto.subtle.generateKey(rsaParams, true, ['sign', 'verify'])) as CryptoKeyPair;
    const ec = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const publicJwk = async (pair: CryptoKeyPair, kid: string, alg: string) => {
      const { kty, n, e, crv, x, y } = (await crypto.subtle.exportKey('jwk', pair.publicKey)) as JsonWebKey;
      return { kty, n, e, crv, x, y, kid, alg, use: 'sig' };
    };
    return {
      rsa,
      ec,
      rogue,
      jwks: { keys: [await publicJwk(rsa, 'rsa-1', 'RS256'), await publicJwk(ec, 'ec-1', 'ES256')] },
    };
  })();
  return keys;
}

function b64url(bytes: ArrayBuffer | Uint8Array | string): string {
  const view = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : new Uint8Array(bytes);
  let binary = '';
  for (const b of view) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function randomString(): string {
  return b64url(crypto.getRandomValues(new Uint8Array(24)));
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return Response.json(body, {
    status,
    headers: { 'cache-control': 'no-store', pragma: 'no-cache', ...headers },
  });
}

function discovery(): Response {
  return json({
    issuer: ISSUER,
    authorization_endpoint: `${ISSUER}/authorize`,
    token_endpoint: `${ISSUER}/token`,
    jwks_uri: `${ISSUER}/jwks`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256', 'ES256'],
    scopes_supported: ['openid', 'email', 'profile'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    grant_types_supported: ['authorization_code'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'email', 'email_verified', 'name'],
  });
}

/** RFC 6749 §4.1.2.1: errors go back to the client, except for a bad client or redirect URI. */
function authorize(url: URL): Response {
  const q = url.searchParams;
  const redirectUri = q.get('redirect_uri');
  if (q.get('client_id') !== CLIENT.id || !redirectUri || !CLIENT.redirectUris.includes(redirectUri)) {
    return new Response('Unknown client or unregistered redirect_uri.', { status: 400 });
  }
  const back = (params: Record<string, string>) => {
    const to = new URL(redirectUri);
    for (const [k, v] of Object.entries(params)) to.searchParams.set(k, v);
    const state = q.get('state');
    if (state !== null) to.searchParams.set('state', state);
    to.searchParams.set('iss', ISSUER);
    return new Response(null, { status: 302, headers: { location: to.toString() } });
  };
  if (q.get('response_type') !== 'code') return back({ error: 'unsupported_response_type' });
  if (!(q.get('scope') ?? '').split(' ').includes('openid')) return back({ error: 'invalid_scope' });
  const challenge = q.get('code_challenge');
  if (!challenge || q.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
    return back({ error: 'invalid_request', error_description: 'PKCE with S256 is required.' });
  }
  const person = people.get(q.get('login_hint') ?? '');
  if (!person) return back({ error: 'access_denied', error_description: 'The person did not sign in.' });
  const code = randomString();
  grants.set(code, {
    clientId: CLIENT.id,
    redirectUri,
    codeChallenge: challenge,
    nonce: q.get('nonce'),
    person,
    expiresAt: Date.now() + CODE_TTL_MS,
  });
  return back({ code });
}

function tokenError(error: string, description: string, status = 400, headers: Record<string, string> = {}) {
  return json({ error, error_description: description }, status, headers);
}

/** The client, authenticated by HTTP Basic or by the form (RFC 6749 §2.3.1), never both. */
function authenticateClient(request: Request, form: URLSearchParams): 'ok' | 'failed' | 'ambiguous' {
  const header = request.headers.get('authorization');
  const inForm = form.has('client_secret');
  if (header && inForm) return 'ambiguous';
  if (header) {
    const match = /^Basic\s+(.+)$/i.exec(header);
    if (!match) return 'failed';
    const decoded = atob(match[1]!);
    const colon = decoded.indexOf(':');
    const dec = (s: string) => decodeURIComponent(s.replaceAll('+', ' '));
    const id = dec(decoded.slice(0, colon));
    const secret = dec(decoded.slice(colon + 1));
    return id === CLIENT.id && secret === CLIENT.secret ? 'ok' : 'failed';
  }
  return form.get('client_id') === CLIENT.id && form.get('client_secret') === CLIENT.secret ? 'ok' : 'failed';
}

async function token(request: Request): Promise<Response> {
  if (!(request.headers.get('content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
    return tokenError('invalid_request', 'The body must be application/x-www-form-urlencoded.');
  }
  const form = new URLSearchParams(await request.text());
  const auth = authenticateClient(request, form);
  if (auth === 'ambiguous') return tokenError('invalid_request', 'Use one client authentication method.');
  if (auth === 'failed') {
    return tokenError('invalid_client', 'Client authentication failed.', 401, {
      'www-authenticate': `Basic realm="${IDP_HOST}"`,
    });
  }
  if (form.get('grant_type') !== 'authorization_code') {
    return tokenError('unsupported_grant_type', 'Only authorization_code is supported.');
  }
  const code = form.get('code');
  const verifier = form.get('code_verifier');
  if (!code) return tokenError('invalid_request', 'code is required.');
  if (!verifier || !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) {
    return tokenError('invalid_request', 'A code_verifier of 43 to 128 unreserved characters is required.');
  }
  const grant = grants.get(code);
  // A code is good once (RFC 6749 §4.1.2), whatever happens next.
  grants.delete(code);
  if (!grant || grant.expiresAt < Date.now())
    return tokenError('invalid_grant', 'The code is unknown, used or expired.');
  if (grant.clientId !== CLIENT.id)
    return tokenError('invalid_grant', 'The code was issued to another client.');
  if (form.get('redirect_uri') !== grant.redirectUri) {
    return tokenError('invalid_grant', 'redirect_uri differs from the authorization request.');
  }
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  if (challenge !== grant.codeChallenge) return tokenError('invalid_grant', 'PKCE verification failed.');
  return json({
    access_token: randomString(),
    token_type: 'Bearer',
    expires_in: 3600,
    id_token: await idToken(grant),
  });
}

async function idToken(grant: Grant): Promise<string> {
  const { person } = grant;
  const { rsa, ec, rogue } = await loadKeys();
  const now = Math.floor(Date.now() / 1000);
  const alg = person.fault === 'alg-none' ? 'none' : (person.alg ?? 'RS256');
  const kid = person.fault === 'rogue-key' ? 'rsa-1' : alg === 'ES256' ? 'ec-1' : 'rsa-1';
  const claims = {
    iss: person.fault === 'issuer' ? 'https://elsewhere.test' : ISSUER,
    sub: person.sub,
    aud: person.fault === 'aud' ? 'another-client' : grant.clientId,
    exp: person.fault === 'expired' ? now - 3600 : now + 600,
    iat: person.fault === 'expired' ? now - 4200 : now,
    auth_time: now,
    ...(grant.nonce === null
      ? {}
      : { nonce: person.fault === 'nonce' ? 'a-nonce-of-another-sign-in' : grant.nonce }),
    ...(person.email === undefined
      ? {}
      : { email: person.email, email_verified: person.email_verified ?? false }),
    ...(person.name === undefined ? {} : { name: person.name }),
  };
  const header = b64url(JSON.stringify(alg === 'none' ? { alg, typ: 'JWT' } : { alg, kid, typ: 'JWT' }));
  const payload = b64url(JSON.stringify(claims));
  const signingInput = new TextEncoder().encode(`${header}.${payload}`);
  let signature = '';
  if (alg === 'RS256') {
    const key = person.fault === 'rogue-key' ? rogue.privateKey : rsa.privateKey;
    signature = b64url(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', key, signingInput));
  } else if (alg === 'ES256') {
    signature = b64url(
      await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, ec.privateKey, signingInput),
    );
  }
  if (person.fault === 'tamper') {
    const forged = b64url(
      JSON.stringify({ ...claims, email: 'someone.else@example.com', email_verified: true }),
    );
    return `${header}.${forged}.${signature}`;
  }
  return `${header}.${payload}.${signature}`;
}

async function register(request: Request): Promise<Response> {
  const person = (await request.json()) as FakePerson;
  if (typeof person.sub !== 'string' || person.sub === '') return json({ error: 'sub required' }, 400);
  people.set(person.sub, person);
  return json(person, 201);
}

/** Every request for host idp.test. */
export async function idp(request: Request, url: URL): Promise<Response> {
  const route = `${request.method} ${url.pathname}`;
  switch (route) {
    case 'GET /.well-known/openid-configuration':
      return discovery();
    case 'GET /jwks':
      return json((await loadKeys()).jwks, 200, { 'cache-control': 'max-age=3600' });
    case 'GET /authorize':
      return authorize(url);
    case 'POST /token':
      return token(request);
    case 'POST /test/users':
      return register(request);
    default:
      return json({ error: 'not_found' }, 404);
  }
}
