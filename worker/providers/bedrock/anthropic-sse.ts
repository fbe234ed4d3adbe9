// Bedrock's streamed Claude answer (binary event-stream frames, each wrapping one base64 Anthropic
// event) → the Anthropic SSE a direct stream would have carried, so the Anthropic wire meters it.
import { sseBytes } from '../../metering/sse';
import { anthropicErrorType } from './anthropic-error';
import { EventStreamDecoder, type EventStreamMessage } from './event-stream';

interface StreamFailure {
  type: string;
  message: string;
}

const utf8 = new TextDecoder();

export function anthropicSseFromEventStream(): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new EventStreamDecoder();
  let ended = false;
  // An upstream failure always reaches the client as an Anthropic `error` event, never as a
  // silent close; terminating also cancels the upstream body, which nothing will read any more.
  const fail = (controller: TransformStreamDefaultController<Uint8Array>, failure: StreamFailure): void => {
    ended = true;
    controller.enqueue(errorEvent(failure));
    controller.terminate();
  };
  return new TransformStream({
    transform(chunk, controller) {
      if (ended) return;
      try {
        for (const message of decoder.push(chunk)) {
          const failure = failureOf(message);
          if (failure) return fail(controller, failure);
          const event = anthropicEvent(message);
          if (event) controller.enqueue(event);
        }
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        fail(controller, {
          type: 'api_error',
          message: `Bedrock's event stream could not be decoded: ${reason}`,
        });
      }
    },
    flush(controller) {
      if (!ended && decoder.pendingBytes > 0) {
        controller.enqueue(
          errorEvent({ type: 'api_error', message: "Bedrock's event stream ended mid-frame." }),
        );
      }
    },
  });
}

/** A `chunk` frame as one SSE event; other event types (none are documented) are dropped. */
function anthropicEvent(message: EventStreamMessage): Uint8Array | null {
  if (message.headers[':event-type'] !== 'chunk') return null;
  const wrapper = parseJson(utf8.decode(message.payload));
  if (!isObject(wrapper) || typeof wrapper.bytes !== 'string') {
    throw new Error('a chunk frame has no `bytes`');
  }
  const text = utf8.decode(fromBase64(wrapper.bytes));
  const event = parseJson(text);
  if (!isObject(event) || typeof event.type !== 'string')
    throw new Error('a chunk is not an Anthropic event');
  // Passed on byte for byte unless a line break would split the SSE `data:` line.
  return sseBytes(/[\r\n]/.test(text) ? JSON.stringify(event) : text, event.type);
}

function failureOf(message: EventStreamMessage): StreamFailure | null {
  const { headers } = message;
  switch (headers[':message-type']) {
    case 'exception': {
      const exception = headers[':exception-type'] ?? 'exception';
      const body = parseJson(utf8.decode(message.payload));
      const detail = isObject(body) && typeof body.message === 'string' ? body.message : 'no details given';
      const original =
        isObject(body) && typeof body.originalStatusCode === 'number' ? body.originalStatusCode : null;
      return {
        type: anthropicErrorType(exception, original),
        message: `Bedrock ${exception}: ${detail}`,
      };
    }
    case 'error':
      return {
        type: 'api_error',
        message: `Bedrock stream error ${headers[':error-code'] ?? ''}: ${headers[':error-message'] ?? ''}`,
      };
    default:
      return null;
  }
}

function errorEvent({ type, message }: StreamFailure): Uint8Array {
  return sseBytes({ type: 'error', error: { type, message } }, 'error');
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
