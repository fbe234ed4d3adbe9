// A group's key bounds: the most a key of the group may allow, set by whoever manages the group.
// A key is made within them (what it leaves open is filled from the bounds; what exceeds them is
// refused, naming the bound), and the group's gate applies them at admission too, so bounds that
// are tightened bind existing keys at once. Pure functions: the domain and the gate share them.
import * as z from 'zod';
import {
  type ClientRule,
  clientAllowed,
  type KeyService,
  type KeyUse,
  keyRulesSchema,
  modelAllowed,
} from './key-rules';

const MAX_LIFETIME_MS = 315_360_000_000;

export const keyBoundsSchema = z
  .strictObject({
    /** A key may allow only these models (exact ids, or prefixes ending in `*`). */
    allowedModels: keyRulesSchema.allowedModels.unwrap().unwrap().optional(),
    allowedServices: keyRulesSchema.allowedServices.unwrap().unwrap().optional(),
    allowedClients: keyRulesSchema.allowedClients.unwrap().unwrap().optional(),
    /** Concurrent requests per key, at most. */
    maxConcurrency: z.number().int().min(1).max(10_000).optional(),
    /** Requests per key in `windowMinutes` (default 1), at most. */
    requestsPerWindow: z.number().int().min(1).optional(),
    windowMinutes: z.number().int().min(1).max(1440).optional(),
    /** How long a key may be valid: its fixed deadline from its creation, or its `activeForMs`. */
    maxLifetimeMs: z.number().int().min(1000).max(MAX_LIFETIME_MS).optional(),
  })
  .refine((b) => b.windowMinutes === undefined || b.requestsPerWindow !== undefined, {
    message: 'windowMinutes bounds nothing without requestsPerWindow',
    path: ['windowMinutes'],
    params: { rule: 'window_needs_requests' },
  });
export type KeyBounds = z.infer<typeof keyBoundsSchema>;

/** The fields of a key that bounds speak about. */
export interface BoundedRules {
  allowedModels: string[] | null;
  allowedServices: KeyService[] | null;
  allowedClients: ClientRule[] | null;
  expiresAt: number | null;
  activeForMs: number | null;
  maxConcurrency: number | null;
  requestsPerWindow: number | null;
  windowMinutes: number | null;
}

export type KeyLimits = Pick<BoundedRules, 'maxConcurrency' | 'requestsPerWindow' | 'windowMinutes'>;

/**
 * One way a key exceeds its bounds, as the API's refusal details say it (a ValidationIssue of
 * rule `outside_key_bounds`): the key's field, the English words, and the bound where it is a list
 * of allowed values or a number.
 */
export interface BoundViolation {
  path: string;
  code: 'custom';
  rule: 'outside_key_bounds';
  message: string;
  values?: string[];
  maximum?: number;
}

const outside = (path: string, message: string, bound: Pick<BoundViolation, 'values' | 'maximum'> = {}) =>
  ({ path, code: 'custom', rule: 'outside_key_bounds', message, ...bound }) satisfies BoundViolation;

/**
 * The key's rules with what they leave open filled from the bounds, and each way they exceed
 * them (empty: within). `createdAt` anchors a fixed deadline to the lifetime bound.
 */
