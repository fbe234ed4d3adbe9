// Alerting, as people manage it: webhook endpoints, rules and silences, each in one scope — an
// enterprise (managed with `enterprise.manage`), a group (`group.manage`) or the whole system
// (`system.admin`). What fires and how it is delivered lives in worker/alerts/.
import { and, desc, eq, inArray, isNull, type SQL } from 'drizzle-orm';
import { deliverySettings } from '../alerts/config';
import { attemptDelivery } from '../alerts/deliver';
import {
  type AlertKind,
  type AlertRuleParams,
  DEFAULT_COOLDOWN_COUNT,
  DEFAULT_COOLDOWN_WINDOW_MINUTES,
  DEFAULT_THRESHOLDS,
  type EndpointFormat,
  sampleEvent,
} from '../alerts/event';
import { signsItsOwnWay } from '../alerts/formats';
import { newSigningSecret, seal, urlHint } from '../alerts/sealed';
import { ApiError, fieldRefusal } from '../api/errors';
import {
  type AlertDelivery,
  type AlertEndpoint,
  type AlertFiring,
  type AlertRule,
  type AlertSilence,
  accounts,
  alertDeliveries,
  alertEndpoints,
  alertFirings,
  alertRuleEndpoints,
  alertRules,
  alertSilences,
  budgets,
  enterprises,
  groups,
} from '../db/schema';
import { auditInsert } from './audit';
import { actorId, authorize, type Caller } from './caller';

/** Whose alerting: the system's, an enterprise's or a group's. */
export type AlertScopeRef =
  | { kind: 'system' }
  | { kind: 'enterprise'; id: string }
  | { kind: 'group'; id: string };

/** A scope the caller may manage, with the columns it is stored under. */
interface ManagedScope {
  enterpriseId: string | null;
  groupId: string | null;
  /** For the audit log: the group's enterprise too, so the enterprise's managers read it. */
  auditEnterpriseId: string | null;
  what: string;
}

async function manage(caller: Caller, scope: AlertScopeRef): Promise<ManagedScope> {
  switch (scope.kind) {
    case 'system':
      await authorize(caller, 'system.admin', { type: 'system' }, 'such alerting');
      return { enterpriseId: null, groupId: null, auditEnterpriseId: null, what: 'the system' };
    case 'enterprise': {
      const what = `enterprise ${scope.id}`;
      await authorize(caller, 'enterprise.manage', { type: 'enterprise', enterpriseId: scope.id }, what);
      const [row] = await caller.db
        .select({ id: enterprises.id })
        .from(enterprises)
        .where(eq(enterprises.id, scope.id));
      if (!row) throw new ApiError('not_found', `No ${what}.`);
      return { enterpriseId: scope.id, groupId: null, auditEnterpriseId: scope.id, what };
    }
    case 'group': {
      const what = `group ${scope.id}`;
      const [group] = await caller.db
        .select({ enterpriseId: groups.enterpriseId })
        .from(groups)
        .where(eq(groups.id, scope.id));
      if (!group) throw new ApiError('not_found', `No ${what}.`);
      await authorize(
        caller,
        'group.manage',
        { type: 'group', groupId: scope.id, enterpriseId: group.enterpriseId },
        what,
      );
      return { enterpriseId: null, groupId: scope.id, auditEnterpriseId: group.enterpriseId, what };
    }
  }
}

/** Rows of a table that belong to exactly this scope. */
function inScope(table: typeof alertEndpoints | typeof alertRules, scope: ManagedScope): SQL | undefined {
  if (scope.groupId) return eq(table.groupId, scope.groupId);
  if (scope.enterpriseId) return and(eq(table.enterpriseId, scope.enterpriseId), isNull(table.groupId));
  return and(isNull(table.enterpriseId), isNull(table.groupId));
}

function audited(
  caller: Caller,
  scope: ManagedScope,
  action: string,
  target: { type: string; id: string },
  detail: Record<string, unknown>,
) {
  return auditInsert(caller, {
    action,
    target,
    enterpriseId: scope.auditEnterpriseId,
    groupId: scope.groupId,
    detail,
  });
}

