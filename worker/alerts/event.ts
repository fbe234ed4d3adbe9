// What an alert says, independent of where it goes: the neutral event every webhook format is
// rendered from (and the body of the generic `json` format), and the rule kinds with their params.
import * as z from 'zod';

export const ALERT_KINDS = ['budget.threshold', 'account.disabled', 'account.cooldowns'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export const ENDPOINT_FORMATS = ['json', 'slack', 'discord', 'feishu', 'dingtalk', 'wecom'] as const;
export type EndpointFormat = (typeof ENDPOINT_FORMATS)[number];

/** Budget thresholds in percent of the limit, when a rule names none. */
export const DEFAULT_THRESHOLDS = [50, 80, 100] as const;
/** account.cooldowns: this many cooldowns starting within the window fire the rule. */
export const DEFAULT_COOLDOWN_COUNT = 3;
export const DEFAULT_COOLDOWN_WINDOW_MINUTES = 60;

/** A rule's kind-specific settings, as stored (the subject filter is its own column). */
export interface AlertRuleParams {
  /** budget.threshold: percents of the limit, ascending. */
  thresholds?: number[];
  /** account.cooldowns: how many cooldowns within `windowMinutes` fire the rule. */
  count?: number;
  windowMinutes?: number;
}

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const alertEventSchema = z.object({
  /** The firing's id (a test's own id): the same alert carries the same id to every endpoint. */
  id: z.string(),
  type: z.enum([...ALERT_KINDS, 'test']),
  status: z.enum(['firing', 'resolved']),
  severity: z.enum(['info', 'warning', 'critical']),
  title: z.string(),
  text: z.string(),
  /** ISO 8601. */
  occurredAt: z.string(),
  scope: z.object({ enterpriseId: z.string().nullable(), groupId: z.string().nullable() }),
  subject: z.object({
    type: z.enum(['budget', 'account', 'endpoint']),
    id: z.string(),
    name: z.string().nullable(),
  }),
  rule: z.object({ id: z.string(), name: z.string() }).nullable(),
  /** Facts of the kind: for a budget `period`, `threshold`, `percent`, `spentMicros`, `limitMicros`. */
  data: z.record(z.string(), scalar),
});
export type AlertEvent = z.infer<typeof alertEventSchema>;
export type Severity = AlertEvent['severity'];

/** What the test route sends. */
export function sampleEvent(endpoint: {
  id: string;
  name: string;
  enterpriseId: string | null;
  groupId: string | null;
}): AlertEvent {
  return {
    id: crypto.randomUUID(),
    type: 'test',
    status: 'firing',
    severity: 'info',
    title: 'AiCarpool test alert',
    text: `A test from AiCarpool to the endpoint “${endpoint.name}”: if you can read this, alerts reach you.`,
    occurredAt: new Date().toISOString(),
    scope: { enterpriseId: endpoint.enterpriseId, groupId: endpoint.groupId },
    subject: { type: 'endpoint', id: endpoint.id, name: endpoint.name },
    rule: null,
    data: {},
  };
}

/** Micro-dollars as dollars and cents, for people (integer arithmetic; cents rounded down). */
export function dollars(micros: number): string {
  const cents = Math.floor(micros / 10_000);
  return `$${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}
