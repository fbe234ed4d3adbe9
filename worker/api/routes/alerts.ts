// Alerting routes, the same set in three scopes: the system's (`/alerts/…`, system admin), an
// enterprise's (`/enterprises/{id}/alerts/…`, enterprise.manage) and a group's
// (`/groups/{id}/alerts/…`, group.manage). Thin handlers over worker/domain/alerts.ts.

import { createSelectSchema } from 'drizzle-zod';
import type { Context } from 'hono';
import { alertEventSchema, DEFAULT_THRESHOLDS, ENDPOINT_FORMATS } from '../../alerts/event';
import type { AppEnv } from '../../context';
import { alertDeliveries, alertEndpoints, alertFirings, alertSilences } from '../../db/schema';
import {
  type AlertScopeRef,
  createEndpoint,
  createRule,
  createSilence,
  deleteEndpoint,
  deleteRule,
  deleteSilence,
  getEndpoint,
  getRule,
  listDeliveries,
  listEndpoints,
  listFirings,
  listRules,
  listSilences,
  rotateEndpointSecret,
  testEndpoint,
  updateEndpoint,
  updateRule,
} from '../../domain/alerts';
import { displayText, jsonBody, jsonResponse, newRouter, type Permission, route, z } from '../openapi';
import { requireCaller } from '../principal';

const AlertEvent = alertEventSchema.openapi('AlertEvent');

const EndpointSchema = createSelectSchema(alertEndpoints)
  .omit({ urlEnc: true, secretEnc: true, vendorSecretEnc: true })
  .extend({ hasVendorSecret: z.boolean() })
  .openapi('AlertEndpoint');
const NewEndpointSchema = EndpointSchema.extend({
  secret: z.string().openapi({
    description:
      'The signing secret (`whsec_…`): shown this once. See docs/alerts.md for verifying signatures.',
  }),
}).openapi('AlertEndpointWithSecret');

/**
 * An address on a private network, link-local (cloud metadata lives at 169.254.169.254) or no
 * address at all. The relay posts to a webhook and shows the answer's first bytes in the delivery
 * log, so such a target would let a group's owner read what sits inside a network. (Loopback stays
 * allowed, over http too, for local testing: on Cloudflare a Worker reaches no loopback.) The URL
 * parser has already turned numeric forms such as `0x7f000001` or `10.1` into dotted quads.
 */
function privateHost(hostname: string): boolean {
  let host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  // An IPv4-mapped IPv6 address, which the URL parser writes in hex (::ffff:a00:1 is 10.0.0.1).
  const mapped = host.match(/^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/);
  if (mapped) {
    const [hi, lo] = [Number.parseInt(mapped[1]!, 16), Number.parseInt(mapped[2]!, 16)];
    host = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  if (host === 'metadata.google.internal' || host.endsWith('.internal')) return true;
  const v4 = host.replace(/^::ffff:/, '').match(/^(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return (
      a === 0 ||
      a === 10 ||
      (a === 100 && b >= 64 && b < 128) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b < 32) ||
      (a === 192 && b === 168)
    );
  }
  // IPv6: unspecified, unique local (fc00::/7), link-local (fe80::/10).
  return host === '::' || /^f[cd][0-9a-f]{0,2}:/.test(host) || /^fe[89ab][0-9a-f]?:/.test(host);
}

/** This machine in any spelling the URL parser leaves: `localhost`, 127.0.0.0/8, `[::1]`. */
function loopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * https, or plain http to this machine for local testing; no credentials in the URL. A problem is
 * its words and the rule's name (the error's details say it, for clients in other languages).
 */
function webhookUrlProblem(value: string): { message: string; rule: string } | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { message: 'not a URL', rule: 'url' };
  }
  if (url.username || url.password)
    return { message: 'a webhook URL carries no user or password', rule: 'url_credentials' };
  if (privateHost(url.hostname))
    return {
      message: 'a webhook URL may not point into a private or link-local network',
      rule: 'private_network',
    };
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && loopbackHost(url.hostname)) return null;
  return {
    message: 'must be https (http only to this machine: localhost, 127.0.0.0/8 or [::1], for local testing)',
    rule: 'https_only',
  };
}

const WebhookUrl = z
  .string()
  .max(2048)
  .superRefine((value, ctx) => {
    const problem = webhookUrlProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem.message, params: { rule: problem.rule } });
  });

