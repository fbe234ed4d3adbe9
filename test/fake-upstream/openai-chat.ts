// OpenAI chat completions, streamed (`data:`-only chunks ending in `[DONE]`) or whole, for OpenAI, compatible vendors and Azure.
import {
  cachedTokens,
  contentText,
  firstToolName,
  isObject,
  type JsonObject,
  lastWithRole,
  positiveInteger,
  toolArgumentsJson,
} from './completion';
import {
  jsonReply,
  type OpenAiDialect,
  reasonedEcho,
  reasoningTokens,
  streamErrorData,
} from './openai-dialect';
import type { UpstreamCall } from './provider';
import { randomBase58 } from './random-id';
import { type Json, type Reply, type StreamEvent, streamSteps, unstreamed } from './reply';
import type { Answer } from './scenarios';
import { dataEvent } from './sse';
import { splitText, tokensForBytes, tokensForText } from './tokens';

type FinishReason = 'stop' | 'length' | 'tool_calls';

type ChatContent =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'tool_call'; readonly id: string; readonly name: string; readonly json: string };

interface ChatPlan {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly content: ChatContent;
  readonly finishReason: FinishReason;
  readonly usage: { readonly [key: string]: Json };
  readonly vendor: Vendor;
}

/**
 * Whose Chat Completions these are, by host: the compatible vendors report usage their own way.
 * DeepSeek documents its cache hits as `prompt_cache_hit_tokens` (and misses beside them), not
 * OpenAI's `prompt_tokens_details`. Moonshot (Kimi) puts `cached_tokens` at the top of `usage`
 * (its Kimi models repeat it in `prompt_tokens_details`), and streams its usage inside the last
 * chunk's choice, whatever `stream_options` says, never in a choices-less chunk of its own.
 * DashScope (Qwen) has an explicit cache besides the implicit one: a request that marks
 * `cache_control` reads the longest prefix it cached before and writes the rest up to the marker,
 * reported in `prompt_tokens_details` as `cache_creation_input_tokens` (and by TTL in
 * `cache_creation`) beside `cached_tokens`; `prompt_tokens` counts both.
 */
type Vendor = 'openai' | 'deepseek' | 'moonshot' | 'dashscope';

function vendorOf(call: UpstreamCall): Vendor {
  const host = call.url.hostname;
  if (host === 'api.deepseek.com') return 'deepseek';
  if (host === 'dashscope.aliyuncs.com' || host === 'dashscope-intl.aliyuncs.com') return 'dashscope';
  if (host === 'api.moonshot.ai' || host === 'api.moonshot.cn') return 'moonshot';
  return 'openai';
}

/** prompt_tokens includes the cached ones and completion_tokens the reasoning ones, as at OpenAI. */
function usageOf(
  call: UpstreamCall,
  model: string,
  visibleTokens: number,
  reasoning: number,
): { readonly [key: string]: Json } {
  const promptTokens = tokensForBytes(call.bodyBytes);
  const completionTokens = visibleTokens + reasoning;
  const cached = cachedTokens(call.body, promptTokens);
  const counts = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
  switch (vendorOf(call)) {
    case 'deepseek':
      return {
        ...counts,
        prompt_cache_hit_tokens: cached,
        prompt_cache_miss_tokens: promptTokens - cached,
        completion_tokens_details: { reasoning_tokens: reasoning },
      };
    case 'moonshot':
      return {
        ...counts,
        cached_tokens: cached,
        ...(model.startsWith('kimi-') ? { prompt_tokens_details: { cached_tokens: cached } } : {}),
      };
    case 'dashscope': {
      if (!call.body.includes('"cache_control"'))
        return { ...counts, prompt_tokens_details: { cached_tokens: cached } };
      // As the Anthropic fake: half the prompt read from the cache, a quarter written to it.
      const written = Math.max(1, Math.floor(promptTokens / 4));
      return {
        ...counts,
        prompt_tokens_details: {
          cached_tokens: cached,
          cache_creation: { ephemeral_5m_input_tokens: written },
          cache_creation_input_tokens: written,
          cache_type: 'ephemeral',
        },
      };
    }
    case 'openai':
      return {
        ...counts,
        prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: reasoning,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      };
  }
}

function plan(call: UpstreamCall, request: JsonObject, answer: Answer, model: string): ChatPlan {
  const id = `chatcmpl-${randomBase58(29)}`;
  const created = Math.floor(Date.now() / 1000);
  if (answer.content === 'tool_call') {
    const name = firstToolName(request.tools, (tool) =>
      isObject(tool.function) ? tool.function.name : undefined,
    );
    const content: ChatContent = {
      kind: 'tool_call',
      id: `call_${randomBase58(24)}`,
      name,
      json: toolArgumentsJson,
    };
    const usage = usageOf(call, model, tokensForText(toolArgumentsJson), reasoningTokens);
    return { id, created, model, content, finishReason: 'tool_calls', usage, vendor: vendorOf(call) };
  }
  const prompt = contentText(lastWithRole(request.messages, 'user')?.content, 'text');
  const limit = positiveInteger(request.max_completion_tokens) ?? positiveInteger(request.max_tokens);
  const { text, capped, reasoning } = reasonedEcho(prompt, limit);
  const usage = usageOf(call, model, tokensForText(text), reasoning);
  return {
    vendor: vendorOf(call),
    id,
    created,
    model,
    content: { kind: 'text', text },
    finishReason: capped ? 'length' : 'stop',
    usage,
  };
}

