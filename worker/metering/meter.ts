// A meter reads usage out of a response body as its bytes pass by. Providers build their meters
// from the two generic shapes here: SSE streams and whole JSON bodies.
import { concatBytes } from './bytes';
import { SseParser } from './sse';
import type { Usage } from './usage';

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
