// An invite link (/invite/<token>): the group and who invited you, then join it: signed in, with one
// click; otherwise sign up through the invite (a new account) or sign in and accept.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useLocation, useParams } from 'wouter';
import { api, must } from '../api/client';
import { useMe } from '../api/queries';
import { Card, ErrorMessage, Field, Loading } from '../components/ui';
import { useI18n } from '../i18n';
import { formatDateTime } from '../lib/format';
import { PasswordSignIn } from './login';

function SignUp({ token, onJoined }: { token: string; onJoined: () => void }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          await must(
            api.POST('/invites/{token}/sign-up', {
              params: { path: { token } },
              body: { name, email, password },
            }),
          );
          onJoined();
        } catch (err) {
          setError(err);
        }
      }}
    >
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
        <button type="submit">{t('invite.signUp')}</button>
      </div>
    </form>
  );
}

export default function InvitePage() {
  const { t, language } = useI18n();
  const { token = '' } = useParams<{ token: string }>();
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  const me = useMe();
  const [mode, setMode] = useState<'sign-up' | 'sign-in'>('sign-up');
  const [error, setError] = useState<unknown>(null);
  const preview = useQuery({
    queryKey: ['invite', token],
    queryFn: () => must(api.GET('/invites/{token}', { params: { path: { token } } })),
  });
  const accept = async () => {
    setError(null);
    try {
      await must(api.POST('/invites/{token}/accept', { params: { path: { token } } }));
      await queryClient.invalidateQueries();
      navigate('/');
    } catch (err) {
      setError(err);
    }
  };
  const joined = async () => {
    await queryClient.invalidateQueries();
    navigate('/');
  };

  if (preview.isPending || me.isPending) return <Loading />;
  // A failed refresh keeps the page (and a half-typed sign-up) under its error.
  if (preview.isLoadingError) return <ErrorMessage error={preview.error} />;
  const p = preview.data;
  return (
    <>
      <h1>{t('invite.title', { group: p.group.name })}</h1>
      <ErrorMessage error={preview.error} />
      <Card>
        <p data-testid="invite-preview">
          {p.invitedBy ? t('invite.invitedBy', { name: p.invitedBy }) : t('invite.invited')}{' '}
          {t('invite.seats', { n: p.group.members, max: p.group.maxMembers })}
        </p>
        <p className="muted">{t('invite.expires', { time: formatDateTime(p.expiresAt, language) })}</p>
        {p.status !== 'active' ? (
          <p className="error" role="alert">
            {t(`invite.status.${p.status}`)}
          </p>
        ) : me.data ? (
          <>
            <ErrorMessage error={error} />
            <button type="button" onClick={accept}>
              {t('invite.join', { group: p.group.name })}
            </button>
          </>
        ) : (
          <>
            <div className="tabs" role="tablist" aria-label={t('invite.how')}>
              <button
                type="button"
                role="tab"
                aria-selected={mode === 'sign-up'}
                onClick={() => setMode('sign-up')}
              >
                {t('invite.new')}
              </button>
              <button
                type="button"
                role="tab"
                aria-selected={mode === 'sign-in'}
                onClick={() => setMode('sign-in')}
              >
                {t('invite.existing')}
              </button>
            </div>
            <div role="tabpanel" aria-label={mode === 'sign-up' ? t('invite.new') : t('invite.existing')}>
              {mode === 'sign-up' ? (
                <SignUp token={token} onJoined={joined} />
              ) : (
                <PasswordSignIn onSignedIn={accept} submitLabel={t('invite.signInAndJoin')} />
              )}
              <ErrorMessage error={error} />
            </div>
          </>
        )}
      </Card>
    </>
  );
}
