// Webhook delivery: the alert Queue's consumer, one attempt of a delivery, and the sweep that
// requeues deliveries whose message was lost. Each message names one delivery (a row of the
// delivery log); an attempt first claims the row in D1 (pending, unclaimed, due), so a redelivered
// or duplicated message never sends what was delivered or is being sent. A failure (non-2xx, a
// vendor's error code, timeout, network error) is retried through the Queue with exponential
// backoff until the delivery's attempts run out; every attempt is written to the log. A firing's
// deliveries to one endpoint go in order: its `resolved` notice waits while the `firing` notice
// before it is still being retried (an endpoint never hears of the end before the start).
import { and, eq, isNull, lte, or, sql } from 'drizzle-orm';
import * as z from 'zod';
import { db } from '../db/client';
import { type AlertDelivery, type AlertEndpoint, alertDeliveries, alertEndpoints } from '../db/schema';
import { type DeliverySettings, deliverySettings, retryDelaySeconds } from './config';
import { FORMATS } from './formats';
import { unseal } from './sealed';
import { carpoolSignature, DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER } from './signature';

/** The name of the alert queue in wrangler.jsonc: the worker's queue handler dispatches on it. */
export const ALERT_QUEUE_NAME = 'aicarpool-alerts';

const alertMessageSchema = z.object({ deliveryId: z.string().min(1).max(64) });
export type AlertMessage = z.infer<typeof alertMessageSchema>;

/** An attempt may hold its delivery this much longer than the endpoint's timeout. */
const CLAIM_MARGIN_MS = 5_000;
/** A message may arrive a little before the delay it was given. */
const EARLY_TOLERANCE_MS = 2_000;
/** A due delivery still pending this long after it was due lost its message: the sweep requeues it. */
const SWEEP_GRACE_MS = 10 * 60_000;
const SEND_BATCH_MAX = 100;

export async function enqueueDeliveries(env: Env, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += SEND_BATCH_MAX) {
    const messages = ids.slice(i, i + SEND_BATCH_MAX).map((deliveryId) => ({ body: { deliveryId } }));
    try {
      await env.ALERT_QUEUE.sendBatch(messages);
    } catch (error) {
      // The rows are written: the sweep sends them when their messages never came.
      console.error('alert deliveries not queued', { count: messages.length, error: String(error) });
    }
  }
}

export async function consumeAlertBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const settings = deliverySettings(env);
  await Promise.all(
    batch.messages.map(async (message) => {
      const parsed = alertMessageSchema.safeParse(message.body);
      if (!parsed.success) {
        console.error('alert message rejected', { id: message.id });
        message.ack();
        return;
      }
      try {
        const { retryInSeconds } = await attemptDelivery(env, parsed.data.deliveryId, settings);
        if (retryInSeconds === null) message.ack();
        else message.retry({ delaySeconds: retryInSeconds });
      } catch (error) {
        // D1 or the key failed us, not the endpoint: try again later, without spending an attempt.
        console.error('alert delivery errored', { id: parsed.data.deliveryId, error: String(error) });
        message.retry({ delaySeconds: settings.retryBaseSeconds });
      }
    }),
  );
}

export interface AttemptOutcome {
  /** The delivery as the log now has it; null when there is no such delivery. */
  delivery: AlertDelivery | null;
  /** When the message should come back; null: done with it (delivered, failed, or not ours to send). */
  retryInSeconds: number | null;
}

/**
 * One attempt of a delivery, if it is pending, due and not being attempted elsewhere. A disabled
 * endpoint's deliveries fail (and are retried: it may be enabled again meanwhile), unless
 * `evenIfDisabled` (the test route).
 */
export async function attemptDelivery(
  env: Env,
  deliveryId: string,
  settings: DeliverySettings = deliverySettings(env),
  options: { evenIfDisabled?: boolean } = {},
): Promise<AttemptOutcome> {
  const d = db(env);
  const now = Date.now();
  const [claimed] = await d
    .update(alertDeliveries)
    .set({
      attempts: sql`${alertDeliveries.attempts} + 1`,
      claimedUntil: now + settings.timeoutMs + CLAIM_MARGIN_MS,
    })
    .where(
      and(
        eq(alertDeliveries.id, deliveryId),
        eq(alertDeliveries.status, 'pending'),
        or(isNull(alertDeliveries.claimedUntil), lte(alertDeliveries.claimedUntil, now)),
        or(
          isNull(alertDeliveries.nextAttemptAt),
          lte(alertDeliveries.nextAttemptAt, now + EARLY_TOLERANCE_MS),
        ),
        sql`NOT EXISTS (${earlierPending})`,
      ),
    )
    .returning();
  if (!claimed) return notClaimed(env, deliveryId, now);
  const [endpoint] = await d.select().from(alertEndpoints).where(eq(alertEndpoints.id, claimed.endpointId));
  const result: SendResult = !endpoint
    ? { ok: false, status: null, error: 'the endpoint was deleted' }
    : !endpoint.enabled && !options.evenIfDisabled
      ? { ok: false, status: null, error: 'the endpoint is disabled' }
      : await send(env, endpoint, claimed, settings);
  return record(env, claimed, result, settings);
}

/**
 * The same firing's earlier deliveries to the same endpoint that are still pending, for the row
 * being claimed (`alert_deliveries` in the outer statement). Test deliveries have no firing.
 */
const earlierPending = sql`SELECT 1 FROM alert_deliveries p
  WHERE p.firing_id = alert_deliveries.firing_id AND p.endpoint_id = alert_deliveries.endpoint_id
    AND p.status = 'pending' AND p.created_at < alert_deliveries.created_at`;

