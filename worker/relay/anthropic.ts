// The Anthropic client surface: what Claude Code and the Anthropic SDKs call. (`GET /v1/models`
// is shared with the OpenAI surface, which tells the two dialects apart.)
import { Hono } from 'hono';
import type { AppEnv } from '../context';
import { relayJson } from './surface';

export const anthropicSurface = new Hono<AppEnv>();

// Claude Code sends `?beta=true`; it does not change routing but the upstream gets it as sent.
anthropicSurface.post('/v1/messages', (c) =>
  relayJson(c, { wire: 'anthropic', operation: 'generate', search: new URL(c.req.url).search }),
);
anthropicSurface.post('/v1/messages/count_tokens', (c) =>
  relayJson(c, { wire: 'anthropic', operation: 'count_tokens', search: new URL(c.req.url).search }),
);