const noFilter = { filtered: false, severity: 'safe' };
const contentFilterResults = { hate: noFilter, self_harm: noFilter, sexual: noFilter, violence: noFilter };
const promptFilterResults = [
  {
    prompt_index: 0,
    content_filter_results: { ...contentFilterResults, jailbreak: { filtered: false, detected: false } },
  },
];

function message(content: ChatContent): Json {
  if (content.kind === 'text')
    return { role: 'assistant', content: content.text, refusal: null, annotations: [] };
  const call = {
    id: content.id,
    type: 'function',
    function: { name: content.name, arguments: content.json },
  };
  return { role: 'assistant', content: null, tool_calls: [call], refusal: null, annotations: [] };
}

function completionBody(plan: ChatPlan, dialect: OpenAiDialect): Json {
  return {
    id: plan.id,
    object: 'chat.completion',
    created: plan.created,
    model: plan.model,
    choices: [
      {
        index: 0,
        message: message(plan.content),
        logprobs: null,
        finish_reason: plan.finishReason,
        ...(dialect.contentFilters ? { content_filter_results: contentFilterResults } : {}),
      },
    ],
    usage: plan.usage,
    service_tier: 'default',
    system_fingerprint: null,
    ...(dialect.contentFilters ? { prompt_filter_results: promptFilterResults } : {}),
  };
}

function streamEvents(
  plan: ChatPlan,
  chunks: number,
  includeUsage: boolean,
  dialect: OpenAiDialect,
): StreamEvent[] {
  // Moonshot sends its usage in the last choice, and never a chunk of usage alone.
  const inChoice = plan.vendor === 'moonshot';
  const usageChunk = includeUsage && !inChoice;
  const chunk = (choices: Json[], extra: { usage?: Json } = {}) =>
    dataEvent({
      id: plan.id,
      object: 'chat.completion.chunk',
      created: plan.created,
      model: plan.model,
      service_tier: 'default',
      system_fingerprint: null,
      choices,
      // The `usage` key exists on every chunk only when the client asked for usage.
      ...(usageChunk ? { usage: null } : {}),
      ...extra,
    });
  const choice = (delta: Json, finishReason: FinishReason | null = null) => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: finishReason,
  });
  const { content } = plan;
  const opening: Json =
    content.kind === 'text'
      ? { role: 'assistant', content: '', refusal: null }
      : {
          role: 'assistant',
          content: null,
          tool_calls: [
            { index: 0, id: content.id, type: 'function', function: { name: content.name, arguments: '' } },
          ],
          refusal: null,
        };
  let sent = '';
  const whole = content.kind === 'text' ? content.text : content.json;
  const deltas = splitText(whole, chunks).map((piece): StreamEvent => {
    sent += piece;
    const delta: Json =
      content.kind === 'text'
        ? { content: piece }
        : { tool_calls: [{ index: 0, function: { arguments: piece } }] };
    return { chunk: chunk([choice(delta)]), phase: 'delta', text: sent };
  });
  // Azure's first chunk is not a completion chunk at all: empty ids, no choices, the prompt's filter results.
  const preamble: StreamEvent[] = dialect.contentFilters
    ? [
        {
          chunk: dataEvent({
            choices: [],
            created: 0,
            id: '',
            model: '',
            object: '',
            prompt_filter_results: promptFilterResults,
          }),
          phase: 'other',
        },
      ]
    : [];
  return [
    ...preamble,
    { chunk: chunk([choice(opening)]), phase: 'start', text: '' },
    ...deltas,
    inChoice
      ? {
          chunk: chunk([{ ...choice({}, plan.finishReason), usage: plan.usage }]),
          phase: 'other',
          usage: plan.usage,
        }
      : { chunk: chunk([choice({}, plan.finishReason)]), phase: 'other' },
    ...(usageChunk
      ? [{ chunk: chunk([], { usage: plan.usage }), phase: 'other', usage: plan.usage } as const]
      : []),
    { chunk: dataEvent('[DONE]'), phase: 'other' },
  ];
}

/** `model` is what the reply names: the request's model at OpenAI, the deployment at Azure. */
export function chatCompletions(
  call: UpstreamCall,
  request: JsonObject,
  answer: Answer,
  dialect: OpenAiDialect,
  model: string,
): Reply {
  const chat = plan(call, request, answer, model);
  const { interruption } = answer;
  if (request.stream === true) {
    const options = request.stream_options;
    const includeUsage = isObject(options) && options.include_usage === true;
    return {
      kind: 'stream',
      status: 200,
      headers: dialect.headers(call, 'text/event-stream; charset=utf-8'),
      chunkDelayMs: answer.chunkDelayMs,
      steps: streamSteps(
        streamEvents(chat, answer.chunks, includeUsage, dialect),
        interruption,
        dataEvent(streamErrorData),
      ),
    };
  }
  if (interruption?.ending === 'error_event') return dialect.failure(call, { kind: 'overloaded' });
  if (interruption !== null) return unstreamed(dialect.headers(call, 'application/json'), interruption);
  const text = chat.content.kind === 'text' ? chat.content.text : chat.content.json;
  return jsonReply(dialect, call, completionBody(chat, dialect), chat.usage, text);
}
