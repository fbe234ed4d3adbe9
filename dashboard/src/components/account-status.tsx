// A carpool's bound account as its members see it: provider, enabled, and its live health
// (cooling down until…, recent errors) from the account's gate.
import type { Schemas } from '../api/client';
import { useI18n } from '../i18n';
import { formatDateTime } from '../lib/format';

export function AccountStatus({ account }: { account: Schemas['AccountWithState'] | null }) {
  const { t, language } = useI18n();
  if (!account) return <p className="warn">{t('account.none')}</p>;
  const live = account.live;
  const cooling = live.cooldownUntil !== null && live.cooldownUntil > Date.now();
  const state = !live.enabled ? 'disabled' : cooling ? 'cooling' : 'healthy';
  return (
    <dl className="facts">
      <dt>{t('account.name')}</dt>
      <dd>
        {account.name} ({account.provider})
      </dd>
      <dt>{t('account.state')}</dt>
      <dd className={state === 'healthy' ? 'ok' : 'error'} data-testid="account-state">
        {t(`account.${state}`)}
        {state === 'disabled' && live.reason ? ` — ${live.reason}` : ''}
        {cooling ? ` (${t('account.until', { time: formatDateTime(live.cooldownUntil, language) })})` : ''}
      </dd>
      <dt>{t('account.inUse')}</dt>
      <dd>
        {live.inUse} / {live.max}
      </dd>
      {live.latencyEwmaMs !== null && (
        <>
          <dt>{t('account.latency')}</dt>
          <dd>{Math.round(live.latencyEwmaMs)} ms</dd>
        </>
      )}
    </dl>
  );
}
