// Verifies an AiCarpool alert webhook. The `X-Carpool-Signature` header is `t=<unix seconds>,v1=<hex>`,
// where <hex> is HMAC-SHA256, keyed with the endpoint's secret (`whsec_…`, as UTF-8 text), of the
// string `<t>.<raw body>`. Pass the body exactly as received, before any JSON parsing.
// Web Crypto only: Node 20+, Deno, Bun, browsers and Cloudflare Workers.
export async function verifyCarpoolSignature(
  secret,
  header,
  rawBody,
  { toleranceSeconds = 300, now = Date.now() } = {},
) {
  const fields = new Map(
    String(header ?? '')
      .split(',')
      .map((part) => part.trim().split('=', 2)),
  );
  const t = Number(fields.get('t'));
  const v1 = fields.get('v1') ?? '';
  if (!Number.isInteger(t) || !/^[0-9a-f]{64}$/.test(v1)) return false;
  // An old timestamp is a replayed delivery.
  if (Math.abs(now / 1000 - t) > toleranceSeconds) return false;
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey(
    'raw',
    encoder.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['verify'],
  );
  const signature = Uint8Array.from(v1.match(/../g), (byte) => Number.parseInt(byte, 16));
  // crypto.subtle.verify compares in constant time.
  return crypto.subtle.verify('HMAC', key, signature, encoder.encode(`${t}.${rawBody}`));
}
