// An Anthropic Messages client (Claude Code, the Anthropic SDK) served by an OpenAI Chat Completions
// account (DeepSeek, Kimi, Qwen, GLM, OpenAI itself).
//
// Request, carried:
// - `system` (string or text blocks, joined by a blank line) → a leading `system` message; items
//   with `role: "system"` inside `messages` (a Claude Code beta) → `system` messages in place.
// - `messages`: `text` → text (a string, or content parts when images or files are present);
//   `image` (base64 or url source) → `image_url` (a data URL for base64); `document` → a `file` part
//   for base64 PDFs, text for plain-text and content sources; assistant `tool_use` → `tool_calls`
//   (input as a JSON string); user `tool_result` → one `role: "tool"` message each, placed before
//   the rest of that user turn, content as joined text (`is_error` prefixes "Error: "; images in a
//   result move to the user message that follows); `thinking` blocks this converter produced
//   (signed with CONVERTED_REASONING_SIGNATURE) → the assistant's `reasoning_content`, which
//   DeepSeek and Kimi require back on tool-call turns in thinking mode.
// - `tools` (custom ones) → `function` tools (`input_schema` → `parameters`, `strict` kept);
//   `tool_choice` auto|any|tool|none → "auto"|"required"|{function}|"none";
//   `disable_parallel_tool_use` → `parallel_tool_calls: false`.
// - `max_tokens`, `temperature`, `top_p`, `stop_sequences` → `stop` (at most 4, OpenAI's limit),
//   `stream` (always with `stream_options.include_usage`, which metering needs),
//   `metadata.user_id` → `user` (first 64 characters). `model` is the account's model.
// Request, dropped: server tools (`web_search_*`, `bash_*`, `text_editor_*`, …) and their blocks,
//   `redacted_thinking` and Anthropic-signed `thinking` blocks, url and file-id documents and
//   images, `citations`, `cache_control`, `thinking`, `top_k`, `context_management`,
//   `output_config.effort`, `service_tier`, `container`, `mcp_servers`, `inference_geo`.
// Request, refused (400 naming the field, `messagesRefusal`): `output_config.format` (structured
//   output would not be enforced) and more than 4 `stop_sequences`.
//
// Response (stream and whole body), carried: text and refusals → `text` blocks; `tool_calls` →
//   `tool_use` blocks (streamed as `input_json_delta`); `reasoning_content` (or `reasoning`) →
//   `thinking` blocks with a CONVERTED_REASONING_SIGNATURE signature; `finish_reason` →
//   `stop_reason`; usage → `input_tokens` (prompt minus cached), `cache_read_input_tokens`,
//   `output_tokens`; a streamed `{"error":…}` → `event: error`. A stream that ends with neither a
//   finish reason nor `[DONE]` was cut off, and ends with `event: error` rather than pretending to be
//   complete. Parallel tool calls whose fragments a server interleaves are kept whole: a call named
//   while another streams is sent in one piece when that one's block ends. Dropped: `logprobs`,
//   choices other than the first, and `system_fingerprint`.

import { isObject, listOf, numberOr, objectOr, parseJson, stringOr } from '../json';
import { chunkUsage } from '../wires/openai-chat';
import {
  anthropicErrorBody,
  anthropicErrorTypeForHint,
  anthropicErrorTypeForStatus,
  readUpstreamError,
  statusInError,
} from './errors';
import { anthropicMessageId, anthropicToolId } from './ids';
import { namedEvent, type SseTranslator, translateSse } from './sse-encode';
import { anthropicStopReason } from './stop-reasons';
import type { Conversion, JsonObject } from './types';
import { type AnthropicUsage, anthropicUsageFromOpenAI } from './usage';

/**
 * The signature on `thinking` blocks made from an OpenAI upstream's reasoning. It lets the next
 * request hand that reasoning back, and lets an Anthropic upstream path recognise (and strip) blocks
 * that Anthropic itself did not sign.
 */
export const CONVERTED_REASONING_SIGNATURE = 'aicarpool-openai-chat-reasoning';

type ChatContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string } }
  | { type: 'file'; file: { filename: string; file_data: string } };

interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | ChatContentPart[] }
  | { role: 'assistant'; content: string | null; tool_calls?: ChatToolCall[]; reasoning_content?: string }
  | { role: 'tool'; tool_call_id: string; content: string };

interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters: unknown; strict?: boolean };
}

