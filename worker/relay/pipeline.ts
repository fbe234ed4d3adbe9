// The request pipeline every client surface shares: admit (one Durable Object call), forward
// through the provider adapter, fail over to another account while nothing has reached the
// client, stream back through the metering tap, and settle off the critical path (release the
// lease with how it went, send one usage event).
import type { Context } from 'hono';
import { accountGate, groupGate } from '../../durable-objects/address';
import type { Admission, AdmitRequest } from '../../durable-objects/group-gate';
import type { KeyRecord } from '../auth/client-key';
import { decryptCredential } from '../auth/credentials';
import { serviceOf } from '../auth/key-rules';
import { reservationFor } from '../budgets/reservation';
import type { AppEnv } from '../context';
import { conversionFor, type ResponseStreamOptions, responseStreamOptions } from '../convert';
import { modelListConversion } from '../convert/model-list';
import type { Conversion, JsonObject } from '../convert/types';
import type { Meter } from '../metering/meter';
import {
  type HeldStream,
  holdUntilContent,
  isNative,
  meterNative,
  meterStream,
  type TapControl,
  type TapResult,
  teed,
  unheld,
} from '../metering/meter-stream';
import { pricesNow } from '../metering/price-overrides';
import { metrics } from '../metrics';
import { isOAuthKind } from '../oauth/config';
import { downstreamHeaders } from '../providers/headers';
import { adapterFor, allAdapters } from '../providers/registry';
import type {
  ErrorClass,
  Operation,
  ProviderAdapter,
  ProviderKind,
  UpstreamAccount,
  UpstreamFailure,
  Wire,
} from '../providers/types';
import { wireFormat } from '../wires';
import type { WireFormat } from '../wires/types';
import { RelayError, statusIn } from './dialect';
import { acquireDirect, directPlan, rememberPlan } from './direct';
import { convertJson, stripOpenAIUsageChunk } from './rewrite-stream';
import { type Serving, Settlement } from './settlement';

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

/** An attempt the upstream answered in a way the client should see (success or the client's own error). */
interface Served {
  kind: 'served';
  upstream: Response;
  plan: Plan;
  meter: Meter;
  source: HeldStream | null;
  /** When this attempt's call was sent: the account's latency counts from here, not from the request. */
  sentAt: number;
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
/** The request asks what this account's conversion cannot carry: the client's mistake here, not the account's. */
interface Refused {
  kind: 'refused';
  error: RelayError;
}

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
  metrics.relayRequests++;
  const settlement = new Settlement(
    env,
    c.executionCtx,
    requestId,
    startedAt,
    request,
    (account) => upstreamModel(account, request.model),
    c.req.raw.signal,
  );
  const gate = groupGate(env, request.key.groupId);
  const prices = pricesNow(env, (p) => c.executionCtx.waitUntil(p));
  const table = prices instanceof Promise ? await prices : prices;
  const base: Omit<AdmitRequest, 'leaseId'> = {
    groupId: request.key.groupId,
    keyId: request.key.id,
    model: request.model,
    // Token counting has no conversion: only an account of the client's own wire can answer it.
    providers: request.operation === 'count_tokens' ? nativeFor(request.wire) : providersFor(request.wire),
    native: nativeFor(request.wire),
    sessionKey: request.sessionKey,
    limits: {
      maxConcurrency: request.key.maxConcurrency,
      requestsPerWindow: request.key.requestsPerWindow,
      windowMinutes: request.key.windowMinutes,
    },
    userId: request.key.userId,
    reserveMicros:
      request.metered === false
        ? 0
        : reservationFor(
            request.model,
            request.body?.byteLength ?? 0,
            request.json,
            table,
            startedAt,
            Number(env.BUDGET_RESERVATION_CAP_MICROS),
          ),
    service: serviceOf(request.wire),
    userAgent: request.headers.get('user-agent'),
  };
  metrics.blockingGateCalls++;
  // A plain carpool key's later requests take their lease at the account straight (direct.ts).
  const plan =
    request.operation === 'generate' && !hasLimits(request.key)
      ? directPlan(request.key.id, request.wire, request.model, startedAt)
      : null;
  let admission: Admission | null = null;
  if (plan) {
    settlement.asks(requestId, plan.accountId);
    admission = await acquireDirect(env, request.key.groupId, plan, requestId);
  }
  if (!admission) {
    settlement.asks(requestId);
    metrics.gateCalls++;
    admission = await gate.admit({ ...base, leaseId: requestId });
    if (admission.ok && request.operation === 'generate')
      rememberPlan(request.key.id, request.wire, request.model, admission, startedAt);
  }
  if (!admission.ok) {
    const error = new RelayError(admission.kind, admission.message, {
      retryAfterSec: admission.retryAfterSec,
      code: admission.code,
      retryable: !['permission', 'invalid_request', 'not_found', 'budget'].includes(admission.kind),
    });
    settlement.refused(error, statusIn(error, c.get('dialect')));
    throw error;
  }

