// Accounts health: every account the viewer may see (their enterprises' pools, their carpools'
// accounts; all for a system admin) with its live state from its gate — condition, the reason in
// words, cooldown countdown, recent errors, latency — and the actions the API offers: reset,
// probe, enable and disable, and its settings (name, concurrency, priority, weight, a new API
// key); a subscription's usage windows and sign-in state. The actions are ai.manage's: shown to
// whom may use them, refused by the API otherwise.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { adminKeys, useAccountStates, useAccounts } from '../api/admin-queries';
import { api, must, type Schemas } from '../api/client';
import { useMe } from '../api/queries';
import { ConditionBadge, Countdown, SubscriptionState, UtilisationBar, useNow } from '../components/admin-ui';
import { Card, ErrorMessage, Field, Loading } from '../components/ui';
import { useI18n } from '../i18n';
import { isSystemAdmin, type Me, ownsEnterprise } from '../lib/access';
import type { AccountState } from '../lib/admin';
import { formatDateTime } from '../lib/format';

type Account = Schemas['Account'];

/** Who may reset, probe, enable or disable: ai.manage on the pool's enterprise (or a system admin). */
function mayManage(me: Me | null | undefined, account: Account): boolean {
  if (isSystemAdmin(me)) return true;
  return account.enterpriseId !== null && ownsEnterprise(me, account.enterpriseId);
}

export default function AccountsPage() {
  const { t } = useI18n();
  const accounts = useAccounts();
  const list = accounts.data?.data ?? [];
  const states = useAccountStates(list.map((a) => a.id));
  const now = useNow();
  if (accounts.isPending) return <Loading />;
  // A failed refresh keeps the page under its error (components/guard.tsx says why).
  if (accounts.isLoadingError) return <ErrorMessage error={accounts.error} />;
  return (
    <>
      <h1>{t('adm.accounts.title')}</h1>
      <ErrorMessage error={accounts.error} />
      {list.length === 0 && <p className="muted">{t('adm.accounts.none')}</p>}
      {list.map((a, i) => (
        <AccountCard key={a.id} account={a} state={states[i]?.data} error={states[i]?.error} now={now} />
      ))}
    </>
  );
}

