// The relay's own per-request JavaScript, step by step, outside workerd: what the worker spends
// besides its Durable Object, Queue and fetch calls. Bundled and timed by bench/hot-path.mjs.
import { sha256Hex } from '../../worker/auth/api-key';
import { costOf } from '../../worker/metering/cost';
import { holdUntilContent, meterStream, unheld } from '../../worker/metering/meter-stream';
import { SHIPPED_PRICES } from '../../worker/metering/prices';
import { anthropic } from '../../worker/providers/anthropic';
import { downstreamHeaders } from '../../worker/providers/headers';
import { usageEventSchema } from '../../worker/queue/usage-event';
import { parseJsonObject } from '../../worker/relay/body';
import { sessionKeyOf } from '../../worker/relay/session';
import { anthropicWire } from '../../worker/wires/anthropic';

export async function keyHash(key: string): Promise<void> {
  await sha256Hex(key);
}

export async function parseAndSession(body: ArrayBuffer, headers: Headers): Promise<void> {
  const json = parseJsonObject(body);
  await sessionKeyOf('key-1', headers, json);
}

export function buildUpstreamRequest(body: ArrayBuffer, headers: Headers): Request {
  return anthropic.buildRequest({
    account: {
      id: 'a',
      provider: 'anthropic',
      authKind: 'api_key',
      baseUrl: 'http://127.0.0.1:1',
      credentialsEnc: '',
      modelMapping: null,
    },
    credential: 'sk-ant-x',
    operation: {
      wire: 'anthropic',
      kind: 'generate',
      model: 'claude-sonnet-4-5',
      stream: true,
      search: '?beta=true',
    },
    method: 'POST',
    clientHeaders: headers,
    body,
  }) as Request;
}

/**
 * The tap over a whole upstream stream, held until content and then passed through: the
 * JavaScript path (a converted or held stream). Native pipes (workerd's tee and
 * IdentityTransformStream) do not exist in Node; the relay takes them for same-dialect streams.
 */
export async function tapStream(chunks: Uint8Array[], upstreamHeaders: Headers): Promise<void> {
  downstreamHeaders(upstreamHeaders, anthropic.headers);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
  const meter = anthropicWire.meter(true);
  const held = await holdUntilContent(unheld(body), meter, Date.now());
  let done = false;
  const out = meterStream(held, meter, {
    startedAt: Date.now(),
    onDone: () => {
      done = true;
    },
    onProgress: () => {},
  });
  const reader = out.getReader();
  while (!(await reader.read()).done) {}
  if (!done) throw new Error('tap did not finish');
}

export function usageEvent(): void {
  const usage = {
    inputTokens: 1200,
    outputTokens: 80,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    cacheReadTokens: 9000,
  };
  costOf('claude-sonnet-4-5', usage, SHIPPED_PRICES);
  usageEventSchema.parse({
    requestId: crypto.randomUUID(),
    at: Date.now(),
    keyId: 'k',
    userId: 'u',
    groupId: 'g',
    accountId: 'a',
    provider: 'anthropic',
    surface: 'anthropic',
    model: 'claude-sonnet-4-5',
    stream: true,
    status: 200,
    outcome: 'complete',
    upstreamRequestId: 'req_1',
    usage,
    ttfbMs: 3,
    durationMs: 100,
    errorType: null,
  });
}
