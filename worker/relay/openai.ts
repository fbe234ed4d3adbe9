// The OpenAI client surface: Chat Completions (OpenAI SDK, Cursor, Cherry Studio) and Responses
// (Codex CLI), and the model list.
import { Hono } from 'hono';
import { authenticate } from '../auth/client-key';
import type { AppEnv } from '../context';
import type { Wire } from '../providers/types';
import { anthropicModels } from './anthropic';
import { parseJsonObject, readBody, requireModel } from './body';
import { relay } from './pipeline';
import { sessionKeyOf } from './session';

export const openAISurface = new Hono<AppEnv>();

openAISurface.post('/v1/chat/completions', (c) => relayGenerate(c, 'openai-chat'));
openAISurface.post('/v1/responses', (c) => relayGenerate(c, 'openai-responses'));

// One path, two dialects: Anthropic clients always send `anthropic-version` (or `x-api-key`).
openAISurface.get('/v1/models', async (c) => {
  if (c.req.header('anthropic-version') || c.req.header('x-api-key')) {
    c.set('dialect', 'anthropic');
    return anthropicModels(c);
  }
  c.set('dialect', 'openai');
  const key = await authenticate(c.env, c.req.raw);
  return relay(c, {
    key,
    wire: 'openai-chat',
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

async function relayGenerate(c: Parameters<typeof relay>[0], wire: Wire): Promise<Response> {
  const req = c.req.raw;
  const key = await authenticate(c.env, req);
  const body = await readBody(req, Number(c.env.MAX_BODY_BYTES));
  const json = parseJsonObject(body);
  return relay(c, {
    key,
    wire,
    operation: 'generate',
    search: '',
    method: 'POST',
    headers: req.headers,
    model: requireModel(json),
    stream: json.stream === true,
    body,
    json,
    sessionKey: await sessionKeyOf(key.id, req.headers, json),
  });
}
