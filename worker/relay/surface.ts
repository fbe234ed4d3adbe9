// The steps every client surface shares: authenticate, read the body once, check the key's own
// rules, and hand the request to the pipeline. A surface only says which wire and operation a
// route is.
import type { Context } from 'hono';
import { authenticate, authorize, checkUsable, identify } from '../auth/client-key';
import { serviceOf } from '../auth/key-rules';
import type { AppEnv } from '../context';
import type { Operation, Wire } from '../providers/types';
import { parseJsonObject, readBody, requireModel } from './body';
import { RelayError } from './dialect';
import { filterModelList } from './model-list-filter';
import { relay } from './pipeline';
import { logRefusal } from './refusals';
import { sessionKeyOf } from './session';

export interface JsonRoute {
  wire: Wire;
  operation: Operation['kind'];
  /** The client's query string to forward (only Anthropic's is). */
  search?: string;
  /** The model from the path (Gemini); otherwise the body's `model` field. */
  model?: string;
  /** Streaming from the path (Gemini); otherwise the body's `stream` field. */
  stream?: boolean;
}

export async function relayJson(c: Context<AppEnv>, route: JsonRoute): Promise<Response> {
  const req = c.req.raw;
  const startedAt = Date.now();
  const key = await identify(c.env, req, startedAt);
  let model = route.model ?? '';
  let stream = route.stream ?? false;
  let body: ArrayBuffer;
  let json: ReturnType<typeof parseJsonObject>;
  try {
    body = await readBody(req, Number(c.env.MAX_BODY_BYTES));
    json = parseJsonObject(body);
    model = route.model ?? requireModel(json);
    stream = route.stream ?? (route.operation === 'generate' && json.stream === true);
    // After the body, so that the log says which model a revoked or expired key asked for.
    checkUsable(key, startedAt);
    await authorize(c.env, key, {
      service: serviceOf(route.wire),
      model,
      userAgent: req.headers.get('user-agent'),
    });
  } catch (err) {
    // The key is known, so its group may see why this request failed (refusals.ts).
    if (err instanceof RelayError)
      logRefusal(c, { at: startedAt, key, wire: route.wire, model, stream, error: err });
    throw err;
  }
  return relay(c, {
    key,
    wire: route.wire,
    operation: route.operation,
    search: route.search ?? '',
    method: 'POST',
    headers: req.headers,
    model,
    stream,
    body,
    json,
    sessionKey: await sessionKeyOf(key.id, req.headers, json),
  });
}

/**
 * A model list from the group's account: relayed as it is, not metered; for a key limited to some
 * models, only those are listed.
 */
export async function relayModels(c: Context<AppEnv>, wire: Wire, search = ''): Promise<Response> {
  const key = await authenticate(c.env, c.req.raw);
  await authorize(c.env, key, {
    service: serviceOf(wire),
    model: null,
    userAgent: c.req.header('user-agent') ?? null,
  });
  const list = await relay(c, {
    key,
    wire,
    operation: 'models',
    search,
    method: 'GET',
    headers: c.req.raw.headers,
    model: '',
    stream: false,
    body: null,
    json: null,
    sessionKey: null,
    metered: false,
  });
  return filterModelList(list, wire, key.allowedModels);
}