/**
 * Someone else holds it (come back when their claim ends), it is not due yet, it waits for an
 * earlier notice of its firing (come back after that one's next attempt), or it is done.
 */
async function notClaimed(env: Env, deliveryId: string, now: number): Promise<AttemptOutcome> {
  const [row] = await db(env).select().from(alertDeliveries).where(eq(alertDeliveries.id, deliveryId));
  if (row?.status !== 'pending') return { delivery: row ?? null, retryInSeconds: null };
  let until = Math.max(row.claimedUntil ?? 0, row.nextAttemptAt ?? 0);
  if (until <= now + EARLY_TOLERANCE_MS && row.firingId !== null) {
    const [earlier] = await env.DB.prepare(
      `SELECT max(max(coalesce(claimed_until, 0), coalesce(next_attempt_at, 0))) AS due
       FROM alert_deliveries WHERE firing_id = ?1 AND endpoint_id = ?2 AND status = 'pending' AND created_at < ?3
       HAVING count(*) > 0`,
    )
      .bind(row.firingId, row.endpointId, row.createdAt)
      .raw<[number]>();
    if (earlier) {
      // Its due time follows the earlier one's, so that the sweep does not take it for lost.
      until = Math.max(earlier[0], now) + 1000;
      await db(env)
        .update(alertDeliveries)
        .set({ nextAttemptAt: until })
        .where(and(eq(alertDeliveries.id, row.id), eq(alertDeliveries.status, 'pending')));
      row.nextAttemptAt = until;
    }
  }
  return { delivery: row, retryInSeconds: Math.max(1, Math.ceil((until - now) / 1000)) };
}

type SendResult = { ok: true; status: number } | { ok: false; status: number | null; error: string };

/** Renders, signs and posts one delivery. */
async function send(
  env: Env,
  endpoint: AlertEndpoint,
  delivery: AlertDelivery,
  settings: DeliverySettings,
): Promise<SendResult> {
  const format = FORMATS[endpoint.format];
  const url = new URL(await unseal(env, endpoint.id, 'url', endpoint.urlEnc));
  const body = format.body(delivery.payload);
  const nowMs = Date.now();
  if (format.vendorSign && endpoint.vendorSecretEnc) {
    const vendorSecret = await unseal(env, endpoint.id, 'vendor-secret', endpoint.vendorSecretEnc);
    await format.vendorSign({ url, body }, vendorSecret, nowMs);
  }
  const text = JSON.stringify(body);
  const secret = await unseal(env, endpoint.id, 'secret', endpoint.secretEnc);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'AiCarpool-Alerts/1',
        [EVENT_HEADER]: delivery.event,
        [DELIVERY_HEADER]: delivery.id,
        [SIGNATURE_HEADER]: await carpoolSignature(secret, Math.floor(nowMs / 1000), text),
      },
      body: text,
      // A redirect is an answer, not a delivery: the signed alert is not sent on to another place.
      redirect: 'manual',
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
  } catch (error) {
    const timedOut = error instanceof Error && error.name === 'TimeoutError';
    return {
      ok: false,
      status: null,
      error: timedOut ? `no answer within ${settings.timeoutMs} ms` : `could not connect: ${String(error)}`,
    };
  }
  const status = response.status;
  if (status < 200 || status > 299) {
    const answer = await response.text().catch(() => '');
    return { ok: false, status, error: `HTTP ${status}${answer ? `: ${answer.slice(0, 200)}` : ''}` };
  }
  if (!format.rejection) {
    await response.body?.cancel();
    return { ok: true, status };
  }
  const rejection = format.rejection(await response.text());
  return rejection === null ? { ok: true, status } : { ok: false, status, error: rejection };
}

/** Writes the attempt to the log and says whether the message comes back. */
async function record(
  env: Env,
  delivery: AlertDelivery,
  result: SendResult,
  settings: DeliverySettings,
): Promise<AttemptOutcome> {
  const now = Date.now();
  const exhausted = delivery.attempts >= delivery.maxAttempts;
  const retryInSeconds = result.ok || exhausted ? null : retryDelaySeconds(settings, delivery.attempts);
  const [row] = await db(env)
    .update(alertDeliveries)
    .set({
      status: result.ok ? 'delivered' : exhausted ? 'failed' : 'pending',
      lastStatus: result.status,
      lastError: result.ok ? null : result.error,
      deliveredAt: result.ok ? now : null,
      nextAttemptAt: retryInSeconds === null ? null : now + retryInSeconds * 1000,
      claimedUntil: null,
    })
    .where(eq(alertDeliveries.id, delivery.id))
    .returning();
  return { delivery: row ?? null, retryInSeconds };
}

/**
 * Requeues pending deliveries whose message is gone (a send to the Queue that failed, a message
 * dropped after the Queue's own retries): due for a while, and nobody attempting them. Run by the
 * cron trigger. Returns how many were requeued.
 */
export async function sweepAlertDeliveries(env: Env, now = Date.now()): Promise<number> {
  const stale = await db(env)
    .select({ id: alertDeliveries.id })
    .from(alertDeliveries)
    .where(
      and(
        eq(alertDeliveries.status, 'pending'),
        lte(alertDeliveries.nextAttemptAt, now - SWEEP_GRACE_MS),
        or(isNull(alertDeliveries.claimedUntil), lte(alertDeliveries.claimedUntil, now)),
      ),
    )
    .limit(500);
  await enqueueDeliveries(
    env,
    stale.map((row) => row.id),
  );
  return stale.length;
}
