// An OpenAI Chat Completions client (the OpenAI SDK, Cursor, Cherry Studio) served by an Anthropic
// Messages account.
//
// Request, carried:
// - `system` and `developer` messages (strings or text parts), wherever they stand → `system`,
//   joined by a blank line.
// - `user` content (string or parts): `text` → text; `image_url` (data URL → base64 source, other
//   URLs → url source); `file` with PDF or plain-text `file_data` → a `document`.
// - `assistant` content (string, or `text`/`refusal` parts) → text; `tool_calls` → `tool_use`
//   (arguments parsed; invalid JSON → {}); legacy `function_call` → `tool_use`.
// - `tool` messages (and legacy `function` messages) → `tool_result` blocks in a user message.
//   Consecutive same-role messages merge (Anthropic requires alternation), tool results first; blank
//   text is left out and the final assistant prefill loses trailing whitespace (both are 400s).
//   Tool ids are made to fit Anthropic's `^[a-zA-Z0-9_-]+$`, the same way on both sides.
// - `tools` (and legacy `functions`) → `{name, description, input_schema}` (`parameters`, or an empty
//   object schema); `tool_choice` (and legacy `function_call`) auto|required|none|{function} →
//   {type:auto|any|none|tool}, `allowed_tools` by its mode; `parallel_tool_calls: false` →
//   `disable_parallel_tool_use`.
// - `max_completion_tokens` or `max_tokens` → `max_tokens` (4096 when absent: Anthropic requires it);
//   `stop` → `stop_sequences`; `temperature` clamped to [0, 1];
//   `top_p` unless `temperature` is also set (current Claude models refuse both); `stream`;
//   `user` (or `safety_identifier`) → `metadata.user_id`. `model` is the account's model.
// - `stream_options.include_usage` is not sent upstream but asks the response stream for its usage
//   chunk: pass `responseStreamOptions(body)` to `responseStream`.
// Request, refused (400 naming the field, `chatRefusal`): what would change the answer the client
//   gets: `n` > 1, `logprobs`/`top_logprobs`, a JSON `response_format`, `audio` output,
//   `web_search_options`, `custom` tools, a whitespace-only `stop`, `input_audio` and file-id parts.
// Request, dropped (hints an Anthropic account has no use for): `logit_bias`, `presence_penalty`,
//   `frequency_penalty`, `seed`, `reasoning_effort` (Anthropic thinking would then demand signed
//   thinking blocks back, which an OpenAI client cannot give), `modalities: ["text"]`,
//   `prediction`, `store`, `metadata`, `service_tier`, `prompt_cache_key`, `verbosity`, and
//   assistant `reasoning_content`.
//
// Response (stream and whole body), carried: text → `content`; `tool_use` → `tool_calls` (streamed
//   as argument fragments); thinking → `reasoning_content` (the field DeepSeek made common, shown by
//   Cherry Studio and ignored by the OpenAI SDK); `stop_reason` → `finish_reason`; usage →
//   `prompt_tokens` (input + cache reads + cache writes), `completion_tokens`, `total_tokens`,
//   `prompt_tokens_details.cached_tokens`; `event: error` → `data: {"error":…}`, ending the stream. A
//   stream cut off before `message_delta` ends with an error too. Dropped: `ping`, signatures,
//   `redacted_thinking`, citations, server-tool blocks, `stop_sequence`, `container`.

import { isObject, listOf, numberOr, objectOr, parseJson, stringOr } from '../json';
import {
  openAIErrorBody,
  openAIErrorTypeForAnthropic,
  openAIErrorTypeForStatus,
  readUpstreamError,
} from './errors';
import { anthropicToolId, chatCompletionId, randomId } from './ids';
import { DONE_EVENT, dataEvent, type SseTranslator, translateSse } from './sse-encode';
import { openAIFinishReason } from './stop-reasons';
import type { Conversion, JsonObject } from './types';
import { type AnthropicCounts, emptyCounts, openAIUsageFromAnthropic, updateCounts } from './usage';

/** Anthropic requires `max_tokens`; OpenAI clients usually leave it out. */
export const DEFAULT_MAX_TOKENS = 4096;

type Role = 'user' | 'assistant';

interface Turn {
  role: Role;
  content: JsonObject[];
}

