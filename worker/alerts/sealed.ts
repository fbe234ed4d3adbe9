// An endpoint's URL and secrets at rest: AES-GCM under CREDENTIALS_KEY, like account credentials,
// with the endpoint id and the field as additional data (a sealed value copied to another
// endpoint, or from the URL column to the secret column, fails to open).
import { toHex } from '../auth/api-key';
import { decryptCredential, encryptCredential } from '../auth/credentials';

export type SealedField = 'url' | 'secret' | 'vendor-secret';

const context = (endpointId: string, field: SealedField) => `alert-endpoint:${endpointId}:${field}`;

export function seal(env: Env, endpointId: string, field: SealedField, plaintext: string): Promise<string> {
  return encryptCredential(env.CREDENTIALS_KEY, context(endpointId, field), plaintext);
}

export function unseal(env: Env, endpointId: string, field: SealedField, sealed: string): Promise<string> {
  return decryptCredential(env.CREDENTIALS_KEY, context(endpointId, field), sealed);
}

export const SECRET_PREFIX = 'whsec_';

/** A new signing secret: 32 random bytes, hex, prefixed so that people recognise it. */
export function newSigningSecret(): string {
  return `${SECRET_PREFIX}${toHex(crypto.getRandomValues(new Uint8Array(32)))}`;
}

/** What of a webhook URL may be shown: its origin and first path segment (the rest is often a token). */
export function urlHint(url: string): string {
  const parsed = new URL(url);
  const segments = parsed.pathname.split('/').filter(Boolean);
  const first = segments[0] ? `/${segments[0]}` : '';
  const more = segments.length > 1 || parsed.search !== '' ? '/…' : '';
  return `${parsed.origin}${first}${more}`;
}
