// The OpenAI Responses API (what Codex CLI speaks): typed, numbered `event:` streams ending in response.completed, or the response object.
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
import { jsonReply, type OpenAiDialect, reasonedEcho, reasoningTokens } from './openai-dialect';
import type { UpstreamCall } from './provider';
import { randomBase58, randomHex } from './random-id';
import { type Json, type Reply, type StreamEvent, streamSteps, unstreamed } from './reply';
import type { Answer } from './scenarios';
import { namedEvent } from './sse';
import { splitText, tokensForBytes, tokensForText } from './tokens';

type JsonRecord = { readonly [key: string]: Json };

type Output =
  | { readonly kind: 'text'; readonly id: string; readonly text: string }
  | {
      readonly kind: 'tool_call';
      readonly id: string;
      readonly callId: string;
      readonly name: string;
      readonly json: string;
    };

interface ResponsePlan {
  /** The response object as response.created shows it: in progress, no output, no usage. */
  readonly base: JsonRecord;
  readonly output: Output;
  /** `max_output_tokens` cut the text: the response ends `incomplete`, not `completed`. */
  readonly capped: boolean;
  readonly usage: JsonRecord;
}

function promptOf(input: unknown): string {
  if (typeof input === 'string') return input;
  return contentText(lastWithRole(input, 'user')?.content, 'input_text');
}

/** input_tokens includes the cached ones and output_tokens the reasoning ones, as at OpenAI. */
function usageOf(call: UpstreamCall, visibleTokens: number, reasoning: number): JsonRecord {
  const inputTokens = tokensForBytes(call.bodyBytes);
  const outputTokens = visibleTokens + reasoning;
  return {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: cachedTokens(call.body, inputTokens) },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: reasoning },
    total_tokens: inputTokens + outputTokens,
  };
}

/** A request field as the response echoes it; the request came from JSON.parse, so it is JSON. */
function field(request: JsonObject, key: string, fallback: Json): Json {
  const value = request[key];
  return value === undefined ? fallback : (value as Json);
}

// The response echoes the request's settings, as OpenAI does.
function baseResponse(request: JsonObject, model: string): JsonRecord {
  const reasoning = isObject(request.reasoning) ? request.reasoning : {};
  return {
    id: `resp_${randomHex(50)}`,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status: 'in_progress',
    background: false,
    error: null,
    incomplete_details: null,
    instructions: field(request, 'instructions', null),
    max_output_tokens: field(request, 'max_output_tokens', null),
    model,
    output: [],
    parallel_tool_calls: field(request, 'parallel_tool_calls', true),
    previous_response_id: field(request, 'previous_response_id', null),
    prompt_cache_key: field(request, 'prompt_cache_key', null),
    reasoning: { effort: typeof reasoning.effort === 'string' ? reasoning.effort : 'medium', summary: null },
    store: field(request, 'store', true),
    temperature: 1,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: field(request, 'tool_choice', 'auto'),
    tools: field(request, 'tools', []),
    top_p: 1,
    truncation: 'disabled',
    usage: null,
    user: null,
    metadata: {},
  };
}

function plan(call: UpstreamCall, request: JsonObject, answer: Answer, model: string): ResponsePlan {
  const base = baseResponse(request, model);
  if (answer.content === 'tool_call') {
    // Responses tools are flat (`{type:"function", name}`); Codex also sends nameless ones (web_search).
    const name = firstToolName(request.tools, (tool) => tool.name);
    const output: Output = {
      kind: 'tool_call',
      id: `fc_${randomHex(50)}`,
      callId: `call_${randomBase58(24)}`,
      name,
      json: toolArgumentsJson,
    };
    return {
      base,
      output,
      capped: false,
      usage: usageOf(call, tokensForText(toolArgumentsJson), reasoningTokens),
    };
  }
  const { text, capped, reasoning } = reasonedEcho(
    promptOf(request.input),
    positiveInteger(request.max_output_tokens),
  );
  const output: Output = { kind: 'text', id: `msg_${randomHex(50)}`, text };
  return { base, output, capped, usage: usageOf(call, tokensForText(text), reasoning) };
}

function textPart(text: string): Json {
  return { type: 'output_text', annotations: [], logprobs: [], text };
}

