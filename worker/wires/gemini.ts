// The Gemini generateContent wire. Every stream chunk is a whole response; the last
// `usageMetadata` is the bill. `promptTokenCount` includes cached tokens; thoughts are billed as
// output; what Google's own tools fed the model (a search's results: `toolUsePromptTokenCount`,
// counted apart from the prompt and in the total) is billed as input.

import { count, isObject, parseJson } from '../json';
import { jsonUsageMeter, StreamUsage, sseMeter } from '../metering/meter';
import { sseBytes } from '../metering/sse';
import { emptyUsage, type Usage } from '../metering/usage';
import type { UpstreamFailure } from '../providers/types';
import type { WireFormat } from './types';

export function geminiUsage(raw: unknown): Usage | null {
  if (!isObject(raw)) return null;
  const cached = count(raw.cachedContentTokenCount);
  return {
    ...emptyUsage(),
    inputTokens: Math.max(0, count(raw.promptTokenCount) - cached) + count(raw.toolUsePromptTokenCount),
    outputTokens: count(raw.candidatesTokenCount) + count(raw.thoughtsTokenCount),
    cacheReadTokens: cached,
  };
}

function googleErrorStatus(body: unknown): string | null {
  if (!isObject(body) || !isObject(body.error)) return null;
  return typeof body.error.status === 'string' ? body.error.status : 'UNKNOWN';
}

function hasParts(chunk: Record<string, unknown>): boolean {
  const candidates = chunk.candidates;
  if (!Array.isArray(candidates)) return false;
  const first = candidates[0];
  if (!isObject(first)) return false;
  if (first.finishReason) return true;
  return isObject(first.content) && Array.isArray(first.content.parts) && first.content.parts.length > 0;
}

class GeminiStreamUsage extends StreamUsage {
  onEvent(_event: string, data: string): void {
    const parsed = parseJson(data);
    if (!isObject(parsed)) return;
    const status = googleErrorStatus(parsed);
    if (status) {
      this.errorType = status;
      return;
    }
    const usage = geminiUsage(parsed.usageMetadata);
    if (usage) this.usage = usage;
    const candidate = Array.isArray(parsed.candidates) ? parsed.candidates[0] : undefined;
    if (isObject(candidate)) {
      // Every chunk carries the counts so far; the one with a finish reason carries the bill.
      if (candidate.finishReason && usage) this.final = true;
      if (isObject(candidate.content) && Array.isArray(candidate.content.parts)) {
        for (const part of candidate.content.parts)
          if (isObject(part) && typeof part.text === 'string') this.output.addText(part.text);
      }
    }
    if (!this.contentStarted && hasParts(parsed)) this.contentStarted = true;
  }
}

export const geminiWire: WireFormat = {
  wire: 'gemini',
  meter: (stream) =>
    stream
      ? sseMeter(new GeminiStreamUsage())
      : jsonUsageMeter(
          (body) => (isObject(body) ? geminiUsage(body.usageMetadata) : null),
          googleErrorStatus,
        ),
  classifyStreamError(status: string): UpstreamFailure {
    if (status === 'RESOURCE_EXHAUSTED') return { kind: 'rate_limited', status: 429, retryAfterMs: null };
    if (status === 'UNAVAILABLE') return { kind: 'overloaded', status: 503 };
    return { kind: 'server_error', status: 500 };
  },
  streamErrorTail: (message) => sseBytes({ error: { code: 502, message, status: 'UNAVAILABLE' } }),
};
