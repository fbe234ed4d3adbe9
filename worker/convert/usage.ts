// Token counts across wires. OpenAI's `prompt_tokens` includes cached tokens; Anthropic's
// `input_tokens` excludes cache reads and cache writes, which it reports beside it.
import { isObject, numberOr } from '../json';
import { cachedPromptTokens } from '../wires/openai-chat';

export interface AnthropicUsage {
  input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

/** Anthropic usage as counted so far in a message (message_start, then message_delta updates). */
export interface AnthropicCounts {
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
}

export function anthropicUsageFromOpenAI(usage: unknown): AnthropicUsage {
  if (!isObject(usage)) return { input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 };
  const prompt = numberOr(usage.prompt_tokens) ?? 0;
  // The same reading as the bill's (DeepSeek's and Kimi's names for cache hits included).
  const cached = cachedPromptTokens(usage);
  return {
    input_tokens: prompt - cached,
    cache_read_input_tokens: cached,
    output_tokens: numberOr(usage.completion_tokens) ?? 0,
  };
}

export function emptyCounts(): AnthropicCounts {
  return { input: 0, cacheRead: 0, cacheWrite: 0, output: 0 };
}

/** Folds an Anthropic `usage` object into the counts: fields it carries replace earlier ones. */
export function updateCounts(counts: AnthropicCounts, usage: unknown): void {
  if (!isObject(usage)) return;
  counts.input = numberOr(usage.input_tokens) ?? counts.input;
  counts.cacheRead = numberOr(usage.cache_read_input_tokens) ?? counts.cacheRead;
  counts.cacheWrite = numberOr(usage.cache_creation_input_tokens) ?? counts.cacheWrite;
  counts.output = numberOr(usage.output_tokens) ?? counts.output;
}

export function openAIUsageFromAnthropic(counts: AnthropicCounts): OpenAIUsage {
  const prompt = counts.input + counts.cacheRead + counts.cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: counts.output,
    total_tokens: prompt + counts.output,
    prompt_tokens_details: { cached_tokens: counts.cacheRead },
  };
}