function AccountCard({
  account,
  state,
  error,
  now,
}: {
  account: Account;
  state: AccountState | undefined;
  error: unknown;
  now: number;
}) {
  const { t, language } = useI18n();
  const me = useMe();
  const queryClient = useQueryClient();
  const [reason, setReason] = useState('');
  const [probe, setProbe] = useState<Schemas['AccountProbe'] | null>(null);
  const refresh = () => {
    queryClient.invalidateQueries({ queryKey: adminKeys.accountState(account.id) });
    queryClient.invalidateQueries({ queryKey: ['accounts'] });
  };
  const path = { params: { path: { id: account.id } } };
  const act = useMutation({
    mutationFn: async (action: 'reset' | 'probe' | 'enable' | 'disable') => {
      if (action === 'reset') return must(api.POST('/accounts/{id}/reset', path));
      if (action === 'probe') return setProbe(await must(api.POST('/accounts/{id}/probe', path)));
      if (action === 'enable') return must(api.POST('/accounts/{id}/enable', path));
      return must(api.POST('/accounts/{id}/disable', { ...path, body: reason ? { reason } : {} }));
    },
    onSuccess: refresh,
  });
  const manage = mayManage(me.data, account);
  const scope = account.groupId
    ? t('adm.accounts.carpool')
    : account.enterpriseId
      ? t('adm.accounts.pool')
      : '';
  return (
    <Card
      title={
        <>
          {account.name} {state && <ConditionBadge state={state} now={now} />}
        </>
      }
    >
      <p className="muted">
        {account.provider} · {scope}
      </p>
      <ErrorMessage error={error} />
      {state && (
        <>
          <UtilisationBar label={t('adm.accounts.leases')} inUse={state.inUse} max={state.max} />
          {(state.reason ?? account.disabledReason) && (
            <p className="adm-wrap">
              <strong>{t('adm.accounts.reason')}</strong> {state.reason ?? account.disabledReason}
            </p>
          )}
          <p>
            <Countdown state={state} now={now} />
          </p>
          <SubscriptionState state={state} now={now} />
          <dl className="row">
            <dt>{t('adm.accounts.latency')}</dt>
            <dd>{state.latencyEwmaMs === null ? '—' : `${Math.round(state.latencyEwmaMs)} ms`}</dd>
            <dt>{t('adm.accounts.queued')}</dt>
            <dd>{state.queued}</dd>
            <dt>{t('adm.accounts.failures')}</dt>
            <dd>{state.consecutiveFailures}</dd>
            <dt>{t('adm.accounts.lastSuccess')}</dt>
            <dd>{formatDateTime(state.lastSuccessAt, language)}</dd>
          </dl>
          <h3>{t('adm.accounts.recentErrors')}</h3>
          {state.recentErrors.length === 0 ? (
            <p className="muted">{t('adm.accounts.noErrors')}</p>
          ) : (
            <ul className="adm-errors">
              {state.recentErrors.map((e) => (
                <li key={`${e.at}-${e.kind}`}>
                  {formatDateTime(e.at, language)} · {e.kind}
                  {e.status !== null && ` · ${e.status}`}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
      {manage && (
        <div className="row">
          <button type="button" className="secondary small" onClick={() => act.mutate('reset')}>
            {t('adm.accounts.reset')}
          </button>
          <button type="button" className="secondary small" onClick={() => act.mutate('probe')}>
            {t('adm.accounts.probe')}
          </button>
          {account.enabled ? (
            <>
              <label className="visually-hidden" htmlFor={`reason-${account.id}`}>
                {t('adm.accounts.disableReason')}
              </label>
              <input
                id={`reason-${account.id}`}
                placeholder={t('adm.accounts.disableReason')}
                value={reason}
                onChange={(e) => setReason(e.target.value)}
              />
              <button type="button" className="danger small" onClick={() => act.mutate('disable')}>
                {t('adm.accounts.disable')}
              </button>
            </>
          ) : (
            <button type="button" className="small" onClick={() => act.mutate('enable')}>
              {t('adm.accounts.enable')}
            </button>
          )}
        </div>
      )}
      {manage && <AccountSettings account={account} onSaved={refresh} />}
      <ErrorMessage error={act.error} />
      {probe && (
        <output className={probe.ok ? 'ok' : 'error'} aria-live="polite">
          {probe.ok
            ? t('adm.accounts.probeOk')
            : t('adm.accounts.probeFailed', { status: probe.status ?? '—' })}
        </output>
      )}
    </Card>
  );
}

type NumericSetting = 'maxConcurrency' | 'priority' | 'weight';
const NUMERIC_SETTINGS = [
  { field: 'maxConcurrency', label: 'adm.field.maxConcurrency', hint: null },
  { field: 'priority', label: 'adm.accounts.priority', hint: 'adm.accounts.priorityHint' },
  { field: 'weight', label: 'adm.accounts.weight', hint: 'adm.accounts.weightHint' },
] as const satisfies readonly { field: NumericSetting; label: string; hint: string | null }[];

/**
 * An account's settings: only the fields changed are sent. A new API key replaces the stored one
 * (and clears the account's failures); it is never shown, so the field starts empty.
 */
function AccountSettings({ account, onSaved }: { account: Account; onSaved: () => void }) {
  const { t } = useI18n();
  const [name, setName] = useState(account.name);
  const [numbers, setNumbers] = useState<Record<NumericSetting, string>>({
    maxConcurrency: String(account.maxConcurrency),
    priority: String(account.priority),
    weight: String(account.weight),
  });
  const [credential, setCredential] = useState('');
  const [saved, setSaved] = useState(false);
  const changes: Schemas['AccountChanges'] = {
    ...(name.trim() !== account.name ? { name: name.trim() } : {}),
    ...Object.fromEntries(
      NUMERIC_SETTINGS.filter(({ field }) => Number(numbers[field]) !== account[field]).map(({ field }) => [
        field,
        Number(numbers[field]),
      ]),
    ),
    ...(credential.trim() ? { credential: credential.trim() } : {}),
  };
  const save = useMutation({
    mutationFn: () =>
      must(api.PATCH('/accounts/{id}', { params: { path: { id: account.id } }, body: changes })),
    onSuccess: () => {
      setCredential('');
      setSaved(true);
      onSaved();
    },
  });
  const whole = Object.values(numbers).every((v) => /^\d+$/.test(v.trim()));
  return (
    <details>
      <summary>{t('adm.accounts.settings')}</summary>
      <form
        aria-label={t('adm.accounts.settingsOf', { name: account.name })}
        onSubmit={(e) => {
          e.preventDefault();
          setSaved(false);
          save.mutate();
        }}
      >
        <Field label={t('adm.field.name')} name="name" value={name} onChange={setName} required />
        {NUMERIC_SETTINGS.map(({ field, label, hint }) => (
          <Field
            key={field}
            label={t(label)}
            hint={hint && t(hint)}
            name={field}
            inputMode="numeric"
            value={numbers[field]}
            onChange={(value) => setNumbers((n) => ({ ...n, [field]: value }))}
            required
          />
        ))}
        {account.authKind === 'api_key' && (
          <Field
            label={t('adm.accounts.newCredential')}
            hint={t('adm.accounts.newCredentialHint')}
            name="credential"
            type="password"
            autoComplete="off"
            value={credential}
            onChange={setCredential}
          />
        )}
        <ErrorMessage error={save.error} />
        <button type="submit" disabled={save.isPending || !whole || Object.keys(changes).length === 0}>
          {t('adm.common.save')}
        </button>
        {saved && (
          <p role="status" className="ok">
            {t('adm.accounts.saved')}
          </p>
        )}
      </form>
    </details>
  );
}