export function boundKey<T extends BoundedRules>(
  rules: T,
  bounds: KeyBounds | null,
  createdAt: number,
): { rules: T; violations: BoundViolation[] } {
  if (!bounds) return { rules, violations: [] };
  const out: T = { ...rules };
  const violations: BoundViolation[] = [];

  if (bounds.allowedModels) {
    const allowed = bounds.allowedModels;
    if (out.allowedModels === null) out.allowedModels = [...allowed];
    for (const [i, rule] of out.allowedModels.entries()) {
      if (!modelRuleWithin(rule, allowed))
        violations.push(
          outside(
            `allowedModels.${i}`,
            `${rule} is outside keyBounds.allowedModels (${allowed.join(', ')})`,
            {
              values: [...allowed],
            },
          ),
        );
    }
  }
  if (bounds.allowedServices) {
    const allowed = bounds.allowedServices;
    if (out.allowedServices === null) out.allowedServices = [...allowed];
    for (const [i, service] of out.allowedServices.entries()) {
      if (!allowed.includes(service))
        violations.push(
          outside(
            `allowedServices.${i}`,
            `${service} is outside keyBounds.allowedServices (${allowed.join(', ')})`,
            { values: [...allowed] },
          ),
        );
    }
  }
  if (bounds.allowedClients) {
    const allowed = bounds.allowedClients.map((c) => JSON.stringify(c));
    if (out.allowedClients === null) out.allowedClients = [...bounds.allowedClients];
    for (const [i, client] of out.allowedClients.entries()) {
      if (!allowed.includes(JSON.stringify(client)))
        violations.push(
          outside(
            `allowedClients.${i}`,
            `${JSON.stringify(client)} is outside keyBounds.allowedClients (${allowed.join(', ')})`,
            // A preset by its name, a pattern by its own words.
            { values: bounds.allowedClients.map((c) => (typeof c === 'string' ? c : c.userAgent)) },
          ),
        );
    }
  }
  if (bounds.maxConcurrency !== undefined) {
    if (out.maxConcurrency === null) out.maxConcurrency = bounds.maxConcurrency;
    else if (out.maxConcurrency > bounds.maxConcurrency)
      violations.push(
        outside(
          'maxConcurrency',
          `${out.maxConcurrency} is above keyBounds.maxConcurrency (${bounds.maxConcurrency})`,
          { maximum: bounds.maxConcurrency },
        ),
      );
  }
  if (bounds.requestsPerWindow !== undefined) {
    if (out.requestsPerWindow === null) {
      out.requestsPerWindow = bounds.requestsPerWindow;
      out.windowMinutes = bounds.windowMinutes ?? null;
    } else if (!windowWithin(out, bounds)) {
      violations.push(
        outside(
          'requestsPerWindow',
          `${out.requestsPerWindow} per ${out.windowMinutes ?? 1} min allows more than keyBounds (${bounds.requestsPerWindow} per ${bounds.windowMinutes ?? 1} min)`,
        ),
      );
    }
  }
  if (bounds.maxLifetimeMs !== undefined) {
    const max = bounds.maxLifetimeMs;
    const deadlineWithin = out.expiresAt !== null && out.expiresAt <= createdAt + max;
    const validityWithin = out.activeForMs !== null && out.activeForMs <= max;
    if (out.expiresAt === null && out.activeForMs === null) out.expiresAt = createdAt + max;
    else if (!deadlineWithin && !validityWithin)
      violations.push(
        outside(
          out.expiresAt !== null ? 'expiresAt' : 'activeForMs',
          `the key would be valid longer than keyBounds.maxLifetimeMs (${max} ms from its creation)`,
          { maximum: max },
        ),
      );
  }
  return { rules: out, violations };
}

/** A model rule is within the bounds when every model it allows, they allow. */
function modelRuleWithin(rule: string, allowed: readonly string[]): boolean {
  if (!rule.endsWith('*')) return modelAllowed(allowed, rule);
  const prefix = rule.slice(0, -1);
  return allowed.some((b) => b.endsWith('*') && prefix.startsWith(b.slice(0, -1)));
}

/**
 * A key's rolling window allows no more than the bound's in any span of the bound's length: its
 * window is no longer, and as many of its windows as fit (rounded up) stay under the bound.
 */
function windowWithin(key: KeyLimits, bounds: KeyBounds): boolean {
  if (key.requestsPerWindow === null || bounds.requestsPerWindow === undefined) return true;
  const keyWindow = key.windowMinutes ?? 1;
  const boundWindow = bounds.windowMinutes ?? 1;
  return (
    keyWindow <= boundWindow &&
    Math.ceil(boundWindow / keyWindow) * key.requestsPerWindow <= bounds.requestsPerWindow
  );
}

/** The limits admission applies: the key's, tightened to the bounds where they allow more. */
export function effectiveLimits(limits: KeyLimits, bounds: KeyBounds | null): KeyLimits {
  if (!bounds) return limits;
  let { maxConcurrency, requestsPerWindow, windowMinutes } = limits;
  if (
    bounds.maxConcurrency !== undefined &&
    (maxConcurrency === null || maxConcurrency > bounds.maxConcurrency)
  )
    maxConcurrency = bounds.maxConcurrency;
  if (
    bounds.requestsPerWindow !== undefined &&
    (requestsPerWindow === null || !windowWithin(limits, bounds))
  ) {
    requestsPerWindow = bounds.requestsPerWindow;
    windowMinutes = bounds.windowMinutes ?? null;
  }
  return { maxConcurrency, requestsPerWindow, windowMinutes };
}

/** Why the group's bounds refuse this use, or null. A model-less use (a model list) has no model to check. */
export function boundsRefusal(
  bounds: KeyBounds | null,
  use: KeyUse,
): { code: string; message: string } | null {
  if (!bounds) return null;
  if (bounds.allowedServices && !bounds.allowedServices.includes(use.service))
    return {
      code: 'service_not_allowed',
      message: `This group's keys may only be used with ${bounds.allowedServices.join(', ')} (keyBounds.allowedServices).`,
    };
  if (bounds.allowedClients && !clientAllowed(bounds.allowedClients, use.userAgent))
    return {
      code: 'client_not_allowed',
      message: "This group's keys may not be used from this client (keyBounds.allowedClients).",
    };
  if (use.model !== null && !modelAllowed(bounds.allowedModels ?? null, use.model))
    return {
      code: 'model_not_allowed',
      message: `This group's keys may only use models ${bounds.allowedModels!.join(', ')} (keyBounds.allowedModels).`,
    };
  return null;
}
