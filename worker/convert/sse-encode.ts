// Client-side SSE framing, and the TransformStream that runs a translator over parsed upstream
// events: each upstream chunk yields at most one enqueue, written as soon as its events are complete.
import { SseParser } from '../metering/sse';

/** Turns one upstream SSE event into client SSE text ('' for nothing); `end` runs once at the close. */
export interface SseTranslator {
  event(name: string, data: string): string;
  end(): string;
}

export { DONE_EVENT, dataEvent, namedEvent } from '../metering/sse';

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