const EndpointInput = z
  .strictObject({
    name: displayText(),
    url: WebhookUrl,
    format: z.enum(ENDPOINT_FORMATS),
    vendorSecret: z
      .string()
      .min(1)
      .max(256)
      .nullable()
      .optional()
      .openapi({ description: 'feishu and dingtalk only: the bot’s own signing secret (加签).' }),
    enabled: z.boolean().optional(),
  })
  .openapi('AlertEndpointInput');
const EndpointChanges = EndpointInput.partial().openapi('AlertEndpointChanges');

const DeliverySchema = createSelectSchema(alertDeliveries, { payload: AlertEvent }).openapi('AlertDelivery');

const Subject = z.string().min(1).max(64).nullable().optional();
const Thresholds = z
  .array(z.number().int().min(1).max(1000))
  .min(1)
  .max(10)
  .openapi({ description: `Percents of the budget's limit; default ${JSON.stringify(DEFAULT_THRESHOLDS)}.` });
const CooldownCount = z.number().int().min(1).max(100);
const WindowMinutes = z.number().int().min(1).max(1440);
const RuleCommon = {
  name: displayText(),
  enabled: z.boolean().optional(),
  endpointIds: z.array(z.string().min(1).max(64)).max(20),
};
const RuleInput = z
  .discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('budget.threshold'),
      ...RuleCommon,
      budgetId: Subject,
      thresholds: Thresholds.optional(),
    }),
    z.strictObject({ kind: z.literal('account.disabled'), ...RuleCommon, accountId: Subject }),
    z.strictObject({
      kind: z.literal('account.cooldowns'),
      ...RuleCommon,
      accountId: Subject,
      count: CooldownCount.optional(),
      windowMinutes: WindowMinutes.optional(),
    }),
  ])
  .openapi('AlertRuleInput');
const RuleChanges = z
  .strictObject({
    name: RuleCommon.name.optional(),
    enabled: z.boolean().optional(),
    endpointIds: RuleCommon.endpointIds.optional(),
    budgetId: Subject,
    accountId: Subject,
    thresholds: Thresholds.optional(),
    count: CooldownCount.optional(),
    windowMinutes: WindowMinutes.optional(),
  })
  .openapi('AlertRuleChanges');
const RuleSchema = z
  .object({
    id: z.string(),
    enterpriseId: z.string().nullable(),
    groupId: z.string().nullable(),
    kind: z.enum(['budget.threshold', 'account.disabled', 'account.cooldowns']),
    name: z.string(),
    enabled: z.boolean(),
    budgetId: z.string().nullable(),
    accountId: z.string().nullable(),
    thresholds: z.array(z.number().int()).nullable(),
    count: z.number().int().nullable(),
    windowMinutes: z.number().int().nullable(),
    endpointIds: z.array(z.string()),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .openapi('AlertRule');

const SilenceSchema = createSelectSchema(alertSilences).openapi('AlertSilence');
const SilenceInput = z
  .strictObject({
    ruleId: z.string().min(1).max(64),
    subjectId: Subject,
    endsAt: z.number().int().positive().openapi({ description: 'Until when, in ms since the epoch.' }),
    comment: z.string().max(500).optional(),
  })
  .openapi('AlertSilenceInput');
const FiringSchema = createSelectSchema(alertFirings, { event: AlertEvent }).openapi('AlertFiring');

const Limit = z.object({ limit: z.coerce.number().int().min(1).max(500).optional() });

const idParam = (name: string) =>
  z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name, in: 'path' } });

interface Scope {
  /** The path before `/alerts`. */
  prefix: string;
  permission: Permission;
  params: z.ZodObject<{ id: ReturnType<typeof idParam> }> | z.ZodObject<Record<string, never>>;
  ref(c: Context<AppEnv>): AlertScopeRef;
  tag: string;
}

const SCOPES: Scope[] = [
  {
    prefix: '',
    permission: 'system.admin',
    params: z.object({}),
    ref: () => ({ kind: 'system' }),
    tag: 'system-wide',
  },
  {
    prefix: '/enterprises/{id}',
    permission: 'enterprise.manage',
    params: z.object({ id: idParam('id') }),
    ref: (c) => ({ kind: 'enterprise', id: c.req.param('id')! }),
    tag: 'of an enterprise',
  },
  {
    prefix: '/groups/{id}',
    permission: 'group.manage',
    params: z.object({ id: idParam('id') }),
    ref: (c) => ({ kind: 'group', id: c.req.param('id')! }),
    tag: 'of a group',
  },
];

