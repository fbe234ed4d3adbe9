// The rule engine: something happened to a budget or an account; which rules does it fire, and
// what goes out. Called off the request path (a Durable Object's waitUntil). Everything that must
// happen once happens in D1 itself, in one batch per call:
//   - a firing is one row keyed by (rule, subject, period, threshold) — a unique index, so two
//     callers crossing the same threshold at the same moment record it once;
//   - the same batch inserts the deliveries of the firing just recorded (none when the row already
//     existed, or when a silence covers it), so an alert is never recorded without its deliveries;
//   - the deliveries are then handed to the alert Queue (worker/alerts/deliver.ts sends them).
import { and, eq, isNull, or } from 'drizzle-orm';
import { formatMicros } from '../budgets/refusal';
import { db } from '../db/client';
import { type AlertRule, accounts, alertRules, groups } from '../db/schema';
import { deliverySettings } from './config';
import { enqueueDeliveries } from './deliver';
import {
  type AlertEvent,
  type AlertKind,
  DEFAULT_COOLDOWN_COUNT,
  DEFAULT_COOLDOWN_WINDOW_MINUTES,
  DEFAULT_THRESHOLDS,
  type Severity,
} from './event';

/** Where an alert belongs: the rules of its group, of its enterprise and the system's see it. */
export interface AlertScope {
  enterpriseId: string | null;
  groupId: string | null;
}

/** One firing a rule asks for. */
export interface Firing {
  rule: AlertRule;
  subjectId: string;
  /** The firing slot's period: a budget period, `open` (until resolved), or an instant. */
  period: string;
  /** The threshold delivered (0 when the kind has none). */
  threshold: number;
  event: AlertEvent;
  /** Lower thresholds crossed at the same time: recorded (so they do not fire later), not sent. */
  alsoCrossed?: { threshold: number; event: AlertEvent }[];
  /** Fire only if the rule has not fired for this subject since this time (ms). */
  quietSince?: number;
}

/** The rules of `kind` that see an alert in `scope` about `subjectId`. */
export async function matchingRules(
  env: Env,
  kind: AlertKind,
  scope: AlertScope,
  subjectId: string,
): Promise<AlertRule[]> {
  const inScope = [and(isNull(alertRules.enterpriseId), isNull(alertRules.groupId))];
  if (scope.enterpriseId) inScope.push(eq(alertRules.enterpriseId, scope.enterpriseId));
  if (scope.groupId) inScope.push(eq(alertRules.groupId, scope.groupId));
  return db(env)
    .select()
    .from(alertRules)
    .where(
      and(
        eq(alertRules.kind, kind),
        eq(alertRules.enabled, true),
        or(isNull(alertRules.subjectId), eq(alertRules.subjectId, subjectId)),
        or(...inScope),
      ),
    );
}

const SILENCED = `EXISTS (SELECT 1 FROM alert_silences s
  WHERE s.rule_id = ?1 AND (s.subject_id IS NULL OR s.subject_id = ?2) AND s.ends_at > ?6)`;

// Parameters: ?1 rule, ?2 subject, ?3 period, ?4 threshold, ?5 event JSON, ?6 now, ?7 firing id,
// ?8 quiet since (NULL: no quiet time).
const INSERT_FIRING = `INSERT INTO alert_firings
    (id, rule_id, subject_id, period, threshold, status, silenced, event, fired_at)
  SELECT ?7, ?1, ?2, ?3, ?4, 'firing', ${SILENCED}, ?5, ?6
  WHERE ?8 IS NULL OR NOT EXISTS (SELECT 1 FROM alert_firings f
    WHERE f.rule_id = ?1 AND f.subject_id = ?2 AND f.fired_at > ?8)
  ON CONFLICT (rule_id, subject_id, period, threshold) DO NOTHING`;

// The deliveries of the firing ?1 if this batch recorded it unsilenced, one per enabled endpoint
// of its rule. ?2 max attempts, ?3 now.
const INSERT_DELIVERIES = `INSERT INTO alert_deliveries
    (id, endpoint_id, firing_id, event, payload, status, attempts, max_attempts, next_attempt_at, created_at)
  SELECT lower(hex(randomblob(16))), e.id, f.id, f.event ->> '$.type', f.event, 'pending', 0, ?2, ?3, ?3
  FROM alert_firings f
  JOIN alert_rule_endpoints re ON re.rule_id = f.rule_id
  JOIN alert_endpoints e ON e.id = re.endpoint_id AND e.enabled = 1
  WHERE f.id = ?1 AND f.silenced = 0
  RETURNING id`;

