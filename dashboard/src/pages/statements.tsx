// A carpool's statements: the split settings, the live preview of the current month (per member:
// usage, share, amount, owed to the fee payer; adjustments), the closed months with their CSV, and
// closing a month that is over. `/groups/:id/statements/:month` shows one closed month with its
// settled marks. Members see all of it read-only (group.view); the settings, adjustments, closing
// and settled marks are the owner's (group.manage) and are not shown to anyone else. An enterprise
// group has no fee payer and no account of its own here: its enterprise pays its pools.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'wouter';
import { api, must, relayOrigin, type Schemas } from '../api/client';
import { keys, useCurrentStatement, useGroup, useGroupAccount, useMe } from '../api/queries';
import { Card, ConfirmButton, ErrorMessage, Field, Loading, Select, Stat } from '../components/ui';
import { useI18n } from '../i18n';
import { ownsGroup } from '../lib/access';
import { formatCount, formatDateTime, formatMicros, formatMicrosAt, formatTokens } from '../lib/format';
import {
  adjustmentInput,
  closableMonths,
  formatPpm,
  linesAddUp,
  type PriceForm,
  priceChanges,
  priceFormOf,
  type SplitForm,
  type SplitMode,
  splitChanges,
  splitFormOf,
  statementCsvPath,
  statementPrecision,
} from '../lib/statements';

type Statement = Schemas['Statement'];
type Member = Schemas['Member'];

const stKeys = {
  current: keys.currentStatement,
  list: keys.statements,
  month: keys.statement,
};

/** The split settings; whether they were just saved is the parent's (see BillSettings). */
function SplitSettings({
  group,
  saved,
  onSaved,
}: {
  group: Schemas['GroupDetail'];
  saved: boolean;
  onSaved: (saved: boolean) => void;
}) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [form, setForm] = useState<SplitForm>(() => splitFormOf(group));
  const [error, setError] = useState<unknown>(null);
  const edit = (change: (f: SplitForm) => SplitForm) => {
    onSaved(false);
    setForm(change);
  };
  const carpool = group.kind === 'carpool';
  const modes: { value: SplitMode; label: string }[] = [
    { value: 'usage', label: t('st.mode.usage') },
    { value: 'even', label: t('st.mode.even') },
    { value: 'base_usage', label: t('st.mode.base_usage') },
    { value: 'window', label: t('st.mode.window') },
  ];
  return (
    <form
      aria-label={t('st.settings')}
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        onSaved(false);
        try {
          await must(
            api.PATCH('/groups/{id}', {
              params: { path: { id: group.id } },
              body: splitChanges(group, form),
            }),
          );
          onSaved(true);
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
        onChange={(splitMode) => edit((f) => ({ ...f, splitMode }))}
      />
      <div className="field">
        <label>
          <input
            type="checkbox"
            checked={form.prorateByDays}
            onChange={(e) => {
              const prorateByDays = e.target.checked;
              edit((f) => ({ ...f, prorateByDays }));
            }}
          />{' '}
          {t('st.prorate')}
        </label>
      </div>
      <Field
        label={t('st.timeZone')}
        hint={t('st.timeZoneHint')}
        name="timeZone"
        value={form.timeZone}
        onChange={(timeZone) => edit((f) => ({ ...f, timeZone }))}
      />
      {carpool && (
        <Select
          label={t('st.feePayer')}
          name="feePayer"
          value={form.feePayerUserId}
          options={[
            { value: '', label: t('st.feePayerDefault') },
            ...group.members.map((m) => ({ value: m.userId, label: m.name })),
          ]}
          onChange={(feePayerUserId) => edit((f) => ({ ...f, feePayerUserId }))}
        />
      )}
      <ErrorMessage error={error} fields={{ timeZone: t('st.timeZone'), feePayerUserId: t('st.feePayer') }} />
      {saved && (
        <p className="muted" role="status">
          {t('st.saved')}
        </p>
      )}
      <div>
        <button type="submit">{t('st.save')}</button>
      </div>
    </form>
  );
}

/**
 * "How the bill is split", the owner's: the group's split settings and, in a carpool, its account's
 * price. Each form is remounted when what is stored changes (so that it shows it), so whether each
 * was just saved is kept here, where a remount does not wipe it.
 */
