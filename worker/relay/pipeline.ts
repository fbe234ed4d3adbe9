// The request pipeline every client surface shares: admit (one Durable Object call), forward
// through the provider adapter, fail over to another account while nothing has reached the
// client, stream back through the metering tap, and settle off the critical path (release the
// lease with how it went, send one usage event).
import type { Context } from 'hono';
import type { AdmitRequest } from '../../durable-objects/group-gate';
import type { KeyRecord } from '../auth/client-key';
import { decryptCredential } from '../auth/credentials';
import type { AppEnv } from '../context';
import { conversionFor, type ResponseStreamOptions, responseStreamOptions } from '../convert';
import { modelListConversion } from '../convert/model-list';
import type { Conversion, JsonObject } from '../convert/types';
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
import { adapterFor, allAdapters } from '../providers/registry';
import type {
  Operation,
  ProviderAdapter,
  ProviderKind,
  UpstreamAccount,
  UpstreamFailure,
  Wire,
} from '../providers/types';
import { type UsageEvent, usageEvent } from '../queue/usage-event';
import { wireFormat } from '../wires';
import type { WireFormat } from '../wires/types';
import { RelayError } from './dialect';
import { accountGate, groupGate } from './gates';
import { convertJson, stripOpenAIUsageChunk } from './rewrite-stream';

export interface RelayRequest {
  key: KeyRecord;
  /** The client's wire (its surface). */
  wire: Wire;
  operation: Operation['kind'];
  /** The client's query string, e.g. `?beta=true`. */
  search: string;
  method: string;
  headers: Headers;
  model: string;
  stream: boolean;
  body: ArrayBuffer | null;
  /** The body parsed, for conversion; the bytes above are what is forwarded when none is needed. */
  json: JsonObject | null;
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
  plan: Plan;
  meter: Meter;
  source: HeldStream | null;
}

/** How one attempt talks to its account: which wire, converted or not. */
interface Plan {
  adapter: ProviderAdapter;
  operation: Operation;
  upstreamWire: WireFormat;
  conversion: Conversion | null;
  /** The client did not ask for OpenAI's usage chunk; the relay did, and drops it on the way back. */
  stripUsageChunk: boolean;
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
    providers: providersFor(request.wire),
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
    const current = admission;
    tried.push(account.id);
    const settle: Settle = (status, result, upstream, failure) => {
      const event = usageEvent({
        requestId,
        at: startedAt,
        keyId: request.key.id,
        userId: request.key.userId,
        groupId: request.key.groupId,
        accountId: account.id,
        provider: account.provider,
        surface: request.wire,
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
      });
      const report = failure
        ? { ok: false as const, failure }
        : result.outcome === 'upstream_error'
          ? { ok: false as const, failure: { kind: 'stream_failed' as const } }
          : { ok: true as const, firstByteMs: result.firstByteMs };
      // Some clients hide a failed stream (Gemini CLI exits 0 with no output): the relay's log must not.
      if (result.errorType !== null || result.outcome === 'upstream_error') {
        console.warn('upstream failure', {
          requestId,
          accountId: account.id,
          wire: request.wire,
          status,
          outcome: result.outcome,
          errorType: result.errorType,
        });
      }
      const sent = request.metered === false ? null : env.USAGE_QUEUE.send(event);
      const released =
        current.releaseVia === 'account'
          ? accountGate(env, account.id).release(leaseId, report, current.health)
          : gate.release(leaseId, report);
      return Promise.all([released, sent]).then(
        () => {},
        (err: unknown) => console.error('settle failed', { requestId, error: String(err) }),
      );
    };

