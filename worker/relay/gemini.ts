// The Gemini client surface (Gemini CLI, @google/genai): `/v1beta/models/{model}:{method}`.
import { Hono } from 'hono';
import { authenticate } from '../auth/client-key';
import type { AppEnv } from '../context';
import type { Operation } from '../providers/types';
import { parseJsonObject, readBody } from './body';
import { RelayError } from './dialect';
import { relay } from './pipeline';
import { sessionKeyOf } from './session';

const METHODS: Record<string, { operation: Operation['kind']; stream: boolean }> = {
  generateContent: { operation: 'generate', stream: false },
  streamGenerateContent: { operation: 'generate', stream: true },
  countTokens: { operation: 'count_tokens', stream: false },
};

export const geminiSurface = new Hono<AppEnv>();

geminiSurface.get('/v1beta/models', async (c) => {
  const key = await authenticate(c.env, c.req.raw);
  return relay(c, {
    key,
    wire: 'gemini',
    operation: 'models',
    search: '',
    method: 'GET',
    headers: c.req.raw.headers,
    model: '',
    stream: false,
    body: null,
    json: null,
    sessionKey: null,
    metered: false,
  });
});

geminiSurface.post('/v1beta/models/:target', async (c) => {
  const target = c.req.param('target');
  const colon = target.lastIndexOf(':');
  const model = colon > 0 ? target.slice(0, colon) : '';
  const method = METHODS[target.slice(colon + 1)];
  if (!model || !method) throw new RelayError('not_found', `Unknown method ${target}.`);
  const req = c.req.raw;
  const key = await authenticate(c.env, req);
  const body = await readBody(req, Number(c.env.MAX_BODY_BYTES));
  const json = parseJsonObject(body);
  return relay(c, {
    key,
    wire: 'gemini',
    operation: method.operation,
    search: '',
    method: 'POST',
    headers: req.headers,
    model,
    stream: method.stream,
    body,
    json,
    sessionKey: await sessionKeyOf(key.id, req.headers, json),
  });
});
