// Reads Anthropic usage objects. `message_start` carries the input side; each `message_delta`
// carries cumulative totals, so every non-null field it has replaces what was seen before.

import { isObject, parseJson } from '../json';
import { type MeterReading, StreamUsage } from '../metering/meter';
import { emptyUsage, type Usage } from '../metering/usage';

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

export function mergeAnthropicUsage(into: Usage, raw: unknown): void {
  if (!isObject(raw)) return;
  if (num(raw.input_tokens)) into.inputTokens = raw.input_tokens;
  if (num(raw.output_tokens)) into.outputTokens = raw.output_tokens;
  if (num(raw.cache_read_input_tokens)) into.cacheReadTokens = raw.cache_read_input_tokens;
  const split = raw.cache_creation;
  if (isObject(split) && (num(split.ephemeral_5m_input_tokens) || num(split.ephemeral_1h_input_tokens))) {
    into.cacheWrite5mTokens = num(split.ephemeral_5m_input_tokens) ? split.ephemeral_5m_input_tokens : 0;
    into.cacheWrite1hTokens = num(split.ephemeral_1h_input_tokens) ? split.ephemeral_1h_input_tokens : 0;
  } else if (num(raw.cache_creation_input_tokens)) {
    // A total without the TTL split (message_delta repeats only the total): keep the split seen in
    // message_start when it still adds up; otherwise the unexplained part is the default 5-minute kind.
    const total = raw.cache_creation_input_tokens;
    if (total !== into.cacheWrite5mTokens + into.cacheWrite1hTokens) {
      into.cacheWrite1hTokens = Math.min(into.cacheWrite1hTokens, total);
      into.cacheWrite5mTokens = total - into.cacheWrite1hTokens;
    }
  }
}

export class AnthropicStreamUsage extends StreamUsage {
  onEvent(event: string, data: string): void {
    switch (event) {
      case 'message_start': {
        const parsed = parseJson(data);
        if (isObject(parsed) && isObject(parsed.message))
          mergeAnthropicUsage(this.usage, parsed.message.usage);
        return;
      }
      case 'message_delta': {
        const parsed = parseJson(data);
        if (isObject(parsed)) {
          mergeAnthropicUsage(this.usage, parsed.usage);
          if (isObject(parsed.usage)) this.final = true;
        }
        return;
      }
      case 'error': {
        const parsed = parseJson(data);
        const type = isObject(parsed) && isObject(parsed.error) ? parsed.error.type : undefined;
        this.errorType = typeof type === 'string' ? type : 'error';
        return;
      }
      case 'content_block_delta':
        this.output.add(data, deltaText);
        this.contentStarted = true;
        return;
      case 'content_block_start':
        this.contentStarted = true;
        return;
    }
  }
}

/** The generated text of a content_block_delta: text, thinking or a tool call's JSON. */
function deltaText(event: unknown): string | null {
  if (!isObject(event) || !isObject(event.delta)) return null;
  const d = event.delta;
  const text = d.text ?? d.thinking ?? d.partial_json;
  return typeof text === 'string' ? text : null;
}

export function readAnthropicBody(body: unknown): MeterReading {
  const usage = emptyUsage();
  if (isObject(body)) {
    mergeAnthropicUsage(usage, body.usage);
    if (body.type === 'error' && isObject(body.error) && typeof body.error.type === 'string') {
      return { usage, errorType: body.error.type, estimated: false };
    }
  }
  return { usage, errorType: null, estimated: false };
}
