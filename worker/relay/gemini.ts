// The Gemini client surface (Gemini CLI, @google/genai): `/v1beta/models/{model}:{method}`.
import { Hono } from 'hono';
import type { AppEnv } from '../context';
import { clip, MODEL_NAME_MAX } from '../limits';
import type { Operation } from '../providers/types';
import { checkModelName } from './body';
import { RelayError } from './dialect';
import { relayJson, relayModels } from './surface';

const METHODS: Record<string, { operation: Operation['kind']; stream: boolean }> = {
  generateContent: { operation: 'generate', stream: false },
  streamGenerateContent: { operation: 'generate', stream: true },
  countTokens: { operation: 'count_tokens', stream: false },
};

export const geminiSurface = new Hono<AppEnv>();

// Paging (`pageSize`, `pageToken`) is the upstream's; the adapter passes only those on.
geminiSurface.get('/v1beta/models', (c) => relayModels(c, 'gemini', new URL(c.req.url).search));

geminiSurface.post('/v1beta/models/:target', (c) => {
  const target = c.req.param('target');
  const colon = target.lastIndexOf(':');
  const model = colon > 0 ? target.slice(0, colon) : '';
  const method = METHODS[target.slice(colon + 1)];
  if (!model || !method) {
    throw new RelayError('not_found', `Unknown method ${clip(target, MODEL_NAME_MAX)}.`);
  }
  checkModelName(model);
  // Without `alt=sse` Google streams one JSON array; the relay serves (and meters) events only,
  // which is what the Google SDKs and Gemini CLI ask for.
  if (method.stream && new URL(c.req.url).searchParams.get('alt') !== 'sse')
    throw new RelayError(
      'invalid_request',
      'streamGenerateContent is served as server-sent events here: add ?alt=sse, as the Google SDKs and Gemini CLI do.',
      { retryable: false },
    );
  return relayJson(c, { wire: 'gemini', operation: method.operation, model, stream: method.stream });
});
