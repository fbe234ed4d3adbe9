// The request log card of the usage page: GET /usage/requests with filters (key, member, model,
// account, HTTP status, outcome, time), newest first, a page at a time ("Load more" follows
// nextCursor), and the CSV download of the same filters (/usage/requests.csv, every page). A request
// the relay refused shows why, in the reader's language.
import { useState } from 'react';
import { api, must, relayOrigin } from '../api/client';
import { useCursorPages } from '../api/queries';
import { useI18n } from '../i18n';
import { formatDateTime, formatMicros, formatTokens } from '../lib/format';
import {
  emptyRequestLogForm,
  REQUEST_OUTCOMES,
  type RequestLogForm,
  type RequestLogQuery,
  refusalReasonKey,
  requestLogCsvPath,
  requestLogQuery,
} from '../lib/statements';
import { Card, ErrorMessage, Field, Loading, LoadMore, Select } from './ui';

type Option = { value: string; label: string };

export function RequestLog({
  scope,
  keys,
  members,
  accounts,
}: {
  /** The page's scope: an enterprise or a department of it, a group, an account, or oneself. */
  scope: {
    enterpriseId?: string;
    departmentId?: string;
    groupId?: string;
    accountId?: string;
    userId?: string;
  };
  keys: Option[];
  members: Option[];
  accounts: Option[];
}) {
  const { t, language } = useI18n();
  const [form, setForm] = useState<RequestLogForm>(emptyRequestLogForm);
  const [applied, setApplied] = useState<RequestLogQuery>({});
  const query: RequestLogQuery = { ...scope, ...applied };
  const log = useCursorPages(['usage-requests', query], (cursor) =>
    must(api.GET('/usage/requests', { params: { query: { ...query, cursor, limit: 50 } } })),
  );
  const set = (field: keyof RequestLogForm) => (value: string) => setForm((f) => ({ ...f, [field]: value }));
  const any = { value: '', label: t('log.any') };
  const rows = log.data ?? [];
  const keyName = new Map(keys.map((k) => [k.value, k.label]));
  const memberName = new Map(members.map((m) => [m.value, m.label]));
  // A refusal names its reason in the reader's language; a code the catalogs do not know, as it is.
  const reasonOf = (errorType: string | null) => {
    const key = refusalReasonKey(errorType);
    return key ? t(key) : (errorType ?? '');
  };
  return (
    <Card
      title={t('adm.usage.requestLog')}
      actions={
        <a className="button secondary small" href={`${relayOrigin}${requestLogCsvPath(query)}`} download>
          {t('log.csv')}
        </a>
      }
    >
      <details>
        <summary>{t('log.filters')}</summary>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setApplied(requestLogQuery(form));
          }}
        >
          {keys.length > 0 && (
            <Select
              label={t('log.key')}
              name="keyId"
              value={form.keyId}
              options={[any, ...keys]}
              onChange={set('keyId')}
            />
          )}
          {members.length > 0 && (
            <Select
              label={t('log.member')}
              name="userId"
              value={form.userId}
              options={[any, ...members]}
              onChange={set('userId')}
            />
          )}
          <Field label={t('log.model')} name="model" value={form.model} onChange={set('model')} />
          {accounts.length > 0 && (
            <Select
              label={t('log.account')}
              name="accountId"
              value={form.accountId}
              options={[any, ...accounts]}
              onChange={set('accountId')}
            />
          )}
          <Field
            label={t('log.status')}
            name="status"
            inputMode="numeric"
            value={form.status}
            onChange={set('status')}
          />
          <Select
            label={t('log.outcome')}
            name="outcome"
            value={form.outcome}
            options={[any, ...REQUEST_OUTCOMES.map((o) => ({ value: o, label: t(`log.outcome.${o}`) }))]}
            onChange={set('outcome')}
          />
          <Field
            label={t('log.from')}
            name="from"
            type="datetime-local"
            value={form.from}
            onChange={set('from')}
          />
          <Field label={t('log.to')} name="to" type="datetime-local" value={form.to} onChange={set('to')} />
          <div>
            <button type="submit">{t('log.apply')}</button>
          </div>
        </form>
      </details>
      {/* A failed refresh keeps the rows read so far under its error (components/guard.tsx says why). */}
      <ErrorMessage error={log.error} />
      {log.isPending ? (
        <Loading />
      ) : log.isLoadingError ? null : rows.length === 0 ? (
        <p className="muted">{t('log.empty')}</p>
      ) : (
        <div className="table-wrap">
          <table data-testid="request-log">
            <thead>
              <tr>
                <th>{t('log.time')}</th>
                <th>{t('log.member')}</th>
                <th>{t('log.key')}</th>
                <th>{t('log.model')}</th>
                <th className="num">{t('log.status')}</th>
                <th className="num">{t('log.tokens')}</th>
                <th className="num">{t('log.cost')}</th>
                <th className="num">{t('log.duration')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.requestId}>
                  <td>{formatDateTime(r.createdAt, language)}</td>
                  <td>{memberName.get(r.userId) ?? r.userId}</td>
                  <td>{keyName.get(r.keyId) ?? r.keyId}</td>
                  <td>{r.model}</td>
                  <td className="num">
                    {r.status}
                    {r.outcome === 'refused' ? (
                      <span className="muted words">
                        {' '}
                        {t('log.refused', { reason: reasonOf(r.errorType) })}
                      </span>
                    ) : r.errorType ? (
                      ` ${r.errorType}`
                    ) : (
                      ''
                    )}
                  </td>
                  <td className="num">
                    {formatTokens(r.inputTokens, language)} / {formatTokens(r.outputTokens, language)}
                  </td>
                  <td className="num">{formatMicros(r.costMicros, language)}</td>
                  <td className="num">{r.durationMs} ms</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows.length > 0 && (
        <p className="muted" aria-live="polite">
          {t('log.shown', { n: rows.length })}
        </p>
      )}
      <LoadMore pages={log} />
    </Card>
  );
}