export const openAIChatToAnthropic: Conversion = {
  from: 'openai-chat',
  to: 'anthropic',
  refusal: chatRefusal,
  request: anthropicRequest,
  responseStream: (clientModel, options) =>
    translateSse(new ChatChunksFromAnthropic(clientModel, options?.includeUsage === true)),
  responseBody: completionFromMessage,
  errorBody(status, body) {
    const error = readUpstreamError(body, status);
    return openAIErrorBody(error.message, openAIErrorTypeForStatus(status), error.type ?? null);
  },
};

// ── Request ─────────────────────────────────────────────────────────────────────────────────────

const NOT_ON_ANTHROPIC = 'which an Anthropic account cannot do; use an OpenAI account for it';

/** What an Anthropic account cannot give an OpenAI client, named by its field. */
function chatRefusal(body: JsonObject): string | null {
  const n = numberOr(body.n);
  if (n !== undefined && n > 1) return `n: ${n} asks for several choices, ${NOT_ON_ANTHROPIC}.`;
  if (body.logprobs === true || (numberOr(body.top_logprobs) ?? 0) > 0)
    return `logprobs: asks for log probabilities, ${NOT_ON_ANTHROPIC}.`;
  const format = stringOr(objectOr(body.response_format)?.type);
  if (format && format !== 'text')
    return `response_format: ${format} asks for enforced JSON, ${NOT_ON_ANTHROPIC} (or ask for JSON in the prompt).`;
  if (body.audio != null || listOf(body.modalities).includes('audio'))
    return `audio: asks for spoken output, ${NOT_ON_ANTHROPIC}.`;
  if (body.web_search_options != null)
    return `web_search_options: asks for a web search, ${NOT_ON_ANTHROPIC}.`;
  if (listOf(body.tools).some((t) => isObject(t) && t.type === 'custom'))
    return `tools: custom (free-form) tools, ${NOT_ON_ANTHROPIC}.`;
  const stops = typeof body.stop === 'string' ? [body.stop] : listOf(body.stop);
  if (stops.some((s) => typeof s === 'string' && s.trim() === ''))
    return 'stop: a stop sequence of only whitespace, which Anthropic refuses.';
  for (const message of listOf(body.messages)) {
    for (const part of isObject(message) ? listOf(message.content) : []) {
      if (!isObject(part)) continue;
      if (part.type === 'input_audio') return `messages: an input_audio part, ${NOT_ON_ANTHROPIC}.`;
      if (part.type === 'file' && !stringOr(objectOr(part.file)?.file_data))
        return 'messages: a file part by file_id; send the file itself as file_data.';
    }
  }
  return null;
}

function anthropicRequest(body: JsonObject, model: string): JsonObject {
  const system: string[] = [];
  const turns: Turn[] = [];
  // Legacy `function` messages answer the latest legacy `function_call`, which had no id.
  let legacyCallId = '';
  for (const item of listOf(body.messages)) {
    if (!isObject(item)) continue;
    switch (item.role) {
      case 'system':
      case 'developer': {
        const text = partsText(item.content);
        if (text.trim()) system.push(text);
        break;
      }
      case 'user':
        addTurn(turns, 'user', userBlocks(item.content));
        break;
      case 'assistant': {
        const blocks = assistantBlocks(item);
        if (isObject(item.function_call)) {
          legacyCallId = randomId('toolu_');
          blocks.push(toolUse(legacyCallId, item.function_call));
        }
        addTurn(turns, 'assistant', blocks);
        break;
      }
      case 'tool':
        addTurn(turns, 'user', [toolResult(stringOr(item.tool_call_id), item.content)]);
        break;
      case 'function':
        addTurn(turns, 'user', [toolResult(legacyCallId, item.content)]);
        break;
    }
  }
  trimFinalPrefill(turns);

  const out: JsonObject = {
    model,
    max_tokens: numberOr(body.max_completion_tokens) ?? numberOr(body.max_tokens) ?? DEFAULT_MAX_TOKENS,
  };
  if (system.length > 0) out.system = system.join('\n\n');
  out.messages = turns;

  const tools = [
    ...listOf(body.tools),
    ...listOf(body.functions).map((fn) => ({ type: 'function', function: fn })),
  ];
  const anthropicTools = tools.flatMap(anthropicTool);
  if (anthropicTools.length > 0) {
    out.tools = anthropicTools;
    const choice = anthropicToolChoice(body.tool_choice ?? legacyToolChoice(body.function_call));
    const serial = body.parallel_tool_calls === false;
    if (choice && serial && choice.type !== 'none') choice.disable_parallel_tool_use = true;
    if (choice) out.tool_choice = choice;
    else if (serial) out.tool_choice = { type: 'auto', disable_parallel_tool_use: true };
  }

  const stop = typeof body.stop === 'string' ? [body.stop] : listOf(body.stop);
  const stopSequences = stop.filter((s): s is string => typeof s === 'string' && s.trim() !== '');
  if (stopSequences.length > 0) out.stop_sequences = stopSequences;
  const temperature = numberOr(body.temperature);
  if (temperature !== undefined) out.temperature = Math.min(1, Math.max(0, temperature));
  const topP = numberOr(body.top_p);
  if (topP !== undefined && temperature === undefined) out.top_p = topP;
  if (body.stream === true) out.stream = true;
  const user = stringOr(body.user) || stringOr(body.safety_identifier);
  if (user) out.metadata = { user_id: user };
  return out;
}

