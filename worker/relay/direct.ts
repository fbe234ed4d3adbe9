// Direct leases: the second and later requests of a plain carpool key (no limits, budgets, bounds
// or pending rule change) ask their account's gate straight for a lease, one Durable Object call
// instead of two (worker → GroupGate → AccountGate). The GroupGate says when a key qualifies
// (`Admission.direct`), with the version of the group's rules it judged under; the AccountGate
// refuses a direct lease under any older version, so a revocation or a rule change binds at once
// (durable-objects/account-gate.ts, acquireDirect). Anything but a grant sends the request to the
// GroupGate as before, which also renews the plan.

import { nearFull } from '../../durable-objects/account-gate';
import { accountGate } from '../../durable-objects/address';
import type { Admission } from '../../durable-objects/group-gate';
import { metrics } from '../metrics';
import type { Wire } from '../providers/types';

type Granted = Extract<Admission, { ok: true }>;

interface Plan {
  /** Where this plan is kept: per key, surface and model (the GroupGate judged those servable). */
  key: string;
  version: number;
  accountId: string;
  /** The admission the GroupGate gave, reused for each direct lease (its policy, attempts). */
  template: Granted;
  until: number;
}

/** A plan is only a shortcut (the version is the guard): re-asked now and then all the same. */
const PLAN_TTL_MS = 60_000;
const PLAN_LIMIT = 10_000;
const plans = new Map<string, Plan>();

function planKey(keyId: string, wire: Wire, model: string): string {
  return `${keyId}\n${wire}\n${model}`;
}

/** The account to ask straight, if this key has a live plan for this kind of request. */
export function directPlan(keyId: string, wire: Wire, model: string, now: number): Plan | null {
  const plan = plans.get(planKey(keyId, wire, model));
  return plan && plan.until > now ? plan : null;
}

/** Remembers what the GroupGate granted, when it said the key qualifies. */
export function rememberPlan(keyId: string, wire: Wire, model: string, admission: Granted, now: number) {
  const key = planKey(keyId, wire, model);
  if (!admission.direct) {
    plans.delete(key);
    return;
  }
  if (plans.size >= PLAN_LIMIT) plans.clear();
  plans.set(key, {
    key,
    version: admission.direct.version,
    accountId: admission.account.id,
    template: admission,
    until: now + PLAN_TTL_MS,
  });
}

/** A direct lease, or null (the plan is dropped) when the account's gate would not grant one. */
export async function acquireDirect(
  env: Env,
  groupId: string,
  plan: Plan,
  leaseId: string,
): Promise<Granted | null> {
  metrics.gateCalls++;
  const result = await accountGate(env, plan.accountId).acquireDirect({
    groupId,
    version: plan.version,
    accountId: plan.accountId,
    leaseId,
    ttlMs: Number(env.LEASE_TTL_MS),
  });
  if (!result.ok) {
    plans.delete(plan.key);
    return null;
  }
  metrics.directLeases++;
  return { ...plan.template, leaseId, account: result.account, releaseSoon: nearFull(result.load) };
}
