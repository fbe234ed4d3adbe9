// A meter reads usage out of a response body as its bytes pass by. Providers build their meters
// from the two generic shapes here: SSE streams and whole JSON bodies.
import { concatBytes } from './bytes';
import { SseParser } from './sse';
import { emptyUsage, type Usage } from './usage';

export interface Meter {
  /** The chunk is lent: its bytes may be reused once this returns; copy what is kept. */
  push(chunk: Uint8Array): void;
  /** What the stream has shown so far: failover is possible only until content starts. */
  progress(): StreamProgress;
  /** Called once when the body ends (or is cut off); returns what was seen. */
  finish(): MeterReading;
}

export interface StreamProgress {
  contentStarted: boolean;
  errorType: string | null;
}

export interface MeterReading {
  usage: Usage;
  /** The upstream reported an error inside a 200 response (e.g. an SSE `error` event). */
  errorType: string | null;
  /**
   * The upstream's own final count never came (the stream was cut off): the output tokens are an
   * estimate from what was streamed, never less than what the upstream had reported.
   */
  estimated: boolean;
}

export interface SseUsageReader {
  onEvent(event: string, data: string): void;
  reading(): MeterReading;
  progress(): StreamProgress;
}

export function sseMeter(reader: SseUsageReader): Meter {
  const parser = new SseParser((event, data) => reader.onEvent(event, data));
  return {
    push: (chunk) => parser.push(chunk),
    progress: () => reader.progress(),
    finish() {
      parser.end();
      return reader.reading();
    },
  };
}

/**
 * Output tokens of a stream that was cut off, from the content events that passed. Counting is a
 * length addition per event; only the first few events are parsed, to learn how long an event's
 * envelope is and how many UTF-8 bytes a character of this answer takes (CJK text is about three
 * bytes a character and a token a character; English about four characters a token): tokens are
 * estimated at four UTF-8 bytes each.
 */
export class OutputEstimate {
  private chars = 0;
  private events = 0;
  private samples = 0;
  private envelope = Number.POSITIVE_INFINITY;
  private sampleChars = 0;
  private sampleBytes = 0;

  /** A content event as it came; `text` reads its generated text from the parsed event. */
  add(data: string, text: (event: unknown) => string | null): void {
    this.chars += data.length;
    this.events++;
    if (this.samples >= OutputEstimate.SAMPLES) return;
    let generated: string | null = null;
    try {
      generated = text(JSON.parse(data));
    } catch {
      // Not JSON: counted by length only.
    }
    if (generated === null) return;
    this.samples++;
    this.envelope = Math.min(this.envelope, data.length - (JSON.stringify(generated).length - 2));
    this.sampleChars += generated.length;
    this.sampleBytes += utf8Length(generated);
  }

  /** Text known exactly (a wire that parses every event anyway). */
  addText(generated: string): void {
    this.chars += generated.length;
    this.sampleChars += generated.length;
    this.sampleBytes += utf8Length(generated);
    this.samples = OutputEstimate.SAMPLES;
    this.envelope = 0;
  }

  tokens(): number {
    const envelope = Number.isFinite(this.envelope) ? Math.max(0, this.envelope) : 0;
    const chars = Math.max(0, this.chars - this.events * envelope);
    const bytesPerChar = this.sampleChars > 0 ? this.sampleBytes / this.sampleChars : 1;
    return Math.ceil((chars * bytesPerChar) / 4);
  }

  private static readonly SAMPLES = 8;
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** The bookkeeping every SSE usage reader shares; each wire adds how it reads its own events. */
export abstract class StreamUsage implements SseUsageReader {
  protected usage: Usage = emptyUsage();
  protected errorType: string | null = null;
  /** Set once the first content event passes: from then on a failure cannot be retried. */
  protected contentStarted = false;
  /** Set when the upstream's final usage arrives: nothing after it needs estimating. */
  protected final = false;
  protected readonly output = new OutputEstimate();

  abstract onEvent(event: string, data: string): void;

  reading(): MeterReading {
    const usage = { ...this.usage };
    const estimated = !this.final && this.contentStarted;
    if (estimated) usage.outputTokens = Math.max(usage.outputTokens, this.output.tokens());
    return { usage, errorType: this.errorType, estimated };
  }

  progress(): StreamProgress {
    return { contentStarted: this.contentStarted, errorType: this.errorType };
  }
}

/** A meter for a whole JSON body, from a wire's readers of its usage and of its error type. */
export function jsonUsageMeter(
  usageOf: (body: unknown) => Usage | null,
  errorOf: (body: unknown) => string | null,
): Meter {
  return jsonMeter((body) => ({
    usage: usageOf(body) ?? emptyUsage(),
    errorType: errorOf(body),
    estimated: false,
  }));
}

/**
 * Keeps a copy of a JSON body while it streams through, parsing it once at the end. A body cut
 * off before its end cannot be read: its output is estimated from the bytes that came.
 */
export function jsonMeter(read: (body: unknown) => MeterReading): Meter {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  return {
    push(chunk) {
      chunks.push(chunk.slice());
      bytes += chunk.byteLength;
    },
    progress: () => ({ contentStarted: true, errorType: null }),
    finish() {
      try {
        const text = new TextDecoder().decode(concatBytes(chunks));
        return read(JSON.parse(text));
      } catch {
        const usage = emptyUsage();
        usage.outputTokens = Math.ceil(bytes / 4);
        return { usage, errorType: null, estimated: bytes > 0 };
      }
    },
  };
}