/** Appends to the last turn when the role repeats; tool results stay ahead of the turn's other blocks. */
function addTurn(turns: Turn[], role: Role, blocks: JsonObject[]): void {
  if (blocks.length === 0) return;
  const last = turns.at(-1);
  if (last?.role !== role) {
    turns.push({ role, content: blocks });
    return;
  }
  if (
    role === 'user' &&
    blocks[0]?.type === 'tool_result' &&
    last.content.some((b) => b.type !== 'tool_result')
  ) {
    const results = last.content.filter((b) => b.type === 'tool_result');
    const others = last.content.filter((b) => b.type !== 'tool_result');
    last.content = [...results, ...blocks, ...others];
    return;
  }
  last.content.push(...blocks);
}

/** Anthropic rejects a final assistant message that ends in whitespace. */
function trimFinalPrefill(turns: Turn[]): void {
  const last = turns.at(-1);
  if (last?.role !== 'assistant') return;
  const block = last.content.at(-1);
  if (block?.type !== 'text' || typeof block.text !== 'string') return;
  const text = block.text.trimEnd();
  if (text) block.text = text;
  else last.content.pop();
  if (last.content.length === 0) turns.pop();
}

/** A string, or the text of `text` (and `refusal`) parts. */
function partsText(content: unknown): string {
  if (typeof content === 'string') return content;
  const texts: string[] = [];
  for (const part of listOf(content)) {
    if (!isObject(part)) continue;
    const text =
      part.type === 'refusal' ? stringOr(part.refusal) : part.type === 'text' ? stringOr(part.text) : '';
    if (text) texts.push(text);
  }
  return texts.join('\n');
}

function textBlock(text: string): JsonObject[] {
  return text.trim() ? [{ type: 'text', text }] : [];
}

function userBlocks(content: unknown): JsonObject[] {
  if (typeof content === 'string') return textBlock(content);
  const blocks: JsonObject[] = [];
  for (const part of listOf(content)) {
    if (!isObject(part)) continue;
    if (part.type === 'text') {
      blocks.push(...textBlock(stringOr(part.text) ?? ''));
    } else if (part.type === 'image_url') {
      const url = stringOr(objectOr(part.image_url)?.url) ?? stringOr(part.image_url);
      const source = url && imageSource(url);
      if (source) blocks.push({ type: 'image', source });
    } else if (part.type === 'file') {
      const document = documentBlock(objectOr(part.file));
      if (document) blocks.push(document);
    }
  }
  return blocks;
}

interface DataUrl {
  mediaType: string;
  data: string;
}

/** `data:<type>;base64,<data>`, read without a regex: images can be megabytes long. */
function parseDataUrl(url: string): DataUrl | null {
  if (!url.startsWith('data:')) return null;
  const comma = url.indexOf(',');
  if (comma === -1) return null;
  const header = url.slice(5, comma);
  if (!header.endsWith(';base64')) return null;
  return { mediaType: header.slice(0, header.indexOf(';')), data: url.slice(comma + 1) };
}

function imageSource(url: string): JsonObject | null {
  if (!url.startsWith('data:')) return { type: 'url', url };
  const parsed = parseDataUrl(url);
  return parsed ? { type: 'base64', media_type: parsed.mediaType, data: parsed.data } : null;
}

function documentBlock(file: JsonObject | undefined): JsonObject | null {
  const fileData = stringOr(file?.file_data);
  if (!fileData) return null;
  // OpenAI's examples send a data URL; bare base64 is taken as the PDF it almost always is.
  const parsed = parseDataUrl(fileData) ?? { mediaType: 'application/pdf', data: fileData };
  const title = stringOr(file?.filename);
  let source: JsonObject;
  if (parsed.mediaType === 'application/pdf') {
    source = { type: 'base64', media_type: 'application/pdf', data: parsed.data };
  } else if (parsed.mediaType.startsWith('text/')) {
    const bytes = Uint8Array.from(atob(parsed.data), (c) => c.charCodeAt(0));
    source = { type: 'text', media_type: 'text/plain', data: new TextDecoder().decode(bytes) };
  } else {
    return null;
  }
  return title ? { type: 'document', source, title } : { type: 'document', source };
}

