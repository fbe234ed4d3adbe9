// Passwords: PBKDF2-SHA256 through WebCrypto at 100,000 iterations (the most the Workers runtime
// allows), a random 16-byte salt per hash, and a self-describing stored form
// `pbkdf2-sha256$<iterations>$<salt>$<hash>` so that the iteration count can change later: a hash
// made with another count still verifies, and is redone at the next successful sign-in.
import { z } from '@hono/zod-openapi';
import { base64url, fromBase64url } from './encoding';

export const PBKDF2_ITERATIONS = 100_000;
const SCHEME = 'pbkdf2-sha256';
const SALT_BYTES = 16;
const HASH_BITS = 256;

/** What a new password must be: long enough to matter (NIST SP 800-63B), bounded in size. */
export const NewPasswordSchema = z
  .string()
  .min(8, 'A password has at least 8 characters.')
  .max(256, 'A password has at most 256 characters.');

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number) {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, [
    'deriveBits',
  ]);
  return crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, key, HASH_BITS);
}

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, PBKDF2_ITERATIONS);
  return `${SCHEME}$${PBKDF2_ITERATIONS}$${base64url(salt)}$${base64url(hash)}`;
}

/**
 * Stands in for a missing hash (an unknown email, a person without a password): verifying against
 * it costs the same PBKDF2 work and never succeeds, so neither the answer nor its time tells
 * whether the account exists.
 */
export const DUMMY_PASSWORD_HASH = `${SCHEME}$${PBKDF2_ITERATIONS}$c2lnbi1pbi1kdW1teS1zYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;

export interface Verification {
  ok: boolean;
  /** The hash was made with other parameters than today's: store a fresh one. */
  needsRehash: boolean;
}

export async function verifyPassword(password: string, stored: string | null): Promise<Verification> {
  const own = stored === null || stored === DUMMY_PASSWORD_HASH ? null : parse(stored);
  const parsed = own ?? parse(DUMMY_PASSWORD_HASH)!;
  const derived = await derive(password, parsed.salt, parsed.iterations);
  const ok = crypto.subtle.timingSafeEqual(derived, parsed.hash.buffer) && own !== null;
  return { ok, needsRehash: ok && parsed.iterations !== PBKDF2_ITERATIONS };
}

function parse(stored: string) {
  const [scheme, iterations, salt, hash, ...rest] = stored.split('$');
  if (scheme !== SCHEME || rest.length > 0 || !iterations || !/^[1-9][0-9]{0,6}$/.test(iterations))
    return null;
  const saltBytes = fromBase64url(salt ?? '');
  const hashBytes = fromBase64url(hash ?? '');
  // Runtimes refuse more than 100,000 iterations; a longer hash than 32 bytes is no hash of ours.
  const count = Number(iterations);
  if (!saltBytes || !hashBytes || hashBytes.length !== HASH_BITS / 8 || count > PBKDF2_ITERATIONS)
    return null;
  return { iterations: count, salt: saltBytes, hash: hashBytes };
}
