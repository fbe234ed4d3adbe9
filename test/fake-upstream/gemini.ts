// The Gemini API (generativelanguage.googleapis.com): `x-goog-api-key` or `?key=`, google.rpc errors, generate, countTokens, models.
import { parseJsonObject } from './completion';
import {
  generateContentBody,
  overloadedError,
  planGeneration,
  type StreamFraming,
  streamError,
  streamEvents,
  usageMetadata,
} from './gemini-generate';
import type { Provider, UpstreamCall } from './provider';
import { randomBase64Url } from './random-id';
import { type Json, type JsonReply, type Reply, streamSteps, unstreamed } from './reply';
import type { Answer, ErrorKind, Failure } from './scenarios';
import { tokensForBytes } from './tokens';

const geminiHost = 'generativelanguage.googleapis.com';
const methodPath = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+):([A-Za-z]+)$/;
const modelsPath = /^\/(v1beta|v1|v1alpha)\/models(?:\/([^/:]+))?$/;

const modelInfo = (id: string, displayName: string, description: string) => ({
  name: `models/${id}`,
  version: '001',
  displayName,
  description,
  inputTokenLimit: 1_048_576,
  outputTokenLimit: 65_536,
  supportedGenerationMethods: [
    'generateContent',
    'countTokens',
    'createCachedContent',
    'batchGenerateContent',
  ],
  temperature: 1,
  topP: 0.95,
  topK: 64,
  maxTemperature: 2,
  thinking: true,
});

export const geminiModels = [
  modelInfo('gemini-2.5-pro', 'Gemini 2.5 Pro', 'Stable release (June 17th, 2025) of Gemini 2.5 Pro'),
  modelInfo(
    'gemini-2.5-flash',
    'Gemini 2.5 Flash',
    'Stable version of Gemini 2.5 Flash, released in June of 2025.',
  ),
  modelInfo(
    'gemini-2.5-flash-lite',
    'Gemini 2.5 Flash-Lite',
    'Stable version of Gemini 2.5 Flash-Lite, released in July of 2025',
  ),
];

function headers(contentType: string): Record<string, string> {
  return {
    'content-type': contentType,
    vary: 'Origin, X-Origin, Referer',
    server: 'scaffolding on HTTPServer2',
    // Real values vary with load; a constant keeps replies comparable.
    'server-timing': 'gfet4t7; dur=137',
    'x-content-type-options': 'nosniff',
    'x-xss-protection': '0',
    'x-frame-options': 'SAMEORIGIN',
    'alt-svc': 'h3=":443"; ma=2592000,h3-29=":443"; ma=2592000',
  };
}

const jsonType = 'application/json; charset=UTF-8';

function reply(status: number, body: Json, usage: Json | null = null, text: string | null = null): JsonReply {
  return { kind: 'json', status, headers: headers(jsonType), body, usage, text };
}

type GoogleError = { code: number; status: string; message: string; details?: readonly Json[] };

const errorInfo = (reason: string): Json => ({
  '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
  reason,
  domain: 'googleapis.com',
  metadata: { service: geminiHost },
});

function keyOf(call: UpstreamCall): string | null {
  return call.headers.get('x-goog-api-key') ?? call.url.searchParams.get('key');
}

// Google answers a wrong key with 400 API_KEY_INVALID, and a missing one with 403: there is no 401.
function authenticationError(call: UpstreamCall): GoogleError {
  if (keyOf(call) === null) {
    return {
      code: 403,
      status: 'PERMISSION_DENIED',
      message:
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      details: [errorInfo('CONSUMER_INVALID')],
    };
  }
  const message = 'API key not valid. Please pass a valid API key.';
  return {
    code: 400,
    status: 'INVALID_ARGUMENT',
    message,
    details: [
      errorInfo('API_KEY_INVALID'),
      { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message },
    ],
  };
}

/** The Google Cloud project behind every fake key: an account's identity, which members must not see. */
export const PROJECT_NUMBER = '696498078762';

const quotaFailure: Json = {
  '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
  violations: [
    {
      quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
      quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
    },
  ],
};