/**
 * Records the firings and their deliveries in one D1 batch, then queues the deliveries. Returns
 * how many deliveries were queued.
 */
export async function fireAlerts(env: Env, firings: Firing[]): Promise<number> {
  if (firings.length === 0) return 0;
  const now = Date.now();
  const { maxAttempts } = deliverySettings(env);
  const statements: D1PreparedStatement[] = [];
  const deliveryStatements: number[] = [];
  for (const firing of firings) {
    const slot = (threshold: number, event: AlertEvent, quietSince: number | null) =>
      env.DB.prepare(INSERT_FIRING).bind(
        firing.rule.id,
        firing.subjectId,
        firing.period,
        threshold,
        JSON.stringify(event),
        now,
        event.id,
        quietSince,
      );
    for (const lower of firing.alsoCrossed ?? []) statements.push(slot(lower.threshold, lower.event, null));
    statements.push(slot(firing.threshold, firing.event, firing.quietSince ?? null));
    deliveryStatements.push(statements.length);
    statements.push(env.DB.prepare(INSERT_DELIVERIES).bind(firing.event.id, maxAttempts, now));
  }
  const results = await env.DB.batch<{ id: string }>(statements);
  const ids = deliveryStatements.flatMap((i) => results[i]!.results.map((row) => row.id));
  await enqueueDeliveries(env, ids);
  return ids.length;
}

/** Resolves what lasts until resolved (period `open`) for a subject, telling the endpoints that were told. */
export async function resolveAlerts(
  env: Env,
  kind: AlertKind,
  subjectId: string,
  resolved: (fired: AlertEvent) => AlertEvent,
): Promise<number> {
  const open = await env.DB.prepare(
    `SELECT f.id, f.event FROM alert_firings f JOIN alert_rules r ON r.id = f.rule_id
     WHERE f.subject_id = ? AND f.period = 'open' AND r.kind = ?`,
  )
    .bind(subjectId, kind)
    .all<{ id: string; event: string }>();
  if (open.results.length === 0) return 0;
  const now = Date.now();
  const { maxAttempts } = deliverySettings(env);
  const statements: D1PreparedStatement[] = [];
  for (const firing of open.results) {
    const event = resolved(JSON.parse(firing.event) as AlertEvent);
    // The notice goes out only if this batch is the one that resolves it (period still `open`),
    // and only where the firing went (not silenced).
    statements.push(
      env.DB.prepare(
        `INSERT INTO alert_deliveries
           (id, endpoint_id, firing_id, event, payload, status, attempts, max_attempts, next_attempt_at, created_at)
         SELECT lower(hex(randomblob(16))), e.id, f.id, ?2 ->> '$.type', ?2, 'pending', 0, ?3, ?4, ?4
         FROM alert_firings f
         JOIN alert_rule_endpoints re ON re.rule_id = f.rule_id
         JOIN alert_endpoints e ON e.id = re.endpoint_id AND e.enabled = 1
         WHERE f.id = ?1 AND f.period = 'open' AND f.silenced = 0
         RETURNING id`,
      ).bind(firing.id, JSON.stringify(event), maxAttempts, now),
      // Rewriting the period frees the slot: the next time, the rule fires again.
      env.DB.prepare(
        `UPDATE alert_firings SET status = 'resolved', resolved_at = ?2, period = 'resolved:' || id
         WHERE id = ?1 AND period = 'open'`,
      ).bind(firing.id, now),
    );
  }
  const results = await env.DB.batch<{ id: string }>(statements);
  const ids = results.filter((_, i) => i % 2 === 0).flatMap((r) => r.results.map((row) => row.id));
  await enqueueDeliveries(env, ids);
  return ids.length;
}

function eventOf(
  rule: AlertRule,
  scope: AlertScope,
  subject: AlertEvent['subject'],
  fields: { severity: Severity; title: string; text: string; data: AlertEvent['data'] },
): AlertEvent {
  return {
    id: crypto.randomUUID(),
    type: rule.kind,
    status: 'firing',
    occurredAt: new Date().toISOString(),
    scope,
    subject,
    rule: { id: rule.id, name: rule.name },
    ...fields,
  };
}

