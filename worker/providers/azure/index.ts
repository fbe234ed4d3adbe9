// Azure OpenAI: a resource endpoint (`https://<resource>.openai.azure.com`), the deployment in
// the path (the upstream model name, via the account's model mapping), `api-version` in the query
// (taken from the account's base URL, e.g. `https://res.openai.azure.com?api-version=2024-10-21`),
// and the key in an `api-key` header.
import { type HeaderPolicy, upstreamHeaders, withBase } from '../headers';
import { classifyOpenAIError, OPENAI_MODELS, refineOpenAIError } from '../openai';
import type { ProviderAdapter, UpstreamCall } from '../types';

const DEFAULT_API_VERSION = '2024-10-21';

/**
 * Azure's tracing id (`x-ms-client-request-id`, echoed back) and the OpenAI request id, rate
 * limits and retry delays. The resource's region, deployment name and model session
 * (`x-ms-region`, `x-ms-deployment-name`, `azureml-model-session`) describe the account: they stay.
 */
export const AZURE_HEADERS: HeaderPolicy = withBase({
  upstream: ['x-ms-client-request-id'],
  downstream: [
    'x-request-id',
    'apim-request-id',
    'x-ms-client-request-id',
    'x-ratelimit-*',
    'retry-after-ms',
  ],
});

function azureUrl({ account, operation }: UpstreamCall): string {
  if (!account.baseUrl) throw new Error('an Azure OpenAI account needs its resource endpoint as baseUrl');
  const base = new URL(account.baseUrl);
  const version = base.searchParams.get('api-version') ?? DEFAULT_API_VERSION;
  const origin = base.origin;
  const deployment = encodeURIComponent(operation.model);
  if (operation.kind === 'models') return `${origin}/openai/models?api-version=${version}`;
  if (operation.kind === 'count_tokens') throw new Error('Azure OpenAI has no token counting endpoint');
  if (operation.wire === 'openai-responses') return `${origin}/openai/v1/responses?api-version=preview`;
  return `${origin}/openai/deployments/${deployment}/chat/completions?api-version=${version}`;
}

export const azureOpenAI: ProviderAdapter = {
  kind: 'azure-openai',
  defaultBaseUrl: '',
  wires: ['openai-chat', 'openai-responses'],
  // OpenAI's models, deployed under their own names; a deployment named otherwise is reached
  // through `modelMapping`, which makes its client-side name servable too.
  models: OPENAI_MODELS,
  headers: AZURE_HEADERS,
  buildRequest(call) {
    const headers = upstreamHeaders(call.clientHeaders, AZURE_HEADERS);
    headers.set('api-key', call.credential);
    return new Request(azureUrl(call), { method: call.method, headers, body: call.body });
  },
  classifyError: classifyOpenAIError,
  refineError: refineOpenAIError,
};