// ——— endpoints ————————————————————————————————————————————————————————————————————————————

/** An endpoint as it is shown: never its URL, its secret or the vendor's secret. */
export type PublicEndpoint = Omit<AlertEndpoint, 'urlEnc' | 'secretEnc' | 'vendorSecretEnc'> & {
  hasVendorSecret: boolean;
};

function publicEndpoint({
  urlEnc: _u,
  secretEnc: _s,
  vendorSecretEnc,
  ...rest
}: AlertEndpoint): PublicEndpoint {
  return { ...rest, hasVendorSecret: vendorSecretEnc !== null };
}

export interface EndpointInput {
  name: string;
  /** https, or http to localhost / 127.0.0.1 for local testing (checked at the API's boundary). */
  url: string;
  format: EndpointFormat;
  /** Feishu/Lark's or DingTalk's signing secret of the bot (feishu and dingtalk only). */
  vendorSecret?: string | null;
  enabled?: boolean;
}

function checkVendorSecret(format: EndpointFormat, vendorSecret: string | null | undefined): void {
  if (vendorSecret != null && !signsItsOwnWay(format))
    throw fieldRefusal(
      'vendorSecret',
      `the ${format} format has no signing of its own (only feishu and dingtalk do).`,
      { rule: 'not_for_kind' },
    );
}

export async function createEndpoint(
  caller: Caller,
  scopeRef: AlertScopeRef,
  input: EndpointInput,
): Promise<PublicEndpoint & { secret: string }> {
  const scope = await manage(caller, scopeRef);
  checkVendorSecret(input.format, input.vendorSecret);
  const id = crypto.randomUUID();
  const env = caller.env;
  const secret = newSigningSecret();
  const now = Date.now();
  const [[row]] = await caller.db.batch([
    caller.db
      .insert(alertEndpoints)
      .values({
        id,
        enterpriseId: scope.enterpriseId,
        groupId: scope.groupId,
        name: input.name,
        format: input.format,
        urlEnc: await seal(env, id, 'url', input.url),
        urlHint: urlHint(input.url),
        secretEnc: await seal(env, id, 'secret', secret),
        vendorSecretEnc: input.vendorSecret ? await seal(env, id, 'vendor-secret', input.vendorSecret) : null,
        enabled: input.enabled ?? true,
        // One clock for both (the column's default is D1's, every later update the Worker's).
        createdAt: now,
        updatedAt: now,
      })
      .returning(),
    audited(
      caller,
      scope,
      'alert.endpoint.create',
      { type: 'alert_endpoint', id },
      {
        name: input.name,
        format: input.format,
        url: urlHint(input.url),
        vendorSecret: Boolean(input.vendorSecret),
      },
    ),
  ]);
  return { ...publicEndpoint(row!), secret };
}

export async function listEndpoints(caller: Caller, scopeRef: AlertScopeRef): Promise<PublicEndpoint[]> {
  const scope = await manage(caller, scopeRef);
  const rows = await caller.db
    .select()
    .from(alertEndpoints)
    .where(inScope(alertEndpoints, scope))
    .orderBy(alertEndpoints.createdAt);
  return rows.map(publicEndpoint);
}

async function findEndpoint(caller: Caller, scope: ManagedScope, id: string): Promise<AlertEndpoint> {
  const [row] = await caller.db
    .select()
    .from(alertEndpoints)
    .where(and(eq(alertEndpoints.id, id), inScope(alertEndpoints, scope)));
  // Another scope's endpoint is as absent as one that never existed.
  if (!row) throw new ApiError('not_found', `No alert endpoint ${id} in ${scope.what}.`);
  return row;
}

export async function getEndpoint(
  caller: Caller,
  scopeRef: AlertScopeRef,
  id: string,
): Promise<PublicEndpoint> {
  return publicEndpoint(await findEndpoint(caller, await manage(caller, scopeRef), id));
}

