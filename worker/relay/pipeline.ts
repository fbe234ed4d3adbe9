// The request pipeline every client surface shares: admit (one Durable Object call), forward
// through the provider adapter, stream back through the metering tap, and settle off the
// critical path (release the lease, send one usage event).
import type { Context } from 'hono';
import type { KeyRecord } from '../auth/client-key';
import { decryptCredential } from '../auth/credentials';
import type { AppEnv } from '../context';
import { meterStream, type TapResult } from '../metering/meter-stream';
import { emptyUsage } from '../metering/usage';
import { downstreamHeaders } from '../providers/headers';
import { adapterFor } from '../providers/registry';
import type { ProviderAdapter, UpstreamAccount } from '../providers/types';
import type { UsageEvent } from '../queue/usage-event';
import { anthropicErrorEvent, RelayError } from './dialect';
import { groupGate } from './gates';

export interface RelayRequest {
  key: KeyRecord;
  surface: UsageEvent['surface'];
  /** Upstream path with the client's query string, e.g. `/v1/messages?beta=true`. */
  path: string;
  method: string;
  headers: Headers;
  model: string;
  stream: boolean;
  body: ArrayBuffer | null;
  /** False for calls that cost nothing and are not worth a log row (e.g. listing models). */
  metered?: boolean;
}

/** How a request ended, as the usage event records it. */
type Settlement = Omit<TapResult, 'outcome'> & { outcome: UsageEvent['outcome'] };

export async function relay(c: Context<AppEnv>, request: RelayRequest): Promise<Response> {
  const env = c.env;
  const requestId = c.get('requestId');
  const started = Date.now();
  const gate = groupGate(env, request.key.groupId);
  const admission = await gate.admit({
    groupId: request.key.groupId,
    keyId: request.key.id,
    leaseId: requestId,
    model: request.model,
    keyMaxConcurrency: request.key.maxConcurrency,
  });
  if (!admission.ok) {
    throw new RelayError(admission.kind, admission.message, {
      retryAfterSec: admission.retryAfterSec,
      retryable: admission.kind !== 'permission',
    });
  }
  const account = admission.account;

  // From here on the lease is held: every path out must settle exactly once.
  const settle = (status: number, result: Settlement, upstreamRequestId: string | null) => {
    const event: UsageEvent = {
      requestId,
      at: started,
      keyId: request.key.id,
      userId: request.key.userId,
      groupId: request.key.groupId,
      accountId: account.id,
      provider: account.provider,
      surface: request.surface,
      model: upstreamModel(account, request.model),
      stream: request.stream,
      status,
      outcome: result.outcome,
      upstreamRequestId,
      usage: result.usage,
      ttfbMs: result.firstByteMs,
      durationMs: Date.now() - started,
      errorType: result.errorType,
    };
    const sent = request.metered === false ? null : env.USAGE_QUEUE.send(event);
    return Promise.all([gate.release(requestId), sent]).catch((err: unknown) => {
      console.error('settle failed', { requestId, error: String(err) });
    });
  };

  const adapter = adapterFor(account.provider);
  let upstream: Response;
  try {
    if (!adapter) throw new RelayError('upstream', `No adapter for provider ${account.provider}.`);
    upstream = await forward(env, adapter, account, request);
  } catch (err) {
    const error =
      err instanceof RelayError ? err : new RelayError('upstream', 'The upstream could not be reached.');
    const failed: Settlement = {
      usage: emptyUsage(),
      errorType: error.kind,
      outcome: 'failed',
      firstByteMs: null,
    };
    c.executionCtx.waitUntil(settle(error.status, failed, null));
    throw error;
  }
  const upstreamRequestId = upstream.headers.get('request-id') ?? upstream.headers.get('x-request-id');

  if (upstream.status === 401 || upstream.status === 403) {
    // The member's key is fine; the account's credential is not. Saying 401 would make the client
    // blame its own key, so this is an upstream failure, and the upstream body (which may name the
    // account's organisation) stays here.
    await upstream.body?.cancel();
    const failed: Settlement = {
      usage: emptyUsage(),
      errorType: 'upstream_auth',
      outcome: 'failed',
      firstByteMs: null,
    };
    c.executionCtx.waitUntil(settle(502, failed, upstreamRequestId));
    throw new RelayError(
      'upstream',
      'The upstream account rejected its credentials; an operator has to fix it.',
    );
  }

  const headers = downstreamHeaders(upstream.headers);
  headers.set('x-carpool-request-id', requestId);
  if (!upstream.body) {
    c.executionCtx.waitUntil(
      settle(
        upstream.status,
        { usage: emptyUsage(), errorType: null, outcome: 'complete', firstByteMs: null },
        upstreamRequestId,
      ),
    );
    return new Response(null, { status: upstream.status, headers });
  }

  const isStream = (upstream.headers.get('content-type') ?? '').startsWith('text/event-stream');
  let resolveDone: (result: TapResult) => void = () => {};
  const done = new Promise<TapResult>((resolve) => {
    resolveDone = resolve;
  });
  c.executionCtx.waitUntil(done.then((result) => settle(upstream.status, result, upstreamRequestId)));
  const body = meterStream(upstream.body, adapter!.meter(isStream), {
    onDone: resolveDone,
    clientSignal: c.req.raw.signal,
    errorTail: isStream
      ? () => anthropicErrorEvent('api_error', 'The upstream connection was lost mid-stream.')
      : undefined,
  });
  return new Response(body, { status: upstream.status, headers });
}

async function forward(
  env: Env,
  adapter: ProviderAdapter,
  account: UpstreamAccount,
  request: RelayRequest,
): Promise<Response> {
  const credential = await decryptCredential(env.CREDENTIALS_KEY, account.id, account.credentialsEnc);
  const upstreamRequest = adapter.buildRequest({
    account,
    credential,
    path: request.path,
    method: request.method,
    clientHeaders: request.headers,
    body: remapModel(account, request),
  });
  // The timeout covers the wait for response headers only: a long stream is not a slow upstream.
  const controller = new AbortController();
  const timeoutMs = Number(env.UPSTREAM_HEADERS_TIMEOUT_MS);
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await fetch(upstreamRequest, { signal: controller.signal });
  } catch (err) {
    if (controller.signal.aborted) {
      throw new RelayError('timeout', `The upstream sent no response within ${timeoutMs} ms.`);
    }
    console.warn('upstream fetch failed', { accountId: account.id, error: String(err) });
    throw new RelayError('upstream', 'The upstream could not be reached.');
  } finally {
    clearTimeout(timer);
  }
}

function upstreamModel(account: UpstreamAccount, model: string): string {
  return account.modelMapping?.[model] ?? model;
}

/** The client's bytes, unless the account maps the model to another name upstream. */
function remapModel(account: UpstreamAccount, request: RelayRequest): ArrayBuffer | null {
  const mapped = upstreamModel(account, request.model);
  if (mapped === request.model || !request.body) return request.body;
  const parsed = JSON.parse(new TextDecoder().decode(request.body)) as Record<string, unknown>;
  parsed.model = mapped;
  return new TextEncoder().encode(JSON.stringify(parsed)).buffer as ArrayBuffer;
}
