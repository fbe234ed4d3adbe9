// The Anthropic client surface: what Claude Code and the Anthropic SDKs call.
import { Hono } from 'hono';
import { authenticate } from '../auth/client-key';
import type { AppEnv } from '../context';
import type { ProviderKind } from '../providers/types';
import { parseJsonObject, readBody, requireModel } from './body';
import { relay } from './pipeline';
import { sessionKeyOf } from './session';

const PROVIDERS: ProviderKind[] = ['anthropic', 'anthropic-compatible'];

export const anthropicSurface = new Hono<AppEnv>();

anthropicSurface.post('/v1/messages', (c) => relayMessages(c, '/v1/messages'));
anthropicSurface.post('/v1/messages/count_tokens', (c) => relayMessages(c, '/v1/messages/count_tokens'));

anthropicSurface.get('/v1/models', async (c) => {
  const key = await authenticate(c.env, c.req.raw);
  return relay(c, {
    key,
    surface: 'anthropic',
    providers: PROVIDERS,
    path: `/v1/models${new URL(c.req.url).search}`,
    method: 'GET',
    headers: c.req.raw.headers,
    model: 'models',
    stream: false,
    body: null,
    sessionKey: null,
    metered: false,
  });
});

async function relayMessages(c: Parameters<typeof relay>[0], path: string): Promise<Response> {
  const req = c.req.raw;
  const key = await authenticate(c.env, req);
  const body = await readBody(req, Number(c.env.MAX_BODY_BYTES));
  const json = parseJsonObject(body);
  return relay(c, {
    key,
    surface: 'anthropic',
    providers: PROVIDERS,
    // Claude Code sends `?beta=true`; it does not change routing but the upstream gets it as sent.
    path: `${path}${new URL(req.url).search}`,
    method: 'POST',
    headers: req.headers,
    model: requireModel(json),
    stream: json.stream === true,
    body,
    sessionKey: await sessionKeyOf(key.id, req.headers, json),
  });
}
