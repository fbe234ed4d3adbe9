// Random identifiers in the alphabets providers use for request, message and response ids.
const base58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const base64url = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function randomFrom(alphabet: string, length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let id = '';
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return id;
}

export function randomBase58(length: number): string {
  return randomFrom(base58, length);
}

export function randomBase64Url(length: number): string {
  return randomFrom(base64url, length);
}

export function randomHex(length: number): string {
  return randomFrom('0123456789abcdef', length);
}

/** Cloudflare's `cf-ray`: 16 hex digits and the data centre that answered. */
export function cfRay(): string {
  return `${randomHex(16)}-SJC`;
}
