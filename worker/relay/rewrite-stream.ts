// Stream rewrites the relay applies after the metering tap, when the client must not see the
// upstream's bytes as they are.

import { parseJson } from '../json';
import { concatBytes } from '../metering/bytes';

/**
 * Drops OpenAI's usage-only chunk (`"choices":[]` with `usage`) that the relay asked for on the
 * client's behalf; every other event passes through byte for byte, as soon as it is complete.
 */
export function stripOpenAIUsageChunk(): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = '';
  const emit = (event: string, controller: TransformStreamDefaultController<Uint8Array>) => {
    if (!(event.includes('"choices":[]') && event.includes('"usage":{')))
      controller.enqueue(encoder.encode(event));
  };
  return new TransformStream({
    transform(chunk, controller) {
      pending += decoder.decode(chunk, { stream: true });
      let end = pending.indexOf('\n\n');
      while (end !== -1) {
        emit(pending.slice(0, end + 2), controller);
        pending = pending.slice(end + 2);
        end = pending.indexOf('\n\n');
      }
    },
    flush(controller) {
      pending += decoder.decode();
      if (pending) emit(pending, controller);
    },
  });
}

/**
 * A whole JSON body converted to another shape. Only for non-stream bodies, which are one JSON
 * document: there is nothing to send before the end.
 */
export function convertJson(convert: (json: unknown) => unknown): TransformStream<Uint8Array, Uint8Array> {
  const chunks: Uint8Array[] = [];
  return new TransformStream({
    transform(chunk) {
      chunks.push(chunk);
    },
    flush(controller) {
      const text = new TextDecoder().decode(concatBytes(chunks));
      controller.enqueue(new TextEncoder().encode(JSON.stringify(convert(parseJson(text) ?? null))));
    },
  });
}
