// Building blocks of the admin pages (issue 12): the utilisation and budget bars (the coloured bar
// is decoration; its numbers are always written beside it, so screen readers read those), an
// account's condition badge and a live cooldown countdown.
import { type ReactNode, useEffect, useState } from 'react';
import { useI18n } from '../i18n';
import {
  type AccountCondition,
  type AccountState,
  accountCondition,
  budgetBar,
  cooldownEnds,
  formatCountdown,
  percent,
} from '../lib/admin';
import { formatDateTime, formatMicros } from '../lib/format';
import { windowBar } from '../lib/statements';
import '../admin.css';

/** The current time, ticking every `ms` while mounted: countdowns move without refetching. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

export function UtilisationBar({ inUse, max, label }: { inUse: number; max: number; label: ReactNode }) {
  const { t } = useI18n();
  const width = percent(inUse, max);
  const text = t('adm.bar.inUse', { inUse, max });
  return (
    <div className="adm-bar-row">
      <div className="adm-bar-label">
        <span>{label}</span>
        <span>{text}</span>
      </div>
      <div className="adm-bar" aria-hidden="true">
        <span className={width >= 100 ? 'adm-full' : 'adm-used'} style={{ width: `${width}%` }} />
      </div>
    </div>
  );
}

export function BudgetBarView({
  label,
  limit,
  spent,
  reserved,
}: {
  label: ReactNode;
  limit: number;
  spent: number | null | undefined;
  reserved?: number | null;
}) {
  const { t, language } = useI18n();
  const bar = budgetBar(limit, spent, reserved);
  const text = t('adm.bar.budget', {
    spent: formatMicros(bar.spent, language),
    reserved: formatMicros(bar.reserved, language),
    limit: formatMicros(bar.limit, language),
  });
  return (
    <div className="adm-bar-row" data-over={bar.over || undefined}>
      <div className="adm-bar-label">
        <span>{label}</span>
        <span>
          {text}
          {bar.over && <strong className="adm-over"> · {t('adm.bar.over')}</strong>}
        </span>
      </div>
      <div className="adm-bar" aria-hidden="true">
        <span className={bar.over ? 'adm-full' : 'adm-used'} style={{ width: `${bar.spentPercent}%` }} />
        <span className="adm-reserved" style={{ width: `${bar.reservedPercent}%` }} />
      </div>
    </div>
  );
}

const CONDITION_CLASS: Record<AccountCondition, string> = {
  disabled: 'adm-badge adm-bad',
  cooling: 'adm-badge adm-warn',
  full: 'adm-badge adm-warn',
  busy: 'adm-badge adm-ok',
  idle: 'adm-badge adm-ok',
};

export function ConditionBadge({ state, now }: { state: AccountState; now: number }) {
  const { t } = useI18n();
  const condition = accountCondition(state, now);
  return <span className={CONDITION_CLASS[condition]}>{t(`adm.condition.${condition}`)}</span>;
}

/** "serves again in 4m 05s" while the account cools down; nothing once it can serve. */
export function Countdown({ state, now }: { state: AccountState; now: number }) {
  const { t } = useI18n();
  const until = cooldownEnds(state, now);
  if (until === null) return null;
  return <span className="muted">{t('adm.account.backIn', { time: formatCountdown(until - now) })}</span>;
}

/**
 * A subscription account's usage windows (5 h, 7 d…: used %, a bar, the countdown to the reset) and
 * its sign-in (token expiry, last refresh, the last refresh error). Nothing for API-key accounts.
 */
export function SubscriptionState({ state, now }: { state: AccountState; now: number }) {
  const { t, language } = useI18n();
  if (state.windows.length === 0 && !state.oauth) return null;
  return (
    <div data-testid="subscription-state">
      {state.windows.length > 0 && (
        <>
          <h3>{t('sub.windows')}</h3>
          {state.windows.map((w) => {
            const bar = windowBar(w, now);
            return (
              <div className="adm-bar-row" key={w.name}>
                <div className="adm-bar-label">
                  <span>{t('sub.window', { name: w.name, used: Math.round(bar.fill) })}</span>
                  <span>
                    {w.exhausted ? `${t('sub.exhausted')} · ` : ''}
                    {bar.resetsInMs !== null && t('sub.resetsIn', { time: formatCountdown(bar.resetsInMs) })}
                  </span>
                </div>
                <div className="adm-bar" aria-hidden="true">
                  <span
                    className={w.exhausted || bar.fill >= 100 ? 'adm-full' : 'adm-used'}
                    style={{ width: `${bar.fill}%` }}
                  />
                </div>
              </div>
            );
          })}
        </>
      )}
      {state.oauth && (
        <p>
          <strong>{t('sub.token')}</strong>{' '}
          {t('sub.tokenExpires', { at: formatDateTime(state.oauth.expiresAt, language) })}
          {state.oauth.refreshedAt !== null &&
            ` · ${t('sub.refreshedAt', { at: formatDateTime(state.oauth.refreshedAt, language) })}`}
          {state.oauth.lastRefreshError && (
            <span className="error"> · {t('sub.refreshError', { error: state.oauth.lastRefreshError })}</span>
          )}
        </p>
      )}
    </div>
  );
}
