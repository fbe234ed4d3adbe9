// The audit log: who changed what, newest first, for an enterprise one runs, a group one owns, or
// everything (a system admin), a page at a time ("Load more" follows the API's nextCursor in the
// same scope). The API decides the scope; the detail is its before/after summary.
import { useState } from 'react';
import { adminKeys } from '../api/admin-queries';
import { api, must } from '../api/client';
import '../admin.css';
import { parseScope } from '../api/alerts';
import { useCursorPages } from '../api/queries';
import { Card, ErrorMessage, Loading, LoadMore, Select } from '../components/ui';
import { useI18n } from '../i18n';
import { formatDateTime } from '../lib/format';
import { useAlertScopes } from './alerts';

const PAGE = 50;

export default function AuditPage() {
  const { t, language } = useI18n();
  const scopes = useAlertScopes('audit');
  const [chosen, setChosen] = useState('');
  const key = chosen || scopes[0]?.value || '';
  const scope = parseScope(key);
  const query = {
    ...(scope.kind === 'enterprise'
      ? { enterpriseId: scope.id }
      : scope.kind === 'group'
        ? { groupId: scope.id }
        : {}),
    limit: PAGE,
  };
  const audit = useCursorPages(
    adminKeys.audit(query),
    (cursor) => must(api.GET('/audit', { params: { query: { ...query, cursor } } })),
    Boolean(key),
  );
  const entries = audit.data ?? [];
  return (
    <>
      <h1>{t('adm.audit.title')}</h1>
      {scopes.length > 0 && (
        <Select
          label={t('adm.alerts.scope')}
          name="scope"
          value={key}
          options={scopes}
          onChange={setChosen}
        />
      )}
      <Card>
        {audit.isPending && <Loading />}
        <ErrorMessage error={audit.error} />
        {audit.isSuccess && entries.length === 0 && <p className="muted">{t('adm.audit.none')}</p>}
        {entries.length > 0 && (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('adm.common.time')}</th>
                  <th scope="col">{t('adm.audit.actor')}</th>
                  <th scope="col">{t('adm.audit.action')}</th>
                  <th scope="col">{t('adm.audit.target')}</th>
                  <th scope="col">{t('adm.audit.detail')}</th>
                </tr>
              </thead>
              <tbody>
                {entries.map((e) => (
                  <tr key={e.id}>
                    <td>{formatDateTime(e.at, language)}</td>
                    <td className="adm-wrap">
                      {e.actor}
                      {e.ip && <span className="muted"> · {e.ip}</span>}
                    </td>
                    <td>{e.action}</td>
                    <td className="adm-wrap">
                      {e.targetType} {e.targetId}
                    </td>
                    <td className="adm-wrap">
                      <code>{e.detail ? JSON.stringify(e.detail) : ''}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {entries.length > 0 && (
          <p className="muted" aria-live="polite">
            {t('adm.audit.shown', { n: entries.length })}
          </p>
        )}
        <LoadMore pages={audit} />
      </Card>
    </>
  );
}