// ——— budgets ———————————————————————————————————————————————————————————————————————————————

/** What the alerting needs to know of a budget (the budget code has it at hand). */
export interface BudgetRef {
  id: string;
  /** How people call it, e.g. "Team Alpha, monthly"; null: the id is shown. */
  name?: string | null;
  /** Finds the name when it is not given, asked only when a threshold is crossed (it may read D1). */
  describe?: () => Promise<string | null>;
  /** The enterprise whose rules see it (an enterprise's, a department's, or an enterprise group's budget). */
  enterpriseId: string | null;
  /** The group whose rules see it (a group's, a member's or a key's budget). */
  groupId: string | null;
}

function budgetSeverity(threshold: number): Severity {
  return threshold >= 100 ? 'critical' : threshold >= 80 ? 'warning' : 'info';
}

/**
 * The budget code calls this when a budget's spend grows (cheaply: when it passes a whole percent
 * of the limit). Every `budget.threshold` rule over the budget fires once per period for each of
 * its thresholds now crossed (`spent × 100 ≥ threshold × limit`, in integers); when several are
 * crossed at once, the highest is sent and the lower ones are only recorded. `period` names the
 * budget period (e.g. `2026-04` or `2026-04-20` in the budget's time zone, `total`): a new period
 * fires again. Returns how many deliveries were queued.
 */
export async function budgetCrossed(
  env: Env,
  budget: BudgetRef,
  period: string,
  usage: { spentMicros: number; limitMicros: number },
): Promise<number> {
  const { spentMicros, limitMicros } = usage;
  if (!Number.isSafeInteger(spentMicros) || !Number.isSafeInteger(limitMicros) || limitMicros <= 0) return 0;
  const scope = { enterpriseId: budget.enterpriseId, groupId: budget.groupId };
  const rules = await matchingRules(env, 'budget.threshold', scope, budget.id);
  // Each rule's thresholds this spend has reached, lowest first; the name is looked up only if any.
  const crossings = rules
    .map((rule) => ({
      rule,
      crossed: (rule.params.thresholds ?? [...DEFAULT_THRESHOLDS])
        .filter((t) => spentMicros * 100 >= t * limitMicros)
        .sort((a, b) => a - b),
    }))
    .filter((c) => c.crossed.length > 0);
  if (crossings.length === 0) return 0;
  const described = budget.name ?? (await budget.describe?.()) ?? null;
  const name = described ?? `budget ${budget.id}`;
  const percent = Math.floor((spentMicros * 100) / limitMicros);
  const firings: Firing[] = [];
  for (const { rule, crossed } of crossings) {
    const event = (threshold: number) =>
      eventOf(
        rule,
        scope,
        { type: 'budget', id: budget.id, name: described },
        {
          severity: budgetSeverity(threshold),
          title: `Budget ${threshold}% used: ${name}`,
          text: `${name} has spent ${formatMicros(spentMicros)} of its ${formatMicros(limitMicros)} limit (${percent}%) in period ${period}.`,
          data: { period, threshold, percent, spentMicros, limitMicros },
        },
      );
    const highest = crossed.at(-1)!;
    firings.push({
      rule,
      subjectId: budget.id,
      period,
      threshold: highest,
      event: event(highest),
      alsoCrossed: crossed.slice(0, -1).map((threshold) => ({ threshold, event: event(threshold) })),
    });
  }
  return fireAlerts(env, firings);
}

/**
 * A budget's time zone changed and with it the key of its current period: the thresholds fired in
 * the old period are recorded (resolved) for the new one too, so the same spending does not fire
 * them a second time the same day.
 */
export async function budgetPeriodMoved(env: Env, budgetId: string, from: string, to: string): Promise<void> {
  await env.DB.prepare(
    `INSERT OR IGNORE INTO alert_firings
       (id, rule_id, subject_id, period, threshold, status, silenced, event, fired_at, resolved_at)
     SELECT lower(hex(randomblob(16))), rule_id, subject_id, ?3, threshold, 'resolved', silenced, event,
       fired_at, ?4
     FROM alert_firings WHERE subject_id = ?1 AND period = ?2`,
  )
    .bind(budgetId, from, to, Date.now())
    .run();
}

