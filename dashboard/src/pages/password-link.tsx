// A password link (/password/<token>), made by a system admin: whose password it sets, then the new
// password twice. Using it signs the person in and ends every other session they had.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useLocation, useParams } from 'wouter';
import { api, must } from '../api/client';
import { Card, ErrorMessage, Field, Loading } from '../components/ui';
import { useI18n } from '../i18n';
import { formatDateTime } from '../lib/format';

export default function PasswordLinkPage() {
  const { t, language } = useI18n();
  const { token = '' } = useParams<{ token: string }>();
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const preview = useQuery({
    queryKey: ['password-link', token],
    queryFn: () => must(api.GET('/password-links/{token}', { params: { path: { token } } })),
    retry: false,
  });
  return (
    <>
      <h1>{t('password.title')}</h1>
      <Card>
        {preview.isPending && <Loading />}
        <ErrorMessage error={preview.error} />
        {preview.data && (
          <form
            onSubmit={async (e) => {
              e.preventDefault();
              setError(null);
              if (password !== repeat) {
                setError(new Error(t('password.mismatch')));
                return;
              }
              setBusy(true);
              try {
                await must(
                  api.POST('/password-links/{token}', { params: { path: { token } }, body: { password } }),
                );
                await queryClient.invalidateQueries();
                navigate('/');
              } catch (err) {
                setError(err);
              } finally {
                setBusy(false);
              }
            }}
          >
            <p data-testid="password-link-for">
              {t('password.for', { name: preview.data.name, email: preview.data.email })}
            </p>
            <p className="muted">
              {t('password.expires', { time: formatDateTime(preview.data.expiresAt, language) })}
            </p>
            {/* The email, for password managers to file the new password under. */}
            <input type="hidden" name="username" autoComplete="username" value={preview.data.email} />
            <Field
              label={t('password.new')}
              hint={t('form.passwordHint')}
              name="password"
              type="password"
              value={password}
              onChange={setPassword}
              required
              minLength={8}
              autoComplete="new-password"
            />
            <Field
              label={t('password.repeat')}
              name="repeat"
              type="password"
              value={repeat}
              onChange={setRepeat}
              required
              minLength={8}
              autoComplete="new-password"
            />
            <ErrorMessage error={error} />
            <div>
              <button type="submit" disabled={busy}>
                {t('password.submit')}
              </button>
            </div>
          </form>
        )}
      </Card>
    </>
  );
}