    const outcome = await attemptOnce(env, account, request, startedAt);
    if (outcome.kind === 'served') {
      return respond(c, outcome, settle, {
        attempts: attempt,
        startedAt,
        clientModel: request.model,
        streamOptions: streamOptionsOf(request),
      });
    }

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
      return respond(c, outcome.answer, settle, {
        attempts: attempt,
        startedAt,
        clientModel: request.model,
        streamOptions: streamOptionsOf(request),
        failure: outcome.failure,
      });
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
  const plan = planFor(account, request);
  if (!plan) {
    const error = new RelayError('upstream', `This account (${account.provider}) cannot serve this API.`);
    return { kind: 'failed', failure: { kind: 'server_error', status: 502 }, answer: null, error };
  }
  let upstream: Response;
  try {
    upstream = await forward(env, plan, account, request);
  } catch (err) {
    const error =
      err instanceof RelayError ? err : new RelayError('upstream', 'The upstream could not be reached.');
    const failure: UpstreamFailure =
      error.kind === 'timeout' ? { kind: 'timeout' } : { kind: 'connect_failed' };
    return { kind: 'failed', failure, answer: null, error };
  }

  if (!upstream.ok) {
    let classified = plan.adapter.classifyError(upstream.status, upstream.headers);
    if (classified.kind === 'client_error' && plan.adapter.refineClientError) {
      const text = await upstream.text();
      classified = plan.adapter.refineClientError(upstream.status, text) ?? classified;
      upstream = new Response(text, upstream);
    }
    const meter = plan.upstreamWire.meter(false);
    if (classified.kind === 'client_error') {
      return { kind: 'served', upstream, plan, meter, source: upstream.body ? unheld(upstream.body) : null };
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
      plan,
      meter,
      source: unheld(new Response(bytes).body!),
    };
    const error = new RelayError('upstream', `Upstream answered ${upstream.status}.`);
    return { kind: 'failed', failure: classified, answer, error };
  }

  const body = plan.adapter.decodeBody ? plan.adapter.decodeBody(upstream, plan.operation) : upstream.body;
  const isStream = plan.operation.stream || isEventStream(upstream.headers);
  const meter = plan.upstreamWire.meter(isStream);
  if (!body) return { kind: 'served', upstream, plan, meter, source: null };
  if (!isStream) return { kind: 'served', upstream, plan, meter, source: unheld(body) };

  const timeoutMs = Number(env.UPSTREAM_HEADERS_TIMEOUT_MS);
  const held = await holdUntilContent(body, meter, startedAt, timeoutMs);
  if (held.timedOut) {
    const error = new RelayError('timeout', `The upstream sent no content within ${timeoutMs} ms.`);
    return { kind: 'failed', failure: { kind: 'timeout' }, answer: null, error };
  }
  const answer: Served = { kind: 'served', upstream, plan, meter, source: held };
  const { contentStarted, errorType } = meter.progress();
  if (!contentStarted && errorType !== null) {
    return {
      kind: 'failed',
      failure: plan.upstreamWire.classifyStreamError(errorType),
      answer,
      error: streamError(),
    };
  }
  if (!contentStarted && held.readError) {
    return { kind: 'failed', failure: { kind: 'server_error', status: 502 }, answer, error: streamError() };
  }
  return answer;
}

/** Native when the account speaks the client's wire; otherwise through a conversion it supports. */
function planFor(account: UpstreamAccount, request: RelayRequest): Plan | null {
  const adapter = adapterFor(account.provider);
  if (!adapter) return null;
  const model = upstreamModel(account, request.model);
  const operation = (wire: Wire): Operation => ({
    wire,
    kind: request.operation,
    model,
    stream: request.stream,
    search: request.search,
  });
  if (adapter.wires.includes(request.wire)) {
    const stripUsageChunk = request.wire === 'openai-chat' && request.stream && !asksForUsage(request.json);
    return {
      adapter,
      operation: operation(request.wire),
      upstreamWire: wireFormat(request.wire),
      conversion: null,
      stripUsageChunk,
    };
  }
  if (request.operation === 'count_tokens') return null;
  for (const wire of adapter.wires) {
    const messages = conversionFor(request.wire, wire);
    const conversion = messages && request.operation === 'models' ? modelListConversion(messages) : messages;
    if (conversion) {
      return {
        adapter,
        operation: operation(wire),
        upstreamWire: wireFormat(wire),
        conversion,
        stripUsageChunk: false,
      };
    }
  }
  return null;
}