export async function updateEndpoint(
  caller: Caller,
  scopeRef: AlertScopeRef,
  id: string,
  changes: Partial<EndpointInput>,
): Promise<PublicEndpoint> {
  const scope = await manage(caller, scopeRef);
  const before = await findEndpoint(caller, scope, id);
  const format = changes.format ?? before.format;
  checkVendorSecret(format, changes.vendorSecret);
  const env = caller.env;
  const set: Partial<typeof alertEndpoints.$inferInsert> = { updatedAt: Date.now() };
  if (changes.name !== undefined) set.name = changes.name;
  if (changes.enabled !== undefined) set.enabled = changes.enabled;
  if (changes.format !== undefined) set.format = changes.format;
  if (changes.url !== undefined) {
    set.urlEnc = await seal(env, id, 'url', changes.url);
    set.urlHint = urlHint(changes.url);
  }
  if (changes.vendorSecret !== undefined)
    set.vendorSecretEnc = changes.vendorSecret
      ? await seal(env, id, 'vendor-secret', changes.vendorSecret)
      : null;
  // A format without a signing of its own keeps no vendor secret.
  if (!signsItsOwnWay(format)) set.vendorSecretEnc = null;
  const [[row]] = await caller.db.batch([
    caller.db.update(alertEndpoints).set(set).where(eq(alertEndpoints.id, id)).returning(),
    audited(
      caller,
      scope,
      'alert.endpoint.update',
      { type: 'alert_endpoint', id },
      {
        fields: Object.keys(changes),
        before: { name: before.name, format: before.format, url: before.urlHint, enabled: before.enabled },
        after: {
          name: set.name ?? before.name,
          format,
          url: set.urlHint ?? before.urlHint,
          enabled: set.enabled ?? before.enabled,
        },
      },
    ),
  ]);
  return publicEndpoint(row!);
}

export async function deleteEndpoint(
  caller: Caller,
  scopeRef: AlertScopeRef,
  id: string,
): Promise<PublicEndpoint> {
  const scope = await manage(caller, scopeRef);
  const before = await findEndpoint(caller, scope, id);
  // Its rule links and its delivery log go with it (foreign keys cascade).
  await caller.db.batch([
    caller.db.delete(alertEndpoints).where(eq(alertEndpoints.id, id)),
    audited(caller, scope, 'alert.endpoint.delete', { type: 'alert_endpoint', id }, { name: before.name }),
  ]);
  return publicEndpoint(before);
}

/** A new signing secret, shown once; the old one stops signing at once. */
export async function rotateEndpointSecret(
  caller: Caller,
  scopeRef: AlertScopeRef,
  id: string,
): Promise<PublicEndpoint & { secret: string }> {
  const scope = await manage(caller, scopeRef);
  await findEndpoint(caller, scope, id);
  const secret = newSigningSecret();
  const [[row]] = await caller.db.batch([
    caller.db
      .update(alertEndpoints)
      .set({ secretEnc: await seal(caller.env, id, 'secret', secret), updatedAt: Date.now() })
      .where(eq(alertEndpoints.id, id))
      .returning(),
    audited(caller, scope, 'alert.endpoint.rotate_secret', { type: 'alert_endpoint', id }, {}),
  ]);
  return { ...publicEndpoint(row!), secret };
}

/**
 * Sends a sample event now, once (no retries: the answer is what the caller wants to see), and
 * returns its delivery log entry. A disabled endpoint is tested all the same.
 */
export async function testEndpoint(
  caller: Caller,
  scopeRef: AlertScopeRef,
  id: string,
): Promise<AlertDelivery> {
  const scope = await manage(caller, scopeRef);
  const endpoint = await findEndpoint(caller, scope, id);
  const event = sampleEvent(endpoint);
  const deliveryId = crypto.randomUUID();
  await caller.db.insert(alertDeliveries).values({
    id: deliveryId,
    endpointId: id,
    event: event.type,
    payload: event,
    maxAttempts: 1,
    nextAttemptAt: Date.now(),
  });
  const { delivery } = await attemptDelivery(caller.env, deliveryId, deliverySettings(caller.env), {
    evenIfDisabled: true,
  });
  return delivery!;
}

