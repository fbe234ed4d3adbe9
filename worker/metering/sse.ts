// Server-Sent Events in and out. The parser is fed raw chunks as they pass and reports each
// complete event (name and joined data) without holding more than one partial line.
export type SseEventHandler = (event: string, data: string) => void;

export class SseParser {
  private readonly decoder = new TextDecoder();
  private pending = '';
  private event = '';
  private data: string[] = [];

  constructor(private readonly onEvent: SseEventHandler) {}

  push(chunk: Uint8Array): void {
    this.pending += this.decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let end = this.pending.indexOf('\n'); end !== -1; end = this.pending.indexOf('\n', start)) {
      const line =
        end > start && this.pending.charCodeAt(end - 1) === 13
          ? this.pending.slice(start, end - 1)
          : this.pending.slice(start, end);
      start = end + 1;
      this.line(line);
    }
    this.pending = this.pending.slice(start);
  }

  /** A stream that ends without a trailing blank line still delivers its last event. */
  end(): void {
    this.pending += this.decoder.decode();
    if (this.pending) this.line(this.pending);
    this.pending = '';
    this.line('');
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) this.onEvent(this.event || 'message', this.data.join('\n'));
      this.event = '';
      this.data = [];
    } else if (line.startsWith('data:')) {
      this.data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
    } else if (line.startsWith('event:')) {
      this.event = (line.charCodeAt(6) === 32 ? line.slice(7) : line.slice(6)).trim();
    }
  }
}

/** An Anthropic-style event: `event:` line for the SDK's dispatch, then the JSON payload. */
export function namedEvent(name: string, payload: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`;
}

/** An OpenAI- or Gemini-style `data:`-only event. */
export function dataEvent(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

export const DONE_EVENT = 'data: [DONE]\n\n';

const encoder = new TextEncoder();

/** The bytes of one event, named or data-only; a string payload is taken as JSON text already. */
export function sseBytes(payload: unknown, event?: string): Uint8Array {
  const json = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return encoder.encode(event ? `event: ${event}\ndata: ${json}\n\n` : `data: ${json}\n\n`);
}
