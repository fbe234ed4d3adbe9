// The request pipeline every client surface shares: admit (one Durable Object call), forward
// through the provider adapter, fail over to another account while nothing has reached the
// client, stream back through the metering tap, and settle off the critical path (release the
// lease with how it went, send one usage event).
import type { Context } from 'hono';
import type { AdmitRequest } from '../../durable-objects/group-gate';
import type { KeyRecord } from '../auth/client-key';
import { decryptCredential } from '../auth/credentials';
import type { AppEnv } from '../context';
import type { Meter } from '../metering/meter';
import {
  type HeldStream,
  holdUntilContent,
  meterStream,
  type TapResult,
  unheld,
} from '../metering/meter-stream';
import { emptyUsage } from '../metering/usage';
import { downstreamHeaders } from '../providers/headers';
import { adapterFor } from '../providers/registry';
import type { ProviderAdapter, ProviderKind, UpstreamAccount, UpstreamFailure } from '../providers/types';
import type { UsageEvent } from '../queue/usage-event';
import { RelayError } from './dialect';
import { groupGate } from './gates';

export interface RelayRequest {
  key: KeyRecord;
  surface: UsageEvent['surface'];
  /** Account kinds that can serve this surface. */
  providers: ProviderKind[];
  /** Upstream path with the client's query string, e.g. `/v1/messages?beta=true`. */
  path: string;
  method: string;
  headers: Headers;
  model: string;
  stream: boolean;
  body: ArrayBuffer | null;
  sessionKey: string | null;
  /** False for calls that cost nothing and are not worth a log row (e.g. listing models). */
  metered?: boolean;
}

/** How a request ended, as the usage event records it. */
type Settlement = Omit<TapResult, 'outcome'> & { outcome: UsageEvent['outcome'] };

/** An attempt the upstream answered in a way the client should see (success or the client's own error). */
interface Served {
  kind: 'served';
  upstream: Response;
  adapter: ProviderAdapter;
  meter: Meter;
  source: HeldStream | null;
}

/** An attempt that failed in a way another account might not. */
interface Failed {
  kind: 'failed';
  failure: UpstreamFailure;
  /** What the client gets if no other account can take the request; null: a relay error instead. */
  answer: Served | null;
  error: RelayError;
}

const ERROR_BODY_LIMIT = 64 * 1024;

export async function relay(c: Context<AppEnv>, request: RelayRequest): Promise<Response> {
  const env = c.env;
  const requestId = c.get('requestId');
  const startedAt = Date.now();
  const gate = groupGate(env, request.key.groupId);
  const base: Omit<AdmitRequest, 'leaseId'> = {
    groupId: request.key.groupId,
    keyId: request.key.id,
    model: request.model,
    providers: request.providers,
    sessionKey: request.sessionKey,
    limits: {
      maxConcurrency: request.key.maxConcurrency,
      requestsPerWindow: request.key.requestsPerWindow,
      windowMinutes: request.key.windowMinutes,
    },
  };
  let admission = await gate.admit({ ...base, leaseId: requestId });
  if (!admission.ok) {
    throw new RelayError(admission.kind, admission.message, {
      retryAfterSec: admission.retryAfterSec,
      retryable: admission.kind !== 'permission' && admission.kind !== 'invalid_request',
    });
  }

  const tried: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const { account, leaseId } = admission;
    tried.push(account.id);
    const settle: Settle = (status, result, upstream, failure) => {
      const event: UsageEvent = {
        requestId,
        at: startedAt,
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
        upstreamRequestId:
          upstream?.headers.get('request-id') ?? upstream?.headers.get('x-request-id') ?? null,
        usage: result.usage,
        ttfbMs: result.firstByteMs,
        durationMs: Date.now() - startedAt,
        errorType: result.errorType,
      };
      const report = failure
        ? { ok: false as const, failure }
        : result.outcome === 'upstream_error'
          ? { ok: false as const, failure: { kind: 'stream_failed' as const } }
          : { ok: true as const, firstByteMs: result.firstByteMs };
      const sent = request.metered === false ? null : env.USAGE_QUEUE.send(event);
      return Promise.all([gate.release(leaseId, report), sent]).then(
        () => {},
        (err: unknown) => console.error('settle failed', { requestId, error: String(err) }),
      );
    };

    const outcome = await attemptOnce(env, account, request, startedAt);
    if (outcome.kind === 'served') return respond(c, outcome, settle, { attempts: attempt, startedAt });

    if (attempt < admission.maxAttempts) {
      const next = await gate.failover({
        ...base,
        leaseId: `${requestId}~${attempt + 1}`,
        failed: { leaseId, accountId: account.id, failure: outcome.failure },
        tried,
      });
      if (next.ok) {
        await discard(outcome);
        admission = next;
        continue;
      }
      console.warn('no failover', { requestId, reason: next.message });
    }
    // Nowhere else to go: the client sees what the upstream said (or why it could not be reached).
    if (outcome.answer)
      return respond(c, outcome.answer, settle, { attempts: attempt, startedAt, failure: outcome.failure });
    const failed: Settlement = {
      usage: emptyUsage(),
      errorType: outcome.error.kind,
      outcome: 'failed',
      firstByteMs: null,
    };
    c.executionCtx.waitUntil(settle(outcome.error.status, failed, null, outcome.failure));
    throw outcome.error;
  }
}