function assistantBlocks(message: JsonObject): JsonObject[] {
  const blocks = textBlock(partsText(message.content));
  for (const call of listOf(message.tool_calls)) {
    if (!isObject(call) || !isObject(call.function)) continue;
    blocks.push(toolUse(stringOr(call.id), call.function));
  }
  return blocks;
}

function toolUse(id: string | undefined, fn: JsonObject): JsonObject {
  const input = parseJson(stringOr(fn.arguments) || '{}');
  return {
    type: 'tool_use',
    id: anthropicToolId(id),
    name: stringOr(fn.name) ?? '',
    input: isObject(input) ? input : {},
  };
}

function toolResult(id: string | undefined, content: unknown): JsonObject {
  const text = partsText(content);
  const block: JsonObject = { type: 'tool_result', tool_use_id: anthropicToolId(id) };
  if (text) block.content = text;
  return block;
}

function anthropicTool(tool: unknown): JsonObject[] {
  if (!isObject(tool) || tool.type !== 'function') return [];
  const fn = objectOr(tool.function);
  const name = stringOr(fn?.name);
  if (!fn || !name) return [];
  const parameters = objectOr(fn.parameters);
  const out: JsonObject = {
    name,
    input_schema: parameters ? { type: 'object', ...parameters } : { type: 'object', properties: {} },
  };
  const description = stringOr(fn.description);
  if (description) out.description = description;
  return [out];
}

function legacyToolChoice(functionCall: unknown): unknown {
  if (typeof functionCall === 'string' || functionCall === undefined) return functionCall;
  return isObject(functionCall) ? { type: 'function', function: functionCall } : undefined;
}

function anthropicToolChoice(choice: unknown): JsonObject | null {
  if (choice === 'auto') return { type: 'auto' };
  if (choice === 'required') return { type: 'any' };
  if (choice === 'none') return { type: 'none' };
  if (!isObject(choice)) return null;
  if (choice.type === 'function') {
    const name = stringOr(objectOr(choice.function)?.name);
    return name ? { type: 'tool', name } : null;
  }
  if (choice.type === 'allowed_tools') {
    return objectOr(choice.allowed_tools)?.mode === 'required' ? { type: 'any' } : { type: 'auto' };
  }
  return null;
}

// ── Whole response ──────────────────────────────────────────────────────────────────────────────

function completionFromMessage(body: unknown, clientModel: string): unknown {
  if (!isObject(body)) return openAIErrorBody('Upstream returned no message', 'api_error', null);
  if (body.type === 'error') {
    const error = readUpstreamError(body);
    return openAIErrorBody(error.message, openAIErrorTypeForAnthropic(error.type), error.type ?? null);
  }
  let text = '';
  let reasoning = '';
  const calls: JsonObject[] = [];
  for (const block of listOf(body.content)) {
    if (!isObject(block)) continue;
    if (block.type === 'text') text += stringOr(block.text) ?? '';
    else if (block.type === 'thinking') reasoning += stringOr(block.thinking) ?? '';
    else if (block.type === 'tool_use') {
      calls.push({
        id: stringOr(block.id) ?? '',
        type: 'function',
        function: { name: stringOr(block.name) ?? '', arguments: JSON.stringify(block.input ?? {}) },
      });
    }
  }
  const message: JsonObject = { role: 'assistant', content: text || (calls.length > 0 ? null : '') };
  if (reasoning) message.reasoning_content = reasoning;
  if (calls.length > 0) message.tool_calls = calls;
  message.refusal = null;

  const counts = emptyCounts();
  updateCounts(counts, body.usage);
  return {
    id: chatCompletionId(stringOr(body.id)),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: clientModel,
    choices: [
      { index: 0, message, logprobs: null, finish_reason: openAIFinishReason(stringOr(body.stop_reason)) },
    ],
    usage: openAIUsageFromAnthropic(counts),
  };
}

// ── Stream ──────────────────────────────────────────────────────────────────────────────────────

