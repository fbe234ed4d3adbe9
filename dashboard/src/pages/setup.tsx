// First run: the one-time setup link (`/setup?token=…`, printed by `npm run dev`) creates the first
// user, a system admin, and signs them in.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useLocation, useSearchParams } from 'wouter';
import { ApiFailure, api, must } from '../api/client';
import { keys } from '../api/queries';
import { Card, ErrorMessage, Field, Loading } from '../components/ui';
import { useI18n } from '../i18n';

export default function SetupPage() {
  const { t } = useI18n();
  const [params] = useSearchParams();
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  const state = useQuery({ queryKey: ['setup'], queryFn: () => must(api.GET('/setup')) });
  const [token, setToken] = useState(params.get('token') ?? '');
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // A link carries the token, so its field is hidden; once the API refuses it (403), the field is
  // shown with it filled in, to be corrected rather than leave the page a dead end.
  const [tokenRefused, setTokenRefused] = useState(false);

  if (state.isPending) return <Loading />;
  if (state.data && !state.data.open)
    return (
      <Card title={t('setup.title')}>
        <p>{t('setup.done')}</p>
        <Link href="/login">{t('nav.login')}</Link>
      </Card>
    );
  return (
    <>
      <h1>{t('setup.title')}</h1>
      <Card>
        <p>{t('setup.intro')}</p>
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            setError(null);
            try {
              await must(api.POST('/setup', { body: { token, name, email, password } }));
              await queryClient.invalidateQueries({ queryKey: keys.me });
              navigate('/');
            } catch (err) {
              setError(err);
              if (err instanceof ApiFailure && err.status === 403) setTokenRefused(true);
            } finally {
              setBusy(false);
            }
          }}
        >
          {(!params.get('token') || tokenRefused) && (
            <Field label={t('setup.token')} name="token" value={token} onChange={setToken} required />
          )}
          <Field
            label={t('form.name')}
            name="name"
            value={name}
            onChange={setName}
            required
            autoComplete="name"
          />
          <Field
            label={t('form.email')}
            name="email"
            type="email"
            value={email}
            onChange={setEmail}
            required
            autoComplete="email"
          />
          <Field
            label={t('form.password')}
            hint={t('form.passwordHint')}
            name="password"
            type="password"
            value={password}
            onChange={setPassword}
            required
            minLength={8}
            autoComplete="new-password"
          />
          <ErrorMessage error={error} />
          <div>
            <button type="submit" disabled={busy}>
              {t('setup.submit')}
            </button>
          </div>
        </form>
      </Card>
    </>
  );
}