  const tried: string[] = [];
  for (let attempt = 1; ; attempt++) {
    if (!settlement.leased(admission)) throw new RelayError('internal', 'The client went away.');
    const { account, leaseId } = admission;
    tried.push(account.id);
    const outcome = await attemptOnce(env, account, request, startedAt, settlement);
    if (outcome.kind === 'refused') {
      // Nothing reached the upstream: the lease goes back with no word on the account's health.
      settlement.refused(outcome.error, statusIn(outcome.error, c.get('dialect')));
      throw outcome.error;
    }
    if (outcome.kind === 'served') {
      return respond(c, outcome, settlement, {
        attempts: attempt,
        startedAt,
        clientModel: request.model,
        streamOptions: streamOptionsOf(request),
      });
    }

    if (attempt < admission.maxAttempts) {
      settlement.asks(`${requestId}~${attempt + 1}`);
      metrics.gateCalls++;
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
      // The gate released the failed lease when it recorded the failure; nothing is leased now.
      settlement.unleased();
      console.warn('no failover', { requestId, reason: next.message });
    }
    // Nowhere else to go: the client sees what the upstream said (or why it could not be reached).
    if (outcome.answer)
      return respond(c, outcome.answer, settlement, {
        attempts: attempt,
        startedAt,
        clientModel: request.model,
        streamOptions: streamOptionsOf(request),
        failure: outcome.failure,
      });
    settlement.finish({
      outcome: 'failed',
      status: outcome.error.status,
      reading: null,
      firstByteMs: null,
      failure: outcome.failure,
      errorType: outcome.error.kind,
    });
    throw new RelayError(outcome.error.kind, outcome.error.message, {
      ...outcome.error.options,
      attempts: attempt,
    });
  }
}

/**
 * One upstream call, read up to the point where success or failure is known. Its timeouts are its
 * own, counted from when its call is sent (`startedAt`, the request's, only dates the first byte,
 * as the client saw it): an attempt after a failover, or after a wait in an account's queue, gets
 * the full UPSTREAM_HEADERS_TIMEOUT_MS, and an account is blamed for a timeout only when it took
 * all of it.
 */
