// The Hono app: client surfaces, the operator API, and one error handler that answers every
// failure in the dialect of the surface it hit.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { api } from './api';
import { ApiError, constraintConflict, REQUEST_ID_HEADER, renderApiError } from './api/errors';
import { apiCors } from './auth/origin';
import type { AppEnv } from './context';
import { clip } from './limits';
import { anthropicSurface } from './relay/anthropic';
import { surfaceCors } from './relay/cors';
import { type Dialect, RelayError, renderRelayError } from './relay/dialect';
import { geminiSurface } from './relay/gemini';
import { keyStatus } from './relay/key-status';
import { openAISurface } from './relay/openai';

/** How much of an unknown path a 404 repeats. */
const PATH_ECHO_MAX = 512;
const OPENAI_PATHS = /^\/v1\/(chat|responses|completions|embeddings)(\/|$)/;

function dialectOf(path: string): Dialect {
  if (path.startsWith('/v1beta/')) return 'google';
  if (OPENAI_PATHS.test(path)) return 'openai';
  return 'anthropic';
}

/**
 * `api`: the API for people and the dashboard (also under the operator's old `/admin/v1`);
 * `relay`: the client surfaces. Two apps, so that a relayed request is matched against the
 * surfaces' handful of routes, not the API's hundreds (Hono's router cost grows with the routes it
 * holds, and the API's patterns push it onto its slower trie router): the entry picks by prefix.
 */
export type AppPart = 'api' | 'relay';

/** Whether a request's absolute URL is the API's (no URL parse: this runs on every request). */
export function isApiUrl(url: string): boolean {
  const path = url.indexOf('/', url.indexOf('//') + 2);
  return path !== -1 && (url.startsWith('/api/', path) || url.startsWith('/admin/', path));
}

export function newApp(part: AppPart) {
  const app = new Hono<AppEnv>();

  app.use(async function requestContext(c, next) {
    c.set('requestId', crypto.randomUUID());
    c.set('dialect', dialectOf(c.req.path));
    await next();
  });

  if (part === 'api') {
    // Every answer names its request, successes too (errors also set it where they are rendered,
    // worker/api/errors.ts): the OpenAPI document declares it on every response.
    app.use(async function requestIdHeader(c, next) {
      await next();
      c.header(REQUEST_ID_HEADER, c.get('requestId'));
    });
    // The dashboard may be deployed on its own origin: CORS with credentials for ALLOWED_ORIGINS.
    app.use('/api/v1/*', apiCors());
    app.route('/api/v1', api);
    // The operator API of old: the same routes, reached with the operator token.
    app.route('/admin/v1', api);
  } else {
    app.use(surfaceCors());
    // Claude Code checks connectivity with `HEAD /` (no key) before its first request.
    app.get('/', (c) => c.json({ name: 'aicarpool', status: 'ok' }));
    app.route('/', keyStatus);
    app.route('/', anthropicSurface);
    app.route('/', openAISurface);
    app.route('/', geminiSurface);
  }

  app.notFound((c) => {
    const route = `${c.req.method} ${clip(c.req.path, PATH_ECHO_MAX)}`;
    if (part === 'api') throw new ApiError('not_found', `No route ${route}.`);
    throw new RelayError('not_found', `No route ${route}.`);
  });

  app.onError((err, c) => {
    const requestId = c.get('requestId') ?? crypto.randomUUID();
    const isAdmin = part === 'api';
    if (err instanceof RelayError) return renderRelayError(err, c.get('dialect') ?? 'anthropic', requestId);
    if (err instanceof ApiError) return renderApiError(err, requestId);
    // A rule the database keeps (a trigger), broken by whichever path wrote: a 409 in its words.
    const conflict = isAdmin ? constraintConflict(err) : null;
    if (conflict) return renderApiError(conflict, requestId);
    if (isAdmin && err instanceof HTTPException && err.status === 415) {
      // zod-openapi's gate before a JSON body is validated: say what it wants, not "bad request".
      const sent = clip(c.req.header('content-type') ?? '(none)', 100);
      return renderApiError(
        new ApiError(
          'unsupported_media_type',
          `Send the body as application/json (content-type was ${sent}).`,
        ),
        requestId,
      );
    }
    if (err instanceof HTTPException && err.status < 500) {
      // Hono's own 4xx (e.g. a JSON body that does not parse before validation).
      return isAdmin
        ? renderApiError(new ApiError('invalid_request', err.message || 'Bad request.'), requestId)
        : renderRelayError(
            new RelayError('invalid_request', err.message || 'Bad request.'),
            c.get('dialect'),
            requestId,
          );
    }
    console.error('unhandled error', { requestId, path: c.req.path, error: String(err) });
    return isAdmin
      ? renderApiError(new ApiError('internal', 'Internal error.'), requestId)
      : renderRelayError(
          new RelayError('internal', 'Internal error in the relay.'),
          c.get('dialect'),
          requestId,
        );
  });

  return app;
}