/** Anthropic message events → OpenAI `chat.completion.chunk` events, one upstream event at a time. */
class ChatChunksFromAnthropic implements SseTranslator {
  private id = '';
  private readonly created = Math.floor(Date.now() / 1000);
  private started = false;
  private ended = false;
  private finished = false;
  /** Anthropic content index → OpenAI tool-call index, for tool_use blocks. */
  private readonly toolIndex = new Map<number, number>();
  private readonly counts: AnthropicCounts = emptyCounts();

  constructor(
    private readonly clientModel: string,
    private readonly includeUsage: boolean,
  ) {}

  event(name: string, data: string): string {
    if (this.ended) return '';
    const event = parseJson(data);
    if (!isObject(event)) return '';
    const type = stringOr(event.type) ?? name;
    switch (type) {
      case 'message_start': {
        const message = objectOr(event.message);
        updateCounts(this.counts, message?.usage);
        return this.start(stringOr(message?.id));
      }
      case 'content_block_start':
        return this.blockStart(numberOr(event.index) ?? 0, objectOr(event.content_block));
      case 'content_block_delta':
        return this.blockDelta(numberOr(event.index) ?? 0, objectOr(event.delta));
      case 'message_delta': {
        updateCounts(this.counts, event.usage);
        const stopReason = stringOr(objectOr(event.delta)?.stop_reason);
        if (stopReason === undefined) return '';
        this.finished = true;
        return this.start() + this.chunk({}, openAIFinishReason(stopReason));
      }
      case 'message_stop':
        return this.finish();
      case 'error':
        return this.fail(event);
      default:
        // ping, content_block_stop: nothing to say in a chat stream.
        return '';
    }
  }

  end(): string {
    if (this.ended) return '';
    if (this.finished) return this.finish();
    this.ended = true;
    return dataEvent(openAIErrorBody('Upstream stream ended before completion', 'api_error', null));
  }

  /** The first chunk, announcing the role; later calls add nothing. */
  private start(messageId?: string): string {
    if (this.started) return '';
    this.started = true;
    this.id = chatCompletionId(messageId);
    return this.chunk({ role: 'assistant', content: '' }, null);
  }

  private blockStart(index: number, block: JsonObject | undefined): string {
    const out = this.start();
    if (block?.type === 'text') {
      const text = stringOr(block.text);
      return text ? out + this.chunk({ content: text }, null) : out;
    }
    if (block?.type !== 'tool_use') return out;
    const toolIndex = this.toolIndex.size;
    this.toolIndex.set(index, toolIndex);
    const call = {
      index: toolIndex,
      id: stringOr(block.id) ?? '',
      type: 'function',
      function: { name: stringOr(block.name) ?? '', arguments: '' },
    };
    return out + this.chunk({ tool_calls: [call] }, null);
  }

  private blockDelta(index: number, delta: JsonObject | undefined): string {
    switch (delta?.type) {
      case 'text_delta': {
        const text = stringOr(delta.text);
        return text ? this.start() + this.chunk({ content: text }, null) : '';
      }
      case 'thinking_delta': {
        const thinking = stringOr(delta.thinking);
        return thinking ? this.start() + this.chunk({ reasoning_content: thinking }, null) : '';
      }
      case 'input_json_delta': {
        const json = stringOr(delta.partial_json);
        const toolIndex = this.toolIndex.get(index);
        if (!json || toolIndex === undefined) return '';
        return this.chunk({ tool_calls: [{ index: toolIndex, function: { arguments: json } }] }, null);
      }
      default:
        return '';
    }
  }

  private finish(): string {
    this.ended = true;
    let out = this.start();
    if (!this.finished) out += this.chunk({}, 'stop');
    if (this.includeUsage) {
      out += dataEvent({ ...this.envelope(), choices: [], usage: openAIUsageFromAnthropic(this.counts) });
    }
    return out + DONE_EVENT;
  }

  private fail(event: JsonObject): string {
    this.ended = true;
    const error = readUpstreamError(event);
    return dataEvent(
      openAIErrorBody(error.message, openAIErrorTypeForAnthropic(error.type), error.type ?? null),
    );
  }

  private envelope(): JsonObject {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.clientModel };
  }

  private chunk(delta: JsonObject, finishReason: string | null): string {
    const choice = { index: 0, delta, logprobs: null, finish_reason: finishReason };
    const chunk: JsonObject = { ...this.envelope(), choices: [choice] };
    // With include_usage OpenAI sends `usage: null` on every chunk but the last.
    if (this.includeUsage) chunk.usage = null;
    return dataEvent(chunk);
  }
}
