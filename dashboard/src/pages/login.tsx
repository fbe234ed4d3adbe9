// Sign in with email and password, or with the configured OIDC provider when there is one
// (GET /auth/methods says which). Afterwards, back to where the guard sent us from (`?next=`).
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useLocation, useSearchParams } from 'wouter';
import { api, must, relayOrigin } from '../api/client';
import { Card, ErrorMessage, Field } from '../components/ui';
import { useI18n } from '../i18n';
import { safeNext } from '../lib/redirect';

export function PasswordSignIn({
  onSignedIn,
  submitLabel,
}: {
  onSignedIn: () => void;
  submitLabel?: string;
}) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          await must(api.POST('/auth/login', { body: { email, password } }));
          await queryClient.invalidateQueries();
          onSignedIn();
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <Field
        label={t('form.email')}
        name="email"
        type="email"
        value={email}
        onChange={setEmail}
        required
        autoComplete="username"
      />
      <Field
        label={t('form.password')}
        name="password"
        type="password"
        value={password}
        onChange={setPassword}
        required
        autoComplete="current-password"
      />
      <ErrorMessage error={error} />
      <div>
        <button type="submit" disabled={busy}>
          {submitLabel ?? t('login.submit')}
        </button>
      </div>
    </form>
  );
}

export default function LoginPage() {
  const { t } = useI18n();
  const [params] = useSearchParams();
  const [, navigate] = useLocation();
  const methods = useQuery({ queryKey: ['auth-methods'], queryFn: () => must(api.GET('/auth/methods')) });
  const next = safeNext(params.get('next'));
  const oidc = methods.data?.oidc;
  return (
    <>
      <h1>{t('login.title')}</h1>
      <Card>
        <PasswordSignIn onSignedIn={() => navigate(next)} />
        <p className="muted">{t('login.forgot')}</p>
        {oidc && (
          <p>
            <a className="button secondary" href={new URL(oidc.start, relayOrigin).href}>
              {t('login.oidc')}
            </a>
          </p>
        )}
      </Card>
    </>
  );
}