export async function listDeliveries(
  caller: Caller,
  scopeRef: AlertScopeRef,
  endpointId: string,
  limit = 50,
): Promise<AlertDelivery[]> {
  const scope = await manage(caller, scopeRef);
  await findEndpoint(caller, scope, endpointId);
  return caller.db
    .select()
    .from(alertDeliveries)
    .where(eq(alertDeliveries.endpointId, endpointId))
    .orderBy(desc(alertDeliveries.createdAt), desc(alertDeliveries.id))
    .limit(limit);
}

// ——— rules ——————————————————————————————————————————————————————————————————————————————————

interface RuleCommon {
  name: string;
  enabled?: boolean;
  /** Endpoints of the same scope. */
  endpointIds: string[];
}

export type RuleInput = RuleCommon &
  (
    | { kind: 'budget.threshold'; budgetId?: string | null; thresholds?: number[] }
    | { kind: 'account.disabled'; accountId?: string | null }
    | { kind: 'account.cooldowns'; accountId?: string | null; count?: number; windowMinutes?: number }
  );

export interface RuleChanges {
  name?: string;
  enabled?: boolean;
  endpointIds?: string[];
  budgetId?: string | null;
  accountId?: string | null;
  thresholds?: number[];
  count?: number;
  windowMinutes?: number;
}

/** A rule as it is shown: its subject under its own name, its params with their defaults. */
export interface PublicRule {
  id: string;
  enterpriseId: string | null;
  groupId: string | null;
  kind: AlertKind;
  name: string;
  enabled: boolean;
  budgetId: string | null;
  accountId: string | null;
  thresholds: number[] | null;
  count: number | null;
  windowMinutes: number | null;
  endpointIds: string[];
  createdAt: number;
  updatedAt: number;
}

function publicRule(rule: AlertRule, endpointIds: string[]): PublicRule {
  const budget = rule.kind === 'budget.threshold';
  const cooldowns = rule.kind === 'account.cooldowns';
  return {
    id: rule.id,
    enterpriseId: rule.enterpriseId,
    groupId: rule.groupId,
    kind: rule.kind,
    name: rule.name,
    enabled: rule.enabled,
    budgetId: budget ? rule.subjectId : null,
    accountId: budget ? null : rule.subjectId,
    thresholds: budget ? (rule.params.thresholds ?? [...DEFAULT_THRESHOLDS]) : null,
    count: cooldowns ? (rule.params.count ?? DEFAULT_COOLDOWN_COUNT) : null,
    windowMinutes: cooldowns ? (rule.params.windowMinutes ?? DEFAULT_COOLDOWN_WINDOW_MINUTES) : null,
    endpointIds,
    createdAt: rule.createdAt,
    updatedAt: rule.updatedAt,
  };
}

/** The fields each kind takes beyond the common ones; any other is refused, not ignored. */
const KIND_FIELDS: Record<AlertKind, readonly (keyof RuleChanges)[]> = {
  'budget.threshold': ['budgetId', 'thresholds'],
  'account.disabled': ['accountId'],
  'account.cooldowns': ['accountId', 'count', 'windowMinutes'],
};
const KIND_SPECIFIC: readonly (keyof RuleChanges)[] = [
  'budgetId',
  'accountId',
  'thresholds',
  'count',
  'windowMinutes',
];

function checkKindFields(kind: AlertKind, fields: object): void {
  for (const field of KIND_SPECIFIC) {
    if (
      field in fields &&
      (fields as Record<string, unknown>)[field] !== undefined &&
      !KIND_FIELDS[kind].includes(field)
    )
      throw fieldRefusal(field, `a ${kind} rule has no ${field}.`, { rule: 'not_for_kind' });
  }
}

async function checkEndpoints(caller: Caller, scope: ManagedScope, ids: string[]): Promise<void> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return;
  const found = await caller.db
    .select({ id: alertEndpoints.id })
    .from(alertEndpoints)
    .where(and(inArray(alertEndpoints.id, unique), inScope(alertEndpoints, scope)));
  const missing = unique.filter((id) => !found.some((row) => row.id === id));
  if (missing.length > 0)
    throw fieldRefusal('endpointIds', `no alert endpoint ${missing.join(', ')} in ${scope.what}.`, {
      rule: 'unknown_reference',
    });
}

