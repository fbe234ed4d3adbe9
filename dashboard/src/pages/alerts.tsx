// Budgets' and accounts' alerts: webhook endpoints (with a test send, their delivery log and a new
// signing secret), alert rules, what they fired (each subject can be silenced from there), and
// silences (a rule quiet until a time, for all its subjects or one), for one scope at a time
// — a group one owns, an enterprise one runs, or the system (a system admin). A signing secret is
// shown once: when the endpoint is added, and when it is replaced.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { adminKeys, useBudgetNames, useBudgets, useEnterprises } from '../api/admin-queries';
import { type AlertScope, alertsApi, parseScope, scopeKey } from '../api/alerts';
import type { Schemas } from '../api/client';
import { useGroups, useMe } from '../api/queries';
import '../admin.css';
import { Card, CodeBlock, ConfirmButton, ErrorMessage, Field, Loading, Select } from '../components/ui';
import { useI18n } from '../i18n';
import { managedScopeValues } from '../lib/access';
import { budgetsInAlertScope, budgetTargetName } from '../lib/admin';
import { formatDateTime } from '../lib/format';

type Format = Schemas['AlertEndpoint']['format'];
type RuleKind = Schemas['AlertRule']['kind'];
const FORMATS: readonly Format[] = ['json', 'slack', 'discord', 'feishu', 'dingtalk', 'wecom'];
const RULE_KINDS: readonly RuleKind[] = ['budget.threshold', 'account.disabled', 'account.cooldowns'];

/**
 * The scopes the viewer may manage alerts of (or, for the audit page, read the log of), named;
 * `ready` once the lists they come from are in.
 */
export function useAlertScopes(purpose: 'alerts' | 'audit' = 'alerts') {
  const { t } = useI18n();
  const me = useMe();
  const enterprises = useEnterprises();
  const groups = useGroups();
  const enterpriseList = enterprises.data?.data ?? [];
  const groupList = groups.data?.data ?? [];
  const label = (value: string) => {
    const scope = parseScope(value);
    if (scope.kind === 'system') return t('adm.alerts.system');
    const list: readonly { id: string; name: string }[] =
      scope.kind === 'enterprise' ? enterpriseList : groupList;
    return list.find((x) => x.id === scope.id)?.name ?? scope.id;
  };
  const values = managedScopeValues(purpose, me.data, enterpriseList, groupList);
  return Object.assign(
    values.map((value) => ({ value, label: label(value) })),
    { ready: me.isSuccess && !enterprises.isPending && !groups.isPending },
  );
}

export default function AlertsPage() {
  const { t } = useI18n();
  const scopes = useAlertScopes();
  const [chosen, setChosen] = useState('');
  const key = chosen || scopes[0]?.value || '';
  return (
    <>
      <h1>{t('adm.alerts.title')}</h1>
      {scopes.length === 0 ? (
        scopes.ready ? (
          <p className="muted">{t('adm.alerts.noScope')}</p>
        ) : (
          <Loading />
        )
      ) : (
        <Select
          label={t('adm.alerts.scope')}
          name="scope"
          value={key}
          options={scopes}
          onChange={setChosen}
        />
      )}
      {key && <Endpoints key={`e:${key}`} scope={parseScope(key)} />}
      {key && <Rules key={`r:${key}`} scope={parseScope(key)} />}
      {key && <Fired key={`f:${key}`} scope={parseScope(key)} />}
      {key && <Silences key={`s:${key}`} scope={parseScope(key)} />}
    </>
  );
}

// One query per list and scope, shared by the cards that read it (and refreshed by its key).
function useEndpoints(scope: AlertScope) {
  return useQuery({
    queryKey: adminKeys.alerts(scopeKey(scope), 'endpoints'),
    queryFn: () => alertsApi.endpoints(scope),
  });
}

function useRules(scope: AlertScope) {
  return useQuery({
    queryKey: adminKeys.alerts(scopeKey(scope), 'rules'),
    queryFn: () => alertsApi.rules(scope),
  });
}

function useSilences(scope: AlertScope) {
  return useQuery({
    queryKey: adminKeys.alerts(scopeKey(scope), 'silences'),
    queryFn: () => alertsApi.silences(scope),
  });
}

