// A meter reads usage out of a response body as its bytes pass by. Providers build their meters
// from the two generic shapes here: SSE streams and whole JSON bodies.
import { concatBytes } from './bytes';
import { SseParser } from './sse';
import { emptyUsage, type Usage } from './usage';

export interface Meter {
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

/** The bookkeeping every SSE usage reader shares; each wire adds how it reads its own events. */
export abstract class StreamUsage implements SseUsageReader {
  protected usage: Usage = emptyUsage();
  protected errorType: string | null = null;
  /** Set once the first content event passes: from then on a failure cannot be retried. */
  protected contentStarted = false;

  abstract onEvent(event: string, data: string): void;

  reading(): MeterReading {
    return { usage: { ...this.usage }, errorType: this.errorType };
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
  return jsonMeter(
    (body) => ({ usage: usageOf(body) ?? emptyUsage(), errorType: errorOf(body) }),
    () => ({ usage: emptyUsage(), errorType: null }),
  );
}

/** Keeps a copy of a JSON body while it streams through, parsing it once at the end. */
export function jsonMeter(read: (body: unknown) => MeterReading, empty: () => MeterReading): Meter {
  const chunks: Uint8Array[] = [];
  return {
    push: (chunk) => void chunks.push(chunk),
    progress: () => ({ contentStarted: true, errorType: null }),
    finish() {
      try {
        const text = new TextDecoder().decode(concatBytes(chunks));
        return read(JSON.parse(text));
      } catch {
        return empty();
      }
    },
  };
}
