// Key lookup, no sign-in: a member pastes their key and sees its rules, what it has spent and what
// remains of each budget it answers to (GET /v1/key with the key as bearer).
import { useState } from 'react';
import { relayOrigin } from '../api/client';
import { Card, ErrorMessage, Field } from '../components/ui';
import { useI18n } from '../i18n';
import { budgetInWords, formatDateTime, formatMicros } from '../lib/format';

/** The answer of GET /v1/key (a client surface, outside the /api/v1 contract; worker/relay/key-status.ts). */
interface KeyStatus {
  key: {
    name: string;
    prefix: string;
    expiresAt: number | null;
    rules: {
      allowedModels: string[] | null;
      maxConcurrency: number | null;
      requestsPerWindow: number | null;
      windowMinutes: number | null;
    };
  };
  budgets: {
    scope: string;
    period: string;
    mode: string;
    limitMicros: number;
    spentMicros: number;
    remainingMicros: number;
    resetsAt: number | null;
  }[];
}

export default function KeyLookupPage() {
  const { t, language } = useI18n();
  const [key, setKey] = useState('');
  const [status, setStatus] = useState<KeyStatus | null>(null);
  const [error, setError] = useState<unknown>(null);
  return (
    <>
      <h1>{t('lookup.title')}</h1>
      <Card>
        <p>{t('lookup.intro')}</p>
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            setStatus(null);
            const response = await fetch(`${relayOrigin}/v1/key`, {
              headers: { authorization: `Bearer ${key.trim()}` },
            });
            const body = (await response.json().catch(() => null)) as
              | (KeyStatus & { error?: { message?: string } })
              | null;
            if (!response.ok) setError(new Error(body?.error?.message ?? `${response.status}`));
            else setStatus(body);
          }}
        >
          <Field
            label={t('lookup.key')}
            name="key"
            type="password"
            autoComplete="off"
            value={key}
            onChange={setKey}
            required
          />
          <ErrorMessage error={error} />
          <div>
            <button type="submit">{t('lookup.submit')}</button>
          </div>
        </form>
      </Card>
      {status && (
        <Card title={status.key.name || status.key.prefix}>
          <dl className="facts" data-testid="key-status">
            <dt>{t('keys.prefix')}</dt>
            <dd>
              <code>{status.key.prefix}</code>
            </dd>
            <dt>{t('keys.expires')}</dt>
            <dd>{status.key.expiresAt ? formatDateTime(status.key.expiresAt, language) : t('keys.never')}</dd>
            <dt>{t('keys.models')}</dt>
            <dd>{status.key.rules.allowedModels?.join(', ') ?? t('lookup.any')}</dd>
            <dt>{t('keys.maxConcurrency')}</dt>
            <dd>{status.key.rules.maxConcurrency ?? t('lookup.any')}</dd>
          </dl>
          <h3>{t('lookup.budgets')}</h3>
          {status.budgets.length === 0 ? (
            <p className="muted">{t('lookup.noBudgets')}</p>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>{t('lookup.scope')}</th>
                    <th className="num">{t('lookup.limit')}</th>
                    <th className="num">{t('lookup.spent')}</th>
                    <th className="num">{t('lookup.remaining')}</th>
                    <th>{t('lookup.resets')}</th>
                  </tr>
                </thead>
                <tbody>
                  {status.budgets.map((b) => (
                    <tr key={`${b.scope}-${b.period}`}>
                      <td>{budgetInWords(b, t)}</td>
                      <td className="num">{formatMicros(b.limitMicros, language)}</td>
                      <td className="num">{formatMicros(b.spentMicros, language)}</td>
                      <td className="num">{formatMicros(b.remainingMicros, language)}</td>
                      <td>{formatDateTime(b.resetsAt, language)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      )}
    </>
  );
}