export const anthropicToOpenAIChat: Conversion = {
  from: 'anthropic',
  to: 'openai-chat',
  refusal: messagesRefusal,
  request: chatRequest,
  responseStream: (clientModel) => translateSse(new AnthropicEventsFromChat(clientModel)),
  responseBody: messageFromCompletion,
  errorBody(status, body) {
    return anthropicErrorBody(anthropicErrorTypeForStatus(status), readUpstreamError(body, status).message);
  },
};

// ── Request ─────────────────────────────────────────────────────────────────────────────────────

/** OpenAI's limit of stop sequences, which compatible servers keep. */
const MAX_STOP = 4;

/** What an OpenAI-compatible account cannot give an Anthropic client, named by its field. */
function messagesRefusal(body: JsonObject): string | null {
  if (objectOr(body.output_config)?.format != null)
    return 'output_config.format: structured output is not enforced by an OpenAI-compatible account; ask for JSON in the prompt, or use an Anthropic account.';
  const stops = listOf(body.stop_sequences).length;
  if (stops > MAX_STOP)
    return `stop_sequences: ${stops} sequences; an OpenAI-compatible account takes at most ${MAX_STOP}.`;
  return null;
}

function chatRequest(body: JsonObject, model: string): JsonObject {
  const messages: ChatMessage[] = [];
  const system = joinedText(body.system, '\n\n');
  if (system) messages.push({ role: 'system', content: system });
  for (const item of listOf(body.messages)) {
    if (isObject(item)) appendMessage(item, messages);
  }

  const out: JsonObject = { model, messages };
  const maxTokens = numberOr(body.max_tokens);
  if (maxTokens !== undefined) out.max_tokens = maxTokens;
  const temperature = numberOr(body.temperature);
  if (temperature !== undefined) out.temperature = temperature;
  const topP = numberOr(body.top_p);
  if (topP !== undefined) out.top_p = topP;
  const stop = listOf(body.stop_sequences).filter((s): s is string => typeof s === 'string');
  if (stop.length > 0) out.stop = stop.slice(0, 4);

  const tools = chatTools(body.tools);
  if (tools.length > 0) {
    out.tools = tools;
    const choice = objectOr(body.tool_choice);
    const toolChoice = choice && chatToolChoice(choice);
    if (toolChoice !== undefined) out.tool_choice = toolChoice;
    if (choice?.disable_parallel_tool_use === true) out.parallel_tool_calls = false;
  }

  if (body.stream === true) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  const user = stringOr(objectOr(body.metadata)?.user_id);
  if (user) out.user = user.slice(0, 64);
  return out;
}

/** A string, or the text of text blocks. */
function joinedText(content: unknown, separator: string): string {
  if (typeof content === 'string') return content;
  const texts: string[] = [];
  for (const block of listOf(content)) {
    const text = isObject(block) && block.type === 'text' ? stringOr(block.text) : undefined;
    if (text) texts.push(text);
  }
  return texts.join(separator);
}

function appendMessage(item: JsonObject, messages: ChatMessage[]): void {
  const { role, content } = item;
  if (role === 'system') {
    const text = joinedText(content, '\n\n');
    if (text) messages.push({ role: 'system', content: text });
  } else if (role === 'assistant') {
    const message =
      typeof content === 'string'
        ? { role: 'assistant' as const, content }
        : assistantMessage(listOf(content));
    if (message && (message.content || message.tool_calls)) messages.push(message);
  } else if (typeof content === 'string') {
    messages.push({ role: 'user', content });
  } else {
    appendUserTurn(listOf(content), messages);
  }
}

function assistantMessage(blocks: readonly unknown[]): ChatMessage & { role: 'assistant' } {
  let text = '';
  let reasoning = '';
  const calls: ChatToolCall[] = [];
  for (const block of blocks) {
    if (!isObject(block)) continue;
    if (block.type === 'text') {
      text += stringOr(block.text) ?? '';
    } else if (block.type === 'tool_use') {
      calls.push({
        id: stringOr(block.id) ?? '',
        type: 'function',
        function: { name: stringOr(block.name) ?? '', arguments: JSON.stringify(block.input ?? {}) },
      });
    } else if (block.type === 'thinking' && block.signature === CONVERTED_REASONING_SIGNATURE) {
      reasoning += stringOr(block.thinking) ?? '';
    }
  }
  const message: ChatMessage & { role: 'assistant' } = { role: 'assistant', content: text || null };
  if (calls.length > 0) message.tool_calls = calls;
  if (reasoning) message.reasoning_content = reasoning;
  return message;
}