function useFirings(scope: AlertScope) {
  return useQuery({
    queryKey: adminKeys.alerts(scopeKey(scope), 'firings'),
    queryFn: () => alertsApi.firings(scope),
  });
}

function Endpoints({ scope }: { scope: AlertScope }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const queryKey = adminKeys.alerts(scopeKey(scope), 'endpoints');
  const endpoints = useEndpoints(scope);
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [format, setFormat] = useState<Format>('json');
  const [secret, setSecret] = useState<string | null>(null);
  const add = useMutation({
    mutationFn: () => alertsApi.addEndpoint(scope, { name, url, format }),
    onSuccess: (created) => {
      setSecret(created.secret);
      setName('');
      setUrl('');
      queryClient.invalidateQueries({ queryKey });
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => alertsApi.deleteEndpoint(scope, id),
    onSuccess: () => queryClient.invalidateQueries({ queryKey }),
  });
  return (
    <Card title={t('adm.alerts.endpoints')}>
      <ErrorMessage error={endpoints.error ?? remove.error} />
      {endpoints.data?.data.length === 0 && <p className="muted">{t('adm.alerts.noEndpoints')}</p>}
      {endpoints.data?.data.map((e) => (
        <section key={e.id} aria-label={e.name}>
          <h3>
            {e.name} <span className="muted">({e.format})</span>
          </h3>
          <p className="muted adm-wrap">
            {e.urlHint} · {e.enabled ? t('adm.common.enabled') : t('adm.common.disabled')}
          </p>
          <EndpointActions
            scope={scope}
            endpointId={e.id}
            name={e.name}
            onDelete={() => remove.mutate(e.id)}
          />
        </section>
      ))}
      {secret && (
        <div className="secret" role="status">
          <p>{t('adm.alerts.secretOnce')}</p>
          <CodeBlock text={secret} />
        </div>
      )}
      <form
        aria-label={t('adm.alerts.addEndpoint')}
        onSubmit={(e) => {
          e.preventDefault();
          add.mutate();
        }}
      >
        <h3>{t('adm.alerts.addEndpoint')}</h3>
        <Field label={t('adm.field.name')} name="endpointName" value={name} onChange={setName} required />
        <Field label={t('adm.alerts.url')} name="url" type="url" value={url} onChange={setUrl} required />
        <Select
          label={t('adm.alerts.format')}
          name="format"
          value={format}
          options={FORMATS.map((f) => ({ value: f, label: f }))}
          onChange={setFormat}
        />
        <ErrorMessage
          error={add.error}
          fields={{ name: t('adm.field.name'), url: t('adm.alerts.url'), format: t('adm.alerts.format') }}
        />
        <button type="submit" disabled={add.isPending}>
          {t('adm.alerts.addEndpoint')}
        </button>
      </form>
    </Card>
  );
}

function EndpointActions({
  scope,
  endpointId,
  name,
  onDelete,
}: {
  scope: AlertScope;
  endpointId: string;
  name: string;
  onDelete: () => void;
}) {
  const { t, language } = useI18n();
  const [open, setOpen] = useState(false);
  const deliveries = useQuery({
    queryKey: adminKeys.alerts(scopeKey(scope), `deliveries:${endpointId}`),
    enabled: open,
    queryFn: () => alertsApi.deliveries(scope, endpointId),
    refetchInterval: open ? 3000 : false,
  });
  const [secret, setSecret] = useState<string | null>(null);
  const rotate = useMutation({
    mutationFn: () => alertsApi.rotateSecret(scope, endpointId),
    onSuccess: (endpoint) => setSecret(endpoint.secret),
  });
  const test = useMutation({
    mutationFn: () => alertsApi.testEndpoint(scope, endpointId),
    onSuccess: () => {
      setOpen(true);
      deliveries.refetch();
    },
  });
  return (
    <>
      <div className="row">
        <button
          type="button"
          className="secondary small"
          onClick={() => test.mutate()}
          disabled={test.isPending}
        >
          {t('adm.alerts.test')}
        </button>
        <button type="button" className="secondary small" aria-expanded={open} onClick={() => setOpen(!open)}>
          {t('adm.alerts.deliveries')}
        </button>
        <ConfirmButton
          small
          label={t('adm.alerts.rotate')}
          confirmLabel={t('adm.alerts.rotateConfirm')}
          pending={rotate.isPending}
          onConfirm={() => rotate.mutate()}
        />
        <ConfirmButton
          small
          label={t('adm.common.delete')}
          confirmLabel={t('adm.alerts.deleteEndpointConfirm', { name })}
          onConfirm={onDelete}
        />
      </div>
      <ErrorMessage error={test.error ?? deliveries.error ?? rotate.error} />
      {secret && (
        <div className="secret" role="status">
          <p>{t('adm.alerts.rotatedOnce')}</p>
          <CodeBlock text={secret} />
        </div>
      )}
      {test.isSuccess && (
        <output className="ok" aria-live="polite">
          {t('adm.alerts.testSent')}
        </output>
      )}
      {open && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">{t('adm.alerts.deliveries')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('adm.common.time')}</th>
                <th scope="col">{t('adm.alerts.event')}</th>
                <th scope="col">{t('adm.common.status')}</th>
                <th scope="col">{t('adm.alerts.attempts')}</th>
              </tr>
            </thead>
            <tbody>
              {(deliveries.data?.data ?? []).map((d) => (
                <tr key={d.id}>
                  <td>{formatDateTime(d.createdAt, language)}</td>
                  <td>{d.event}</td>
                  <td>
                    {t(`adm.delivery.${d.status}`)}
                    {d.lastStatus !== null && ` · ${d.lastStatus}`}
                    {d.lastError && <span className="muted adm-wrap"> · {d.lastError}</span>}
                  </td>
                  <td>
                    {d.attempts}/{d.maxAttempts}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function Rules({ scope }: { scope: AlertScope }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const queryKey = adminKeys.alerts(scopeKey(scope), 'rules');
  const rules = useRules(scope);
  const endpoints = useEndpoints(scope);
  const budgets = useBudgets();
  // Only budgets this scope's rules may watch (another one is a 400), each named.
  const watchable = budgetsInAlertScope(budgets.data?.data ?? [], scope);
  const { names } = useBudgetNames(watchable);
  const [kind, setKind] = useState<RuleKind>('budget.threshold');
  const [name, setName] = useState('');
  const [budgetId, setBudgetId] = useState('');
  const [endpointId, setEndpointId] = useState('');
  const refresh = () => queryClient.invalidateQueries({ queryKey });
  const add = useMutation({
    mutationFn: () => {
      const endpointIds = endpointId ? [endpointId] : [];
      const body: Schemas['AlertRuleInput'] =
        kind === 'budget.threshold'
          ? { kind, name, endpointIds, budgetId: budgetId || null }
          : { kind, name, endpointIds };
      return alertsApi.addRule(scope, body);
    },
    onSuccess: () => {
      setName('');
      refresh();
    },
  });
  const toggle = useMutation({
    mutationFn: (rule: Schemas['AlertRule']) =>
      alertsApi.changeRule(scope, rule.id, { enabled: !rule.enabled }),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: (id: string) => alertsApi.deleteRule(scope, id),
    onSuccess: refresh,
  });
  const endpointName = new Map((endpoints.data?.data ?? []).map((e) => [e.id, e.name]));
  return (
    <Card title={t('adm.alerts.rules')}>
      <ErrorMessage error={rules.error ?? toggle.error ?? remove.error} />
      {rules.data?.data.length === 0 && <p className="muted">{t('adm.alerts.noRules')}</p>}
      <ul>
        {(rules.data?.data ?? []).map((r) => (
          <li key={r.id}>
            <strong>{r.name}</strong> · {t(`adm.ruleKind.${r.kind}`)}
            {r.thresholds && ` · ${r.thresholds.map((n) => `${n}%`).join(', ')}`} ·{' '}
            {r.endpointIds.map((id) => endpointName.get(id) ?? id).join(', ') || t('adm.alerts.noEndpoint')}
            <div className="row">
              <button type="button" className="secondary small" onClick={() => toggle.mutate(r)}>
                {r.enabled ? t('adm.common.disable') : t('adm.common.enable')}
              </button>
              <ConfirmButton
                small
                label={t('adm.common.delete')}
                confirmLabel={t('adm.alerts.deleteRuleConfirm', { name: r.name })}
                pending={remove.isPending}
                onConfirm={() => remove.mutate(r.id)}
              />
            </div>
          </li>
        ))}
      </ul>
      <form
        aria-label={t('adm.alerts.addRule')}
        onSubmit={(e) => {
          e.preventDefault();
          add.mutate();
        }}
      >
        <h3>{t('adm.alerts.addRule')}</h3>
        <Field label={t('adm.field.name')} name="ruleName" value={name} onChange={setName} required />
        <Select
          label={t('adm.alerts.kind')}
          name="kind"
          value={kind}
          options={RULE_KINDS.map((k) => ({ value: k, label: t(`adm.ruleKind.${k}`) }))}
          onChange={setKind}
        />
        {kind === 'budget.threshold' && (
          <Select
            label={t('adm.alerts.budget')}
            name="budgetId"
            value={budgetId}
            options={[
              { value: '', label: t('adm.alerts.anyBudget') },
              ...watchable.map((b) => ({
                value: b.id,
                label: `${t('adm.budgets.on', { scope: t(`adm.scope.${b.scope}`), name: budgetTargetName(b, names) })} · ${t(`adm.period.${b.period}`)}`,
              })),
            ]}
            onChange={setBudgetId}
          />
        )}
        <Select
          label={t('adm.alerts.endpoint')}
          name="endpointId"
          value={endpointId}
          options={[
            { value: '', label: t('adm.alerts.noEndpoint') },
            ...(endpoints.data?.data ?? []).map((e) => ({ value: e.id, label: e.name })),
          ]}
          onChange={setEndpointId}
        />
        <ErrorMessage error={add.error} />
        <button type="submit" disabled={add.isPending}>
          {t('adm.alerts.addRule')}
        </button>
      </form>
    </Card>
  );
}

const SILENCE_FOR = { hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000 } as const;

/**
 * What the rules fired lately, newest first, with what each was about. A subject that keeps
 * firing can be silenced from its row for a day, without quieting the rule for the others.
 */
function Fired({ scope }: { scope: AlertScope }) {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const firings = useFirings(scope);
  const rules = useRules(scope);
  const silences = useSilences(scope);
  const silence = useMutation({
    mutationFn: (f: { ruleId: string; subjectId: string }) =>
      alertsApi.addSilence(scope, { ...f, endsAt: Date.now() + SILENCE_FOR.day }),
    onSuccess: () =>
      queryClient.invalidateQueries({ queryKey: adminKeys.alerts(scopeKey(scope), 'silences') }),
  });
  const ruleName = new Map((rules.data?.data ?? []).map((r) => [r.id, r.name]));
  const now = Date.now();
  const silenced = (ruleId: string, subjectId: string) =>
    (silences.data?.data ?? []).some(
      (s) => s.ruleId === ruleId && (s.subjectId === null || s.subjectId === subjectId) && s.endsAt > now,
    );
  const rows = firings.data?.data ?? [];
  return (
    <Card title={t('adm.alerts.fired')}>
      {firings.isPending && <Loading />}
      <ErrorMessage error={firings.error ?? silence.error} />
      {firings.isSuccess && rows.length === 0 && <p className="muted">{t('adm.alerts.noFirings')}</p>}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('adm.alerts.firedAt')}</th>
                <th scope="col">{t('adm.alerts.rule')}</th>
                <th scope="col">{t('adm.alerts.subject')}</th>
                <th scope="col">{t('adm.common.status')}</th>
                <th scope="col">{t('adm.common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((f) => (
                <tr key={f.id}>
                  <td>{formatDateTime(f.firedAt, language)}</td>
                  <td>{ruleName.get(f.ruleId) ?? f.ruleId}</td>
                  <td className="adm-wrap">{f.event.subject.name ?? f.subjectId}</td>
                  <td>
                    {t(`adm.alerts.state.${f.status}`)}
                    {f.silenced && <span className="muted"> · {t('adm.alerts.notSent')}</span>}
                  </td>
                  <td>
                    {!silenced(f.ruleId, f.subjectId) && (
                      <button
                        type="button"
                        className="secondary small"
                        disabled={silence.isPending}
                        onClick={() => silence.mutate({ ruleId: f.ruleId, subjectId: f.subjectId })}
                      >
                        {t('adm.alerts.silenceSubject', { subject: f.event.subject.name ?? f.subjectId })}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
type SilenceFor = keyof typeof SILENCE_FOR;

/**
 * Rules kept quiet until a time, for every subject (added here) or one (added from what fired):
 * listed, added for an hour, a day or a week, ended early.
 */
function Silences({ scope }: { scope: AlertScope }) {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const queryKey = adminKeys.alerts(scopeKey(scope), 'silences');
  const silences = useSilences(scope);
  const rules = useRules(scope);
  const [ruleId, setRuleId] = useState('');
  const [span, setSpan] = useState<SilenceFor>('day');
  const [comment, setComment] = useState('');
  const refresh = () => queryClient.invalidateQueries({ queryKey });
  const add = useMutation({
    mutationFn: () =>
      alertsApi.addSilence(scope, {
        ruleId,
        subjectId: null,
        endsAt: Date.now() + SILENCE_FOR[span],
        ...(comment.trim() ? { comment: comment.trim() } : {}),
      }),
    onSuccess: () => {
      setComment('');
      refresh();
    },
  });
  const end = useMutation({
    mutationFn: (id: string) => alertsApi.endSilence(scope, id),
    onSuccess: refresh,
  });
  const ruleName = new Map((rules.data?.data ?? []).map((r) => [r.id, r.name]));
  const firings = useFirings(scope);
  const subjectName = new Map(
    (firings.data?.data ?? []).map((f) => [f.subjectId, f.event.subject.name ?? f.subjectId]),
  );
  const now = Date.now();
  const live = (silences.data?.data ?? []).filter((s) => s.endsAt > now);
  return (
    <Card title={t('adm.alerts.silences')}>
      <ErrorMessage error={silences.error ?? end.error} />
      {live.length === 0 && <p className="muted">{t('adm.alerts.noSilences')}</p>}
      <ul>
        {live.map((s) => (
          <li key={s.id}>
            <strong>{ruleName.get(s.ruleId) ?? s.ruleId}</strong>
            {s.subjectId !== null && (
              <> · {t('adm.alerts.onlySubject', { subject: subjectName.get(s.subjectId) ?? s.subjectId })}</>
            )}{' '}
            · {t('adm.alerts.silencedUntil', { at: formatDateTime(s.endsAt, language) })}
            {s.comment && <span className="muted"> · {s.comment}</span>}{' '}
            <button type="button" className="secondary small" onClick={() => end.mutate(s.id)}>
              {t('adm.alerts.endSilence')}
            </button>
          </li>
        ))}
      </ul>
      {(rules.data?.data.length ?? 0) > 0 && (
        <form
          aria-label={t('adm.alerts.addSilence')}
          onSubmit={(e) => {
            e.preventDefault();
            add.mutate();
          }}
        >
          <h3>{t('adm.alerts.addSilence')}</h3>
          <Select
            label={t('adm.alerts.rule')}
            name="silenceRule"
            value={ruleId}
            options={[
              { value: '', label: t('adm.common.choose') },
              ...(rules.data?.data ?? []).map((r) => ({ value: r.id, label: r.name })),
            ]}
            onChange={setRuleId}
          />
          <Select
            label={t('adm.alerts.silenceFor')}
            name="silenceFor"
            value={span}
            options={(Object.keys(SILENCE_FOR) as SilenceFor[]).map((k) => ({
              value: k,
              label: t(`adm.alerts.for.${k}`),
            }))}
            onChange={setSpan}
          />
          <Field
            label={t('adm.alerts.comment')}
            name="silenceComment"
            value={comment}
            onChange={setComment}
          />
          <ErrorMessage
            error={add.error}
            fields={{
              ruleId: t('adm.alerts.rule'),
              endsAt: t('adm.alerts.silenceFor'),
              comment: t('adm.alerts.comment'),
            }}
          />
          <button type="submit" disabled={add.isPending || !ruleId}>
            {t('adm.alerts.addSilence')}
          </button>
        </form>
      )}
    </Card>
  );
}
