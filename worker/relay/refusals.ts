// Requests of a known key that the relay answered with an error before any upstream call (a
// budget, a key's limit or rule, no account for the model, a field a conversion cannot carry…)
// become request-log rows too, so that whoever reads the log sees why a member's requests failed.
// They travel as usage events with outcome `refused`: the same outbox, the same Queue, the same
// idempotent insert, off the client's path. They carry no account, no tokens and no cost, and the
// aggregate triggers skip them, so no money figure or usage total moves.
import type { Context } from 'hono';
import type { KeyRecord } from '../auth/client-key';
import type { AppEnv } from '../context';
import { emptyUsage } from '../metering/usage';
import type { Wire } from '../providers/types';
import { type UsageEvent, usageEvent } from '../queue/usage-event';
import { type RelayError, statusIn } from './dialect';
import { outbox } from './outbox';

export interface Refusal {
  requestId: string;
  /** When the request arrived. */
  at: number;
  key: Pick<KeyRecord, 'id' | 'userId' | 'groupId'>;
  wire: Wire;
  /** The model the client asked for ('' when the request was refused before it named one). */
  model: string;
  stream: boolean;
  /** The status the client got (its dialect's: Anthropic's 529 is 503 elsewhere). */
  status: number;
  error: RelayError;
}

/** The refusal as its request-log row will read: what the client was told, and nothing more. */
export function refusalEvent(refusal: Refusal, now = Date.now()): UsageEvent {
  return usageEvent({
    requestId: refusal.requestId,
    at: refusal.at,
    keyId: refusal.key.id,
    userId: refusal.key.userId,
    groupId: refusal.key.groupId,
    // No account was called: none is named (an account the gate picked and never called, as for
    // a conversion's refusal, is no part of the answer).
    accountId: '',
    provider: '',
    surface: refusal.wire,
    model: refusal.model,
    stream: refusal.stream,
    status: refusal.status,
    outcome: 'refused',
    upstreamRequestId: null,
    usage: emptyUsage(),
    estimated: false,
    // Set here, not priced by the consumer: an unknown model must not flag a refusal unpriced.
    costMicros: 0,
    unpriced: false,
    ttfbMs: null,
    durationMs: Math.max(0, now - refusal.at),
    // The stable code the client got (OpenAI's `code`), else the kind of error: what the
    // dashboard names in words.
    errorType: refusal.error.options.code ?? refusal.error.kind,
  });
}

/**
 * Logs a refusal made before the pipeline (the key's status and rules, the body): handed to the
 * outbox, sent with the isolate's next batch; the client's answer does not wait for it.
 */
export function logRefusal(c: Context<AppEnv>, refusal: Omit<Refusal, 'requestId' | 'status'>): void {
  const event = refusalEvent({
    ...refusal,
    requestId: c.get('requestId'),
    status: statusIn(refusal.error, c.get('dialect')),
  });
  c.executionCtx.waitUntil(outbox.add(c.env, { event }));
}