/** Tool results first, as `tool` messages; then the rest of the turn as one user message. */
function appendUserTurn(blocks: readonly unknown[], messages: ChatMessage[]): void {
  const parts: ChatContentPart[] = [];
  const resultImages: ChatContentPart[] = [];
  for (const block of blocks) {
    if (!isObject(block)) continue;
    switch (block.type) {
      case 'text': {
        const text = stringOr(block.text);
        if (text) parts.push({ type: 'text', text });
        break;
      }
      case 'image': {
        const part = imagePart(block.source);
        if (part) parts.push(part);
        break;
      }
      case 'document': {
        const part = documentPart(block);
        if (part) parts.push(part);
        break;
      }
      case 'tool_result':
        messages.push({
          role: 'tool',
          tool_call_id: stringOr(block.tool_use_id) ?? '',
          content: toolResultText(block, resultImages),
        });
        break;
    }
  }
  const user = resultImages.length > 0 ? [...resultImages, ...parts] : parts;
  if (user.length === 0) return;
  const textOnly = user.every((part) => part.type === 'text');
  messages.push({
    role: 'user',
    content: textOnly ? user.map((part) => (part.type === 'text' ? part.text : '')).join('\n') : user,
  });
}

/** Chat `tool` messages carry text only: images in a result travel in the next user message. */
function toolResultText(block: JsonObject, images: ChatContentPart[]): string {
  let text: string;
  if (typeof block.content === 'string') {
    text = block.content;
  } else {
    const texts: string[] = [];
    let moved = false;
    for (const item of listOf(block.content)) {
      if (!isObject(item)) continue;
      if (item.type === 'text') {
        const t = stringOr(item.text);
        if (t) texts.push(t);
      } else if (item.type === 'image') {
        const part = imagePart(item.source);
        if (part) {
          images.push(part);
          moved = true;
        }
      }
    }
    text = texts.join('\n');
    if (!text && moved) text = '(image attached in the next message)';
  }
  return block.is_error === true ? `Error: ${text}` : text;
}

function imagePart(source: unknown): ChatContentPart | null {
  if (!isObject(source)) return null;
  if (source.type === 'base64') {
    const mediaType = stringOr(source.media_type);
    const data = stringOr(source.data);
    return mediaType && data
      ? { type: 'image_url', image_url: { url: `data:${mediaType};base64,${data}` } }
      : null;
  }
  if (source.type === 'url') {
    const url = stringOr(source.url);
    return url ? { type: 'image_url', image_url: { url } } : null;
  }
  return null;
}

function documentPart(block: JsonObject): ChatContentPart | null {
  const source = objectOr(block.source);
  if (!source) return null;
  if (source.type === 'base64') {
    const mediaType = stringOr(source.media_type) ?? 'application/pdf';
    const data = stringOr(source.data);
    if (!data) return null;
    const filename = stringOr(block.title) ?? 'document.pdf';
    return { type: 'file', file: { filename, file_data: `data:${mediaType};base64,${data}` } };
  }
  const text = source.type === 'text' ? stringOr(source.data) : joinedText(source.content, '\n');
  return text ? { type: 'text', text } : null;
}

function chatTools(tools: unknown): ChatTool[] {
  const out: ChatTool[] = [];
  for (const tool of listOf(tools)) {
    if (!isObject(tool) || (tool.type !== undefined && tool.type !== 'custom')) continue;
    const name = stringOr(tool.name);
    if (!name) continue;
    const fn: ChatTool['function'] = {
      name,
      parameters: tool.input_schema ?? { type: 'object', properties: {} },
    };
    const description = stringOr(tool.description);
    if (description) fn.description = description;
    if (tool.strict === true) fn.strict = true;
    out.push({ type: 'function', function: fn });
  }
  return out;
}

function chatToolChoice(choice: JsonObject): unknown {
  switch (choice.type) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool': {
      const name = stringOr(choice.name);
      return name ? { type: 'function', function: { name } } : undefined;
    }
    default:
      return undefined;
  }
}

// ── Whole response ──────────────────────────────────────────────────────────────────────────────

