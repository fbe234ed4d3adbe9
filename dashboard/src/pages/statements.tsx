// A carpool's statements: the split settings, the live preview of the current month (per member:
// usage, share, amount, owed to the fee payer; adjustments), the closed months with their CSV, and
// closing a month that is over. `/groups/:id/statements/:month` shows one closed month with its
// settled marks. Members see all of it read-only (group.view); the settings, adjustments, closing
// and settled marks are the owner's (group.manage) and are not shown to anyone else.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'wouter';
import { api, must, relayOrigin, type Schemas } from '../api/client';
import { useGroup, useMe } from '../api/queries';
import { Card, ErrorMessage, Field, Loading, Select, Stat } from '../components/ui';
import { useI18n } from '../i18n';
import { ownsGroup } from '../lib/access';
import { formatCount, formatDateTime, formatMicros, formatTokens } from '../lib/format';
import {
  adjustmentInput,
  closableMonths,
  formatPpm,
  linesAddUp,
  type SplitForm,
  type SplitMode,
  splitChanges,
  splitFormOf,
  statementCsvPath,
} from '../lib/statements';

type Statement = Schemas['Statement'];
type Member = Schemas['Member'];

const stKeys = {
  current: (id: string) => ['group', id, 'statements', 'current'] as const,
  list: (id: string) => ['group', id, 'statements'] as const,
  month: (id: string, month: string) => ['group', id, 'statements', month] as const,
};

function SplitSettings({ group }: { group: Schemas['GroupDetail'] }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [form, setForm] = useState<SplitForm>(() => splitFormOf(group));
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const modes: { value: SplitMode; label: string }[] = [
    { value: 'usage', label: t('st.mode.usage') },
    { value: 'even', label: t('st.mode.even') },
    { value: 'base_usage', label: t('st.mode.base_usage') },
    { value: 'window', label: t('st.mode.window') },
  ];
  return (
    <Card title={t('st.settings')}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setError(null);
          setSaved(false);
          try {
            await must(
              api.PATCH('/groups/{id}', {
                params: { path: { id: group.id } },
                body: splitChanges(group, form),
              }),
            );
            setSaved(true);
            await queryClient.invalidateQueries({ queryKey: ['group', group.id] });
          } catch (err) {
            setError(err);
          }
        }}
      >
        <Select
          label={t('st.splitMode')}
          name="splitMode"
          value={form.splitMode}
          options={modes}
          onChange={(splitMode) => setForm((f) => ({ ...f, splitMode }))}
        />
        <div className="field">
          <label>
            <input
              type="checkbox"
              checked={form.prorateByDays}
              onChange={(e) => setForm((f) => ({ ...f, prorateByDays: e.target.checked }))}
            />{' '}
            {t('st.prorate')}
          </label>
        </div>
        <Field
          label={t('st.timeZone')}
          hint={t('st.timeZoneHint')}
          name="timeZone"
          value={form.timeZone}
          onChange={(timeZone) => setForm((f) => ({ ...f, timeZone }))}
        />
        <Select
          label={t('st.feePayer')}
          name="feePayer"
          value={form.feePayerUserId}
          options={[
            { value: '', label: t('st.feePayerDefault') },
            ...group.members.map((m) => ({ value: m.userId, label: m.name })),
          ]}
          onChange={(feePayerUserId) => setForm((f) => ({ ...f, feePayerUserId }))}
        />
        <ErrorMessage error={error} />
        {saved && (
          <p className="muted" role="status">
            {t('st.saved')}
          </p>
        )}
        <div>
          <button type="submit">{t('st.save')}</button>
        </div>
      </form>
    </Card>
  );
}

