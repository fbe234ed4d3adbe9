// Client-side SSE framing, and the TransformStream that runs a translator over parsed upstream
// events: each upstream chunk yields at most one enqueue, written as soon as its events are complete.
import { SseParser } from '../metering/sse';

/** Turns one upstream SSE event into client SSE text ('' for nothing); `end` runs once at the close. */
export interface SseTranslator {
  event(name: string, data: string): string;
  end(): string;
}

/** An Anthropic-style event: `event:` line for the SDK's dispatch, then the JSON payload. */
export function namedEvent(name: string, payload: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`;
}

/** An OpenAI-style `data:`-only event. */
export function dataEvent(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

export const DONE_EVENT = 'data: [DONE]\n\n';

export function translateSse(translator: SseTranslator): TransformStream<Uint8Array, Uint8Array> {
  const encoder = new TextEncoder();
  let out = '';
  const parser = new SseParser((name, data) => {
    out += translator.event(name, data);
  });
  const drain = (controller: TransformStreamDefaultController<Uint8Array>) => {
    if (out === '') return;
    controller.enqueue(encoder.encode(out));
    out = '';
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      parser.push(chunk);
      drain(controller);
    },
    flush(controller) {
      parser.end();
      out += translator.end();
      drain(controller);
    },
  });
}
