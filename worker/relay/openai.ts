// The OpenAI client surface: Chat Completions (OpenAI SDK, Cursor, Cherry Studio) and Responses
// (Codex CLI), and the model list.
import { Hono } from 'hono';
import type { AppEnv } from '../context';
import { relayJson, relayModels } from './surface';

export const openAISurface = new Hono<AppEnv>();

openAISurface.post('/v1/chat/completions', (c) =>
  relayJson(c, { wire: 'openai-chat', operation: 'generate' }),
);
openAISurface.post('/v1/responses', (c) => relayJson(c, { wire: 'openai-responses', operation: 'generate' }));

// One path, two dialects: Anthropic clients always send `anthropic-version` (or `x-api-key`).
openAISurface.get('/v1/models', (c) => {
  if (c.req.header('anthropic-version') || c.req.header('x-api-key')) {
    c.set('dialect', 'anthropic');
    return relayModels(c, 'anthropic', new URL(c.req.url).search);
  }
  c.set('dialect', 'openai');
  return relayModels(c, 'openai-chat');
});