/** Whether a row a filter names is seen by the scope: its group's, its enterprise's (groups included), or any (system). */
function seenByScope(
  scope: ManagedScope,
  row: { enterpriseId: string | null; groupId: string | null },
): boolean {
  if (scope.groupId) return row.groupId === scope.groupId;
  if (scope.enterpriseId) return row.enterpriseId === scope.enterpriseId;
  return true;
}

/** An account filter names an account of the scope: the enterprise's pool, the group's own account. */
async function checkAccount(caller: Caller, scope: ManagedScope, accountId: string): Promise<void> {
  const [row] = await caller.db
    .select({ enterpriseId: accounts.enterpriseId, groupId: groups.id })
    .from(accounts)
    .leftJoin(groups, eq(groups.boundAccountId, accounts.id))
    .where(eq(accounts.id, accountId));
  const ok = row !== undefined && seenByScope(scope, row);
  if (!ok)
    throw fieldRefusal('accountId', `no account ${accountId} in ${scope.what}.`, {
      rule: 'unknown_reference',
    });
}

/** A budget filter names a budget the scope's rules see: the group's, or the enterprise's and its groups'. */
async function checkBudget(caller: Caller, scope: ManagedScope, budgetId: string): Promise<void> {
  const [row] = await caller.db
    .select({ enterpriseId: budgets.enterpriseId, groupId: budgets.groupId })
    .from(budgets)
    .where(eq(budgets.id, budgetId));
  const ok = row !== undefined && seenByScope(scope, row);
  if (!ok)
    throw fieldRefusal('budgetId', `no budget ${budgetId} in ${scope.what}.`, { rule: 'unknown_reference' });
}

/** The rule's subject, if it names one, is of the scope. */
function checkSubject(caller: Caller, scope: ManagedScope, kind: AlertKind, subjectId: string) {
  return kind === 'budget.threshold'
    ? checkBudget(caller, scope, subjectId)
    : checkAccount(caller, scope, subjectId);
}

function paramsOf(kind: AlertKind, input: RuleChanges, before?: AlertRuleParams): AlertRuleParams {
  switch (kind) {
    case 'budget.threshold': {
      const thresholds = input.thresholds ?? before?.thresholds;
      return thresholds ? { thresholds: [...new Set(thresholds)].sort((a, b) => a - b) } : {};
    }
    case 'account.disabled':
      return {};
    case 'account.cooldowns':
      return {
        count: input.count ?? before?.count ?? DEFAULT_COOLDOWN_COUNT,
        windowMinutes: input.windowMinutes ?? before?.windowMinutes ?? DEFAULT_COOLDOWN_WINDOW_MINUTES,
      };
  }
}

function subjectOf(kind: AlertKind, input: RuleChanges): string | null | undefined {
  return kind === 'budget.threshold' ? input.budgetId : input.accountId;
}

async function ruleEndpointIds(caller: Caller, ruleIds: string[]): Promise<Map<string, string[]>> {
  const byRule = new Map<string, string[]>(ruleIds.map((id) => [id, []]));
  if (ruleIds.length === 0) return byRule;
  const links = await caller.db
    .select()
    .from(alertRuleEndpoints)
    .where(inArray(alertRuleEndpoints.ruleId, ruleIds));
  for (const link of links) byRule.get(link.ruleId)?.push(link.endpointId);
  return byRule;
}

export async function createRule(
  caller: Caller,
  scopeRef: AlertScopeRef,
  input: RuleInput,
): Promise<PublicRule> {
  const scope = await manage(caller, scopeRef);
  checkKindFields(input.kind, input);
  await checkEndpoints(caller, scope, input.endpointIds);
  const subjectId = subjectOf(input.kind, input) ?? null;
  if (subjectId) await checkSubject(caller, scope, input.kind, subjectId);
  const id = crypto.randomUUID();
  const endpointIds = [...new Set(input.endpointIds)];
  const d = caller.db;
  const now = Date.now();
  const [[row]] = await d.batch([
    d
      .insert(alertRules)
      .values({
        id,
        enterpriseId: scope.enterpriseId,
        groupId: scope.groupId,
        name: input.name,
        kind: input.kind,
        subjectId,
        params: paramsOf(input.kind, input),
        enabled: input.enabled ?? true,
        createdAt: now,
        updatedAt: now,
      })
      .returning(),
    ...endpointIds.map((endpointId) => d.insert(alertRuleEndpoints).values({ ruleId: id, endpointId })),
    audited(
      caller,
      scope,
      'alert.rule.create',
      { type: 'alert_rule', id },
      {
        name: input.name,
        kind: input.kind,
        subjectId,
        endpointIds,
      },
    ),
  ]);
  return publicRule(row!, endpointIds);
}

