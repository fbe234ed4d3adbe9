// The OpenAI Responses wire (Codex CLI). Streams have `event:` lines and end with
// `response.completed` (or `.incomplete` / `.failed`), whose `response.usage` is the bill:
// `input_tokens` includes cached ones, `output_tokens` includes reasoning ones.

import { count, isObject, parseJson } from '../json';
import { jsonUsageMeter, StreamUsage, sseMeter } from '../metering/meter';
import { sseBytes } from '../metering/sse';
import { emptyUsage, type Usage } from '../metering/usage';
import { classifyOpenAIStreamError, readOpenAIErrorType } from './openai-chat';
import type { WireFormat } from './types';

export function responsesUsage(raw: unknown): Usage | null {
  if (!isObject(raw)) return null;
  const cached = isObject(raw.input_tokens_details) ? count(raw.input_tokens_details.cached_tokens) : 0;
  return {
    ...emptyUsage(),
    inputTokens: Math.max(0, count(raw.input_tokens) - cached),
    outputTokens: count(raw.output_tokens),
    cacheReadTokens: cached,
  };
}

/** The generated text of a `*.delta` event (output text, reasoning summary, function arguments). */
function deltaText(event: unknown): string | null {
  return isObject(event) && typeof event.delta === 'string' ? event.delta : null;
}

const FINAL_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

class ResponsesStreamUsage extends StreamUsage {
  onEvent(event: string, data: string): void {
    if (FINAL_EVENTS.has(event) || event === 'error') {
      const parsed = parseJson(data);
      if (!isObject(parsed)) return;
      const response = isObject(parsed.response) ? parsed.response : null;
      const usage = responsesUsage(response?.usage);
      if (usage) {
        this.usage = usage;
        this.final = true;
      }
      if (event === 'response.failed') {
        const error = response && isObject(response.error) ? response.error : null;
        this.errorType = typeof error?.code === 'string' ? error.code : 'server_error';
      } else if (event === 'error') {
        this.errorType = typeof parsed.code === 'string' ? parsed.code : 'server_error';
      } else {
        this.contentStarted = true;
      }
      return;
    }
    // Created / in_progress / item added are the preamble; the first delta is content.
    if (event.endsWith('.delta')) {
      this.output.add(data, deltaText);
      this.contentStarted = true;
    } else if (event === 'response.output_item.done') {
      this.contentStarted = true;
    }
  }
}

export const openAIResponsesWire: WireFormat = {
  wire: 'openai-responses',
  meter: (stream) =>
    stream
      ? sseMeter(new ResponsesStreamUsage())
      : jsonUsageMeter((body) => (isObject(body) ? responsesUsage(body.usage) : null), readOpenAIErrorType),
  classifyStreamError: classifyOpenAIStreamError,
  streamErrorTail: (message) =>
    sseBytes(
      {
        type: 'response.failed',
        response: {
          id: 'resp_relay',
          object: 'response',
          status: 'failed',
          error: { code: 'server_error', message },
        },
      },
      'response.failed',
    ),
};
