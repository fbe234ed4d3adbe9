// The Anthropic client surface: what Claude Code and the Anthropic SDKs call.
import { Hono } from 'hono';
import { authenticate } from '../auth/client-key';
import type { AppEnv } from '../context';
import { parseJsonObject, readBody, requireModel } from './body';
import { relay } from './pipeline';
import { sessionKeyOf } from './session';

export const anthropicSurface = new Hono<AppEnv>();

anthropicSurface.post('/v1/messages', (c) => relayMessages(c, 'generate'));
anthropicSurface.post('/v1/messages/count_tokens', (c) => relayMessages(c, 'count_tokens'));

/** Anthropic's model list; the OpenAI surface answers the same path for OpenAI-style clients. */
export async function anthropicModels(c: Parameters<typeof relay>[0]): Promise<Response> {
  const key = await authenticate(c.env, c.req.raw);
  return relay(c, {
    key,
    wire: 'anthropic',
    operation: 'models',
    search: new URL(c.req.url).search,
    method: 'GET',
    headers: c.req.raw.headers,
    model: '',
    stream: false,
    body: null,
    json: null,
    sessionKey: null,
    metered: false,
  });
}

async function relayMessages(
  c: Parameters<typeof relay>[0],
  operation: 'generate' | 'count_tokens',
): Promise<Response> {
  const req = c.req.raw;
  const key = await authenticate(c.env, req);
  const body = await readBody(req, Number(c.env.MAX_BODY_BYTES));
  const json = parseJsonObject(body);
  return relay(c, {
    key,
    wire: 'anthropic',
    operation,
    // Claude Code sends `?beta=true`; it does not change routing but the upstream gets it as sent.
    search: new URL(req.url).search,
    method: 'POST',
    headers: req.headers,
    model: requireModel(json),
    stream: operation === 'generate' && json.stream === true,
    body,
    json,
    sessionKey: await sessionKeyOf(key.id, req.headers, json),
  });
}