/**
 * The budget's limit or period changed (or it was reset): thresholds already crossed may fire
 * again when they are crossed anew.
 */
export async function budgetReset(env: Env, budgetId: string): Promise<void> {
  await env.DB.prepare(
    `UPDATE alert_firings SET status = 'resolved', resolved_at = ?2, period = 'resolved:' || id
     WHERE subject_id = ?1 AND status = 'firing'
       AND rule_id IN (SELECT id FROM alert_rules WHERE kind = 'budget.threshold')`,
  )
    .bind(budgetId, Date.now())
    .run();
}

// ——— accounts ——————————————————————————————————————————————————————————————————————————————

/** What an AccountGate tells about its account's health. */
export type AccountHealthEvent =
  /** Repeated credential failures disabled the account. */
  | { kind: 'disabled'; reason: string }
  /** A cooldown started; `recentCooldowns` are the start times (ms) of the latest ones, this one included. */
  | { kind: 'cooldown'; reason: string; recentCooldowns: number[] }
  /** An automatic disable was lifted (an operator's reset, a good probe). */
  | { kind: 'recovered'; how: string };

async function accountScope(env: Env, accountId: string) {
  const [row] = await db(env)
    .select({ name: accounts.name, enterpriseId: accounts.enterpriseId, groupId: groups.id })
    .from(accounts)
    .leftJoin(groups, eq(groups.boundAccountId, accounts.id))
    .where(eq(accounts.id, accountId));
  return row ?? null;
}

/**
 * The AccountGate calls this (in its waitUntil) when its account is disabled, starts a cooldown,
 * or recovers. `account.disabled` fires once until the account recovers, and its endpoints are
 * told when it does; `account.cooldowns` fires when `count` cooldowns started within
 * `windowMinutes`, then stays quiet for `windowMinutes`. Returns how many deliveries were queued.
 */
export async function accountAlert(env: Env, accountId: string, health: AccountHealthEvent): Promise<number> {
  const account = await accountScope(env, accountId);
  if (!account) return 0;
  const scope = { enterpriseId: account.enterpriseId, groupId: account.groupId };
  const subject = { type: 'account' as const, id: accountId, name: account.name };
  switch (health.kind) {
    case 'disabled': {
      const rules = await matchingRules(env, 'account.disabled', scope, accountId);
      return fireAlerts(
        env,
        rules.map((rule) => ({
          rule,
          subjectId: accountId,
          period: 'open',
          threshold: 0,
          event: eventOf(rule, scope, subject, {
            severity: 'critical',
            title: `Account disabled: ${account.name}`,
            text: `The account “${account.name}” was ${health.reason}.`,
            data: { reason: health.reason },
          }),
        })),
      );
    }
    case 'recovered':
      return resolveAlerts(env, 'account.disabled', accountId, (fired) => ({
        ...fired,
        id: crypto.randomUUID(),
        status: 'resolved',
        severity: 'info',
        occurredAt: new Date().toISOString(),
        title: `Account enabled again: ${account.name}`,
        text: `The account “${account.name}” serves again (${health.how}).`,
        data: { ...fired.data, how: health.how },
      }));
    case 'cooldown': {
      const rules = await matchingRules(env, 'account.cooldowns', scope, accountId);
      const now = Date.now();
      const firings: Firing[] = [];
      for (const rule of rules) {
        const count = rule.params.count ?? DEFAULT_COOLDOWN_COUNT;
        const windowMs = (rule.params.windowMinutes ?? DEFAULT_COOLDOWN_WINDOW_MINUTES) * 60_000;
        const within = health.recentCooldowns.filter((at) => at > now - windowMs).length;
        if (within < count) continue;
        const minutes = windowMs / 60_000;
        firings.push({
          rule,
          subjectId: accountId,
          period: String(now),
          threshold: 0,
          quietSince: now - windowMs,
          event: eventOf(rule, scope, subject, {
            severity: 'warning',
            title: `Account cooling down repeatedly: ${account.name}`,
            text: `The account “${account.name}” started ${within} cooldowns in the last ${minutes} minutes; the latest: ${health.reason}.`,
            data: { cooldowns: within, windowMinutes: minutes, reason: health.reason },
          }),
        });
      }
      return fireAlerts(env, firings);
    }
  }
}
