// The metering tap. A response body reaches the client as the upstream sends it while a meter
// reads a copy. Two paths:
// - native: the body is split (`tee`); the client's branch is piped by the runtime with no
//   JavaScript per chunk, and the meter reads the other branch in large blocks (one wake-up per
//   16 KiB, not one per token). Used whenever the client gets the upstream's bytes unchanged.
// - JavaScript: each chunk passes through a JS stream, for responses the relay rewrites
//   (conversion, the usage-chunk strip, Bedrock's event stream); it can end a broken stream with
//   an error event in the client's dialect.
// Both hold a stream's preamble (e.g. message_start) until the first content event, so that an
// error right after it can still fail over unseen by the client.
import { concatBytes } from './bytes';
import type { Meter, MeterReading } from './meter';

export type StreamOutcome = 'complete' | 'client_abort' | 'upstream_error';

export interface TapResult extends MeterReading {
  outcome: StreamOutcome;
  /** Milliseconds from the request's start to the first upstream byte, or null if none came. */
  firstByteMs: number | null;
}

/** A metered response body, read up to its first content event (or its end, or an error). */
export interface HeldStream {
  /** Native path: the branch the client reads; null on the JavaScript path. */
  client: ReadableStream<Uint8Array> | null;
  /** The next chunk of the metered body. */
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  /** Stops both the metered body and the client's branch. */
  cancel(reason?: unknown): void;
  /** JavaScript path: chunks already read (and metered) that the client has not been sent yet. */
  held: Uint8Array[];
  firstByteMs: number | null;
  ended: boolean;
  readError: { error: unknown } | null;
  /** No content came before the deadline (the stream was cancelled). */
  timedOut: boolean;
}

/** A read of the metered branch takes what has been buffered, up to the view's size. */
const READ_BYTES = 16 * 1024;
/** Once the body has ended, larger reads: fewer wake-ups for what is left. */
const DRAIN_BYTES = 64 * 1024;

interface NativeSource extends HeldStream {
  client: ReadableStream<Uint8Array>;
  readBlock(): Promise<ReadableStreamReadResult<Uint8Array>>;
}

function heldStream(
  client: ReadableStream<Uint8Array> | null,
  read: () => Promise<ReadableStreamReadResult<Uint8Array>>,
  cancel: (reason?: unknown) => void,
): HeldStream {
  return {
    client,
    read,
    cancel,
    held: [],
    firstByteMs: null,
    ended: false,
    readError: null,
    timedOut: false,
  };
}

/** The JavaScript path's source: one reader, every chunk seen by JavaScript. */
export function unheld(body: ReadableStream<Uint8Array>): HeldStream {
  const reader = body.getReader();
  return heldStream(
    null,
    () => reader.read(),
    (reason) => void reader.cancel(reason).catch(() => {}),
  );
}

/** The native path's source: the body split in two, the client's branch left to the runtime. */
export function teed(body: ReadableStream<Uint8Array>): NativeSource {
  const [client, metered] = body.tee();
  const reader = metered.getReader({ mode: 'byob' });
  // One buffer per request, passed back into each read once the meter has taken the last chunk
  // (meters copy what they keep): a fresh zeroed 64 KiB per read was a visible share of the
  // relay's CPU and of its garbage. A read still pending when another starts gets its own.
  let spare: ArrayBuffer | null = null;
  const into = async (min: number, size: number) => {
    const buffer = spare ?? new ArrayBuffer(DRAIN_BYTES);
    spare = null;
    const result = await reader.readAtLeast(min, new Uint8Array(buffer, 0, size));
    if (result.value) spare = result.value.buffer as ArrayBuffer;
    return result;
  };
  const source = heldStream(
    client,
    () => into(1, READ_BYTES),
    (reason) => {
      void reader.cancel(reason).catch(() => {});
      void client.cancel(reason).catch(() => {});
    },
  );
  return {
    ...source,
    client,
    readBlock: () => into(DRAIN_BYTES, DRAIN_BYTES),
  };
}

export function isNative(source: HeldStream): source is NativeSource {
  return source.client !== null;
}

/**
 * Reads the metered body until its first content event. The caller bounds the wait: stopping the
 * source (`cancel`, after setting `timedOut`) ends it.
 */
export async function holdUntilContent(
  source: HeldStream,
  meter: Meter,
  startedAt: number,
): Promise<HeldStream> {
  const keepsHeld = !isNative(source);
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await source.read();
    } catch (error) {
      source.readError = { error };
      return source;
    }
    if (source.timedOut) return source;
    if (chunk.done) {
      source.ended = true;
      return source;
    }
    source.firstByteMs ??= Date.now() - startedAt;
    if (keepsHeld) source.held.push(chunk.value);
    meter.push(chunk.value);
    const progress = meter.progress();
    if (progress.contentStarted || progress.errorType !== null) return source;
  }
}

export interface TapOptions {
  startedAt: number;
  /** Called once, when the body ends, fails, or the client leaves. */
  onDone: (result: TapResult) => void;
  /** Called as upstream bytes arrive (the idle watchdog's clock). */
  onProgress: () => void;
  /** Native path: the client stopped reading (it hung up); the JavaScript path sees this as cancel. */
  onClientGone?: () => void;
  /** Receives the tap's controls (see TapControl). */
  onControl?: (control: TapControl) => void;
  /**
   * JavaScript path: bytes that end the stream properly in the client's dialect when the
   * upstream fails mid-way (e.g. an SSE error event), so the client does not see a stream that
   * just stops.
   */
  errorTail?: (error: unknown) => Uint8Array | null;
}

