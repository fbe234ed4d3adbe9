// AWS Bedrock serving Anthropic's Claude models: the Anthropic Messages wire over InvokeModel,
// signed with the account's IAM key, its binary stream decoded back into Anthropic SSE.
import { CLAUDE_MODELS } from '../anthropic';
import { type HeaderPolicy, upstreamHeaders } from '../headers';
import { rewriteJson } from '../rewrite-json';
import type { ProviderAdapter, UpstreamCall } from '../types';
import { joinUrl } from '../url';
import { anthropicErrorBodyOf } from './anthropic-error';
import { anthropicModelList, anthropicTokenCount } from './anthropic-json';
import { anthropicSseFromEventStream } from './anthropic-sse';
import { classifyBedrockError } from './classify-error';
import { parseBedrockCredentials } from './credentials';
import { countTokensBody, countTokensModelId, invokeBody } from './invoke-body';
import { signRequest, type UnsignedRequest } from './sign';

/** The runtime endpoint of the account's region, unless the account names a base URL. */
const RUNTIME_ENDPOINT = 'https://bedrock-runtime.{region}.amazonaws.com';

/**
 * No client header reaches AWS (see `unsignedRequest`). Back come the request id, the error type
 * (its error bodies hold only a message) and the token counts of a whole invocation.
 */
export const BEDROCK_HEADERS: HeaderPolicy = {
  upstream: [],
  downstream: [
    'content-type',
    'x-amzn-requestid',
    'x-amzn-errortype',
    'x-amzn-bedrock-input-token-count',
    'x-amzn-bedrock-output-token-count',
    'x-amzn-bedrock-cache-read-input-token-count',
    'x-amzn-bedrock-cache-write-input-token-count',
    'x-amzn-bedrock-invocation-latency',
  ],
};

export interface BedrockAdapterOptions {
  /** The signing clock; tests fix it to check a signature. */
  now?: () => Date;
}

export function createBedrockAdapter({
  now = () => new Date(),
}: BedrockAdapterOptions = {}): ProviderAdapter {
  return {
    kind: 'bedrock',
    defaultBaseUrl: RUNTIME_ENDPOINT,
    wires: ['anthropic'],
    // Claude only (the Anthropic wire): by Anthropic's names (mapped to Bedrock ids with
    // `modelMapping`) or by Bedrock's own ids, with or without a cross-region prefix (`us.`, `eu.`…).
    models: [...CLAUDE_MODELS, 'anthropic.claude-*', '*.anthropic.claude-*'],
    headers: BEDROCK_HEADERS,

    async buildRequest(call) {
      if (call.operation.wire !== 'anthropic') {
        throw new Error(`Bedrock is called over the Anthropic wire, not ${call.operation.wire}`);
      }
      const credentials = parseBedrockCredentials(call.credential);
      const runtime = call.account.baseUrl ?? RUNTIME_ENDPOINT.replace('{region}', credentials.region);
      return signRequest(unsignedRequest(call, runtime), credentials, now());
    },

    decodeBody(response, operation) {
      const body: ReadableStream<Uint8Array> =
        response.body ?? new ReadableStream({ start: (controller) => controller.close() });
      // Bedrock's own `{"message"}` JSON, its type in a header: Anthropic clients read neither.
      if (!response.ok) {
        const exception = response.headers.get('x-amzn-errortype');
        return body.pipeThrough(
          rewriteJson((json) => anthropicErrorBodyOf(json, response.status, exception)),
        );
      }
      switch (operation.kind) {
        case 'generate':
          return operation.stream ? body.pipeThrough(anthropicSseFromEventStream()) : body;
        case 'count_tokens':
          return body.pipeThrough(rewriteJson(anthropicTokenCount));
        case 'models':
          return body.pipeThrough(rewriteJson(anthropicModelList));
      }
    },

    classifyError: classifyBedrockError,
  };
}

export const bedrock = createBedrockAdapter();

/**
 * Only headers Bedrock reads are sent: the client's (the relay key among them) mean nothing to
 * AWS, and `anthropic-beta` travels in the body instead. Whatever the policy allows is signed too.
 */
function unsignedRequest({ operation, clientHeaders, body }: UpstreamCall, runtime: string): UnsignedRequest {
  const headers = upstreamHeaders(clientHeaders, BEDROCK_HEADERS);
  headers.set('content-type', 'application/json');
  headers.set('accept', 'application/json');
  switch (operation.kind) {
    case 'generate': {
      if (operation.stream) headers.set('accept', 'application/vnd.amazon.eventstream');
      const action = operation.stream ? 'invoke-with-response-stream' : 'invoke';
      return {
        method: 'POST',
        url: joinUrl(runtime, `/model/${encodeURIComponent(operation.model)}/${action}`),
        headers,
        body: JSON.stringify(invokeBody(body, clientHeaders)),
      };
    }
    case 'count_tokens':
      return {
        method: 'POST',
        url: joinUrl(
          runtime,
          `/model/${encodeURIComponent(countTokensModelId(operation.model))}/count-tokens`,
        ),
        headers,
        body: JSON.stringify(countTokensBody(body, clientHeaders)),
      };
    case 'models':
      headers.delete('content-type');
      return {
        method: 'GET',
        url: `${joinUrl(controlPlane(runtime), '/foundation-models')}?byProvider=anthropic`,
        headers,
        body: null,
      };
  }
}

/**
 * The model catalogue lives on the control plane (`bedrock.<region>`, `bedrock-fips.<region>`)
 * beside the runtime; a base URL that is not an AWS runtime host (a proxy) serves both.
 */
function controlPlane(runtime: string): string {
  const url = new URL(runtime);
  url.hostname = url.hostname.replace(/(^|\.)bedrock-runtime(?=[.-])/, '$1bedrock');
  return url.toString();
}
