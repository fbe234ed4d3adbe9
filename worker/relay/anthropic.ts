// The Anthropic client surface: what Claude Code and the Anthropic SDKs call.
import { Hono } from 'hono';
import { authenticate } from '../auth/client-key';
import type { AppEnv } from '../context';
import { parseJsonObject, readBody, requireModel } from './body';
import { relay } from './pipeline';

export const anthropicSurface = new Hono<AppEnv>();

anthropicSurface.post('/v1/messages', (c) => relayMessages(c.req.raw, '/v1/messages', c));
anthropicSurface.post('/v1/messages/count_tokens', (c) =>
  relayMessages(c.req.raw, '/v1/messages/count_tokens', c),
);

anthropicSurface.get('/v1/models', async (c) => {
  const key = await authenticate(c.env, c.req.raw);
  return relay(c, {
    key,
    surface: 'anthropic',
    path: `/v1/models${new URL(c.req.url).search}`,
    method: 'GET',
    headers: c.req.raw.headers,
    model: 'models',
    stream: false,
    body: null,
    metered: false,
  });
});

async function relayMessages(req: Request, path: string, c: Parameters<typeof relay>[0]): Promise<Response> {
  const key = await authenticate(c.env, req);
  const body = await readBody(req, Number(c.env.MAX_BODY_BYTES));
  const json = parseJsonObject(body);
  return relay(c, {
    key,
    surface: 'anthropic',
    // Claude Code sends `?beta=true`; it does not change routing but the upstream gets it as sent.
    path: `${path}${new URL(req.url).search}`,
    method: 'POST',
    headers: req.headers,
    model: requireModel(json),
    stream: json.stream === true,
    body,
  });
}
