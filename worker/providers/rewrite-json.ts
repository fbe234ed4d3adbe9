// A whole JSON answer rewritten into another shape once it has arrived (Bedrock's answers into
// Anthropic's, Code Assist's wrapped answers into the Gemini API's). Only for JSON bodies: streams
// are transformed event by event, never gathered.
/**
 * Rewrites a whole JSON body once it has arrived; a body the rewrite does not recognise (an
 * error, a shape AWS changed) passes on unchanged.
 */
export function rewriteJson(rewrite: (json: unknown) => unknown): TransformStream<Uint8Array, Uint8Array> {
  const parts: Uint8Array[] = [];
  return new TransformStream({
    transform(chunk) {
      parts.push(chunk);
    },
    flush(controller) {
      const body = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
      let at = 0;
      for (const part of parts) {
        body.set(part, at);
        at += part.length;
      }
      let rewritten: unknown = null;
      try {
        rewritten = rewrite(JSON.parse(new TextDecoder().decode(body)));
      } catch {
        rewritten = null;
      }
      controller.enqueue(rewritten === null ? body : new TextEncoder().encode(JSON.stringify(rewritten)));
    },
  });
}