function messageFromCompletion(body: unknown, clientModel: string): unknown {
  if (!isObject(body)) return anthropicErrorBody('api_error', 'Upstream returned no completion');
  if (body.error !== undefined && body.choices === undefined) {
    const error = readUpstreamError(body);
    return anthropicErrorBody(anthropicErrorTypeForHint(error.type), error.message);
  }
  const choice = objectOr(listOf(body.choices)[0]);
  const message = objectOr(choice?.message) ?? {};
  const content: JsonObject[] = [];

  const reasoning = stringOr(message.reasoning_content) ?? stringOr(message.reasoning);
  if (reasoning) {
    content.push({ type: 'thinking', thinking: reasoning, signature: CONVERTED_REASONING_SIGNATURE });
  }
  const text = messageText(message.content) + (stringOr(message.refusal) ?? '');
  if (text) content.push({ type: 'text', text });
  const calls = [...listOf(message.tool_calls)];
  if (isObject(message.function_call)) calls.push({ function: message.function_call });
  for (const call of calls) {
    const fn = isObject(call) ? objectOr(call.function) : undefined;
    if (!fn || !isObject(call)) continue;
    const input = parseJson(stringOr(fn.arguments) || '{}');
    content.push({
      type: 'tool_use',
      id: anthropicToolId(stringOr(call.id)),
      name: stringOr(fn.name) ?? '',
      input: isObject(input) ? input : {},
    });
  }

  return {
    id: anthropicMessageId(stringOr(body.id)),
    type: 'message',
    role: 'assistant',
    model: clientModel,
    content,
    stop_reason: anthropicStopReason(stringOr(choice?.finish_reason), calls.length > 0),
    stop_sequence: null,
    usage: anthropicUsageFromOpenAI(body.usage),
  };
}

/** Chat message content: a string, or (some providers) text parts. */
function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  let text = '';
  for (const part of listOf(content)) {
    if (isObject(part) && part.type === 'text') text += stringOr(part.text) ?? '';
  }
  return text;
}

// ── Stream ──────────────────────────────────────────────────────────────────────────────────────

type BlockKind = 'text' | 'thinking' | 'tool_use';

interface ToolCallState {
  id: string | undefined;
  name: string | undefined;
  /** Argument fragments not yet sent: before the name, or while another call's block is open. */
  pending: string;
  /** The Anthropic content index once its block has started. */
  block: number | undefined;
  /** Named while another call streamed: sent whole once that one's block ends. */
  queued: boolean;
}

/** OpenAI `chat.completion.chunk` events → Anthropic message events, one upstream event at a time. */
class AnthropicEventsFromChat implements SseTranslator {
  private started = false;
  private ended = false;
  private nextBlock = 0;
  private open: { kind: BlockKind; index: number } | undefined;
  private readonly tools = new Map<number, ToolCallState>();
  private lastToolIndex = -1;
  private finishReason: string | undefined;
  private sawFinish = false;
  private usage: AnthropicUsage | undefined;

  constructor(private readonly clientModel: string) {}

  event(_name: string, data: string): string {
    if (this.ended) return '';
    if (data.trim() === '[DONE]') return this.finish();
    const chunk = parseJson(data);
    if (!isObject(chunk)) return '';
    if (chunk.error !== undefined) return this.fail(chunk);

    let out = this.started ? '' : this.start(stringOr(chunk.id));
    const usage = chunkUsage(chunk);
    if (isObject(usage)) this.usage = anthropicUsageFromOpenAI(usage);
    const choice = objectOr(listOf(chunk.choices).find((c) => isObject(c) && (c.index ?? 0) === 0));
    if (!choice) return out;
    const delta = objectOr(choice.delta);
    if (delta) {
      const reasoning = stringOr(delta.reasoning_content) ?? stringOr(delta.reasoning);
      if (reasoning) out += this.appendText('thinking', reasoning);
      const text = (stringOr(delta.content) ?? '') + (stringOr(delta.refusal) ?? '');
      if (text) out += this.appendText('text', text);
      for (const call of listOf(delta.tool_calls)) {
        if (isObject(call)) out += this.appendToolCall(call);
      }
      if (isObject(delta.function_call))
        out += this.appendToolCall({ index: 0, function: delta.function_call });
    }
    const finishReason = stringOr(choice.finish_reason);
    if (finishReason) {
      this.finishReason = finishReason;
      this.sawFinish = true;
      out += this.closeTools();
    }
    return out;
  }

  end(): string {
    if (this.ended) return '';
    if (this.sawFinish) return this.finish();
    this.ended = true;
    return namedEvent('error', anthropicErrorBody('api_error', 'Upstream stream ended before completion'));
  }

