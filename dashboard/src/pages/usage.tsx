// Usage: cost per day (a chart), cost by group, tokens by model, by member and by key, for a range
// preset and a scope (my own usage, a group, an account, or an enterprise one runs, whole or one
// of its departments), with the numbers as a CSV download. Everyone may
// open it; the API scopes what each person sees (a member: their own rows and their groups'
// totals). The request log (components/request-log.tsx) lives below the aggregates.
import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense, useMemo, useState } from 'react';
import { useAccounts, useDepartments, useEnterprises, useGroupDetail, useUsage } from '../api/admin-queries';
import { api, must } from '../api/client';
import { useGroups, useMe } from '../api/queries';
import { RequestLog } from '../components/request-log';
import { Card, ErrorMessage, Loading, Select, Stat } from '../components/ui';
import { useI18n } from '../i18n';
import { isSystemAdmin, managesAnything, ownsGroup, runEnterpriseIds, runsEnterprise } from '../lib/access';
import {
  dailyCost,
  departmentOptions,
  keyLabel,
  presetRange,
  RANGE_PRESETS,
  type RangePreset,
  toCsv,
  topN,
  totalTokens,
  type Usage,
} from '../lib/admin';
import { formatCount, formatMicros, formatTokens } from '../lib/format';
// Its bars, presets and chart box; loaded with the page, which may be the first one opened.
import '../admin.css';

// The chart module pulls uPlot in with it: a chunk of its own, fetched when this page draws.
const TimeChart = lazy(() => import('../components/chart').then((m) => ({ default: m.TimeChart })));
const BarList = lazy(() => import('../components/chart').then((m) => ({ default: m.BarList })));

const MAX_BARS = 8;

const CSV_HEADER = [
  'kind',
  'name',
  'requests',
  'errors',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cost_micros',
];

type Sums = Usage['totals'];

/** One breakdown line of the page's CSV, in CSV_HEADER's order. */
function csvLine(kind: string, name: string, r: Sums): (string | number)[] {
  return [kind, name, r.requests, r.errors, r.inputTokens, r.outputTokens, r.cacheReadTokens, r.costMicros];
}