function outputItem(output: Output, status: string, done: boolean): Json {
  if (output.kind === 'text') {
    return {
      id: output.id,
      type: 'message',
      status,
      content: done ? [textPart(output.text)] : [],
      role: 'assistant',
    };
  }
  return {
    id: output.id,
    type: 'function_call',
    status,
    arguments: done ? output.json : '',
    call_id: output.callId,
    name: output.name,
  };
}

function finished(plan: ResponsePlan): JsonRecord {
  const status = plan.capped ? 'incomplete' : 'completed';
  return {
    ...plan.base,
    status,
    incomplete_details: plan.capped ? { reason: 'max_output_tokens' } : null,
    output: [outputItem(plan.output, status, true)],
    usage: plan.usage,
  };
}

interface Draft extends Omit<StreamEvent, 'chunk'> {
  readonly type: string;
  readonly data: JsonRecord;
}

function drafts(plan: ResponsePlan, chunks: number): Draft[] {
  const { base, output } = plan;
  const at = { item_id: output.id, output_index: 0 };
  const whole = output.kind === 'text' ? output.text : output.json;
  let sent = '';
  const deltas = splitText(whole, chunks).map((piece): Draft => {
    sent += piece;
    return output.kind === 'text'
      ? {
          type: 'response.output_text.delta',
          data: { ...at, content_index: 0, delta: piece, logprobs: [] },
          phase: 'delta',
          text: sent,
        }
      : {
          type: 'response.function_call_arguments.delta',
          data: { ...at, delta: piece },
          phase: 'delta',
          text: sent,
        };
  });
  const body: Draft[] =
    output.kind === 'text'
      ? [
          {
            type: 'response.content_part.added',
            data: { ...at, content_index: 0, part: textPart('') },
            phase: 'other',
          },
          ...deltas,
          {
            type: 'response.output_text.done',
            data: { ...at, content_index: 0, text: output.text, logprobs: [] },
            phase: 'other',
          },
          {
            type: 'response.content_part.done',
            data: { ...at, content_index: 0, part: textPart(output.text) },
            phase: 'other',
          },
        ]
      : [
          ...deltas,
          {
            type: 'response.function_call_arguments.done',
            data: { ...at, arguments: output.json },
            phase: 'other',
          },
        ];
  const end = finished(plan);
  return [
    { type: 'response.created', data: { response: base }, phase: 'start', text: '' },
    { type: 'response.in_progress', data: { response: base }, phase: 'other' },
    {
      type: 'response.output_item.added',
      data: { output_index: 0, item: outputItem(output, 'in_progress', false) },
      phase: 'other',
    },
    ...body,
    {
      type: 'response.output_item.done',
      data: { output_index: 0, item: outputItem(output, String(end.status), true) },
      phase: 'other',
    },
    { type: `response.${String(end.status)}`, data: { response: end }, phase: 'other', usage: plan.usage },
  ];
}

/** Every event names its type and its place in the stream, first in its data. */
function frame({ type, data, ...event }: Draft, sequence: number): StreamEvent {
  return { ...event, chunk: namedEvent(type, { type, sequence_number: sequence, ...data }) };
}

function failedEvent(base: JsonRecord, sequence: number): string {
  const response = {
    ...base,
    status: 'failed',
    error: { code: 'server_error', message: 'The server is overloaded or not ready yet.' },
  };
  return namedEvent('response.failed', { type: 'response.failed', sequence_number: sequence, response });
}

/** `model` is what the reply names: the request's model, or the deployment at Azure's deployment URLs. */
export function responses(
  call: UpstreamCall,
  request: JsonObject,
  answer: Answer,
  dialect: OpenAiDialect,
  model: string,
): Reply {
  const response = plan(call, request, answer, model);
  const { interruption } = answer;
  if (request.stream === true) {
    return {
      kind: 'stream',
      status: 200,
      headers: dialect.headers(call, 'text/event-stream; charset=utf-8'),
      chunkDelayMs: answer.chunkDelayMs,
      steps: streamSteps(drafts(response, answer.chunks).map(frame), interruption, (sent) =>
        failedEvent(response.base, sent),
      ),
    };
  }
  if (interruption?.ending === 'error_event') return dialect.failure(call, { kind: 'overloaded' });
  if (interruption !== null) return unstreamed(dialect.headers(call, 'application/json'), interruption);
  const { output } = response;
  return jsonReply(
    dialect,
    call,
    finished(response),
    response.usage,
    output.kind === 'text' ? output.text : output.json,
  );
}