const list = <T extends z.ZodType>(schema: T) => z.object({ data: z.array(schema) });

function scopedRoutes(scope: Scope) {
  const base = `${scope.prefix}/alerts`;
  const p = scope.permission;
  const withEndpoint = scope.params.extend({ endpointId: idParam('endpointId') });
  const withRule = scope.params.extend({ ruleId: idParam('ruleId') });
  const withSilence = scope.params.extend({ silenceId: idParam('silenceId') });
  const endpointId = (c: Context<AppEnv>) => c.req.param('endpointId')!;
  const ruleId = (c: Context<AppEnv>) => c.req.param('ruleId')!;
  return (
    newRouter()
      // ——— endpoints
      .openapi(
        route(p, {
          method: 'get',
          path: `${base}/endpoints`,
          summary: `Alert webhook endpoints ${scope.tag}`,
          request: { params: scope.params },
          responses: { 200: jsonResponse(list(EndpointSchema), 'The endpoints.') },
        }),
        async (c) => c.json({ data: await listEndpoints(requireCaller(c), scope.ref(c)) }, 200),
      )
      .openapi(
        route(p, {
          method: 'post',
          path: `${base}/endpoints`,
          summary: `Add an alert webhook endpoint ${scope.tag} (its signing secret is shown once)`,
          request: { params: scope.params, ...jsonBody(EndpointInput) },
          responses: { 201: jsonResponse(NewEndpointSchema, 'The endpoint, with its secret this once.') },
        }),
        async (c) => c.json(await createEndpoint(requireCaller(c), scope.ref(c), c.req.valid('json')), 201),
      )
      .openapi(
        route(p, {
          method: 'get',
          path: `${base}/endpoints/{endpointId}`,
          summary: `One alert endpoint ${scope.tag}`,
          request: { params: withEndpoint },
          responses: { 200: jsonResponse(EndpointSchema, 'The endpoint.') },
        }),
        async (c) => c.json(await getEndpoint(requireCaller(c), scope.ref(c), endpointId(c)), 200),
      )
      .openapi(
        route(p, {
          method: 'patch',
          path: `${base}/endpoints/{endpointId}`,
          summary: `Change an alert endpoint ${scope.tag}`,
          request: { params: withEndpoint, ...jsonBody(EndpointChanges) },
          responses: { 200: jsonResponse(EndpointSchema, 'The endpoint.') },
        }),
        async (c) =>
          c.json(
            await updateEndpoint(requireCaller(c), scope.ref(c), endpointId(c), c.req.valid('json')),
            200,
          ),
      )
      .openapi(
        route(p, {
          method: 'delete',
          path: `${base}/endpoints/{endpointId}`,
          summary: `Delete an alert endpoint ${scope.tag}, with its delivery log`,
          request: { params: withEndpoint },
          responses: { 200: jsonResponse(EndpointSchema, 'The deleted endpoint.') },
        }),
        async (c) => c.json(await deleteEndpoint(requireCaller(c), scope.ref(c), endpointId(c)), 200),
      )
      .openapi(
        route(p, {
          method: 'post',
          path: `${base}/endpoints/{endpointId}/rotate-secret`,
          summary: `A new signing secret for an alert endpoint ${scope.tag} (shown once)`,
          request: { params: withEndpoint },
          responses: { 200: jsonResponse(NewEndpointSchema, 'The endpoint, with its new secret this once.') },
        }),
        async (c) => c.json(await rotateEndpointSecret(requireCaller(c), scope.ref(c), endpointId(c)), 200),
      )
      .openapi(
        route(p, {
          method: 'post',
          path: `${base}/endpoints/{endpointId}/test`,
          summary: `Send a sample alert to an endpoint ${scope.tag} now, once`,
          request: { params: withEndpoint },
          responses: {
            200: jsonResponse(DeliverySchema, 'The delivery: delivered, or failed with the reason.'),
          },
        }),
        async (c) => c.json(await testEndpoint(requireCaller(c), scope.ref(c), endpointId(c)), 200),
      )
      .openapi(
        route(p, {
          method: 'get',
          path: `${base}/endpoints/{endpointId}/deliveries`,
          summary: `The delivery log of an alert endpoint ${scope.tag}, newest first`,
          request: { params: withEndpoint, query: Limit },
          responses: { 200: jsonResponse(list(DeliverySchema), 'The deliveries.') },
        }),
        async (c) =>
          c.json(
            {
              data: await listDeliveries(
                requireCaller(c),
                scope.ref(c),
                endpointId(c),
                c.req.valid('query').limit,
              ),
            },
            200,
          ),
      )
      // ——— rules
      .openapi(
        route(p, {
          method: 'get',
          path: `${base}/rules`,
          summary: `Alert rules ${scope.tag}`,
          request: { params: scope.params },
          responses: { 200: jsonResponse(list(RuleSchema), 'The rules.') },
        }),
        async (c) => c.json({ data: await listRules(requireCaller(c), scope.ref(c)) }, 200),
      )
      .openapi(
        route(p, {
          method: 'post',
          path: `${base}/rules`,
          summary: `Add an alert rule ${scope.tag}`,
          request: { params: scope.params, ...jsonBody(RuleInput) },
          responses: { 201: jsonResponse(RuleSchema, 'The rule.') },
        }),
        async (c) => c.json(await createRule(requireCaller(c), scope.ref(c), c.req.valid('json')), 201),
      )
      .openapi(
        route(p, {
          method: 'get',
          path: `${base}/rules/{ruleId}`,
          summary: `One alert rule ${scope.tag}`,
          request: { params: withRule },
          responses: { 200: jsonResponse(RuleSchema, 'The rule.') },
        }),
        async (c) => c.json(await getRule(requireCaller(c), scope.ref(c), ruleId(c)), 200),
      )
      .openapi(
        route(p, {
          method: 'patch',
          path: `${base}/rules/{ruleId}`,
          summary: `Change an alert rule ${scope.tag} (its kind stays)`,
          request: { params: withRule, ...jsonBody(RuleChanges) },
          responses: { 200: jsonResponse(RuleSchema, 'The rule.') },
        }),
        async (c) =>
          c.json(await updateRule(requireCaller(c), scope.ref(c), ruleId(c), c.req.valid('json')), 200),
      )
      .openapi(
        route(p, {
          method: 'delete',
          path: `${base}/rules/{ruleId}`,
          summary: `Delete an alert rule ${scope.tag}, with its silences and firings`,
          request: { params: withRule },
          responses: { 200: jsonResponse(RuleSchema, 'The deleted rule.') },
        }),
        async (c) => c.json(await deleteRule(requireCaller(c), scope.ref(c), ruleId(c)), 200),
      )
      // ——— silences and firings
      .openapi(
        route(p, {
          method: 'get',
          path: `${base}/silences`,
          summary: `Silences of the alert rules ${scope.tag}, newest first`,
          request: { params: scope.params, query: Limit },
          responses: { 200: jsonResponse(list(SilenceSchema), 'The silences.') },
        }),
        async (c) =>
          c.json(
            { data: await listSilences(requireCaller(c), scope.ref(c), c.req.valid('query').limit) },
            200,
          ),
      )
      .openapi(
        route(p, {
          method: 'post',
          path: `${base}/silences`,
          summary: `Silence an alert rule ${scope.tag} (for one subject, or all) until a time`,
          request: { params: scope.params, ...jsonBody(SilenceInput) },
          responses: { 201: jsonResponse(SilenceSchema, 'The silence.') },
        }),
        async (c) => c.json(await createSilence(requireCaller(c), scope.ref(c), c.req.valid('json')), 201),
      )
      .openapi(
        route(p, {
          method: 'delete',
          path: `${base}/silences/{silenceId}`,
          summary: `End a silence ${scope.tag} now`,
          request: { params: withSilence },
          responses: { 200: jsonResponse(SilenceSchema, 'The ended silence.') },
        }),
        async (c) =>
          c.json(await deleteSilence(requireCaller(c), scope.ref(c), c.req.param('silenceId')!), 200),
      )
      .openapi(
        route(p, {
          method: 'get',
          path: `${base}/firings`,
          summary: `What the alert rules ${scope.tag} fired, newest first`,
          request: { params: scope.params, query: Limit },
          responses: { 200: jsonResponse(list(FiringSchema), 'The firings.') },
        }),
        async (c) =>
          c.json(
            { data: await listFirings(requireCaller(c), scope.ref(c), c.req.valid('query').limit) },
            200,
          ),
      )
  );
}

export const alertRoutes = newRouter();
for (const scope of SCOPES) alertRoutes.route('/', scopedRoutes(scope));
