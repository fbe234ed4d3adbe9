// Gemini Code Assist (cloudcode-pa.googleapis.com/v1internal), what the Gemini CLI talks to when
// signed in with Google: OAuth bearer tokens (checked by ./index.ts against the fake authorization
// server, then played as the person's fake key), google.rpc errors, and the Gemini API's generate
// and countTokens methods wrapped: `{model, project, request}` in, `{response, traceId}` out (each
// SSE event so wrapped). The project must be the person's own, as loadCodeAssist names it; a
// person not onboarded yet is onboarded into the free tier's managed project by onboardUser.
// Shapes: google-gemini/gemini-cli packages/core/src/code_assist/{server,converter,setup,types}.ts.
import { codeAssistOf, onboardCodeAssist } from '../fake-oauth';
import { isObject, parseJsonObject } from './completion';
import { readFakeKey } from './fake-key';
import {
  generateContentBody,
  type JsonRecord,
  overloadedError,
  planGeneration,
  streamError,
  streamEvents,
  usageMetadata,
} from './gemini-generate';
import type { Provider, UpstreamCall } from './provider';
import { randomBase64Url } from './random-id';
import { type Json, type JsonReply, type Reply, streamSteps, unstreamed } from './reply';
import type { Answer, ErrorKind, Failure } from './scenarios';
import { tokensForBytes } from './tokens';

const host = 'cloudcode-pa.googleapis.com';
const methodPath = /^\/v1internal:([A-Za-z]+)$/;
const operationPath = /^\/v1internal\/(operations\/.+)$/;

const jsonType = 'application/json; charset=UTF-8';

function headers(contentType: string): Record<string, string> {
  return {
    'content-type': contentType,
    vary: 'Origin, X-Origin, Referer',
    server: 'ESF',
    'x-content-type-options': 'nosniff',
    'x-xss-protection': '0',
    'x-frame-options': 'SAMEORIGIN',
  };
}

function reply(status: number, body: Json, usage: Json | null = null, text: string | null = null): JsonReply {
  return { kind: 'json', status, headers: headers(jsonType), body, usage, text };
}

const errorInfo = (reason: string): Json => ({
  '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
  reason,
  domain: host,
  metadata: { model: 'gemini-2.5-pro' },
});

type GoogleError = { code: number; status: string; message: string; details?: readonly Json[] };

