// The Anthropic Messages wire: usage from message_start / message_delta, errors as `event: error`.
import { jsonMeter, sseMeter } from '../metering/meter';
import { sseBytes } from '../metering/sse';
import type { UpstreamFailure } from '../providers/types';
import { AnthropicStreamUsage, readAnthropicBody } from './anthropic-usage';
import type { WireFormat } from './types';

export const anthropicWire: WireFormat = {
  wire: 'anthropic',
  meter: (stream) => (stream ? sseMeter(new AnthropicStreamUsage()) : jsonMeter(readAnthropicBody)),
  classifyStreamError(errorType: string): UpstreamFailure {
    if (errorType === 'overloaded_error') return { kind: 'overloaded', status: 529 };
    if (errorType === 'rate_limit_error') return { kind: 'rate_limited', status: 429, retryAfterMs: null };
    return { kind: 'server_error', status: 500 };
  },
  streamErrorTail: (message) => sseBytes({ type: 'error', error: { type: 'api_error', message } }, 'error'),
};