export default function UsagePage() {
  const { t, language } = useI18n();
  const me = useMe();
  const groups = useGroups();
  const accounts = useAccounts();
  const enterprises = useEnterprises(isSystemAdmin(me.data) || runEnterpriseIds(me.data).length > 0);
  const [preset, setPreset] = useState<RangePreset>('month');
  const [scope, setScope] = useState('me');
  // Within an enterprise: one of its departments, or '' for all of it.
  const [department, setDepartment] = useState('');
  // The range is fixed when the preset is chosen, so the query key stays put between renders.
  const range = useMemo(() => presetRange(preset, new Date()), [preset]);

  const [kind, id] =
    scope === 'me' ? ['user', me.data?.userId ?? ''] : (scope.split(':') as [string, string]);
  const scoped =
    kind === 'user'
      ? { userId: id }
      : kind === 'group'
        ? { groupId: id }
        : kind === 'enterprise'
          ? department
            ? { departmentId: department }
            : { enterpriseId: id }
          : { accountId: id };
  const query = {
    ...scoped,
    from: range.from,
    to: range.to,
  };
  const usage = useUsage(query, Boolean(id));
  const group = useGroupDetail(kind === 'group' ? id : '');
  const departments = useDepartments(id, kind === 'enterprise' && Boolean(id));

  // The request log's key filter, and the names of its keys.
  const keysQuery = useQuery({
    queryKey: ['usage-keys', kind, id],
    enabled: Boolean(id) && (kind === 'user' || (kind === 'group' && ownsGroup(me.data, id))),
    queryFn: () =>
      kind === 'group'
        ? must(api.GET('/groups/{id}/keys', { params: { path: { id } } }))
        : must(api.GET('/keys', { params: { query: {} } })),
  });
  const keyList = keysQuery.data?.data ?? [];

  const scopes = [
    { value: 'me', label: t('adm.usage.mine') },
    ...(groups.data?.data ?? []).map((g) => ({
      value: `group:${g.id}`,
      label: t('adm.usage.group', { name: g.name }),
    })),
    // An enterprise's usage is for those who run it: the API answers nobody else.
    ...(enterprises.data?.data ?? [])
      .filter((e) => runsEnterprise(me.data, e.id))
      .map((e) => ({ value: `enterprise:${e.id}`, label: t('adm.usage.enterprise', { name: e.name }) })),
    ...(managesAnything(me.data) ? (accounts.data?.data ?? []) : []).map((a) => ({
      value: `account:${a.id}`,
      label: t('adm.usage.account', { name: a.name }),
    })),
  ];

  const money = (v: number) => formatMicros(v, language);
  const tokens = (v: number) => formatTokens(v, language);
  const data = usage.data;
  const { utc, days } = data ? dailyCost(data) : { utc: false, days: [] };
  const dayFormat = new Intl.DateTimeFormat(language, {
    dateStyle: 'medium',
    ...(utc ? { timeZone: 'UTC' } : {}),
  });
  const byGroup = data
    ? topN(
        data.byGroup,
        (r) => r.name ?? r.groupId,
        (r) => r.costMicros,
        MAX_BARS,
        t('adm.usage.other'),
      )
    : [];
  const byModel = data ? topN(data.byModel, (r) => r.model, totalTokens, MAX_BARS, t('adm.usage.other')) : [];
  const byMember = data
    ? topN(data.byMember, (r) => r.name ?? r.userId, totalTokens, MAX_BARS, t('adm.usage.other'))
    : [];
  const byKey = data
    ? topN(data.byKey, (r) => keyLabel(r, r.keyId), totalTokens, MAX_BARS, t('adm.usage.other'))
    : [];

  const csv = data
    ? toCsv(CSV_HEADER, [
        ...data.byGroup.map((r) => csvLine('group', r.name ?? r.groupId, r)),
        ...data.byModel.map((r) => csvLine('model', r.model, r)),
        ...data.byMember.map((r) => csvLine('member', r.name ?? r.userId, r)),
        ...data.byKey.map((r) => csvLine('key', keyLabel(r, r.keyId), r)),
      ])
    : '';

  return (
    <>
      <h1>{t('adm.usage.title')}</h1>
      <fieldset className="adm-presets">
        <legend className="visually-hidden">{t('adm.usage.range')}</legend>
        {RANGE_PRESETS.map((p) => (
          <button
            key={p}
            type="button"
            className="small"
            aria-pressed={p === preset}
            onClick={() => setPreset(p)}
          >
            {t(`adm.range.${p}`)}
          </button>
        ))}
      </fieldset>
      <Select
        label={t('adm.usage.scope')}
        name="scope"
        value={scope}
        options={scopes}
        onChange={(value) => {
          setScope(value);
          setDepartment('');
        }}
      />
      {kind === 'enterprise' && (departments.data?.data.length ?? 0) > 0 && (
        <Select
          label={t('adm.usage.department')}
          name="department"
          value={department}
          options={[
            { value: '', label: t('adm.usage.allDepartments') },
            ...departmentOptions(departments.data?.data ?? []),
          ]}
          onChange={setDepartment}
        />
      )}
      {usage.isPending && Boolean(id) && <Loading />}
      <ErrorMessage error={usage.error} />
      {data && (
        <>
          <div className="stats">
            <Stat label={t('adm.usage.cost')} value={money(data.totals.costMicros)} />
            <Stat label={t('adm.usage.requests')} value={formatCount(data.totals.requests, language)} />
            <Stat label={t('adm.usage.errors')} value={formatCount(data.totals.errors, language)} />
            <Stat label={t('adm.usage.tokens')} value={tokens(totalTokens(data.totals))} />
          </div>
          <Suspense fallback={<Loading />}>
            <Card title={t('adm.usage.costPerDay')}>
              <TimeChart
                series={{
                  x: days.map((d) => d.day),
                  y: days.map((d) => d.costMicros),
                  label: t('adm.usage.cost'),
                  format: money,
                }}
                utc={utc}
              />
              {utc && <p className="muted">{t('adm.usage.utcDays')}</p>}
              <details>
                <summary>{t('adm.usage.asTable')}</summary>
                <div className="table-wrap">
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">{t('adm.usage.day')}</th>
                        <th scope="col" className="num">
                          {t('adm.usage.cost')}
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {days.map((d) => (
                        <tr key={d.day}>
                          <td>{dayFormat.format(d.day)}</td>
                          <td className="num">{money(d.costMicros)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </details>
            </Card>
            {byGroup.length > 0 && (
              <Card title={t('adm.usage.byGroup')}>
                <BarList rows={byGroup} format={money} label={t('adm.usage.byGroup')} />
              </Card>
            )}
            <Card title={t('adm.usage.byModel')}>
              {byModel.length === 0 ? (
                <p className="muted">{t('adm.usage.nothing')}</p>
              ) : (
                <BarList rows={byModel} format={tokens} label={t('adm.usage.byModel')} />
              )}
            </Card>
            <Card title={t('adm.usage.byMember')}>
              {byMember.length === 0 ? (
                <p className="muted">{t('adm.usage.nothing')}</p>
              ) : (
                <BarList rows={byMember} format={tokens} label={t('adm.usage.byMember')} />
              )}
            </Card>
            <Card title={t('adm.usage.byKey')}>
              {byKey.length === 0 ? (
                <p className="muted">{t('adm.usage.nothing')}</p>
              ) : (
                <BarList rows={byKey} format={tokens} label={t('adm.usage.byKey')} />
              )}
            </Card>
          </Suspense>
          <p>
            <a
              className="button secondary"
              download={`usage-${new Date(data.from).toISOString().slice(0, 10)}.csv`}
              href={`data:text/csv;charset=utf-8,${encodeURIComponent(csv)}`}
            >
              {t('adm.usage.csv')}
            </a>
          </p>
        </>
      )}
      <RequestLog
        key={`${scope}:${department}`}
        scope={scoped}
        keys={keyList.map((k) => ({ value: k.id, label: keyLabel(k, k.id) }))}
        // A group's members; elsewhere whoever used the scope in the page's range.
        members={
          kind === 'group'
            ? (group.data?.members ?? []).map((m) => ({ value: m.userId, label: m.name }))
            : kind === 'user'
              ? []
              : (data?.byMember ?? []).map((m) => ({ value: m.userId, label: m.name ?? m.userId }))
        }
        accounts={
          kind === 'account' || !managesAnything(me.data)
            ? []
            : (accounts.data?.data ?? []).map((a) => ({ value: a.id, label: a.name }))
        }
      />
    </>
  );
}
