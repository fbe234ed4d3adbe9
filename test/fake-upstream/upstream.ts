// Plays one upstream request: finds the caller's tag and scenario, records the exchange, lets the provider answer.
import { openExchange, takeScripted } from './control';
import { readFakeKey } from './fake-key';
import type { Provider, UpstreamCall } from './provider';
import { render } from './reply';
import { behaviourOf, scenarioLabel } from './scenarios';

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export async function play(provider: Provider, request: Request, url: URL): Promise<Response> {
  const bytes = new Uint8Array(await request.arrayBuffer());
  const call: UpstreamCall = {
    requestId: provider.newRequestId(),
    method: request.method,
    url,
    headers: request.headers,
    body: new TextDecoder().decode(bytes),
    bodyBytes: bytes.length,
  };
  const key = readFakeKey(provider.credential(request, url));
  const scenario = key === null ? null : (takeScripted(key.tag) ?? key.scenario);
  const exchange = openExchange(key?.tag ?? '', {
    id: call.requestId,
    method: call.method,
    host: url.host,
    path: url.pathname,
    search: url.search,
    headers: Object.fromEntries(request.headers),
    body: call.body,
    bodySha256: await sha256Hex(bytes),
    scenario: scenario === null ? (key?.scenarioText ?? null) : scenarioLabel(scenario),
  });
  // workerd fires this when the client goes away only with the `enable_request_signal` compatibility
  // flag; without it a cancelled reader is never seen and the exchange stays in flight.
  const { signal } = request;
  signal.addEventListener('abort', () => exchange.ended('cancelled'));
  // A client gone before its request was read (the Node server behind `npm run fake-upstream`
  // builds the Request then) hands over a signal already aborted, whose event never fires.
  if (signal.aborted) exchange.ended('cancelled');
  try {
    const refused = provider.refuse?.(call) ?? null;
    if (refused !== null) return render(refused, exchange, signal);
    if (key === null) return render(provider.failure(call, { kind: 'authentication' }), exchange, signal);
    if (scenario === null) {
      const message = `fake-upstream: unknown scenario "${key.scenarioText}"`;
      return render(provider.failure(call, { kind: 'invalid_request', message }), exchange, signal);
    }
    const behaviour = behaviourOf(scenario);
    if (behaviour.kind === 'fail') return render(provider.failure(call, behaviour.failure), exchange, signal);
    if (behaviour.firstByteDelayMs > 0) await sleep(behaviour.firstByteDelayMs, signal);
    const reply = provider.answer(call, behaviour);
    const { firstContentDelayMs, eager } = behaviour;
    const paced =
      reply.kind === 'stream' && firstContentDelayMs > 0 ? { ...reply, firstContentDelayMs } : reply;
    return render(paced.kind === 'stream' && eager ? { ...paced, eager } : paced, exchange, signal);
  } catch (error) {
    // A bug in the fake must not leave the request counted as in flight forever.
    exchange.ended('failed');
    throw error;
  }
}
