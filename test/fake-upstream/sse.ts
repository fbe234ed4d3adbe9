// Server-sent event framing shared by the providers that stream over SSE.
import type { Json } from './reply';

/** An event with an `event:` line, as Anthropic and the OpenAI Responses API send. */
export function namedEvent(type: string, data: Json): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A `data:`-only event, as OpenAI chat completions send; Gemini ends its events with `\r\n\r\n` instead. */
export function dataEvent(data: Json | string, end = '\n\n'): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}${end}`;
}
