// Bind the carpool's account: provider, credential, base URL or preset. The connection is tested
// (POST /accounts/test, nothing stored) and must pass with exactly these inputs before saving. Or a
// subscription (Claude, ChatGPT) signed in at the provider: components/oauth-sign-in.tsx.
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useLocation, useParams } from 'wouter';
import { api, must, type Schemas } from '../api/client';
import { useGroupAccount } from '../api/queries';
import { AccountStatus } from '../components/account-status';
import { SubscriptionSignIn } from '../components/oauth-sign-in';
import { Card, ErrorMessage, Field, Loading, Select } from '../components/ui';
import { useI18n } from '../i18n';
import { type AccountForm, connectionInput, PRESETS, PROVIDERS, type Preset } from '../lib/forms';

export default function BindAccountPage() {
  const { t } = useI18n();
  const { id = '' } = useParams<{ id: string }>();
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  const bound = useGroupAccount(id);
  const [form, setForm] = useState<AccountForm>({
    provider: 'anthropic',
    preset: '',
    baseUrl: '',
    credential: '',
  });
  const [name, setName] = useState('');
  const [tested, setTested] = useState<{ input: string; result: Schemas['ConnectionTest'] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const input = connectionInput(form);
  const testedOk = tested?.result.ok === true && tested.input === JSON.stringify(input);
  const compatible = form.provider === 'openai-compatible' || form.provider === 'anthropic-compatible';

  if (bound.isPending) return <Loading />;
  if (bound.data)
    return (
      <>
        <h1>{t('bind.title')}</h1>
        <Card title={t('account.title')}>
          <AccountStatus account={bound.data} />
          <p className="muted">{t('bind.alreadyBound')}</p>
        </Card>
      </>
    );
  return (
    <>
      <h1>{t('bind.title')}</h1>
      <Card>
        <p>{t('bind.intro')}</p>
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            setBusy(true);
            try {
              await must(
                api.POST('/groups/{id}/account', {
                  params: { path: { id } },
                  body: { ...input, ...(name.trim() ? { name: name.trim() } : {}) },
                }),
              );
              await queryClient.invalidateQueries();
              navigate(`/groups/${id}`);
            } catch (err) {
              setError(err);
            } finally {
              setBusy(false);
            }
          }}
        >
          <Select
            label={t('bind.provider')}
            name="provider"
            value={form.provider}
            options={PROVIDERS.map((p) => ({ value: p, label: t(`provider.${p}`) }))}
            onChange={(provider) => setForm((f) => ({ ...f, provider, preset: '' }))}
          />
          {compatible && (
            <Select<Preset | ''>
              label={t('bind.preset')}
              name="preset"
              value={form.preset}
              options={[
                { value: '', label: t('bind.noPreset') },
                ...PRESETS.map((p) => ({ value: p, label: p })),
              ]}
              onChange={(preset) => setForm((f) => ({ ...f, preset }))}
            />
          )}
          {!form.preset && (
            <Field
              label={t('bind.baseUrl')}
              hint={t('bind.baseUrlHint')}
              name="baseUrl"
              type="url"
              value={form.baseUrl}
              onChange={(baseUrl) => setForm((f) => ({ ...f, baseUrl }))}
            />
          )}
          <Field
            label={t('bind.credential')}
            hint={t('bind.credentialHint')}
            name="credential"
            type="password"
            autoComplete="off"
            value={form.credential}
            onChange={(credential) => setForm((f) => ({ ...f, credential }))}
            required
          />
          <Field
            label={t('bind.name')}
            hint={t('keys.optional')}
            name="name"
            value={name}
            onChange={setName}
          />
          <div className="row">
            <button
              type="button"
              className="secondary"
              disabled={busy || !form.credential.trim()}
              onClick={async () => {
                setError(null);
                setBusy(true);
                try {
                  const result = await must(api.POST('/accounts/test', { body: input }));
                  setTested({ input: JSON.stringify(input), result });
                } catch (err) {
                  setError(err);
                } finally {
                  setBusy(false);
                }
              }}
            >
              {t('bind.test')}
            </button>
            {tested && (
              <output className={tested.result.ok ? 'ok' : 'error'} data-testid="connection-result">
                {tested.result.ok
                  ? t('bind.testOk')
                  : t('bind.testFailed', { message: tested.result.message })}
              </output>
            )}
          </div>
          <ErrorMessage error={error} />
          <div>
            <button type="submit" disabled={busy || !testedOk}>
              {t('bind.save')}
            </button>
            {!testedOk && <small className="hint"> {t('bind.testFirst')}</small>}
          </div>
        </form>
      </Card>
      <Card>
        <SubscriptionSignIn
          target={{ groupId: id }}
          onDone={async () => {
            await queryClient.invalidateQueries();
            navigate(`/groups/${id}`);
          }}
        />
      </Card>
    </>
  );
}