function StatementLines({
  statement,
  onSettle,
}: {
  statement: Statement;
  onSettle?: (userId: string, settled: boolean) => Promise<void>;
}) {
  const { t, language } = useI18n();
  const closed = statement.status === 'closed';
  // A subscription's window share, beside the amount it weighs in the window mode.
  const windows = statement.splitMode === 'window' || statement.lines.some((l) => l.windowSharePpm > 0);
  return (
    <div className="table-wrap">
      <table data-testid="statement-lines">
        <thead>
          <tr>
            <th>{t('group.member')}</th>
            <th className="num">{t('group.requests')}</th>
            <th className="num">{t('st.tokens')}</th>
            <th className="num">{t('st.usageCost')}</th>
            <th className="num">{t('group.share')}</th>
            <th className="num">{t('st.adjustments')}</th>
            {windows && <th className="num">{t('st.windowShare')}</th>}
            <th className="num">{t('st.amount')}</th>
            <th className="num">{t('st.owesPayer')}</th>
            {closed && <th>{t('st.settled')}</th>}
          </tr>
        </thead>
        <tbody>
          {statement.lines.map((l) => (
            <tr key={l.userId}>
              <td>
                {l.userName}
                {statement.prorateByDays && (
                  <>
                    <br />
                    <small className="muted">
                      {t('st.days', { n: l.daysPresent, of: statement.daysInMonth })}
                    </small>
                  </>
                )}
              </td>
              <td className="num">{formatCount(l.requests, language)}</td>
              <td className="num">
                {formatTokens(
                  l.inputTokens +
                    l.outputTokens +
                    l.cacheWrite5mTokens +
                    l.cacheWrite1hTokens +
                    l.cacheReadTokens,
                  language,
                )}
              </td>
              <td className="num">{formatMicros(l.costMicros, language)}</td>
              <td className="num">{formatPpm(l.sharePpm, language)}</td>
              <td className="num">{formatMicros(l.adjustmentsMicros, language)}</td>
              {windows && (
                <td className="num" data-testid="line-window-share">
                  {formatPpm(l.windowSharePpm, language)}
                </td>
              )}
              <td className="num" data-testid="line-amount">
                {formatMicros(l.amountMicros, language)}
              </td>
              <td className="num">{formatMicros(l.owesPayerMicros, language)}</td>
              {closed && (
                <td>
                  {onSettle ? (
                    <label>
                      <input
                        type="checkbox"
                        checked={l.settled === true}
                        onChange={(e) => onSettle(l.userId, e.target.checked)}
                      />{' '}
                      <span className="visually-hidden">{t('st.settledFor', { name: l.userName })}</span>
                      {l.settled ? t('st.yes') : t('st.no')}
                    </label>
                  ) : l.settled ? (
                    t('st.yes')
                  ) : (
                    t('st.no')
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row">{t('st.total')}</th>
            <td className="num">{formatCount(statement.totals.requests, language)}</td>
            <td />
            <td className="num">{formatMicros(statement.totals.costMicros, language)}</td>
            <td />
            <td className="num">{formatMicros(statement.totals.adjustmentsMicros, language)}</td>
            {windows && <td />}
            <td className="num" data-testid="statement-total">
              {formatMicros(statement.totals.totalMicros, language)}
            </td>
            <td />
            {closed && <td />}
          </tr>
        </tfoot>
      </table>
    </div>
  );
}

function StatementSummary({ statement }: { statement: Statement }) {
  const { t, language } = useI18n();
  const tot = statement.totals;
  return (
    <>
      <div className="stats">
        <Stat
          label={t('st.bill')}
          value={<span data-testid="statement-bill">{formatMicros(tot.billMicros, language)}</span>}
          hint={t('st.billParts', {
            fee: formatMicros(tot.fixedFeeMicros, language),
            metered: formatMicros(tot.meteredMicros + tot.lateMeteredMicros, language),
          })}
        />
        <Stat label={t('st.splitMode')} value={t(`st.mode.${statement.splitMode}`)} />
        {statement.feePayer && (
          <Stat
            label={t('st.feePayer')}
            value={statement.feePayer.userName}
            hint={t('st.owedToPayer', { owed: formatMicros(statement.feePayer.owedMicros, language) })}
          />
        )}
      </div>
      {statement.splitFallback && (
        <p className="muted" data-testid="split-fallback">
          {t(statement.splitMode === 'window' ? 'st.fallback.window' : 'st.fallback')}
        </p>
      )}
      <p className="muted" data-testid="statement-check">
        {linesAddUp(statement) ? t('st.addsUp') : t('st.doesNotAddUp')}
      </p>
    </>
  );
}

function Adjustments({
  statement,
  members,
  canManage,
}: {
  statement: Statement;
  members: Member[];
  canManage: boolean;
}) {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const [form, setForm] = useState({ userId: '', amount: '', reason: '' });
  const [error, setError] = useState<unknown>(null);
  const nameOf = (userId: string) =>
    statement.lines.find((l) => l.userId === userId)?.userName ??
    members.find((m) => m.userId === userId)?.name ??
    userId;
  return (
    <>
      <h3>{t('st.adjustments')}</h3>
      {statement.adjustments.length === 0 ? (
        <p className="muted">{t('st.noAdjustments')}</p>
      ) : (
        <ul>
          {statement.adjustments.map((a) => (
            <li key={a.id}>
              {nameOf(a.userId)}: {formatMicros(a.amountMicros, language)} — {a.reason}{' '}
              <small className="muted">{formatDateTime(a.createdAt, language)}</small>
            </li>
          ))}
        </ul>
      )}
      {canManage && statement.status === 'open' && (
        <details>
          <summary>{t('st.addAdjustment')}</summary>
          <form
            onSubmit={async (e) => {
              e.preventDefault();
              setError(null);
              const parsed = adjustmentInput(form);
              if (!parsed.ok) {
                setError(new Error(t(`st.invalid.${parsed.field}`)));
                return;
              }
              try {
                await must(
                  api.POST('/groups/{id}/adjustments', {
                    params: { path: { id: statement.groupId } },
                    body: { ...parsed.input, month: statement.month },
                  }),
                );
                setForm({ userId: '', amount: '', reason: '' });
                await queryClient.invalidateQueries({ queryKey: stKeys.current(statement.groupId) });
              } catch (err) {
                setError(err);
              }
            }}
          >
            <Select
              label={t('group.member')}
              name="userId"
              value={form.userId}
              options={[
                { value: '', label: t('adm.common.choose') },
                ...members.map((m) => ({ value: m.userId, label: m.name })),
              ]}
              onChange={(userId) => setForm((f) => ({ ...f, userId }))}
            />
            <Field
              label={t('st.adjustmentAmount')}
              hint={t('st.adjustmentAmountHint')}
              name="amount"
              inputMode="text"
              value={form.amount}
              onChange={(amount) => setForm((f) => ({ ...f, amount }))}
            />
            <Field
              label={t('st.reason')}
              name="reason"
              value={form.reason}
              onChange={(reason) => setForm((f) => ({ ...f, reason }))}
            />
            <ErrorMessage error={error} />
            <div>
              <button type="submit">{t('st.addAdjustmentSubmit')}</button>
            </div>
          </form>
        </details>
      )}
    </>
  );
}

function ClosedMonths({ group, canManage }: { group: Schemas['GroupDetail']; canManage: boolean }) {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const list = useQuery({
    queryKey: stKeys.list(group.id),
    queryFn: () => must(api.GET('/groups/{id}/statements', { params: { path: { id: group.id } } })),
  });
  const closed = (list.data?.data ?? []).map((s) => s.month);
  const open = closableMonths(group.createdAt, group.timeZone, closed, Date.now());
  const [month, setMonth] = useState('');
  const [error, setError] = useState<unknown>(null);
  const chosen = month || open[0] || '';
  return (
    <Card title={t('st.closedMonths')}>
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorMessage error={list.error} />
      ) : closed.length === 0 ? (
        <p className="muted">{t('st.noneClosed')}</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>{t('st.month')}</th>
                <th className="num">{t('st.bill')}</th>
                <th className="num">{t('st.total')}</th>
                <th>{t('st.closedAt')}</th>
                <th>
                  <span className="visually-hidden">{t('common.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {[...(list.data?.data ?? [])].reverse().map((s) => (
                <tr key={s.month}>
                  <td>{s.month}</td>
                  <td className="num">{formatMicros(s.billMicros, language)}</td>
                  <td className="num">{formatMicros(s.totalMicros, language)}</td>
                  <td>{formatDateTime(s.closedAt, language)}</td>
                  <td>
                    <Link href={`/groups/${group.id}/statements/${s.month}`}>
                      {t('st.view', { month: s.month })}
                    </Link>{' '}
                    <a href={`${relayOrigin}${statementCsvPath(group.id, s.month)}`} download>
                      {t('st.csvOf', { month: s.month })}
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {canManage && open.length > 0 && (
        <form
          className="inline-form"
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            try {
              await must(
                api.POST('/groups/{id}/statements', {
                  params: { path: { id: group.id } },
                  body: { month: chosen },
                }),
              );
              setMonth('');
              await queryClient.invalidateQueries({ queryKey: stKeys.list(group.id) });
            } catch (err) {
              setError(err);
            }
          }}
        >
          <Select
            label={t('st.closeMonth')}
            name="month"
            value={chosen}
            options={open.map((m) => ({ value: m, label: m }))}
            onChange={setMonth}
          />
          <p className="hint">{t('st.closeHint')}</p>
          <ErrorMessage error={error} />
          <div>
            <button type="submit">{t('st.closeSubmit', { month: chosen })}</button>
          </div>
        </form>
      )}
    </Card>
  );
}

function ClosedStatement({
  groupId,
  month,
  canManage,
}: {
  groupId: string;
  month: string;
  canManage: boolean;
}) {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const statement = useQuery({
    queryKey: stKeys.month(groupId, month),
    queryFn: () =>
      must(api.GET('/groups/{id}/statements/{month}', { params: { path: { id: groupId, month } } })),
  });
  if (statement.isPending) return <Loading />;
  if (statement.isError) return <ErrorMessage error={statement.error} />;
  // The path also answers text/csv (?format=csv), so its generated type is a union; as JSON it is a Statement.
  const s = statement.data as Statement;
  return (
    <>
      <h1>{t('st.closedTitle', { name: s.groupName, month: s.month })}</h1>
      <p>
        <Link href={`/groups/${groupId}/statements`}>{t('st.back')}</Link>{' '}
        <a href={`${relayOrigin}${statementCsvPath(groupId, s.month)}`} download>
          {t('st.csv')}
        </a>
      </p>
      <Card title={t('st.closedOn', { at: formatDateTime(s.closedAt, language) })}>
        <StatementSummary statement={s} />
        <ErrorMessage error={error} />
        <StatementLines
          statement={s}
          onSettle={
            canManage
              ? async (userId, settled) => {
                  setError(null);
                  try {
                    await must(
                      api.PUT('/groups/{id}/statements/{month}/settlements/{userId}', {
                        params: { path: { id: groupId, month: s.month, userId } },
                        body: { settled },
                      }),
                    );
                    await queryClient.invalidateQueries({ queryKey: stKeys.month(groupId, month) });
                  } catch (err) {
                    setError(err);
                  }
                }
              : undefined
          }
        />
        <Adjustments statement={s} members={[]} canManage={false} />
      </Card>
    </>
  );
}

export default function StatementsPage() {
  const { t } = useI18n();
  const { id = '', month } = useParams<{ id: string; month?: string }>();
  const me = useMe();
  const group = useGroup(id);
  const canManage = ownsGroup(me.data, id);
  const current = useQuery({
    queryKey: stKeys.current(id),
    enabled: !month,
    queryFn: () => must(api.GET('/groups/{id}/statements/current', { params: { path: { id } } })),
  });
  if (month) return <ClosedStatement groupId={id} month={month} canManage={canManage} />;
  if (group.isPending) return <Loading />;
  if (group.isError) return <ErrorMessage error={group.error} />;
  const g = group.data;
  return (
    <>
      <h1>{t('st.title', { name: g.name })}</h1>
      {canManage && (
        <p>
          <Link href={`/groups/${id}`}>{t('st.toGroup')}</Link>
        </p>
      )}
      <Card title={current.data ? t('st.preview', { month: current.data.month }) : t('st.previewPending')}>
        {current.isPending ? (
          <Loading />
        ) : current.isError ? (
          <ErrorMessage error={current.error} />
        ) : (
          <>
            <p className="muted">{t('st.previewHint')}</p>
            <StatementSummary statement={current.data} />
            <StatementLines statement={current.data} />
            <Adjustments statement={current.data} members={g.members} canManage={canManage} />
          </>
        )}
      </Card>
      <ClosedMonths group={g} canManage={canManage} />
      {canManage && <SplitSettings key={`${g.splitMode}${g.timeZone}${g.prorateByDays}`} group={g} />}
    </>
  );
}