/** How the request's settlement drives a tap. */
export interface TapControl {
  /**
   * The client has left: the tap meters what it already holds, ends with `client_abort` and
   * cancels the upstream.
   */
  stop(reason: unknown): void;
  /**
   * The request's periodic tick: the native meter reads what has arrived since the last one (so
   * it wakes once a tick, not once a chunk, and the idle watchdog sees progress).
   */
  tick(): void;
  /**
   * JavaScript path: true when the client has not asked for the next chunk, so a quiet stream
   * is the client's doing, not the upstream's. (A client whose connection is gone may never
   * cancel its body nor abort its signal: the runtime can drop a JS body it could not deliver.)
   */
  clientStopped?(): boolean;
}

/**
 * Meters what the source has already buffered: whatever arrives without waiting. The client has
 * left, but the upstream sent these bytes (its final usage among them, when it finished) and the
 * account is charged for them.
 */
async function drain(source: HeldStream, meter: Meter): Promise<void> {
  for (;;) {
    const next = await Promise.race([
      source.read().catch(() => null),
      new Promise<null>((r) => setTimeout(() => r(null), 0)),
    ]);
    if (next === null || next.done || !next.value) return;
    meter.push(next.value);
  }
}

function finisher(meter: Meter, options: TapOptions, source: HeldStream) {
  let done = false;
  return (outcome: StreamOutcome) => {
    if (done) return;
    done = true;
    options.onDone({ ...meter.finish(), outcome, firstByteMs: source.firstByteMs });
  };
}

/** The JavaScript path: every chunk goes to the client the moment it arrives, a copy to the meter. */
export function meterStream(
  source: HeldStream,
  meter: Meter,
  options: TapOptions,
): ReadableStream<Uint8Array> {
  const { held } = source;
  const { startedAt, errorTail, onProgress } = options;
  const finish = finisher(meter, options, source);
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
  // Whether the client has asked for a chunk the upstream has not sent yet.
  let asked = false;
  let stopped = false;
  const stop = async (reason: unknown) => {
    if (stopped) return;
    stopped = true;
    await drain(source, meter);
    finish('client_abort');
    source.cancel(reason);
  };
  const stream = new ReadableStream<Uint8Array>(
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
        asked = true;
        try {
          chunk = await source.read();
        } catch (err) {
          if (!stopped) fail(controller, err);
          return;
        } finally {
          asked = false;
        }
        // A read the client's leaving overtook: metered, and the ending is stop()'s to say.
        if (stopped) {
          if (chunk.value) meter.push(chunk.value);
          return;
        }
        if (chunk.done) {
          controller.close();
          finish('complete');
          return;
        }
        source.firstByteMs ??= Date.now() - startedAt;
        onProgress();
        controller.enqueue(chunk.value);
        meter.push(chunk.value);
      },
      cancel: stop,
    },
    // Pull only when the client asks: the upstream's own pace reaches the client unchanged.
    { highWaterMark: 0 },
  );
  options.onControl?.({
    stop: (reason) => void stop(reason),
    tick() {},
    clientStopped: () => !asked,
  });
  return stream;
}

/**
 * The native path. The client's branch is piped by the runtime into what the client reads; the
 * meter reads its own branch once per tick of the request (each read takes everything buffered
 * since the last), and the rest at the end: a request wakes JavaScript a few times however many
 * chunks it streams. (A large minimum read on one branch would starve the other: the runtime
 * reads the source for both.) A body that fails mid-way fails the client's branch too: the
 * client sees its connection end rather than an error event (docs/architecture.md).
 */
export function meterNative(
  source: HeldStream,
  meter: Meter,
  options: TapOptions,
): ReadableStream<Uint8Array> {
  if (!isNative(source)) throw new Error('meterNative needs a teed source');
  const finish = finisher(meter, options, source);
  const { startedAt, onProgress } = options;
  const out = new IdentityTransformStream();
  let piped = false;
  // The pipe's end is the one moment JavaScript hears from the client's side. It fails when the
  // client hangs up, and when the upstream fails (which the meter sees at once): deciding a turn
  // later tells the two apart.
  const pipe = source.client.pipeTo(out.writable).then(
    () => {
      piped = true;
    },
    () => {
      setTimeout(() => options.onClientGone?.(), 0);
    },
  );
  // A holder, not a variable: it is set from a callback, which flow analysis cannot see.
  const stop: { requested: { reason: unknown } | null } = { requested: null };
  let wake: () => void = () => {};
  const pause = () => Promise.race([pipe, new Promise<void>((r) => (wake = r))]);
  options.onControl?.({
    stop(reason) {
      stop.requested = { reason };
      wake();
    },
    tick: () => wake(),
  });
  void (async () => {
    if (source.readError) return finish('upstream_error');
    if (source.ended) return finish('complete');
    try {
      for (;;) {
        if (!piped && !stop.requested) await pause();
        if (stop.requested) {
          await drain(source, meter);
          finish('client_abort');
          source.cancel(stop.requested.reason);
          return;
        }
        // Once the client's branch is done the source has ended: large reads starve nothing.
        const { done, value } = piped ? await source.readBlock() : await source.read();
        if (value && value.byteLength > 0) {
          source.firstByteMs ??= Date.now() - startedAt;
          onProgress();
          meter.push(value);
        }
        if (done) return finish('complete');
      }
    } catch {
      finish(stop.requested ? 'client_abort' : 'upstream_error');
    }
  })();
  return out.readable;
}
