// CORS on the client surfaces, for AI clients that run in a browser (web chat apps, a dashboard
// deployed on its own origin testing a key). The surfaces take a key in a header, never a cookie,
// so nothing ambient is granted: any origin may call them, as OpenAI's and Google's APIs allow, and
// without credentials. A request without an `Origin` (every CLI and SDK outside a browser) passes
// untouched, so the relay's hot path pays one header lookup.
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../context';

/** How long a browser may cache a preflight's answer. */
const PREFLIGHT_MAX_AGE_SEC = 86_400;

export function surfaceCors(): MiddlewareHandler<AppEnv> {
  return async function surfaceCors(c, next) {
    if (c.req.raw.headers.get('origin') === null) return next();
    if (c.req.method === 'OPTIONS' && c.req.raw.headers.has('access-control-request-method')) {
      const headers = new Headers({
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'GET, HEAD, POST',
        'access-control-max-age': String(PREFLIGHT_MAX_AGE_SEC),
        vary: 'access-control-request-headers',
      });
      // Whatever the client's SDK sends (x-api-key, anthropic-version, x-stainless-*, …): the
      // header allow-list decides what reaches the provider, not the browser.
      const asked = c.req.raw.headers.get('access-control-request-headers');
      if (asked) headers.set('access-control-allow-headers', asked);
      return new Response(null, { status: 204, headers });
    }
    await next();
    // (Hono rewraps a finished response around the same body: it still streams as it comes.)
    c.header('access-control-allow-origin', '*');
    // Without credentials `*` exposes every header: request ids, rate limits, retry-after.
    c.header('access-control-expose-headers', '*');
  };
}
