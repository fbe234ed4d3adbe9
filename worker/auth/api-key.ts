// Member API keys: `cp-` + 48 random base62 characters, stored only as a SHA-256 hash.
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const KEY_BODY_LENGTH = 48;
export const KEY_PREFIX = 'cp-';
const KEY_PATTERN = /^cp-[A-Za-z0-9]{48}$/;

export function generateApiKey(): string {
  let out = KEY_PREFIX;
  while (out.length < KEY_PREFIX.length + KEY_BODY_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(64))) {
      // Rejection sampling keeps every character equally likely (248 = 4 × 62).
      if (byte < 248 && out.length < KEY_PREFIX.length + KEY_BODY_LENGTH) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

export function isWellFormedApiKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/** What a person sees of a key after creation: enough to tell keys apart, useless to an attacker. */
export function displayPrefix(key: string): string {
  return `${key.slice(0, KEY_PREFIX.length + 6)}…${key.slice(-4)}`;
}

const encoder = new TextEncoder();
// Every relayed request hashes its key: a table beats formatting each byte.
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

export async function sha256Hex(value: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(value));
  return toHex(new Uint8Array(digest));
}

/** A link's token (an invite's, a password link's): the prefix, then 24 random bytes in hex. */
export function linkToken(prefix: string): string {
  return `${prefix}${toHex(crypto.getRandomValues(new Uint8Array(24)))}`;
}

export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (let i = 0; i < bytes.length; i++) hex += HEX[bytes[i]!];
  return hex;
}