function googleError({ kind, message, retryAfterSeconds }: Failure): GoogleError {
  const errors: Record<Exclude<ErrorKind, 'billing'>, () => GoogleError> = {
    invalid_request: () => ({
      code: 400,
      status: 'INVALID_ARGUMENT',
      message: 'Request contains an invalid argument.',
    }),
    // An OAuth API: a missing, expired or revoked token is a 401.
    authentication: () => ({
      code: 401,
      status: 'UNAUTHENTICATED',
      message:
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
    }),
    permission: () => ({
      code: 403,
      status: 'PERMISSION_DENIED',
      message: 'The caller does not have permission',
    }),
    not_found: () => ({ code: 404, status: 'NOT_FOUND', message: 'Requested entity was not found.' }),
    // The plan's per-minute limit: no header, the delay in RetryInfo (gemini-cli reads it there).
    rate_limit: () => {
      const seconds = retryAfterSeconds ?? 1;
      return {
        code: 429,
        status: 'RESOURCE_EXHAUSTED',
        message: `You have exhausted your capacity on this model. Your quota will reset after ${seconds}s.`,
        details: [
          errorInfo('RATE_LIMIT_EXCEEDED'),
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${seconds}s` },
        ],
      };
    },
    server: () => ({ code: 500, status: 'INTERNAL', message: 'Internal error encountered.' }),
    overloaded: () => ({ ...overloadedError.error }),
  };
  // Google answers an exhausted prepaid or free quota as any other quota: RESOURCE_EXHAUSTED.
  const error = errors[kind === 'billing' ? 'rate_limit' : kind]();
  return message === undefined ? error : { ...error, message };
}

function failure(_call: UpstreamCall, failed: Failure): Reply {
  const error = googleError(failed);
  return reply(error.code, { error });
}

const freeTier = {
  id: 'free-tier',
  name: 'Gemini Code Assist for individuals',
  description: 'Gemini Code Assist for individuals',
  userDefinedCloudaicompanionProject: false,
  isDefault: true,
};
const standardTier = {
  id: 'standard-tier',
  name: 'Gemini Code Assist',
  description: 'Unlimited coding assistant with the most powerful Gemini models',
  userDefinedCloudaicompanionProject: true,
};

function personOf(call: UpstreamCall) {
  const key = readFakeKey(call.headers.get('authorization')?.replace(/^Bearer\s+/i, '') ?? null);
  if (key === null) return null;
  const standing = codeAssistOf(key.tag);
  return standing === null ? null : { tag: key.tag, ...standing };
}

function loadCodeAssist(call: UpstreamCall): Reply {
  const person = personOf(call);
  if (person === null) return failure(call, { kind: 'permission' });
  if (person.standing === 'onboarded')
    return reply(200, {
      currentTier: { id: freeTier.id, name: freeTier.name, description: freeTier.description },
      allowedTiers: [freeTier, standardTier],
      cloudaicompanionProject: person.project,
      gcpManaged: false,
    });
  if (person.standing === 'new')
    return reply(200, { allowedTiers: [freeTier, standardTier], gcpManaged: false });
  return reply(200, {
    allowedTiers: [{ ...standardTier, isDefault: true }],
    ineligibleTiers: [
      {
        reasonCode: 'INELIGIBLE_ACCOUNT',
        reasonMessage: 'Your account is not eligible for Gemini Code Assist for individuals',
        tierId: 'free-tier',
        tierName: 'Gemini Code Assist for individuals',
      },
    ],
    gcpManaged: false,
  });
}

function onboardUser(call: UpstreamCall): Reply {
  const person = personOf(call);
  const body = parseJsonObject(call.body);
  if (person === null || body === null) return failure(call, { kind: 'invalid_request' });
  // The free tier's project is Google's: naming one fails, as gemini-cli's setup.ts notes.
  if (body.tierId !== 'free-tier' || body.cloudaicompanionProject !== undefined)
    return reply(400, {
      error: { code: 400, status: 'FAILED_PRECONDITION', message: 'Precondition check failed.' },
    });
  const project = onboardCodeAssist(person.tag);
  if (project === null) return failure(call, { kind: 'permission' });
  return reply(200, {
    name: `operations/onboard-${person.tag}`,
    done: true,
    response: {
      '@type': 'type.googleapis.com/google.internal.cloud.code.v1internal.OnboardUserResponse',
      cloudaicompanionProject: { id: project, name: project },
    },
  });
}

/** `{response, traceId}`: the id is the trace's, and the response has none of its own. */
function wrapResponse(traceId: string) {
  return (response: JsonRecord): Json => {
    const { responseId: _id, ...rest } = response;
    return { response: rest, traceId };
  };
}

function generate(call: UpstreamCall, stream: boolean, answer: Answer): Reply {
  const body = parseJsonObject(call.body);
  if (body === null || typeof body.model !== 'string' || !isObject(body.request))
    return failure(call, { kind: 'invalid_request', message: 'Invalid JSON payload received.' });
  const person = personOf(call);
  if (person === null || person.project === null || body.project !== person.project)
    return failure(call, {
      kind: 'permission',
      message: `Permission denied on resource project ${String(body.project ?? '')}.`,
    });
  const plan = planGeneration(body.request, answer, body.model, call.requestId);
  const wrap = wrapResponse(call.requestId);
  if (stream) {
    return {
      kind: 'stream',
      status: 200,
      headers: headers('text/event-stream'),
      chunkDelayMs: answer.chunkDelayMs,
      steps: streamSteps(
        streamEvents(call, plan, answer.chunks, 'sse', wrap),
        answer.interruption,
        streamError('sse'),
      ),
    };
  }
  if (answer.interruption?.ending === 'error_event') return failure(call, { kind: 'overloaded' });
  if (answer.interruption !== null) return unstreamed(headers(jsonType), answer.interruption);
  return reply(200, wrap(generateContentBody(call, plan)), usageMetadata(call, plan, true), plan.text);
}

function countTokens(call: UpstreamCall): Reply {
  const body = parseJsonObject(call.body);
  const request = body?.request;
  if (!isObject(request) || typeof request.model !== 'string' || !request.model.startsWith('models/'))
    return failure(call, { kind: 'invalid_request' });
  if (!Array.isArray(request.contents)) return failure(call, { kind: 'invalid_request' });
  return reply(200, { totalTokens: tokensForBytes(call.bodyBytes) });
}

function answer(call: UpstreamCall, behaviour: Answer): Reply {
  const operation = operationPath.exec(call.url.pathname);
  if (operation !== null && call.method === 'GET') return reply(200, { name: operation[1]!, done: true });
  const method = methodPath.exec(call.url.pathname)?.[1];
  if (call.method !== 'POST' || method === undefined) return failure(call, { kind: 'not_found' });
  switch (method) {
    case 'loadCodeAssist':
      return loadCodeAssist(call);
    case 'onboardUser':
      return onboardUser(call);
    case 'generateContent':
      return generate(call, false, behaviour);
    case 'streamGenerateContent':
      if (call.url.searchParams.get('alt') !== 'sse') return failure(call, { kind: 'invalid_request' });
      return generate(call, true, behaviour);
    case 'countTokens':
      return countTokens(call);
    default:
      return failure(call, { kind: 'not_found', message: `Method ${method} not found.` });
  }
}

export const codeAssist: Provider = {
  // By path too: an account whose baseUrl is the fake served over HTTP (the browser journeys) sends
  // the same /v1internal paths to another host, and no other provider's API uses them.
  claims: (_request, url) =>
    url.hostname === host || methodPath.test(url.pathname) || operationPath.test(url.pathname),
  newRequestId: () => randomBase64Url(16),
  credential: (request) => request.headers.get('authorization')?.replace(/^Bearer\s+/i, '') ?? null,
  failure,
  answer,
};