async function attemptOnce(
  env: Env,
  account: UpstreamAccount,
  request: RelayRequest,
  startedAt: number,
  settlement: Settlement,
): Promise<Served | Failed | Refused> {
  const plan = planFor(account, request);
  if (!plan) {
    const error = new RelayError('upstream', `This account (${account.provider}) cannot serve this API.`);
    return { kind: 'failed', failure: { kind: 'server_error', status: 502 }, answer: null, error };
  }
  const refusal = plan.conversion && request.json ? plan.conversion.refusal(request.json) : null;
  if (refusal)
    return { kind: 'refused', error: new RelayError('invalid_request', refusal, { retryable: false }) };
  let upstream: Response;
  let sentAt: number;
  let classified: ErrorClass | null = null;
  let controller: AbortController;
  for (let renewed = false; ; renewed = true) {
    controller = settlement.newAttempt();
    try {
      ({ upstream, sentAt } = await forward(env, plan, account, request, controller, settlement));
    } catch (err) {
      const error =
        err instanceof RelayError ? err : new RelayError('upstream', 'The upstream could not be reached.');
      const failure: UpstreamFailure =
        error.kind === 'timeout' ? { kind: 'timeout' } : { kind: 'connect_failed' };
      return { kind: 'failed', failure, answer: null, error };
    }
    classified = upstream.ok ? null : plan.adapter.classifyError(upstream.status, upstream.headers);
    // A subscription's access token refused: its gate refreshes it (once, whoever asks) and the
    // same account is asked again with the new one, once.
    if (renewed || classified?.kind !== 'auth_failed' || !isOAuthKind(account.provider)) break;
    await upstream.body?.cancel();
    const fresh = await accountGate(env, account.id).refreshAfterRejection(account.credentialsEnc);
    if (!fresh) break;
    account = fresh;
  }

  // A body made here is JavaScript's, not the runtime's: it cannot take the native path.
  const wholeAnswer = upstream.ok && !plan.operation.stream ? plan.adapter.wholeAnswer : undefined;
  if (wholeAnswer) {
    // The client waits for the whole answer as it waits for a non-streamed one's headers, and the
    // same timeout bounds it: an upstream stalled mid-stream is cut, and the request settles.
    const timeoutMs = Number(env.UPSTREAM_HEADERS_TIMEOUT_MS);
    const timedOut = new Error('upstream answer timeout');
    const attempt = controller;
    settlement.due(sentAt + timeoutMs, () => attempt.abort(timedOut));
    upstream = await wholeAnswer(upstream, plan.operation);
    settlement.due(null);
    if (attempt.signal.reason === timedOut) {
      const error = new RelayError(
        'timeout',
        `The upstream did not finish its answer within ${timeoutMs} ms.`,
      );
      return { kind: 'failed', failure: { kind: 'timeout' }, answer: null, error };
    }
    classified = upstream.ok ? null : plan.adapter.classifyError(upstream.status, upstream.headers);
  }

  if (!upstream.ok && classified) {
    // An error in the upstream's own framing (Bedrock's `{"message"}`) becomes its wire's, so the
    // client (and a conversion) reads the error it knows.
    if (plan.adapter.decodeBody) upstream = decoded(upstream, plan);
    if (classified.kind === 'client_error' && plan.adapter.refineError) {
      const text = await upstream.text();
      classified = plan.adapter.refineError(classified, text) ?? classified;
      upstream = new Response(text, upstream);
    }
    const meter = plan.upstreamWire.meter(false);
    if (classified.kind === 'client_error') {
      const source = upstream.body ? unheld(upstream.body) : null;
      return { kind: 'served', upstream, plan, meter, source, sentAt };
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
    let failure: UpstreamFailure = classified;
    const refined = plan.adapter.refineError?.(classified, new TextDecoder().decode(bytes));
    if (refined && refined.kind !== 'client_error') failure = refined;
    if (failure.kind === 'server_error' && failure.outOfCredit) {
      // "Insufficient balance", "You exceeded your current quota": passed on, the member would take
      // it for their own budget (the relay's spent budget is a 402 `insufficient_quota` itself).
      const error = new RelayError(
        'upstream',
        'The upstream account is out of credit; an operator has to top it up.',
      );
      return { kind: 'failed', failure, answer: null, error };
    }
    // What the client may get of it names no account: providers put the organisation in it.
    const shown = withoutAccountIds(bytes);
    const kept = new Response(shown, upstream);
    kept.headers.delete('content-length');
    const answer: Served = {
      kind: 'served',
      upstream: kept,
      plan,
      meter,
      source: unheld(new Response(shown).body!),
      sentAt,
    };
    const error = new RelayError('upstream', `Upstream answered ${upstream.status}.`);
    return { kind: 'failed', failure, answer, error };
  }

  const body = plan.adapter.decodeBody ? plan.adapter.decodeBody(upstream, plan.operation) : upstream.body;
  const isStream = plan.operation.stream || isEventStream(upstream.headers);
  const meter = plan.upstreamWire.meter(isStream);
  if (!body) return { kind: 'served', upstream, plan, meter, source: null, sentAt };
  // The client gets the upstream's bytes unchanged: the runtime can pipe them natively.
  const source = rewrites(plan) || wholeAnswer ? unheld(body) : teed(body);
  if (!isStream) return { kind: 'served', upstream, plan, meter, source, sentAt };

  // An upstream that opens a stream and then says nothing is as stuck as one that never answers:
  // headers and first content share the one timeout, from when this attempt's call was sent.
  const timeoutMs = Number(env.UPSTREAM_HEADERS_TIMEOUT_MS);
  settlement.serves(serving(upstream, meter, source, plan, sentAt));
  settlement.due(sentAt + timeoutMs, () => {
    source.timedOut = true;
    source.cancel();
  });
  const held = await holdUntilContent(source, meter, startedAt);
  settlement.due(null);
  if (held.timedOut) {
    const error = new RelayError('timeout', `The upstream sent no content within ${timeoutMs} ms.`);
    return { kind: 'failed', failure: { kind: 'timeout' }, answer: null, error };
  }
  const answer: Served = { kind: 'served', upstream, plan, meter, source: held, sentAt };
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

function decoded(upstream: Response, plan: Plan): Response {
  const body = plan.adapter.decodeBody!(upstream, plan.operation);
  const headers = new Headers(upstream.headers);
  // The body's length changes; a stale length would cut it or make the runtime refuse it.
  headers.delete('content-length');
  return new Response(body, { status: upstream.status, statusText: upstream.statusText, headers });
}

/** A key whose own limits the GroupGate counts: never direct, whatever plan this isolate holds. */
function hasLimits(key: KeyRecord): boolean {
  return key.maxConcurrency !== null || key.requestsPerWindow !== null;
}

/** Whether the client gets other bytes than the upstream sent (then every chunk passes JavaScript). */
function rewrites(plan: Plan): boolean {
  return plan.conversion !== null || plan.stripUsageChunk || plan.adapter.decodeBody !== undefined;
}

function serving(
  upstream: Response,
  meter: Meter,
  source: HeldStream | null,
  plan: Plan,
  sentAt: number,
): Serving {
  return {
    sentAt,
    windows: plan.adapter.usageWindows?.(upstream.headers),
    status: upstream.status,
    upstreamRequestId: upstream.headers.get('request-id') ?? upstream.headers.get('x-request-id'),
    meter,
    firstByteMs: () => source?.firstByteMs ?? null,
    cancel: (reason) => source?.cancel(reason),
  };
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
const nativeByWire = new Map<Wire, ProviderKind[]>();

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

/** Account kinds that speak a client wire themselves (no conversion). */
function nativeFor(wire: Wire): ProviderKind[] {
  let kinds = nativeByWire.get(wire);
  if (!kinds) {
    kinds = allAdapters()
      .filter((a) => a.wires.includes(wire))
      .map((a) => a.kind);
    nativeByWire.set(wire, kinds);
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
  failed.answer?.source?.cancel();
}

interface RespondOptions {
  attempts: number;
  startedAt: number;
  clientModel: string;
  streamOptions: ResponseStreamOptions;
  /** The failure being passed through, reported to the scheduler when the request settles. */
  failure?: UpstreamFailure;
}

function respond(
  c: Context<AppEnv>,
  served: Served,
  settlement: Settlement,
  options: RespondOptions,
): Response {
  const { upstream, plan, meter, source } = served;
  const { attempts, startedAt, clientModel, failure } = options;
  const headers = downstreamHeaders(upstream.headers, plan.adapter.headers);
  headers.set('x-carpool-request-id', c.get('requestId'));
  if (attempts > 1) headers.set('x-carpool-attempts', String(attempts));
  settlement.serves(serving(upstream, meter, source, plan, served.sentAt));
  const settle = (result: TapResult) =>
    settlement.finish({
      outcome: result.outcome,
      status: upstream.status,
      reading: result,
      firstByteMs: result.firstByteMs,
      failure: result.outcome === 'upstream_error' ? undefined : failure,
    });
  if (!source) {
    settle({ ...meter.finish(), outcome: 'complete', firstByteMs: null });
    return new Response(null, { status: upstream.status, headers });
  }
  const isStream = upstream.ok && (plan.operation.stream || isEventStream(upstream.headers));
  const tap = {
    startedAt,
    onDone: settle,
    onProgress: () => settlement.progressed(),
    onClientGone: () => settlement.abort(),
    onControl: (control: TapControl) => settlement.controls(control),
    errorTail: isStream
      ? () =>
          plan.upstreamWire.streamErrorTail(
            settlement.stallMessage ?? 'The upstream connection was lost mid-stream.',
          )
      : undefined,
  };
  if (isNative(source))
    return new Response(meterNative(source, meter, tap), { status: upstream.status, headers });
  let body = meterStream(source, meter, tap);
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
  // 529 is Anthropic's own "overloaded"; a converted client knows it as 503.
  const status = conversion && upstream.status === 529 ? 503 : upstream.status;
  return new Response(body, { status, headers });
}

/**
 * The upstream's answer within the headers timeout, with when the call was sent (the attempt's
 * later deadlines count from it too); the attempt's controller also stops it when the client leaves.
 */
async function forward(
  env: Env,
  plan: Plan,
  account: UpstreamAccount,
  request: RelayRequest,
  controller: AbortController,
  settlement: Settlement,
): Promise<{ upstream: Response; sentAt: number }> {
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
  // It starts now, not when the request arrived: neither a wait in an account's queue nor an
  // earlier account's attempt is this upstream's time.
  const timeoutMs = Number(env.UPSTREAM_HEADERS_TIMEOUT_MS);
  const timedOut = new Error('upstream headers timeout');
  const sentAt = Date.now();
  settlement.due(sentAt + timeoutMs, () => controller.abort(timedOut));
  try {
    return { upstream: await fetch(upstreamRequest, { signal: controller.signal }), sentAt };
  } catch (err) {
    if (controller.signal.reason === timedOut) {
      throw new RelayError('timeout', `The upstream sent no response within ${timeoutMs} ms.`);
    }
    console.warn('upstream fetch failed', { accountId: account.id, error: String(err) });
    throw new RelayError('upstream', 'The upstream could not be reached.');
  } finally {
    settlement.due(null);
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

const ACCOUNT_IDS: readonly [RegExp, string][] = [
  // Anthropic's organisation ("your organization (f4ce…)"), and any other UUID an account has.
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '…'],
  // OpenAI's organisation and project ("in organization org-…").
  [/\borg-[A-Za-z0-9]{6,}/g, 'org-…'],
  [/\bproj_[A-Za-z0-9]{6,}/g, 'proj_…'],
  // Google Cloud's project behind a Gemini key ("for consumer 'project_number:…'", `projects/…`).
  [/\bproject_number:\d+/g, 'project_number:…'],
  [/\bprojects\/\d+/g, 'projects/…'],
];

/** An upstream error body with the account's ids blanked, for the client's eyes. */
export function withoutAccountIds(bytes: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(bytes);
  let shown = text;
  for (const [pattern, blank] of ACCOUNT_IDS) shown = shown.replace(pattern, blank);
  return shown === text ? bytes : new TextEncoder().encode(shown);
}