  private start(upstreamId: string | undefined): string {
    this.started = true;
    const message = {
      id: anthropicMessageId(upstreamId),
      type: 'message',
      role: 'assistant',
      model: this.clientModel,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0 },
    };
    return (
      namedEvent('message_start', { type: 'message_start', message }) + namedEvent('ping', { type: 'ping' })
    );
  }

  private appendText(kind: 'text' | 'thinking', text: string): string {
    let out = '';
    if (this.open?.kind !== kind) {
      out += this.closeTools();
      out += this.openBlock(
        kind,
        kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' },
      );
    }
    const delta = kind === 'text' ? { type: 'text_delta', text } : { type: 'thinking_delta', thinking: text };
    return out + this.blockDelta(delta);
  }

  private appendToolCall(call: JsonObject): string {
    const fn = objectOr(call.function);
    const id = stringOr(call.id);
    // Some servers omit `index`: a new id means a new call, otherwise it continues the last one.
    let index = numberOr(call.index);
    if (index === undefined) {
      const last = this.tools.get(this.lastToolIndex);
      index =
        last === undefined || (id !== undefined && id !== last.id)
          ? this.lastToolIndex + 1
          : this.lastToolIndex;
    }
    let state = this.tools.get(index);
    if (!state) {
      state = { id, name: undefined, pending: '', block: undefined, queued: false };
      this.tools.set(index, state);
      this.lastToolIndex = Math.max(this.lastToolIndex, index);
    }
    state.id ??= id;
    state.name ||= stringOr(fn?.name);
    const args = stringOr(fn?.arguments) ?? '';

    if (state.queued) {
      state.pending += args;
      return '';
    }
    if (state.block === undefined) {
      if (!state.name) {
        state.pending += args;
        return '';
      }
      // Anthropic streams one block at a time, but some servers interleave parallel calls'
      // fragments: a call named while another streams waits, whole, until that block ends.
      if (this.open?.kind === 'tool_use') {
        state.queued = true;
        state.pending += args;
        return '';
      }
      let out = this.closeBlock();
      out += this.openBlock('tool_use', {
        type: 'tool_use',
        id: anthropicToolId(state.id),
        name: state.name,
        input: {},
      });
      state.block = this.open?.index;
      const first = state.pending + args;
      state.pending = '';
      if (first) out += this.blockDelta({ type: 'input_json_delta', partial_json: first });
      return out;
    }
    if (!args || this.open?.index !== state.block) return '';
    return this.blockDelta({ type: 'input_json_delta', partial_json: args });
  }

  /** Closes the open block, then sends each call that waited for it, whole, in index order. */
  private closeTools(): string {
    let out = this.closeBlock();
    const waiting = [...this.tools.entries()].filter(([, t]) => t.queued).sort(([a], [b]) => a - b);
    for (const [, tool] of waiting) {
      tool.queued = false;
      out += this.openBlock('tool_use', {
        type: 'tool_use',
        id: anthropicToolId(tool.id),
        name: tool.name,
        input: {},
      });
      tool.block = this.open?.index;
      if (tool.pending) out += this.blockDelta({ type: 'input_json_delta', partial_json: tool.pending });
      tool.pending = '';
      out += this.closeBlock();
    }
    return out;
  }

  private openBlock(kind: BlockKind, contentBlock: JsonObject): string {
    const index = this.nextBlock++;
    this.open = { kind, index };
    return namedEvent('content_block_start', {
      type: 'content_block_start',
      index,
      content_block: contentBlock,
    });
  }

  private blockDelta(delta: JsonObject): string {
    const index = this.open?.index ?? 0;
    return namedEvent('content_block_delta', { type: 'content_block_delta', index, delta });
  }

  private closeBlock(): string {
    const open = this.open;
    if (!open) return '';
    this.open = undefined;
    let out = '';
    if (open.kind === 'thinking') {
      out += namedEvent('content_block_delta', {
        type: 'content_block_delta',
        index: open.index,
        delta: { type: 'signature_delta', signature: CONVERTED_REASONING_SIGNATURE },
      });
    }
    return out + namedEvent('content_block_stop', { type: 'content_block_stop', index: open.index });
  }

  private finish(): string {
    let out = this.started ? '' : this.start(undefined);
    out += this.closeTools();
    this.ended = true;
    const usedTools = [...this.tools.values()].some((tool) => tool.block !== undefined);
    const usage = this.usage ?? anthropicUsageFromOpenAI(undefined);
    out += namedEvent('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: anthropicStopReason(this.finishReason, usedTools), stop_sequence: null },
      usage,
    });
    return out + namedEvent('message_stop', { type: 'message_stop' });
  }

  private fail(chunk: JsonObject): string {
    this.ended = true;
    const error = readUpstreamError(chunk);
    const status = statusInError(chunk);
    const type =
      status === undefined ? anthropicErrorTypeForHint(error.type) : anthropicErrorTypeForStatus(status);
    return namedEvent('error', anthropicErrorBody(type, error.message));
  }
}
