// The metering tap: every chunk from the upstream is handed to the client the moment it arrives,
// and a copy is fed to the meter. Nothing is buffered on the way to the client.
import type { Meter, MeterReading } from './meter';

export type StreamOutcome = 'complete' | 'client_abort' | 'upstream_error';

export interface TapResult extends MeterReading {
  outcome: StreamOutcome;
  /** Milliseconds from the tap's creation to the first byte, or null if none came. */
  firstByteMs: number | null;
}

export interface TapOptions {
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
  body: ReadableStream<Uint8Array>,
  meter: Meter,
  { onDone, errorTail, clientSignal }: TapOptions,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const started = Date.now();
  let firstByteMs: number | null = null;
  let done = false;
  const finish = (outcome: StreamOutcome) => {
    if (done) return;
    done = true;
    onDone({ ...meter.finish(), outcome, firstByteMs });
  };
  const abandon = (reason?: unknown) => {
    finish('client_abort');
    reader.cancel(reason).catch(() => {});
  };
  clientSignal?.addEventListener('abort', () => abandon(clientSignal.reason), { once: true });
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          finish('upstream_error');
          const tail = errorTail?.(err);
          if (tail) {
            controller.enqueue(tail);
            controller.close();
          } else {
            controller.error(err);
          }
          return;
        }
        if (chunk.done) {
          controller.close();
          finish('complete');
          return;
        }
        firstByteMs ??= Date.now() - started;
        controller.enqueue(chunk.value);
        meter.push(chunk.value);
      },
      cancel: abandon,
    },
    // Pull only when the client asks: the upstream's own pace reaches the client unchanged.
    { highWaterMark: 0 },
  );
}
