// Turns a provider's planned reply into a Response, pacing stream chunks and recording what the client was sent.
import type { Exchange } from './control';
import type { Interruption } from './scenarios';

export type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

export interface JsonReply {
  readonly kind: 'json';
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Json;
  readonly usage: Json | null;
  readonly text: string | null;
}

/** Text for SSE and JSON streams; bytes for binary framings such as AWS event streams. */
export type Chunk = string | Uint8Array;

export type StreamStep =
  | {
      readonly kind: 'send';
      readonly chunk: Chunk;
      readonly phase?: StreamEvent['phase'];
      readonly usage?: Json;
      readonly text?: string;
    }
  | { readonly kind: 'drop' }
  | { readonly kind: 'stall'; readonly forMs: number };

export interface StreamReply {
  readonly kind: 'stream';
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Wait before each generated piece (text delta, drop, stall), so a reader sees chunks arrive over time. */
  readonly chunkDelayMs: number;
  /** Wait once, after the start event (before the first step when there is none). */
  readonly firstContentDelayMs?: number;
  /** Produced whole without waiting for the reader (scenario `burst`). */
  readonly eager?: boolean;
  readonly steps: readonly StreamStep[];
}

export type Reply = JsonReply | StreamReply;

/** One wire event of a full stream; `start` and `delta` mark where an interruption may cut it. */
export interface StreamEvent {
  readonly chunk: Chunk;
  readonly phase: 'start' | 'delta' | 'other';
  /** The cumulative usage and text a client knows once it has this event. */
  readonly usage?: Json;
  readonly text?: string;
}

function send(event: StreamEvent): StreamStep {
  return { kind: 'send', ...event };
}

/**
 * The steps of a stream, cut by the scenario's interruption: after the start event, or after the Nth
 * text delta (the last one when there are fewer), it ends with the provider's error event, a dropped
 * connection or a stall. A stream with no start event (Gemini's chunks all carry text) starts at its
 * first delta. The error event may depend on how many events went before it (a sequence number).
 */
export function streamSteps(
  events: readonly StreamEvent[],
  interruption: Interruption | null,
  errorEvent: Chunk | ((sent: number) => Chunk),
): StreamStep[] {
  if (interruption === null) return events.map(send);
  const deltas = events.flatMap((event, index) => (event.phase === 'delta' ? [index] : []));
  const startIndex = events.findIndex((event) => event.phase === 'start');
  const start = startIndex === -1 ? (deltas[0] ?? -1) : startIndex;
  const cut =
    interruption.afterDeltas === 0
      ? start
      : (deltas[Math.min(interruption.afterDeltas, deltas.length) - 1] ?? start);
  const ending: StreamStep =
    interruption.ending === 'error_event'
      ? { kind: 'send', chunk: typeof errorEvent === 'function' ? errorEvent(cut + 1) : errorEvent }
      : interruption.ending === 'drop'
        ? { kind: 'drop' }
        : { kind: 'stall', forMs: interruption.forMs };
  return [...events.slice(0, cut + 1).map(send), ending];
}

/**
 * A non-streamed reply that never arrives whole: there is no "middle" without a stream, so a drop or a
 * stall happens before the body. (An error event becomes an error status, which each provider renders.)
 */
export function unstreamed(
  headers: Record<string, string>,
  interruption: Exclude<Interruption, { ending: 'error_event' }>,
): StreamReply {
  return {
    kind: 'stream',
    status: 200,
    headers,
    chunkDelayMs: 0,
    steps: [interruption.ending === 'drop' ? { kind: 'drop' } : { kind: 'stall', forMs: interruption.forMs }],
  };
}

/** `signal` aborts when the client disconnects, which ends a stream just as a reader's cancel does. */
export function render(reply: Reply, exchange: Exchange, signal: AbortSignal): Response {
  exchange.answered(reply.status);
  if (reply.kind === 'json') {
    exchange.reported(reply.usage ?? undefined, reply.text ?? undefined);
    exchange.ended('completed');
    return new Response(JSON.stringify(reply.body), { status: reply.status, headers: reply.headers });
  }
  return new Response(pacedBody(reply, exchange, signal), { status: reply.status, headers: reply.headers });
}

function pacedBody(reply: StreamReply, exchange: Exchange, signal: AbortSignal): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let next = 0;
  let cancelled = false;
  // Resolves a pending wait early when the reader cancels, so a hang does not outlive its reader.
  let interruptWait: (() => void) | undefined;

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      interruptWait = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const cancel = () => {
    cancelled = true;
    interruptWait?.();
    exchange.ended('cancelled');
  };
  signal.addEventListener('abort', cancel);
  if (signal.aborted) cancel();

  const start = reply.steps.findIndex((step) => step.kind === 'send' && step.phase === 'start');
  const firstContentAt = start + 1;

  // Pull-driven (highWaterMark 0) so each chunk is produced only when the reader asks for more;
  // an eager reply fills its queue without waiting for anyone.
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const step = reply.steps[next];
        // Like a real model, the pause is between generated pieces: the preamble (message_start,
        // content_block_start, ping) and the closing events follow each other at once.
        const paced = step !== undefined && (step.kind !== 'send' || step.phase === 'delta');
        if (next === firstContentAt && reply.firstContentDelayMs) await wait(reply.firstContentDelayMs);
        if (next > 0 && paced && reply.chunkDelayMs > 0) await wait(reply.chunkDelayMs);
        next += 1;
        if (cancelled) return;
        if (step === undefined) {
          controller.close();
          exchange.ended('completed');
          return;
        }
        switch (step.kind) {
          case 'send':
            controller.enqueue(typeof step.chunk === 'string' ? encoder.encode(step.chunk) : step.chunk);
            exchange.reported(step.usage, step.text);
            // Close with the last chunk rather than on the next pull, so the body ends when the data does.
            if (next === reply.steps.length) {
              controller.close();
              exchange.ended('completed');
            }
            return;
          case 'drop':
            controller.error(new Error('fake-upstream: connection dropped'));
            exchange.ended('failed');
            return;
          case 'stall':
            await wait(step.forMs);
            if (cancelled) return;
            controller.error(new Error('fake-upstream: stalled stream gave up'));
            exchange.ended('failed');
            return;
        }
      },
      cancel,
    },
    { highWaterMark: reply.eager ? 1 << 30 : 0 },
  );
}
