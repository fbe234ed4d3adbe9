// The Gemini generateContent wire. Every stream chunk is a whole response; the last
// `usageMetadata` is the bill. `promptTokenCount` includes cached tokens; thoughts are billed as output.
import {
  jsonMeter,
  type MeterReading,
  type SseUsageReader,
  type StreamProgress,
  sseMeter,
} from '../metering/meter';
import { emptyUsage, type Usage } from '../metering/usage';
import type { UpstreamFailure } from '../providers/types';
import { count, isObject, parseJson } from './json';
import { sseEvent } from './sse-encode';
import type { WireFormat } from './types';

export function geminiUsage(raw: unknown): Usage | null {
  if (!isObject(raw)) return null;
  const cached = count(raw.cachedContentTokenCount);
  return {
    ...emptyUsage(),
    inputTokens: Math.max(0, count(raw.promptTokenCount) - cached),
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

class GeminiStreamUsage implements SseUsageReader {
  private usage = emptyUsage();
  private errorType: string | null = null;
  private contentStarted = false;

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
    if (!this.contentStarted && hasParts(parsed)) this.contentStarted = true;
  }

  reading(): MeterReading {
    return { usage: { ...this.usage }, errorType: this.errorType };
  }

  progress(): StreamProgress {
    return { contentStarted: this.contentStarted, errorType: this.errorType };
  }
}

export const geminiWire: WireFormat = {
  wire: 'gemini',
  meter: (stream) =>
    stream
      ? sseMeter(new GeminiStreamUsage())
      : jsonMeter(
          (body) => ({
            usage: (isObject(body) ? geminiUsage(body.usageMetadata) : null) ?? emptyUsage(),
            errorType: googleErrorStatus(body),
          }),
          () => ({ usage: emptyUsage(), errorType: null }),
        ),
  classifyStreamError(status: string): UpstreamFailure {
    if (status === 'RESOURCE_EXHAUSTED') return { kind: 'rate_limited', status: 429, retryAfterMs: null };
    if (status === 'UNAVAILABLE') return { kind: 'overloaded', status: 503 };
    return { kind: 'server_error', status: 500 };
  },
  streamErrorTail: (message) => sseEvent({ error: { code: 502, message, status: 'UNAVAILABLE' } }),
};
