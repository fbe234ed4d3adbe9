// Azure OpenAI: deployment URLs with `api-version`, the `api-key` header, Azure's own error envelope, OpenAI bodies with content filters.
import { parseJsonObject } from './completion';
import { chatCompletions } from './openai-chat';
import { errorEnvelope, type OpenAiDialect, openAiError } from './openai-dialect';
import { responses } from './openai-responses';
import type { Provider, UpstreamCall } from './provider';
import type { Json, Reply } from './reply';
import type { Answer, Failure } from './scenarios';

const hostSuffixes = ['.openai.azure.com', '.cognitiveservices.azure.com'];
const deploymentPath = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|responses)$/;
// The v1 API (`/openai/v1/...`) takes the deployment as `model` in the body and needs no api-version.
const v1Path = /^\/openai\/v1\/(chat\/completions|responses)$/;
const previewResponsesPath = '/openai/responses';

const requestsPerMinute = 1000;
const tokensPerMinute = 1_000_000;

function headers(
  call: UpstreamCall,
  contentType: string,
  retryAfterSeconds?: number,
): Record<string, string> {
  const deployment = deploymentPath.exec(call.url.pathname)?.[1];
  return {
    'content-type': contentType,
    'x-request-id': call.requestId,
    'apim-request-id': crypto.randomUUID(),
    'x-ms-region': 'Sweden Central',
    'x-ms-rai-invoked': 'true',
    'azureml-model-session': 'd089-20251017124316',
    'x-envoy-upstream-service-time': '128',
    'strict-transport-security': 'max-age=31536000; includeSubDomains; preload',
    'x-content-type-options': 'nosniff',
    // Azure echoes the caller's tracing id.
    ...(call.headers.has('x-ms-client-request-id')
      ? { 'x-ms-client-request-id': call.headers.get('x-ms-client-request-id')! }
      : {}),
    ...(deployment === undefined ? {} : { 'x-ms-deployment-name': decodeURIComponent(deployment) }),
    'x-ratelimit-limit-requests': String(requestsPerMinute),
    'x-ratelimit-remaining-requests': retryAfterSeconds === undefined ? String(requestsPerMinute - 1) : '0',
    'x-ratelimit-limit-tokens': String(tokensPerMinute),
    'x-ratelimit-remaining-tokens': String(tokensPerMinute),
    ...(retryAfterSeconds === undefined
      ? {}
      : { 'retry-after': String(retryAfterSeconds), 'retry-after-ms': String(retryAfterSeconds * 1000) }),
  };
}

/** Azure's gateway answers auth, routing and throttling itself, in `{error:{code,message}}` with a string code. */
function azureError(
  call: UpstreamCall,
  { kind, message, retryAfterSeconds }: Failure,
): { status: number; body: Json } {
  const gateway = (status: number, code: string, text: string) => ({
    status,
    body: { error: { code, message: message ?? text } },
  });
  switch (kind) {
    case 'authentication':
      return gateway(
        401,
        '401',
        'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
      );
    case 'permission':
      return gateway(403, 'PermissionDenied', 'Principal does not have access to API/Operation.');
    case 'not_found':
      return gateway(404, '404', 'Resource not found');
    case 'rate_limit': {
      const version = call.url.searchParams.get('api-version') ?? 'v1';
      return gateway(
        429,
        '429',
        `Requests to the ChatCompletions_Create Operation under Azure OpenAI API version ${version} have exceeded token rate limit of your current AIServices S0 pricing tier. Please retry after ${retryAfterSeconds ?? 1} seconds. Please contact Azure support service if you would like to further increase the default rate limit.`,
      );
    }
    default: {
      // Model errors (bad request, server error, overload) come from the OpenAI service behind the gateway.
      const error = openAiError(call, { kind, ...(message === undefined ? {} : { message }) });
      return { status: error.status, body: errorEnvelope(error) };
    }
  }
}

const azureDialect: OpenAiDialect = {
  headers: (call, contentType) => headers(call, contentType),
  failure(call, failure) {
    const { status, body } = azureError(call, failure);
    return {
      kind: 'json',
      status,
      headers: headers(call, 'application/json', failure.retryAfterSeconds),
      body,
      usage: null,
      text: null,
    };
  },
  contentFilters: true,
};

function needsApiVersion(url: URL): boolean {
  return !url.pathname.startsWith('/openai/v1/') && !url.searchParams.has('api-version');
}

function answer(call: UpstreamCall, answer: Answer): Reply {
  const { pathname } = call.url;
  const deployment = deploymentPath.exec(pathname);
  const v1 = v1Path.exec(pathname);
  const kind = deployment?.[2] ?? v1?.[1] ?? (pathname === previewResponsesPath ? 'responses' : undefined);
  if (call.method !== 'POST' || kind === undefined) return azureDialect.failure(call, { kind: 'not_found' });
  const request = parseJsonObject(call.body);
  if (request === null) {
    return azureDialect.failure(call, {
      kind: 'invalid_request',
      message: 'We could not parse the JSON body of your request.',
    });
  }
  const named = typeof request.model === 'string' ? request.model : 'gpt-5';
  const model = deployment?.[1] === undefined ? named : decodeURIComponent(deployment[1]);
  return kind === 'responses'
    ? responses(call, request, answer, azureDialect, model)
    : chatCompletions(call, request, answer, azureDialect, model);
}

export const azure: Provider = {
  claims: (_request, url) =>
    hostSuffixes.some((suffix) => url.hostname.endsWith(suffix)) || url.pathname.startsWith('/openai/'),
  newRequestId: () => crypto.randomUUID(),
  // Entra ID clients send a bearer token instead of the key.
  credential: (request) =>
    request.headers.get('api-key') ??
    request.headers.get('authorization')?.replace(/^Bearer\s+/i, '') ??
    null,
  refuse: (call) =>
    needsApiVersion(call.url)
      ? {
          kind: 'json',
          status: 404,
          headers: headers(call, 'application/json'),
          body: { error: { code: '404', message: 'Resource not found' } },
          usage: null,
          text: null,
        }
      : null,
  failure: azureDialect.failure,
  answer,
};
