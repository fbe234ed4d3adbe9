// Header hygiene shared by every adapter: what a client may pass upstream, and what an upstream
// may pass back. Auth, hop-by-hop and edge headers never cross the relay in either direction.
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
];

const NEVER_UPSTREAM = new Set([
  ...HOP_BY_HOP,
  'authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'cookie',
  // workerd negotiates and decodes compression itself; forwarding the client's list would hand us
  // an encoding we then have to undo to meter the stream.
  'accept-encoding',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-real-ip',
  'true-client-ip',
  'cdn-loop',
]);

const NEVER_DOWNSTREAM = new Set([
  ...HOP_BY_HOP,
  // The body reaching the client is already decoded by workerd.
  'content-encoding',
  'set-cookie',
  'alt-svc',
  'cf-ray',
  'cf-cache-status',
  'server',
  'nel',
  'report-to',
]);

export function upstreamHeaders(client: Headers): Headers {
  const out = new Headers();
  for (const [name, value] of client) {
    if (!NEVER_UPSTREAM.has(name) && !name.startsWith('cf-')) out.set(name, value);
  }
  return out;
}

export function downstreamHeaders(upstream: Headers): Headers {
  const out = new Headers();
  for (const [name, value] of upstream) {
    if (!NEVER_DOWNSTREAM.has(name)) out.append(name, value);
  }
  return out;
}

/** `retry-after` (seconds or HTTP date) or `retry-after-ms`, in milliseconds. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | null {
  const ms = headers.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get('retry-after');
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
