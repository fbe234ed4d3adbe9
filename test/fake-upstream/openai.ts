// OpenAI and OpenAI-compatible vendors (DeepSeek, Moonshot, DashScope, GLM): routes by path suffix under any base path.
import { parseJsonObject } from './completion';
import { chatCompletions } from './openai-chat';
import { jsonReply, newOpenAiRequestId, openAiDialect } from './openai-dialect';
import { responses } from './openai-responses';
import type { Provider, UpstreamCall } from './provider';
import type { Reply } from './reply';
import type { Answer, Failure } from './scenarios';

// Vendors mount the same API under their own prefix (`/v1`, `/compatible-mode/v1`, `/api/paas/v4`).
const endpoint = /\/(chat\/completions|responses|models)(?:\/([^/]+))?$/;

const created = 1754425777;
export const openAiModels = [
  'gpt-5',
  'gpt-5-2025-08-07',
  'gpt-5-mini',
  'gpt-5-nano',
  'gpt-5-codex',
  'gpt-5.1',
].map((id) => ({ id, object: 'model', created, owned_by: 'system' }));

const malformed: Failure = {
  kind: 'invalid_request',
  message:
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
};

/**
 * The ChatGPT backend of Codex subscriptions (chatgpt.com/backend-api/codex/responses) takes the
 * Responses API with its own rules, refused in FastAPI's `{"detail"}` (as the peers and the Codex
 * CLI's issues report it): instructions are required, nothing is stored, and every answer is streamed (`stream` false or
 * absent is refused).
 */
const CODEX_BACKEND = '/backend-api/codex/responses';

function codexBackendRefusal(request: Record<string, unknown>): string | null {
  if (typeof request.instructions !== 'string' || request.instructions === '')
    return 'Instructions are required';
  if (request.store !== false) return 'Store must be set to false';
  if (request.stream !== true) return 'Stream must be set to true';
  return null;
}

function answer(call: UpstreamCall, answer: Answer): Reply {
  const [, kind, id] = endpoint.exec(call.url.pathname) ?? [];
  if (kind === 'models' && call.method === 'GET') {
    if (id === undefined) return jsonReply(openAiDialect, call, { object: 'list', data: openAiModels });
    const model = openAiModels.find((candidate) => candidate.id === decodeURIComponent(id));
    if (model !== undefined) return jsonReply(openAiDialect, call, model);
    return openAiDialect.failure(call, {
      kind: 'not_found',
      message: `The model '${decodeURIComponent(id)}' does not exist`,
    });
  }
  const generates = call.method === 'POST' && id === undefined;
  if (!generates || (kind !== 'chat/completions' && kind !== 'responses')) {
    return openAiDialect.failure(call, { kind: 'not_found' });
  }
  const request = parseJsonObject(call.body);
  if (request === null) return openAiDialect.failure(call, malformed);
  const refusal = call.url.pathname.endsWith(CODEX_BACKEND) ? codexBackendRefusal(request) : null;
  if (refusal !== null)
    return {
      kind: 'json',
      status: 400,
      headers: { 'content-type': 'application/json' },
      body: { detail: refusal },
      usage: null,
      text: null,
    };
  const model = typeof request.model === 'string' ? request.model : 'gpt-5';
  return kind === 'responses'
    ? responses(call, request, answer, openAiDialect, model)
    : chatCompletions(call, request, answer, openAiDialect, model);
}

/**
 * The ChatGPT backend refuses a plan's spent usage in its own body, which the Codex CLI reads for
 * when to come back (`resets_at`, epoch seconds; `resets_in_seconds`), with no `retry-after`.
 */
function failure(call: UpstreamCall, failed: Failure): Reply {
  if (failed.kind !== 'rate_limit' || !call.url.pathname.endsWith(CODEX_BACKEND))
    return openAiDialect.failure(call, failed);
  const seconds = failed.retryAfterSeconds ?? 1;
  return {
    kind: 'json',
    status: 429,
    headers: { 'content-type': 'application/json', 'x-request-id': call.requestId },
    body: {
      error: {
        type: 'usage_limit_reached',
        message: 'The usage limit has been reached',
        plan_type: 'plus',
        resets_at: Math.floor(Date.now() / 1000) + seconds,
        resets_in_seconds: seconds,
      },
    },
    usage: null,
    text: null,
  };
}

export const openai: Provider = {
  claims: (_request, url) => endpoint.test(url.pathname),
  newRequestId: newOpenAiRequestId,
  credential: (request) => request.headers.get('authorization')?.replace(/^Bearer\s+/i, '') ?? null,
  failure,
  answer,
};