/** One upstream call, read up to the point where success or failure is known. */
async function attemptOnce(
  env: Env,
  account: UpstreamAccount,
  request: RelayRequest,
  startedAt: number,
): Promise<Served | Failed> {
  const adapter = adapterFor(account.provider);
  if (!adapter) {
    const error = new RelayError('upstream', `No adapter for provider ${account.provider}.`);
    return { kind: 'failed', failure: { kind: 'server_error', status: 502 }, answer: null, error };
  }
  let upstream: Response;
  try {
    upstream = await forward(env, adapter, account, request);
  } catch (err) {
    const error =
      err instanceof RelayError ? err : new RelayError('upstream', 'The upstream could not be reached.');
    const failure: UpstreamFailure =
      error.kind === 'timeout' ? { kind: 'timeout' } : { kind: 'connect_failed' };
    return { kind: 'failed', failure, answer: null, error };
  }

  if (!upstream.ok) {
    const classified = adapter.classifyError(upstream.status, upstream.headers);
    const meter = adapter.meter(false);
    if (classified.kind === 'client_error') {
      return {
        kind: 'served',
        upstream,
        adapter,
        meter,
        source: upstream.body ? unheld(upstream.body) : null,
      };
    }
    if (classified.kind === 'auth_failed') {
      // The member's key is fine; the account's credential is not. Saying 401 would make the client
      // blame its own key, and the upstream body (which may name the account's organisation) stays here.
      await upstream.body?.cancel();
      const error = new RelayError(
        'upstream',
        'The upstream account rejected its credentials; an operator has to fix it.',
      );
      return { kind: 'failed', failure: classified, answer: null, error };
    }
    // Small error bodies are kept whole, so the client can still get them if failover is impossible.
    const bytes = new Uint8Array(await upstream.arrayBuffer()).slice(0, ERROR_BODY_LIMIT);
    const kept = new Response(bytes, upstream);
    const answer: Served = {
      kind: 'served',
      upstream: kept,
      adapter,
      meter,
      source: unheld(new Response(bytes).body!),
    };
    return {
      kind: 'failed',
      failure: classified,
      answer,
      error: new RelayError('upstream', `Upstream answered ${upstream.status}.`),
    };
  }

  const isStream = (upstream.headers.get('content-type') ?? '').startsWith('text/event-stream');
  const meter = adapter.meter(isStream);
  if (!upstream.body) return { kind: 'served', upstream, adapter, meter, source: null };
  if (!isStream) return { kind: 'served', upstream, adapter, meter, source: unheld(upstream.body) };

  const timeoutMs = Number(env.UPSTREAM_HEADERS_TIMEOUT_MS);
  const held = await holdUntilContent(upstream.body, meter, startedAt, timeoutMs);
  if (held.timedOut) {
    const error = new RelayError('timeout', `The upstream sent no content within ${timeoutMs} ms.`);
    return { kind: 'failed', failure: { kind: 'timeout' }, answer: null, error };
  }
  const answer: Served = { kind: 'served', upstream, adapter, meter, source: held };
  const errorType = meter.progress().errorType;
  if (!meter.progress().contentStarted) {
    if (errorType !== null) {
      return {
        kind: 'failed',
        failure: adapter.classifyStreamError(errorType),
        answer,
        error: streamError(),
      };
    }
    if (held.readError)
      return { kind: 'failed', failure: { kind: 'server_error', status: 502 }, answer, error: streamError() };
  }
  return answer;
}

function streamError(): RelayError {
  return new RelayError('upstream', 'The upstream stream failed before any content.');
}

async function discard(failed: Failed): Promise<void> {
  await failed.answer?.source?.reader.cancel().catch(() => {});
}

type Settle = (
  status: number,
  result: Settlement,
  upstream: Response | null,
  failure?: UpstreamFailure,
) => Promise<void>;

interface RespondOptions {
  attempts: number;
  startedAt: number;
  /** The failure being passed through, reported to the scheduler when the request settles. */
  failure?: UpstreamFailure;
}

function respond(
  c: Context<AppEnv>,
  served: Served,
  settle: Settle,
  { attempts, startedAt, failure }: RespondOptions,
): Response {
  const { upstream, adapter, meter, source } = served;
  const headers = downstreamHeaders(upstream.headers);
  headers.set('x-carpool-request-id', c.get('requestId'));
  if (attempts > 1) headers.set('x-carpool-attempts', String(attempts));
  if (!source) {
    const empty: Settlement = {
      usage: emptyUsage(),
      errorType: null,
      outcome: 'complete',
      firstByteMs: null,
    };
    c.executionCtx.waitUntil(settle(upstream.status, empty, upstream, failure));
    return new Response(null, { status: upstream.status, headers });
  }
  let resolveDone: (result: TapResult) => void = () => {};
  const done = new Promise<TapResult>((resolve) => {
    resolveDone = resolve;
  });
  c.executionCtx.waitUntil(done.then((result) => settle(upstream.status, result, upstream, failure)));
  const isStream = (upstream.headers.get('content-type') ?? '').startsWith('text/event-stream');
  const body = meterStream(source, meter, {
    startedAt,
    onDone: resolveDone,
    clientSignal: c.req.raw.signal,
    errorTail: isStream
      ? () => adapter.streamErrorTail('The upstream connection was lost mid-stream.')
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
