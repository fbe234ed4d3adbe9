// Adding a subscription account (claude-oauth, codex-oauth, gemini-oauth) by signing in at the provider: the
// terms notice with a required confirmation, POST /accounts/oauth/start (PKCE, state bound to this
// session), the authorize URL opened in a new tab, the code or callback URL pasted back, and
// POST /accounts/oauth/finish, which stores the tokens encrypted and answers the account. A refused
// code ends the sign-in (single use): the admin starts again from the same form. With an account
// as its target it signs that account in again (new tokens, enabled again): its plan is fixed.
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, must, type Schemas } from '../api/client';
import { useI18n } from '../i18n';
import { formatDateTime } from '../lib/format';
import { oauthFinishInput } from '../lib/statements';
import { ErrorMessage, Field, Select } from './ui';

export type Kind = Schemas['OAuthStartInput']['kind'];
const KINDS: readonly Kind[] = ['claude-oauth', 'codex-oauth', 'gemini-oauth'];

/** The kinds this deployment allows (gemini-oauth is off unless the operator turns it on). */
function useEnabledKinds(): readonly Kind[] {
  const kinds = useQuery({
    queryKey: ['oauth-kinds'],
    queryFn: () => must(api.GET('/accounts/oauth/kinds')),
    staleTime: Number.POSITIVE_INFINITY,
  });
  if (!kinds.data) return KINDS.filter((k) => k !== 'gemini-oauth');
  const enabled = new Set(kinds.data.data.filter((k) => k.enabled).map((k) => k.kind));
  return KINDS.filter((k) => enabled.has(k));
}

export function SubscriptionSignIn({
  target,
  onDone,
}: {
  /**
   * Where the account goes: a carpool (its owner) or an enterprise's pool (ai.manage there); or an
   * existing subscription account to sign in again.
   */
  target: { groupId: string } | { enterpriseId: string } | { accountId: string; kind: Kind };
  onDone: (account: Schemas['Account']) => void | Promise<void>;
}) {
  const { t, language } = useI18n();
  const kinds = useEnabledKinds();
  const again = 'accountId' in target ? target : null;
  const [chosen, setKind] = useState<Kind>('claude-oauth');
  const kind = again?.kind ?? chosen;
  const [name, setName] = useState('');
  const [baseUrl, setBaseUrl] = useState('');
  const [accepted, setAccepted] = useState(false);
  const [started, setStarted] = useState<Schemas['OAuthStarted'] | null>(null);
  const [code, setCode] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section aria-labelledby="sub-title" data-testid="subscription-sign-in">
      <h3 id="sub-title">{again ? t('sub.againTitle') : t('sub.title')}</h3>
      <p>{again ? t('sub.againIntro') : t('sub.intro')}</p>
      {!started ? (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            setBusy(true);
            try {
              const answer = await must(
                api.POST('/accounts/oauth/start', {
                  body: again
                    ? { kind, acceptTerms: accepted, accountId: again.accountId }
                    : {
                        kind,
                        acceptTerms: accepted,
                        ...target,
                        ...(name.trim() ? { name: name.trim() } : {}),
                        ...(baseUrl.trim() ? { baseUrl: baseUrl.trim() } : {}),
                      },
                }),
              );
              setStarted(answer);
              window.open(answer.authorizeUrl, '_blank', 'noopener');
            } catch (err) {
              setError(err);
            } finally {
              setBusy(false);
            }
          }}
        >
          {!again && (
            <>
              <Select
                label={t('sub.kind')}
                name="kind"
                value={kind}
                options={kinds.map((k) => ({ value: k, label: t(`sub.kind.${k}`) }))}
                onChange={setKind}
              />
              <Field
                label={t('bind.name')}
                hint={t('keys.optional')}
                name="subName"
                value={name}
                onChange={setName}
              />
              <Field
                label={t('sub.endpoint')}
                hint={t('sub.endpointHint')}
                name="subBaseUrl"
                type="url"
                value={baseUrl}
                onChange={setBaseUrl}
              />
            </>
          )}
          <p className="notice" data-testid="sub-terms">
            {t('sub.terms')}
          </p>
          {kind === 'gemini-oauth' && (
            <p className="notice" data-testid="sub-terms-kind">
              {t('sub.terms.gemini-oauth')}
            </p>
          )}
          <div className="field">
            <label>
              <input
                type="checkbox"
                required
                checked={accepted}
                onChange={(e) => setAccepted(e.target.checked)}
              />{' '}
              {t('sub.confirm')}
            </label>
          </div>
          <ErrorMessage error={error} />
          <div>
            <button type="submit" disabled={busy || !accepted}>
              {t('sub.start')}
            </button>
          </div>
        </form>
      ) : (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            setBusy(true);
            try {
              const account = await must(
                api.POST('/accounts/oauth/finish', { body: oauthFinishInput(started.state, code) }),
              );
              setDone(account.name);
              setStarted(null);
              setCode('');
              setAccepted(false);
              await onDone(account);
            } catch (err) {
              setError(err);
            } finally {
              setBusy(false);
            }
          }}
        >
          <p>
            <a
              href={started.authorizeUrl}
              target="_blank"
              rel="noopener noreferrer"
              data-testid="sub-authorize"
            >
              {t('sub.open')}
            </a>{' '}
            ·{' '}
            <a href={started.termsUrl} target="_blank" rel="noopener noreferrer">
              {t('sub.termsLink')}
            </a>
          </p>
          <p className="hint">{t('sub.openHint')}</p>
          <p className="muted">{t('sub.expires', { at: formatDateTime(started.expiresAt, language) })}</p>
          <Field
            label={t('sub.code')}
            name="code"
            autoComplete="off"
            value={code}
            onChange={setCode}
            required
          />
          <ErrorMessage error={error} />
          <div className="row">
            <button type="submit" disabled={busy || !code.trim()}>
              {t('sub.finish')}
            </button>
            <button
              type="button"
              className="secondary"
              onClick={() => {
                // A new sign-in, confirmed anew, as after a finished one.
                setStarted(null);
                setCode('');
                setAccepted(false);
                setError(null);
              }}
            >
              {t('sub.restart')}
            </button>
          </div>
        </form>
      )}
      {done && (
        <p role="status" className="ok">
          {again ? t('sub.againDone', { name: done }) : t('sub.done', { name: done })}
        </p>
      )}
    </section>
  );
}
