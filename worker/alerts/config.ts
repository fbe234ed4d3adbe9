// Delivery settings from the environment (wrangler.jsonc `vars`), and the retry schedule.

export interface DeliverySettings {
  /** Attempts per delivery, the first included; then it is marked failed. */
  maxAttempts: number;
  /** The first retry waits this long; each next one twice as long. */
  retryBaseSeconds: number;
  /** How long an endpoint may take to answer. */
  timeoutMs: number;
}

/** A Queue message can be delayed by 12 hours at most. */
const MAX_DELAY_SECONDS = 43_200;

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

export function deliverySettings(env: Env): DeliverySettings {
  return {
    maxAttempts: positive(env.ALERT_MAX_ATTEMPTS, 8),
    retryBaseSeconds: positive(env.ALERT_RETRY_BASE_SECONDS, 30),
    timeoutMs: positive(env.ALERT_TIMEOUT_MS, 10_000),
  };
}

/** The wait before attempt `attempts + 1`, after `attempts` failed ones: base × 2^(attempts − 1). */
export function retryDelaySeconds(settings: DeliverySettings, attempts: number): number {
  return Math.min(MAX_DELAY_SECONDS, settings.retryBaseSeconds * 2 ** Math.max(0, attempts - 1));
}