const providersByWire = new Map<Wire, ProviderKind[]>();

/** Account kinds that can serve a client wire, natively or by conversion. */
function providersFor(wire: Wire): ProviderKind[] {
  let kinds = providersByWire.get(wire);
  if (!kinds) {
    kinds = allAdapters()
      .filter((a) => a.wires.includes(wire) || a.wires.some((w) => conversionFor(wire, w) !== null))
      .map((a) => a.kind);
    providersByWire.set(wire, kinds);
  }
  return kinds;
}

function streamOptionsOf(request: RelayRequest): ResponseStreamOptions {
  return request.json ? responseStreamOptions(request.json) : {};
}

function asksForUsage(json: JsonObject | null): boolean {
  const options = json?.stream_options;
  return typeof options === 'object' && options !== null && (options as JsonObject).include_usage === true;
}

function isEventStream(headers: Headers): boolean {
  return (headers.get('content-type') ?? '').startsWith('text/event-stream');
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
  clientModel: string;
  streamOptions: ResponseStreamOptions;
  /** The failure being passed through, reported to the scheduler when the request settles. */
  failure?: UpstreamFailure;
}

function respond(c: Context<AppEnv>, served: Served, settle: Settle, options: RespondOptions): Response {
  const { upstream, plan, meter, source } = served;
  const { attempts, startedAt, clientModel, failure } = options;
  const headers = downstreamHeaders(upstream.headers, plan.adapter.headers);
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
  const isStream = upstream.ok && (plan.operation.stream || isEventStream(upstream.headers));
  let body = meterStream(source, meter, {
    startedAt,
    onDone: resolveDone,
    clientSignal: c.req.raw.signal,
    errorTail: isStream
      ? () => plan.upstreamWire.streamErrorTail('The upstream connection was lost mid-stream.')
      : undefined,
  });
  if (plan.stripUsageChunk) body = body.pipeThrough(stripOpenAIUsageChunk());
  const conversion = plan.conversion;
  if (conversion) {
    if (!upstream.ok)
      body = body.pipeThrough(convertJson((json) => conversion.errorBody(upstream.status, json)));
    else if (isStream) body = body.pipeThrough(conversion.responseStream(clientModel, options.streamOptions));
    else body = body.pipeThrough(convertJson((json) => conversion.responseBody(json, clientModel)));
  }
  if (conversion || plan.adapter.decodeBody) {
    headers.set('content-type', isStream ? 'text/event-stream; charset=utf-8' : 'application/json');
  }
  return new Response(body, { status: upstream.status, headers });
}

async function forward(
  env: Env,
  plan: Plan,
  account: UpstreamAccount,
  request: RelayRequest,
): Promise<Response> {
  const credential = await decryptCredential(env.CREDENTIALS_KEY, account.id, account.credentialsEnc);
  const upstreamRequest = await plan.adapter.buildRequest({
    account,
    credential,
    operation: plan.operation,
    method: request.method,
    clientHeaders: request.headers,
    body: upstreamBody(plan, request),
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

/**
 * The client's bytes, untouched, unless something must change: a conversion to the account's
 * wire, a model the account calls by another name, or the OpenAI usage chunk the relay needs.
 */
function upstreamBody(plan: Plan, request: RelayRequest): ArrayBuffer | null {
  if (!request.body || !request.json) return request.body;
  const model = plan.operation.model;
  let json: JsonObject;
  if (plan.conversion) {
    json = plan.conversion.request(request.json, model);
  } else if (model !== request.model || plan.stripUsageChunk) {
    json = { ...request.json };
    if (model !== request.model) json.model = model;
    if (plan.stripUsageChunk) {
      json.stream_options = { ...(json.stream_options as JsonObject | undefined), include_usage: true };
    }
  } else {
    return request.body;
  }
  return new TextEncoder().encode(JSON.stringify(json)).buffer as ArrayBuffer;
}
