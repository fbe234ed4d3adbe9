// Verifying a JWS-signed JWT (an OIDC ID token) with the issuer's public keys, through WebCrypto:
// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) and ES256 (ECDSA P-256, signature as raw r‖s, which is
// what WebCrypto takes). Any other `alg` — `none`, HMAC, anything unknown — is refused, and a key
// is used only for the algorithm its type fits.
import { z } from '@hono/zod-openapi';
import { fromBase64url } from './encoding';

export const JwkSchema = z.looseObject({
  kty: z.string(),
  kid: z.string().optional(),
  use: z.string().optional(),
  alg: z.string().optional(),
  n: z.string().optional(),
  e: z.string().optional(),
  crv: z.string().optional(),
  x: z.string().optional(),
  y: z.string().optional(),
});
export type Jwk = z.infer<typeof JwkSchema>;

const HeaderSchema = z.looseObject({ alg: z.string(), kid: z.string().optional() });

const ALGORITHMS = {
  RS256: {
    kty: 'RSA',
    importParams: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    verifyParams: { name: 'RSASSA-PKCS1-v1_5' },
    jwk: (k: Jwk) => ({ kty: 'RSA', n: k.n, e: k.e }),
  },
  ES256: {
    kty: 'EC',
    importParams: { name: 'ECDSA', namedCurve: 'P-256' },
    verifyParams: { name: 'ECDSA', hash: 'SHA-256' },
    jwk: (k: Jwk) => ({ kty: 'EC', crv: 'P-256', x: k.x, y: k.y }),
  },
} as const;
type Algorithm = keyof typeof ALGORITHMS;

export class JwtError extends Error {}

function decodeJson(part: string): unknown {
  const bytes = fromBase64url(part);
  if (!bytes) throw new JwtError('it is not base64url');
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw new JwtError('it is not JSON');
  }
}

/** The header's `kid`, to know whether the key set must be fetched again (a rotated key). */
export function jwtKeyId(token: string): string | undefined {
  const parsed = HeaderSchema.safeParse(decodeJson(token.split('.')[0] ?? ''));
  return parsed.success ? parsed.data.kid : undefined;
}

/**
 * The payload of `token` when its signature verifies with one of `keys`; otherwise a JwtError
 * saying why. Claims are the caller's to check.
 */
export async function verifyJwt(token: string, keys: readonly Jwk[]): Promise<unknown> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('it is not a signed JWT (three parts)');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = HeaderSchema.safeParse(decodeJson(headerPart));
  if (!header.success) throw new JwtError('its header is malformed');
  const alg = header.data.alg;
  if (!Object.hasOwn(ALGORITHMS, alg))
    throw new JwtError(`its algorithm ${alg.slice(0, 20)} is not accepted`);
  const spec = ALGORITHMS[alg as Algorithm];
  const candidates = keys.filter(
    (k) =>
      k.kty === spec.kty &&
      (k.use === undefined || k.use === 'sig') &&
      (k.alg === undefined || k.alg === alg) &&
      (header.data.kid === undefined || k.kid === header.data.kid),
  );
  if (candidates.length === 0) throw new JwtError('no key of the issuer matches its key id and algorithm');
  const signature = fromBase64url(signaturePart);
  if (!signature) throw new JwtError('its signature is not base64url');
  const signed = new TextEncoder().encode(`${headerPart}.${payloadPart}`);
  for (const candidate of candidates) {
    let key: CryptoKey;
    try {
      key = await crypto.subtle.importKey('jwk', spec.jwk(candidate), spec.importParams, false, ['verify']);
    } catch {
      continue;
    }
    if (await crypto.subtle.verify(spec.verifyParams, key, signature, signed)) return decodeJson(payloadPart);
  }
  throw new JwtError('its signature does not verify');
}
