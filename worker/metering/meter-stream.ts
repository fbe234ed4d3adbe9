// The metering tap: every chunk from the upstream is handed to the client the moment it arrives,
// and a copy is fed to the meter. The one exception is a stream's preamble (e.g. message_start),
// held until the first content event so that an error right after it can still fail over.
import { concatBytes } from './bytes';
import type { Meter, MeterReading } from './meter';

export type StreamOutcome = 'complete' | 'client_abort' | 'upstream_error';

export interface TapResult extends MeterReading {
  outcome: StreamOutcome;
  /** Milliseconds from the request's start to the first upstream byte, or null if none came. */
  firstByteMs: number | null;
}

/** A response body read up to its first content event (or its end, or an error). */
export interface HeldStream {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Chunks already read (and metered), not yet sent to the client. */
  held: Uint8Array[];
  firstByteMs: number | null;
  ended: boolean;
  readError: { error: unknown } | null;
  /** No content came before the deadline (the stream was cancelled). */
  timedOut: boolean;
}

export async function holdUntilContent(
  body: ReadableStream<Uint8Array>,
  meter: Meter,
  startedAt: number,
  timeoutMs: number,
): Promise<HeldStream> {
  const reader = body.getReader();
  const held: HeldStream = {
    reader,
    held: [],
    firstByteMs: null,
    ended: false,
    readError: null,
    timedOut: false,
  };
  // An upstream that opens a stream and then says nothing is as stuck as one that never answers.
  const timer = setTimeout(() => {
    held.timedOut = true;
    reader.cancel().catch(() => {});
  }, timeoutMs);
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        held.readError = { error };
        return held;
      }
      if (held.timedOut) return held;
      if (chunk.done) {
        held.ended = true;
        return held;
      }
      held.firstByteMs ??= Date.now() - startedAt;
      held.held.push(chunk.value);
      meter.push(chunk.value);
      const progress = meter.progress();
      if (progress.contentStarted || progress.errorType !== null) return held;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** A response body not held at all (a JSON body): the tap starts at its first byte. */
export function unheld(body: ReadableStream<Uint8Array>): HeldStream {
  return {
    reader: body.getReader(),
    held: [],
    firstByteMs: null,
    ended: false,
    readError: null,
    timedOut: false,
  };
}

export interface TapOptions {
  startedAt: number;
  onDone: (result: TapResult) => void;
  /**
   * Bytes that end the stream properly in the client's dialect when the upstream fails mid-way
   * (e.g. an SSE error event), so a client never sees a stream that just stops.
   */
  errorTail?: (error: unknown) => Uint8Array | null;
  /** The client's request signal: it aborts when the client disconnects. */
  clientSignal?: AbortSignal;
}

export function meterStream(
  source: HeldStream,
  meter: Meter,
  { startedAt, onDone, errorTail, clientSignal }: TapOptions,
): ReadableStream<Uint8Array> {
  const { reader, held } = source;
  let firstByteMs = source.firstByteMs;
  let done = false;
  const finish = (outcome: StreamOutcome) => {
    if (done) return;
    done = true;
    onDone({ ...meter.finish(), outcome, firstByteMs });
  };
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, error: unknown) => {
    finish('upstream_error');
    const tail = errorTail?.(error);
    if (tail) {
      controller.enqueue(tail);
      controller.close();
    } else {
      controller.error(error);
    }
  };
  const abandon = (reason?: unknown) => {
    finish('client_abort');
    reader.cancel(reason).catch(() => {});
  };
  clientSignal?.addEventListener('abort', () => abandon(clientSignal.reason), { once: true });
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const first = held.shift();
        if (first) {
          // The held preamble goes out as one chunk, together with the first content event.
          const rest = held.splice(0);
          controller.enqueue(rest.length === 0 ? first : concatBytes([first, ...rest]));
          return;
        }
        if (source.ended) {
          controller.close();
          finish('complete');
          return;
        }
        if (source.readError) {
          fail(controller, source.readError.error);
          return;
        }
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          fail(controller, err);
          return;
        }
        if (chunk.done) {
          controller.close();
          finish('complete');
          return;
        }
        firstByteMs ??= Date.now() - startedAt;
        controller.enqueue(chunk.value);
        meter.push(chunk.value);
      },
      cancel: abandon,
    },
    // Pull only when the client asks: the upstream's own pace reaches the client unchanged.
    { highWaterMark: 0 },
  );
}
