// An Anthropic Messages reply as data (message object, stream events, usage), framed as SSE by anthropic.ts and as AWS event-stream by bedrock.ts.
import {
  contentText,
  echo,
  firstToolName,
  type JsonObject,
  lastWithRole,
  positiveInteger,
  toolArguments,
  toolArgumentsJson,
} from './completion';
import type { UpstreamCall } from './provider';
import { randomBase58 } from './random-id';
import type { Json, StreamEvent } from './reply';
import type { Answer } from './scenarios';
import { splitText, tokensForBytes, tokensForText } from './tokens';

export type MessageUsage = {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  output_tokens: number;
  service_tier: 'standard';
};

type StopReason = 'end_turn' | 'max_tokens' | 'tool_use';

type Block =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'tool_use'; readonly id: string; readonly name: string; readonly json: string };

/** What one messages call will answer, derived only from the request so tests can predict it. */
export interface MessagePlan {
  readonly id: string;
  readonly model: string;
  readonly block: Block;
  readonly stopReason: StopReason;
  readonly usage: MessageUsage;
}

/** One stream event as data, before a provider frames it. */
export interface MessageEvent extends Omit<StreamEvent, 'chunk'> {
  readonly type: string;
  readonly data: { readonly [key: string]: Json };
}

// Prompt caching: a body that marks cache breakpoints reads half its tokens from cache and writes a
// quarter, the write split between TTLs in proportion to the breakpoints that ask for `"ttl":"1h"`.
function usageFor(call: UpstreamCall, outputTokens: number): MessageUsage {
  const total = tokensForBytes(call.bodyBytes);
  const breakpoints = call.body.split('"cache_control"').length - 1;
  if (breakpoints === 0) {
    return {
      input_tokens: total,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: outputTokens,
      service_tier: 'standard',
    };
  }
  const oneHourBreakpoints = Math.min(breakpoints, call.body.match(/"ttl"\s*:\s*"1h"/g)?.length ?? 0);
  const cacheRead = Math.max(1, Math.floor(total / 2));
  const cacheCreation = Math.max(1, Math.floor(total / 4));
  const oneHour = Math.floor((cacheCreation * oneHourBreakpoints) / breakpoints);
  return {
    input_tokens: Math.max(1, total - cacheRead - cacheCreation),
    cache_creation_input_tokens: cacheCreation,
    cache_read_input_tokens: cacheRead,
    cache_creation: {
      ephemeral_5m_input_tokens: cacheCreation - oneHour,
      ephemeral_1h_input_tokens: oneHour,
    },
    output_tokens: outputTokens,
    service_tier: 'standard',
  };
}

/** `idPrefix` differs by host: Bedrock's message ids start `msg_bdrk_`. */
export function planMessage(
  call: UpstreamCall,
  request: JsonObject,
  answer: Answer,
  model: string,
  idPrefix = 'msg_01',
): MessagePlan {
  const id = `${idPrefix}${randomBase58(22)}`;
  if (answer.content === 'tool_call') {
    const name = firstToolName(request.tools, (tool) => tool.name);
    const block: Block = {
      type: 'tool_use',
      id: `toolu_01${randomBase58(22)}`,
      name,
      json: toolArgumentsJson,
    };
    return { id, model, block, stopReason: 'tool_use', usage: usageFor(call, tokensForText(block.json)) };
  }
  const prompt = contentText(lastWithRole(request.messages, 'user')?.content, 'text');
  const { text, capped } = echo(prompt, positiveInteger(request.max_tokens));
  return {
    id,
    model,
    block: { type: 'text', text },
    stopReason: capped ? 'max_tokens' : 'end_turn',
    usage: usageFor(call, tokensForText(text)),
  };
}

function contentBlock(block: Block): Json {
  return block.type === 'text'
    ? { type: 'text', text: block.text }
    : { type: 'tool_use', id: block.id, name: block.name, input: toolArguments };
}

export function messageBody(plan: MessagePlan): { readonly [key: string]: Json } {
  return {
    id: plan.id,
    type: 'message',
    role: 'assistant',
    model: plan.model,
    content: [contentBlock(plan.block)],
    stop_reason: plan.stopReason,
    stop_sequence: null,
    usage: plan.usage,
  };
}

/** The stream as Anthropic sends it, ping included (Bedrock drops it). */
export function messageEvents(plan: MessagePlan, chunks: number): MessageEvent[] {
  const { block, usage } = plan;
  const startUsage: MessageUsage = { ...usage, output_tokens: 1 };
  const message = messageBody(plan);
  const startBlock: Json =
    block.type === 'text'
      ? { type: 'text', text: '' }
      : { type: 'tool_use', id: block.id, name: block.name, input: {} };
  let sent = '';
  const whole = block.type === 'text' ? block.text : block.json;
  const deltas = splitText(whole, chunks).map((piece): MessageEvent => {
    sent += piece;
    const delta: Json =
      block.type === 'text'
        ? { type: 'text_delta', text: piece }
        : { type: 'input_json_delta', partial_json: piece };
    return { type: 'content_block_delta', data: { index: 0, delta }, phase: 'delta', text: sent };
  });
  // message_delta usage is cumulative: Anthropic repeats the input and cache counts beside the final output.
  const finalUsage = {
    input_tokens: usage.input_tokens,
    cache_creation_input_tokens: usage.cache_creation_input_tokens,
    cache_read_input_tokens: usage.cache_read_input_tokens,
    output_tokens: usage.output_tokens,
  };
  const events: MessageEvent[] = [
    {
      type: 'message_start',
      data: { message: { ...message, content: [], stop_reason: null, usage: startUsage } },
      phase: 'start',
      usage: startUsage,
      text: '',
    },
    { type: 'content_block_start', data: { index: 0, content_block: startBlock }, phase: 'other' },
    { type: 'ping', data: {}, phase: 'other' },
    ...deltas,
    { type: 'content_block_stop', data: { index: 0 }, phase: 'other' },
    {
      type: 'message_delta',
      data: { delta: { stop_reason: plan.stopReason, stop_sequence: null }, usage: finalUsage },
      phase: 'other',
      usage,
    },
    { type: 'message_stop', data: {}, phase: 'other' },
  ];
  // Anthropic puts `type` first in every event.
  return events.map((event) => ({ ...event, data: { type: event.type, ...event.data } }));
}