export async function listRules(caller: Caller, scopeRef: AlertScopeRef): Promise<PublicRule[]> {
  const scope = await manage(caller, scopeRef);
  const rows = await caller.db
    .select()
    .from(alertRules)
    .where(inScope(alertRules, scope))
    .orderBy(alertRules.createdAt);
  const links = await ruleEndpointIds(
    caller,
    rows.map((r) => r.id),
  );
  return rows.map((rule) => publicRule(rule, links.get(rule.id) ?? []));
}

async function findRule(caller: Caller, scope: ManagedScope, id: string): Promise<AlertRule> {
  const [row] = await caller.db
    .select()
    .from(alertRules)
    .where(and(eq(alertRules.id, id), inScope(alertRules, scope)));
  if (!row) throw new ApiError('not_found', `No alert rule ${id} in ${scope.what}.`);
  return row;
}

export async function getRule(caller: Caller, scopeRef: AlertScopeRef, id: string): Promise<PublicRule> {
  const rule = await findRule(caller, await manage(caller, scopeRef), id);
  return publicRule(rule, (await ruleEndpointIds(caller, [id])).get(id) ?? []);
}

export async function updateRule(
  caller: Caller,
  scopeRef: AlertScopeRef,
  id: string,
  changes: RuleChanges,
): Promise<PublicRule> {
  const scope = await manage(caller, scopeRef);
  const before = await findRule(caller, scope, id);
  checkKindFields(before.kind, changes);
  if (changes.endpointIds) await checkEndpoints(caller, scope, changes.endpointIds);
  const subjectId = subjectOf(before.kind, changes);
  if (subjectId) await checkSubject(caller, scope, before.kind, subjectId);
  const d = caller.db;
  const endpointIds = changes.endpointIds ? [...new Set(changes.endpointIds)] : null;
  const [[row]] = await d.batch([
    d
      .update(alertRules)
      .set({
        name: changes.name,
        enabled: changes.enabled,
        subjectId,
        params: paramsOf(before.kind, changes, before.params),
        updatedAt: Date.now(),
      })
      .where(eq(alertRules.id, id))
      .returning(),
    ...(endpointIds
      ? [
          d.delete(alertRuleEndpoints).where(eq(alertRuleEndpoints.ruleId, id)),
          ...endpointIds.map((endpointId) => d.insert(alertRuleEndpoints).values({ ruleId: id, endpointId })),
        ]
      : []),
    audited(
      caller,
      scope,
      'alert.rule.update',
      { type: 'alert_rule', id },
      {
        fields: Object.keys(changes),
        before: {
          name: before.name,
          enabled: before.enabled,
          subjectId: before.subjectId,
          params: before.params,
        },
      },
    ),
  ]);
  return publicRule(row!, endpointIds ?? (await ruleEndpointIds(caller, [id])).get(id) ?? []);
}

export async function deleteRule(caller: Caller, scopeRef: AlertScopeRef, id: string): Promise<PublicRule> {
  const scope = await manage(caller, scopeRef);
  const before = await findRule(caller, scope, id);
  const endpointIds = (await ruleEndpointIds(caller, [id])).get(id) ?? [];
  // Its silences and firings go with it; its deliveries stay in the endpoints' logs.
  await caller.db.batch([
    caller.db.delete(alertRules).where(eq(alertRules.id, id)),
    audited(
      caller,
      scope,
      'alert.rule.delete',
      { type: 'alert_rule', id },
      { name: before.name, kind: before.kind },
    ),
  ]);
  return publicRule(before, endpointIds);
}

