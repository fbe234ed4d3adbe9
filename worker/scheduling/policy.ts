// Scheduling policy as data: one zod-validated object decides strategy, failover attempts, queue
// wait, session stickiness and how an account's health reacts to failures. Defaults here; an
// enterprise overrides per provider pool, a group overrides for itself.
import * as z from 'zod';
import { PROVIDER_KINDS } from '../providers/kinds';

const DAY_MS = 86_400_000;

export const STRATEGIES = ['least_connections', 'round_robin', 'weighted', 'headroom'] as const;

// The fields, without defaults: an override names only what it changes. (In zod 4 `.partial()`
// of fields with `.default()` still fills every default in, so an override of one field would
// overwrite every other field of the layer below it.)
const policyFields = {
  /** How to choose among accounts of the same priority tier in an enterprise pool. */
  strategy: z.enum(STRATEGIES),
  /** Upstream attempts per request, counting the first; failover happens before the first content byte. */
  maxAttempts: z.number().int().min(1).max(10),
  /** How long a request may wait in an account's fair queue for a concurrency slot. */
  queueWaitMs: z.number().int().min(0).max(120_000),
  /** Idle time after which a sticky session forgets its account. */
  sessionTtlMs: z
    .number()
    .int()
    .min(1_000)
    .max(7 * 86_400_000),
  /**
   * Mid-stream silence after which the relay ends a stream (the upstream is cancelled, the client
   * gets an error, the request settles). Generous: thinking models pause for minutes.
   */
  streamIdleTimeoutMs: z.number().int().min(1_000).max(3_600_000),
  /** Consecutive 401/403 answers from the upstream before the account is disabled. */
  authFailuresToDisable: z.number().int().min(1).max(100),
  /** Cooldown after a 429 that names no reset time. At most a day, as every cooldown here. */
  rateLimitCooldownMs: z.number().int().min(0).max(DAY_MS),
  /** Cooldown after 529 / overloaded. */
  overloadedCooldownMs: z.number().int().min(0).max(DAY_MS),
  /** First cooldown after a 5xx, timeout or connect failure; doubles on each repeat. */
  serverErrorCooldownMs: z.number().int().min(0).max(DAY_MS),
  maxCooldownMs: z.number().int().min(0).max(DAY_MS),
};

/** What an operator stores: any subset of the policy; only the fields given, unknown ones refused. */
export const policyOverridesSchema = z.strictObject(policyFields).partial();
export type PolicyOverrides = z.infer<typeof policyOverridesSchema>;

export type SchedulingPolicy = Required<PolicyOverrides>;
export type Strategy = SchedulingPolicy['strategy'];

export const DEFAULT_POLICY: SchedulingPolicy = {
  strategy: 'least_connections',
  maxAttempts: 3,
  queueWaitMs: 10_000,
  sessionTtlMs: 3_600_000,
  streamIdleTimeoutMs: 300_000,
  authFailuresToDisable: 3,
  rateLimitCooldownMs: 60_000,
  overloadedCooldownMs: 5_000,
  serverErrorCooldownMs: 5_000,
  maxCooldownMs: 300_000,
};

/** A whole policy: every field, defaults filled in. */
export const schedulingPolicySchema = policyOverridesSchema.transform(
  (given): SchedulingPolicy => ({ ...DEFAULT_POLICY, ...given }),
);
/** Per-provider pool overrides kept on an enterprise, e.g. `{ "anthropic": { "strategy": "weighted" } }`. */
export const poolPoliciesSchema = z.partialRecord(z.enum(PROVIDER_KINDS), policyOverridesSchema);
export type PoolPolicies = z.infer<typeof poolPoliciesSchema>;

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
