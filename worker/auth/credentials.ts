// Upstream credentials are encrypted at rest with AES-256-GCM under the CREDENTIALS_KEY secret.
// The account id is the additional authenticated data, so a ciphertext copied onto another
// account row fails to decrypt instead of silently lending that account someone else's key.
const VERSION = 'v1';
const keyCache = new Map<string, Promise<CryptoKey>>();
const plaintextCache = new Map<string, string>();
const PLAINTEXT_CACHE_LIMIT = 1000;

function importKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    const raw = base64ToBytes(secret);
    if (raw.byteLength !== 32) throw new Error('CREDENTIALS_KEY must be 32 bytes, base64-encoded');
    key = crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
    keyCache.set(secret, key);
  }
  return key;
}

export async function encryptCredential(
  secret: string,
  accountId: string,
  plaintext: string,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(accountId) },
    await importKey(secret),
    new TextEncoder().encode(plaintext),
  );
  return `${VERSION}.${bytesToBase64(iv)}.${bytesToBase64(new Uint8Array(ciphertext))}`;
}

/** Decrypts once per isolate per ciphertext: the hot path pays for AES only on a cold isolate. */
export async function decryptCredential(secret: string, accountId: string, sealed: string): Promise<string> {
  const cacheKey = `${accountId}:${sealed}`;
  const cached = plaintextCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const [version, ivText, dataText] = sealed.split('.');
  if (version !== VERSION || !ivText || !dataText) throw new Error('unrecognised credential format');
  const plaintext = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: base64ToBytes(ivText), additionalData: new TextEncoder().encode(accountId) },
    await importKey(secret),
    base64ToBytes(dataText),
  );
  const text = new TextDecoder().decode(plaintext);
  if (plaintextCache.size >= PLAINTEXT_CACHE_LIMIT) plaintextCache.clear();
  plaintextCache.set(cacheKey, text);
  return text;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