function BillSettings({ group }: { group: Schemas['GroupDetail'] }) {
  const { t } = useI18n();
  const [splitSaved, setSplitSaved] = useState(false);
  const [priceSaved, setPriceSaved] = useState(false);
  return (
    <Card title={t('st.settings')}>
      <SplitSettings
        key={`${group.splitMode}|${group.timeZone}|${group.prorateByDays}|${group.feePayerUserId}`}
        group={group}
        saved={splitSaved}
        onSaved={setSplitSaved}
      />
      {group.kind === 'carpool' ? (
        <AccountPrice groupId={group.id} saved={priceSaved} onSaved={setPriceSaved} />
      ) : (
        <p className="muted">{t('st.enterpriseFees')}</p>
      )}
    </Card>
  );
}

/**
 * The carpool account's price: its monthly fee (a $200 plan is 200) and whether its usage is billed
 * at API price (off for a fee-only subscription). Both are part of the bill (docs/billing.md).
 */
function AccountPrice({
  groupId,
  saved,
  onSaved,
}: {
  groupId: string;
  saved: boolean;
  onSaved: (saved: boolean) => void;
}) {
  const { t } = useI18n();
  const account = useGroupAccount(groupId);
  if (account.isPending) return <Loading />;
  // A failed refresh keeps the form under its error (components/guard.tsx says why).
  if (account.isLoadingError) return <ErrorMessage error={account.error} />;
  if (!account.data) return <p className="muted">{t('st.price.unbound')}</p>;
  // Keyed by what is stored, so the form shows it again after a save (and after a change elsewhere).
  const a = account.data;
  return (
    <>
      <ErrorMessage error={account.error} />
      <PriceSettings
        key={`${a.id}:${a.monthlyFeeMicros}:${a.meteredBilling}`}
        groupId={groupId}
        account={a}
        saved={saved}
        onSaved={onSaved}
      />
    </>
  );
}