// ——— silences ——————————————————————————————————————————————————————————————————————————————

export interface SilenceInput {
  ruleId: string;
  /** One budget or account; none: the whole rule. */
  subjectId?: string | null;
  /** Until when (ms since the epoch). */
  endsAt: number;
  comment?: string;
}

/** Silences are at most a year long: longer, disable the rule. */
const MAX_SILENCE_MS = 366 * 24 * 3_600_000;

export async function createSilence(
  caller: Caller,
  scopeRef: AlertScopeRef,
  input: SilenceInput,
): Promise<AlertSilence> {
  const scope = await manage(caller, scopeRef);
  const [rule] = await caller.db
    .select({ id: alertRules.id })
    .from(alertRules)
    .where(and(eq(alertRules.id, input.ruleId), inScope(alertRules, scope)));
  if (!rule)
    throw fieldRefusal('ruleId', `no alert rule ${input.ruleId} in ${scope.what}.`, {
      rule: 'unknown_reference',
    });
  const now = Date.now();
  if (input.endsAt <= now) throw fieldRefusal('endsAt', 'must be in the future.', { rule: 'future' });
  if (input.endsAt > now + MAX_SILENCE_MS)
    throw fieldRefusal('endsAt', 'a silence lasts a year at most (disable the rule instead).', {
      rule: 'at_most_a_year',
    });
  const id = crypto.randomUUID();
  const [[row]] = await caller.db.batch([
    caller.db
      .insert(alertSilences)
      .values({
        id,
        ruleId: input.ruleId,
        subjectId: input.subjectId ?? null,
        endsAt: input.endsAt,
        comment: input.comment ?? '',
        createdBy: actorId(caller),
      })
      .returning(),
    audited(
      caller,
      scope,
      'alert.silence.create',
      { type: 'alert_silence', id },
      {
        ruleId: input.ruleId,
        subjectId: input.subjectId ?? null,
        endsAt: input.endsAt,
      },
    ),
  ]);
  return row!;
}

/** The scope's silences, newest first (ended ones too: they say why nothing was sent). */
export async function listSilences(
  caller: Caller,
  scopeRef: AlertScopeRef,
  limit = 100,
): Promise<AlertSilence[]> {
  const scope = await manage(caller, scopeRef);
  const rows = await caller.db
    .select({ silence: alertSilences })
    .from(alertSilences)
    .innerJoin(alertRules, eq(alertRules.id, alertSilences.ruleId))
    .where(inScope(alertRules, scope))
    .orderBy(desc(alertSilences.createdAt))
    .limit(limit);
  return rows.map((r) => r.silence);
}

/** Ends a silence now. */
export async function deleteSilence(
  caller: Caller,
  scopeRef: AlertScopeRef,
  id: string,
): Promise<AlertSilence> {
  const scope = await manage(caller, scopeRef);
  const [found] = await caller.db
    .select({ silence: alertSilences })
    .from(alertSilences)
    .innerJoin(alertRules, eq(alertRules.id, alertSilences.ruleId))
    .where(and(eq(alertSilences.id, id), inScope(alertRules, scope)));
  if (!found) throw new ApiError('not_found', `No alert silence ${id} in ${scope.what}.`);
  await caller.db.batch([
    caller.db.delete(alertSilences).where(eq(alertSilences.id, id)),
    audited(
      caller,
      scope,
      'alert.silence.delete',
      { type: 'alert_silence', id },
      { ruleId: found.silence.ruleId },
    ),
  ]);
  return found.silence;
}

// ——— firings ———————————————————————————————————————————————————————————————————————————————

/** What the scope's rules fired, newest first. */
export async function listFirings(
  caller: Caller,
  scopeRef: AlertScopeRef,
  limit = 100,
): Promise<AlertFiring[]> {
  const scope = await manage(caller, scopeRef);
  const rows = await caller.db
    .select({ firing: alertFirings })
    .from(alertFirings)
    .innerJoin(alertRules, eq(alertRules.id, alertFirings.ruleId))
    .where(inScope(alertRules, scope))
    .orderBy(desc(alertFirings.firedAt))
    .limit(limit);
  return rows.map((r) => r.firing);
}
