// My profile: who I am (and my display name, which I may change), password change, my sign-in
// sessions (end one, or all), and personal access tokens for scripts (created with the plaintext
// shown once, revoked).
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useLocation } from 'wouter';
import { ApiFailure, api, must, type Schemas } from '../api/client';
import { keys, useMe, useUser } from '../api/queries';
import { Card, CodeBlock, ErrorMessage, Field } from '../components/ui';
import { useI18n } from '../i18n';
import { formatDateTime } from '../lib/format';
import { tokenExpiry } from '../lib/forms';

/** One's display name: what groups, statements and the usage page call one. */
function Rename({ userId, name }: { userId: string; name: string }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [value, setValue] = useState(name);
  const [error, setError] = useState<unknown>(null);
  return (
    <form
      aria-label={t('profile.rename')}
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          await must(api.PATCH('/me', { body: { name: value.trim() } }));
          await queryClient.invalidateQueries({ queryKey: keys.user(userId) });
        } catch (err) {
          setError(err);
        }
      }}
    >
      <Field label={t('profile.newName')} name="displayName" value={value} onChange={setValue} required />
      <ErrorMessage error={error} />
      <button type="submit" className="secondary" disabled={!value.trim() || value.trim() === name}>
        {t('profile.rename')}
      </button>
    </form>
  );
}

function PasswordChange() {
  const { t } = useI18n();
  const [currentPassword, setCurrent] = useState('');
  const [newPassword, setNew] = useState('');
  const [done, setDone] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <Card title={t('profile.password')}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setError(null);
          setDone(false);
          try {
            await must(api.PUT('/me/password', { body: { currentPassword, newPassword } }));
            setDone(true);
            setCurrent('');
            setNew('');
          } catch (err) {
            setError(err);
          }
        }}
      >
        <Field
          label={t('profile.currentPassword')}
          name="currentPassword"
          type="password"
          value={currentPassword}
          onChange={setCurrent}
          required
          autoComplete="current-password"
        />
        <Field
          label={t('profile.newPassword')}
          hint={t('form.passwordHint')}
          name="newPassword"
          type="password"
          value={newPassword}
          onChange={setNew}
          required
          minLength={8}
          autoComplete="new-password"
        />
        <ErrorMessage error={error} />
        {done && <output className="ok">{t('profile.passwordChanged')}</output>}
        <div>
          <button type="submit">{t('profile.changePassword')}</button>
        </div>
      </form>
    </Card>
  );
}

function Sessions() {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const [, navigate] = useLocation();
  const sessions = useQuery({ queryKey: keys.sessions, queryFn: () => must(api.GET('/me/sessions')) });
  return (
    <Card
      title={t('profile.sessions')}
      actions={
        <button
          type="button"
          className="danger small"
          onClick={async () => {
            await must(api.POST('/auth/logout-all'));
            queryClient.clear();
            navigate('/login');
          }}
        >
          {t('profile.signOutEverywhere')}
        </button>
      }
    >
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>{t('profile.device')}</th>
              <th>{t('profile.lastSeen')}</th>
              <th>
                <span className="visually-hidden">{t('common.actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(sessions.data?.data ?? []).map((s) => (
              <tr key={s.id}>
                <td>
                  {s.userAgent ?? '—'}
                  <br />
                  <small className="muted">
                    {s.ip ?? ''} · {t(`profile.method.${s.method}`)}
                  </small>
                </td>
                <td>{formatDateTime(s.lastSeenAt, language)}</td>
                <td>
                  {s.current ? (
                    <strong>{t('profile.thisSession')}</strong>
                  ) : (
                    <button
                      type="button"
                      className="danger small"
                      onClick={async () => {
                        await must(
                          api.DELETE('/me/sessions/{sessionId}', { params: { path: { sessionId: s.id } } }),
                        );
                        await queryClient.invalidateQueries({ queryKey: keys.sessions });
                      }}
                    >
                      {t('profile.endSession')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

/** The server's answer to a token asked for by a session that signed in too long ago. */
function signInAgain(error: unknown): boolean {
  return (
    error instanceof ApiFailure &&
    (error.details as { status?: unknown } | undefined)?.status === 'sign_in_again'
  );
}

/** Signs out and back in, to return here with a fresh sign-in. */
function SignInAgain() {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [, navigate] = useLocation();
  return (
    <div role="alert" className="error">
      <p>{t('profile.signInAgain')}</p>
      <button
        type="button"
        className="secondary"
        onClick={async () => {
          await api.POST('/auth/logout');
          queryClient.clear();
          navigate(`/login?next=${encodeURIComponent('/profile')}`);
        }}
      >
        {t('profile.signInAgainButton')}
      </button>
    </div>
  );
}

function Tokens() {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const tokens = useQuery({ queryKey: keys.tokens, queryFn: () => must(api.GET('/me/tokens')) });
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const [created, setCreated] = useState<Schemas['NewPersonalAccessToken'] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const active = (tokens.data?.data ?? []).filter((tk) => tk.revokedAt === null);
  return (
    <Card title={t('profile.tokens')}>
      <p className="muted">{t('profile.tokensIntro')}</p>
      {created && (
        <div className="secret">
          <p>
            <strong>{t('keys.shownOnce')}</strong>
          </p>
          <CodeBlock text={created.token} />
        </div>
      )}
      {active.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>{t('keys.name')}</th>
                <th>{t('keys.expires')}</th>
                <th>
                  <span className="visually-hidden">{t('common.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {active.map((tk) => (
                <tr key={tk.id}>
                  <td>
                    {tk.name} <code>{tk.prefix}</code>
                  </td>
                  <td>{tk.expiresAt ? formatDateTime(tk.expiresAt, language) : t('keys.never')}</td>
                  <td>
                    <button
                      type="button"
                      className="danger small"
                      onClick={async () => {
                        await must(
                          api.DELETE('/me/tokens/{tokenId}', { params: { path: { tokenId: tk.id } } }),
                        );
                        await queryClient.invalidateQueries({ queryKey: keys.tokens });
                      }}
                    >
                      {t('keys.revoke')}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setError(null);
          try {
            setCreated(
              await must(
                api.POST('/me/tokens', {
                  body: { name, expiresAt: tokenExpiry(days) },
                }),
              ),
            );
            setName('');
            await queryClient.invalidateQueries({ queryKey: keys.tokens });
          } catch (err) {
            setError(err);
          }
        }}
      >
        <Field label={t('keys.name')} name="tokenName" value={name} onChange={setName} required />
        <Field
          label={t('keys.expiresInDays')}
          hint={t('profile.tokenDaysHint')}
          name="tokenDays"
          inputMode="numeric"
          value={days}
          onChange={setDays}
        />
        {signInAgain(error) ? <SignInAgain /> : <ErrorMessage error={error} />}
        <div>
          <button type="submit">{t('profile.createToken')}</button>
        </div>
      </form>
    </Card>
  );
}

export default function ProfilePage() {
  const { t } = useI18n();
  const me = useMe();
  const user = useUser(me.data?.userId);
  return (
    <>
      <h1>{t('profile.title')}</h1>
      {user.data && (
        <Card>
          <dl className="facts">
            <dt>{t('form.name')}</dt>
            <dd>{user.data.name}</dd>
            <dt>{t('form.email')}</dt>
            <dd>{user.data.email}</dd>
          </dl>
          <Rename key={user.data.name} userId={user.data.id} name={user.data.name} />
        </Card>
      )}
      <PasswordChange />
      <Sessions />
      <Tokens />
    </>
  );
}
