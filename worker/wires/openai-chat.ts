// The OpenAI Chat Completions wire. `prompt_tokens` includes `cached_tokens`, so the uncached
// input is the difference; `completion_tokens` includes reasoning tokens, all billed as output.
// Streams are `data:`-only; usage arrives in a last chunk with no choices (stream_options.include_usage).
// Compatible vendors differ: DeepSeek names cache hits `prompt_cache_hit_tokens`, Moonshot (Kimi)
// puts `cached_tokens` at the top of `usage` and streams its usage inside the last chunk's choice.
// DashScope (Qwen) reports its explicit cache's writes in `prompt_tokens_details` as
// `cache_creation_input_tokens` (by TTL in `cache_creation`, as Anthropic does); `prompt_tokens`
// counts them too, so they come off the plain input and are billed at the cache-write rate.

import { count, isObject, listOf, numberOr, objectOr, parseJson } from '../json';
import { jsonUsageMeter, StreamUsage, sseMeter } from '../metering/meter';
import { sseBytes } from '../metering/sse';
import { emptyUsage, type Usage } from '../metering/usage';
import type { UpstreamFailure } from '../providers/types';
import type { WireFormat } from './types';

/** The prompt tokens read from a cache, under whichever name the vendor gives them (never more than the prompt). */
export function cachedPromptTokens(usage: Record<string, unknown>): number {
  const cached =
    numberOr(objectOr(usage.prompt_tokens_details)?.cached_tokens) ??
    numberOr(usage.prompt_cache_hit_tokens) ??
    numberOr(usage.cached_tokens) ??
    0;
  return Math.max(0, Math.min(cached, count(usage.prompt_tokens)));
}

/** A chunk's usage: at its top (OpenAI and most vendors), or inside its choice (Moonshot's streams). */
export function chunkUsage(chunk: Record<string, unknown>): unknown {
  if (isObject(chunk.usage)) return chunk.usage;
  for (const choice of listOf(chunk.choices))
    if (isObject(choice) && isObject(choice.usage)) return choice.usage;
  return undefined;
}

/** The prompt tokens written to a cache, by TTL (never more than the prompt left after the cached ones). */
function cacheWrites(usage: Record<string, unknown>, room: number): { fiveMinutes: number; oneHour: number } {
  const details = objectOr(usage.prompt_tokens_details);
  const split = objectOr(details?.cache_creation);
  const total = numberOr(details?.cache_creation_input_tokens);
  let oneHour = count(split?.ephemeral_1h_input_tokens);
  let fiveMinutes = count(split?.ephemeral_5m_input_tokens);
  // A total the split does not explain: the unexplained part is the default 5-minute kind.
  if (total !== undefined && total !== fiveMinutes + oneHour) {
    oneHour = Math.min(oneHour, total);
    fiveMinutes = total - oneHour;
  }
  oneHour = Math.max(0, Math.min(oneHour, room));
  fiveMinutes = Math.max(0, Math.min(fiveMinutes, room - oneHour));
  return { fiveMinutes, oneHour };
}

export function openAIChatUsage(raw: unknown): Usage | null {
  if (!isObject(raw)) return null;
  const cached = cachedPromptTokens(raw);
  const uncached = Math.max(0, count(raw.prompt_tokens) - cached);
  const written = cacheWrites(raw, uncached);
  return {
    ...emptyUsage(),
    inputTokens: uncached - written.fiveMinutes - written.oneHour,
    outputTokens: count(raw.completion_tokens),
    cacheReadTokens: cached,
    cacheWrite5mTokens: written.fiveMinutes,
    cacheWrite1hTokens: written.oneHour,
  };
}

class OpenAIChatStreamUsage extends StreamUsage {
  onEvent(_event: string, data: string): void {
    if (data === '[DONE]') return;
    // Once content flows, most chunks are deltas with nothing to meter: skip their JSON.
    if (this.contentStarted && !data.includes('"usage":{') && !data.includes('"error"')) {
      this.output.add(data, chunkText);
      return;
    }
    const parsed = parseJson(data);
    if (!isObject(parsed)) return;
    if (isObject(parsed.error)) {
      const e = parsed.error;
      this.errorType = typeof e.type === 'string' ? e.type : typeof e.code === 'string' ? e.code : 'error';
      return;
    }
    const usage = openAIChatUsage(chunkUsage(parsed));
    if (usage) {
      this.usage = usage;
      this.final = true;
    }
    if (!this.contentStarted && Array.isArray(parsed.choices)) {
      const choice = parsed.choices[0];
      if (isObject(choice)) {
        const delta = isObject(choice.delta) ? choice.delta : {};
        this.contentStarted =
          (typeof delta.content === 'string' && delta.content.length > 0) ||
          Array.isArray(delta.tool_calls) ||
          (typeof delta.reasoning_content === 'string' && delta.reasoning_content.length > 0) ||
          choice.finish_reason != null;
        // The chunk that starts the content carries content too: a stream cut off right after
        // it must not be estimated at nothing.
        if (this.contentStarted) this.output.add(data, chunkText);
      }
    }
  }
}

/** The generated text of a chat chunk: content, reasoning, or a tool call's arguments. */
function chunkText(chunk: unknown): string | null {
  if (!isObject(chunk) || !Array.isArray(chunk.choices)) return null;
  const choice = chunk.choices[0];
  if (!isObject(choice) || !isObject(choice.delta)) return null;
  const d = choice.delta;
  if (typeof d.content === 'string') return d.content;
  if (typeof d.reasoning_content === 'string') return d.reasoning_content;
  const call = Array.isArray(d.tool_calls) && isObject(d.tool_calls[0]) ? d.tool_calls[0] : null;
  const args = call && isObject(call.function) ? call.function.arguments : null;
  return typeof args === 'string' ? args : null;
}

export function readOpenAIErrorType(body: unknown): string | null {
  if (!isObject(body) || !isObject(body.error)) return null;
  const e = body.error;
  return typeof e.type === 'string' ? e.type : typeof e.code === 'string' ? e.code : 'error';
}

export function classifyOpenAIStreamError(errorType: string): UpstreamFailure {
  // A spent quota is the account's balance, not its pace (refineOpenAIError says why).
  if (errorType === 'insufficient_quota') return { kind: 'server_error', status: 429, outOfCredit: true };
  if (errorType.includes('rate_limit')) return { kind: 'rate_limited', status: 429, retryAfterMs: null };
  if (errorType.includes('overloaded')) return { kind: 'overloaded', status: 503 };
  return { kind: 'server_error', status: 500 };
}

export const openAIChatWire: WireFormat = {
  wire: 'openai-chat',
  meter: (stream) =>
    stream
      ? sseMeter(new OpenAIChatStreamUsage())
      : jsonUsageMeter((body) => (isObject(body) ? openAIChatUsage(body.usage) : null), readOpenAIErrorType),
  classifyStreamError: classifyOpenAIStreamError,
  streamErrorTail: (message) => sseBytes({ error: { message, type: 'api_error', param: null, code: null } }),
};