function googleError(call: UpstreamCall, { kind, message, retryAfterSeconds }: Failure): GoogleError {
  const errors: Record<Exclude<ErrorKind, 'billing'>, () => GoogleError> = {
    invalid_request: () => ({
      code: 400,
      status: 'INVALID_ARGUMENT',
      message: 'Request contains an invalid argument.',
    }),
    authentication: () => authenticationError(call),
    permission: () => ({
      code: 403,
      status: 'PERMISSION_DENIED',
      message: 'The caller does not have permission',
    }),
    not_found: () => ({ code: 404, status: 'NOT_FOUND', message: 'Requested entity was not found.' }),
    // Gemini sends no retry-after header: clients read the delay from RetryInfo. A paid key's
    // regional quota is refused in Google Cloud's own words, which name the key's project by
    // number, in the message and in the ErrorInfo (as google/generative-ai-docs#236 shows).
    rate_limit: () => ({
      code: 429,
      status: 'RESOURCE_EXHAUSTED',
      message: `You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. Quota exceeded for quota metric 'Generate Content API requests per minute' and limit 'GenerateContent request limit per minute for a region' of service '${geminiHost}' for consumer 'project_number:${PROJECT_NUMBER}'.`,
      details: [
        quotaFailure,
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'RATE_LIMIT_EXCEEDED',
          domain: 'googleapis.com',
          metadata: {
            service: geminiHost,
            quota_metric: `${geminiHost}/generate_content_requests`,
            quota_limit: 'GenerateContentRequestsPerMinutePerProjectPerRegion',
            consumer: `projects/${PROJECT_NUMBER}`,
          },
        },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterSeconds ?? 1}s` },
      ],
    }),
    server: () => ({
      code: 500,
      status: 'INTERNAL',
      message:
        'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
    }),
    overloaded: () => ({ ...overloadedError.error }),
  };
  // Google answers an exhausted prepaid or free quota as any other quota: RESOURCE_EXHAUSTED.
  const error = errors[kind === 'billing' ? 'rate_limit' : kind]();
  return message === undefined ? error : { ...error, message };
}

function failure(call: UpstreamCall, failed: Failure): Reply {
  const error = googleError(call, failed);
  return reply(error.code, { error });
}

function generate(call: UpstreamCall, model: string, stream: StreamFraming | null, answer: Answer): Reply {
  const request = parseJsonObject(call.body);
  if (request === null) {
    return failure(call, {
      kind: 'invalid_request',
      message: 'Invalid JSON payload received. Unexpected token.',
    });
  }
  const plan = planGeneration(request, answer, model, call.requestId);
  const { interruption } = answer;
  if (stream !== null) {
    return {
      kind: 'stream',
      status: 200,
      headers: headers(stream === 'sse' ? 'text/event-stream' : jsonType),
      chunkDelayMs: answer.chunkDelayMs,
      steps: streamSteps(streamEvents(call, plan, answer.chunks, stream), interruption, streamError(stream)),
    };
  }
  if (interruption?.ending === 'error_event') return failure(call, { kind: 'overloaded' });
  if (interruption !== null) return unstreamed(headers(jsonType), interruption);
  return reply(200, generateContentBody(call, plan), usageMetadata(call, plan, true), plan.text);
}

function answer(call: UpstreamCall, answer: Answer): Reply {
  const { pathname } = call.url;
  const listed = modelsPath.exec(pathname);
  if (listed !== null && call.method === 'GET') {
    const id = listed[2];
    if (id === undefined) return reply(200, { models: geminiModels });
    const model = geminiModels.find((candidate) => candidate.name === `models/${decodeURIComponent(id)}`);
    return model === undefined ? failure(call, { kind: 'not_found' }) : reply(200, model);
  }
  const [, version, encodedModel = '', method] = methodPath.exec(pathname) ?? [];
  const model = decodeURIComponent(encodedModel);
  if (call.method !== 'POST' || method === undefined) return failure(call, { kind: 'not_found' });
  switch (method) {
    case 'generateContent':
      return generate(call, model, null, answer);
    case 'streamGenerateContent':
      // Without `alt=sse` Gemini streams one JSON array, element by element.
      return generate(call, model, call.url.searchParams.get('alt') === 'sse' ? 'sse' : 'array', answer);
    case 'countTokens': {
      if (parseJsonObject(call.body) === null) return failure(call, { kind: 'invalid_request' });
      const totalTokens = tokensForBytes(call.bodyBytes);
      return reply(200, {
        totalTokens,
        promptTokensDetails: [{ modality: 'TEXT', tokenCount: totalTokens }],
      });
    }
    default:
      return failure(call, {
        kind: 'not_found',
        message: `models/${model} is not found for API version ${version}, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`,
      });
  }
}

export const gemini: Provider = {
  claims: (_request, url) => url.hostname === geminiHost || url.pathname.startsWith('/v1beta/models'),
  // Gemini carries no request id header; the log id is the body's `responseId`.
  newRequestId: () => randomBase64Url(23),
  credential: (request, url) => request.headers.get('x-goog-api-key') ?? url.searchParams.get('key'),
  failure,
  answer,
};
