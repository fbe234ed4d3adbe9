// Scheduling policy as data: one zod-validated object decides strategy, failover attempts, queue
// wait, session stickiness and how an account's health reacts to failures. Defaults here; an
// enterprise overrides per provider pool, a group overrides for itself.
import * as z from 'zod';

export const STRATEGIES = ['least_connections', 'round_robin', 'weighted', 'headroom'] as const;

export const schedulingPolicySchema = z.object({
  /** How to choose among accounts of the same priority tier in an enterprise pool. */
  strategy: z.enum(STRATEGIES).default('least_connections'),
  /** Upstream attempts per request, counting the first; failover happens before the first content byte. */
  maxAttempts: z.number().int().min(1).max(10).default(3),
  /** How long a request may wait in an account's fair queue for a concurrency slot. */
  queueWaitMs: z.number().int().min(0).max(120_000).default(10_000),
  /** Idle time after which a sticky session forgets its account. */
  sessionTtlMs: z
    .number()
    .int()
    .min(1_000)
    .max(7 * 86_400_000)
    .default(3_600_000),
  /**
   * Mid-stream silence after which the relay ends a stream (the upstream is cancelled, the client
   * gets an error, the request settles). Generous: thinking models pause for minutes.
   */
  streamIdleTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(300_000),
  /** Consecutive 401/403 answers from the upstream before the account is disabled. */
  authFailuresToDisable: z.number().int().min(1).max(100).default(3),
  /** Cooldown after a 429 that names no reset time. */
  rateLimitCooldownMs: z.number().int().min(0).default(60_000),
  /** Cooldown after 529 / overloaded. */
  overloadedCooldownMs: z.number().int().min(0).default(5_000),
  /** First cooldown after a 5xx, timeout or connect failure; doubles on each repeat. */
  serverErrorCooldownMs: z.number().int().min(0).default(5_000),
  maxCooldownMs: z.number().int().min(0).default(300_000),
});

export type SchedulingPolicy = z.infer<typeof schedulingPolicySchema>;
export type Strategy = SchedulingPolicy['strategy'];

/** What an operator stores: any subset of the policy. */
export const policyOverridesSchema = schedulingPolicySchema.partial();
export type PolicyOverrides = z.infer<typeof policyOverridesSchema>;

/** Per-provider pool overrides kept on an enterprise, e.g. `{ "anthropic": { "strategy": "weighted" } }`. */
export const poolPoliciesSchema = z.record(z.string(), policyOverridesSchema);
export type PoolPolicies = z.infer<typeof poolPoliciesSchema>;

export const DEFAULT_POLICY: SchedulingPolicy = schedulingPolicySchema.parse({});

export function resolvePolicy(...layers: (PolicyOverrides | null | undefined)[]): SchedulingPolicy {
  const merged: PolicyOverrides = {};
  for (const layer of layers) if (layer) Object.assign(merged, layer);
  return { ...DEFAULT_POLICY, ...merged };
}

/** The part of the policy an AccountGate applies when it records a failure. */
export type HealthPolicy = Pick<
  SchedulingPolicy,
  | 'authFailuresToDisable'
  | 'rateLimitCooldownMs'
  | 'overloadedCooldownMs'
  | 'serverErrorCooldownMs'
  | 'maxCooldownMs'
>;