function PriceSettings({
  groupId,
  account,
  saved,
  onSaved: setSaved,
}: {
  groupId: string;
  account: Schemas['Account'];
  saved: boolean;
  onSaved: (saved: boolean) => void;
}) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [form, setForm] = useState<PriceForm>(() => priceFormOf(account));
  const [error, setError] = useState<unknown>(null);
  return (
    <form
      aria-label={t('st.price.title')}
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        setSaved(false);
        const parsed = priceChanges(account, form);
        if (!parsed.ok) {
          setError(new Error(t('st.price.invalid')));
          return;
        }
        try {
          await must(
            api.PATCH('/groups/{id}/account', { params: { path: { id: groupId } }, body: parsed.changes }),
          );
          setSaved(true);
          await queryClient.invalidateQueries({ queryKey: ['group', groupId] });
        } catch (err) {
          setError(err);
        }
      }}
    >
      <h3>{t('st.price.title')}</h3>
      <Field
        label={t('st.price.fee')}
        hint={t('st.price.feeHint')}
        name="monthlyFee"
        inputMode="decimal"
        value={form.fee}
        onChange={(fee) => {
          setSaved(false);
          setForm((f) => ({ ...f, fee }));
        }}
      />
      <div className="field">
        <label>
          <input
            type="checkbox"
            name="meteredBilling"
            checked={form.meteredBilling}
            onChange={(e) => {
              const meteredBilling = e.target.checked;
              setSaved(false);
              setForm((f) => ({ ...f, meteredBilling }));
            }}
          />{' '}
          {t('st.price.metered')}
        </label>
        <small className="hint">{t('st.price.meteredHint')}</small>
      </div>
      <ErrorMessage error={error} />
      {saved && (
        <p className="muted" role="status">
          {t('st.saved')}
        </p>
      )}
      <div>
        <button type="submit">{t('st.price.save')}</button>
      </div>
    </form>
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
  // No fee payer (an enterprise group: its enterprise pays): nobody owes anybody.
  const payer = statement.feePayer !== null;
  const precision = statementPrecision(statement);
  const money = (micros: number) => formatMicrosAt(micros, precision.money, language);
  const usage = (micros: number) => formatMicrosAt(micros, precision.usage, language);
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
            {payer && <th className="num">{t('st.owesPayer')}</th>}
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
              <td className="num">{usage(l.costMicros)}</td>
              <td className="num">{formatPpm(l.sharePpm, language)}</td>
              <td className="num">{money(l.adjustmentsMicros)}</td>
              {windows && (
                <td className="num" data-testid="line-window-share">
                  {formatPpm(l.windowSharePpm, language)}
                </td>
              )}
              <td className="num" data-testid="line-amount">
                {money(l.amountMicros)}
              </td>
              {payer && (
                <td className="num" data-testid="line-owes">
                  {money(l.owesPayerMicros)}
                </td>
              )}
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
            <td className="num">{usage(statement.totals.costMicros)}</td>
            <td />
            <td className="num">{money(statement.totals.adjustmentsMicros)}</td>
            {windows && <td />}
            <td className="num" data-testid="statement-total">
              {money(statement.totals.totalMicros)}
            </td>
            {payer && <td />}
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
  const precision = statementPrecision(statement).money;
  const money = (micros: number) => formatMicrosAt(micros, precision, language);
  return (
    <>
      <div className="stats">
        <Stat
          label={t('st.bill')}
          value={<span data-testid="statement-bill">{money(tot.billMicros)}</span>}
          hint={
            statement.feePayer
              ? t('st.billParts', {
                  fee: money(tot.fixedFeeMicros),
                  metered: money(tot.meteredMicros + tot.lateMeteredMicros),
                })
              : t('st.billMeteredOnly')
          }
        />
        <Stat label={t('st.splitMode')} value={t(`st.mode.${statement.splitMode}`)} />
        {statement.feePayer && (
          <Stat
            label={t('st.feePayer')}
            value={statement.feePayer.userName}
            hint={
              <span data-testid="owed-to-payer">
                {t('st.owedToPayer', { owed: money(statement.feePayer.owedMicros) })}
              </span>
            }
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
  const precision = statementPrecision(statement).money;
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
              {nameOf(a.userId)}: {formatMicrosAt(a.amountMicros, precision, language)} — {a.reason}{' '}
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
            <ErrorMessage
              error={error}
              fields={{
                userId: t('group.member'),
                amountMicros: {
                  label: t('st.adjustmentAmount'),
                  value: (micros) => formatMicros(micros, language),
                },
                reason: t('st.reason'),
                month: t('st.month'),
              }}
            />
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
  const [closing, setClosing] = useState(false);
  const chosen = month || open[0] || '';
  return (
    <Card title={t('st.closedMonths')}>
      {/* A failed refresh keeps the list under its error (components/guard.tsx says why). */}
      <ErrorMessage error={list.error} />
      {list.isPending ? (
        <Loading />
      ) : list.isLoadingError ? null : closed.length === 0 ? (
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
        <form className="inline-form" onSubmit={(e) => e.preventDefault()}>
          <Select
            label={t('st.closeMonth')}
            name="month"
            value={chosen}
            options={open.map((m) => ({ value: m, label: m }))}
            onChange={setMonth}
          />
          <p className="hint">{t('st.closeHint')}</p>
          <ErrorMessage error={error} />
          <div className="row">
            {/* Closing is for good (a statement never changes): asked twice. Keyed by the month so a
                confirmation pending for one month is not carried over to another. */}
            <ConfirmButton
              key={chosen}
              label={t('st.closeSubmit', { month: chosen })}
              confirmLabel={t('st.closeConfirm', { month: chosen })}
              pending={closing}
              onConfirm={async () => {
                setError(null);
                setClosing(true);
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
                } finally {
                  setClosing(false);
                }
              }}
            />
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
  // A failed refresh keeps the page under its error (components/guard.tsx says why).
  if (statement.isLoadingError) return <ErrorMessage error={statement.error} />;
  // The path also answers text/csv (?format=csv), so its generated type is a union; as JSON it is a Statement.
  const s = statement.data as Statement;
  return (
    <>
      <h1>{t('st.closedTitle', { name: s.groupName, month: s.month })}</h1>
      <ErrorMessage error={statement.error} />
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
  const current = useCurrentStatement(id, !month);
  if (month) return <ClosedStatement groupId={id} month={month} canManage={canManage} />;
  if (group.isPending) return <Loading />;
  // A failed refresh keeps the page under its error (components/guard.tsx says why).
  if (group.isLoadingError) return <ErrorMessage error={group.error} />;
  const g = group.data;
  return (
    <>
      <h1>{t('st.title', { name: g.name })}</h1>
      <ErrorMessage error={group.error} />
      {canManage && (
        <p>
          <Link href={`/groups/${id}`}>{t('st.toGroup')}</Link>
        </p>
      )}
      <Card title={current.data ? t('st.preview', { month: current.data.month }) : t('st.previewPending')}>
        <ErrorMessage error={current.error} />
        {current.isPending ? (
          <Loading />
        ) : current.isLoadingError ? null : (
          <>
            <p className="muted">{t('st.previewHint')}</p>
            <StatementSummary statement={current.data} />
            <StatementLines statement={current.data} />
            <Adjustments statement={current.data} members={g.members} canManage={canManage} />
          </>
        )}
      </Card>
      <ClosedMonths group={g} canManage={canManage} />
      {canManage && <BillSettings group={g} />}
    </>
  );
}
