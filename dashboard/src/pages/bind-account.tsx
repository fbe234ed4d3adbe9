// Bind the carpool's account: provider, credential, base URL or preset. The connection is tested
// (POST /accounts/test, nothing stored) and must pass with exactly these inputs before saving. Or a
// subscription (Claude, ChatGPT) signed in at the provider: components/oauth-sign-in.tsx. Once
// bound: a new API key (tested the same way before it is saved), a subscription signed in again,
// or the account unbound and deleted (asked twice) so that another can be bound.
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useLocation, useParams } from 'wouter';
import { api, must, type Schemas } from '../api/client';
import { keys, useGroupAccount } from '../api/queries';
import { AccountStatus } from '../components/account-status';
import { type Kind, SubscriptionSignIn } from '../components/oauth-sign-in';
import { Card, ConfirmButton, ErrorMessage, Field, Loading, Select } from '../components/ui';
import { useI18n } from '../i18n';
import { optionLabels } from '../lib/errors';
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
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const input = connectionInput(form);
  const connection = useConnectionTest(input);
  const compatible = form.provider === 'openai-compatible' || form.provider === 'anthropic-compatible';

  if (bound.isPending) return <Loading />;
  if (bound.data)
    return (
      <>
        <h1>{t('bind.manageTitle')}</h1>
        <Card title={t('account.title')}>
          <AccountStatus account={bound.data} />
          <p className="muted">{t('bind.alreadyBound')}</p>
        </Card>
        <Card>
          {bound.data.authKind === 'oauth' ? (
            <SubscriptionSignIn
              target={{ accountId: bound.data.id, kind: bound.data.provider as Kind }}
              onDone={() => queryClient.invalidateQueries({ queryKey: keys.groupAccount(id) })}
            />
          ) : (
            <ReplaceCredential groupId={id} account={bound.data} />
          )}
        </Card>
        <Card>
          <Unbind groupId={id} name={bound.data.name} />
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
                  await connection.run();
                } catch (err) {
                  setError(err);
                } finally {
                  setBusy(false);
                }
              }}
            >
              {t('bind.test')}
            </button>
            {connection.last && <ConnectionResult result={connection.last} testId="connection-result" />}
          </div>
          <ErrorMessage
            error={error}
            fields={{
              provider: {
                label: t('bind.provider'),
                options: optionLabels(PROVIDERS, (p) => t(`provider.${p}`)),
              },
              preset: t('bind.preset'),
              baseUrl: t('bind.baseUrl'),
              credential: t('bind.credential'),
              name: t('bind.name'),
            }}
          />
          <div>
            <button type="submit" disabled={busy || !connection.passed}>
              {t('bind.save')}
            </button>
            {!connection.passed && <small className="hint"> {t('bind.testFirst')}</small>}
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

/**
 * A connection test (POST /accounts/test, nothing stored) of exactly these inputs: `passed` only
 * while the inputs are the ones that passed, so that saving waits for a test of what is saved.
 */
function useConnectionTest(input: Schemas['ConnectionTestInput']) {
  const [tested, setTested] = useState<{ input: string; result: Schemas['ConnectionTest'] } | null>(null);
  const key = JSON.stringify(input);
  const current = tested?.input === key ? tested.result : null;
  return {
    /** The last result, whatever was tested. */
    last: tested?.result ?? null,
    /** The result for these very inputs, if they were tested. */
    current,
    passed: current?.ok === true,
    run: async () => {
      const result = await must(api.POST('/accounts/test', { body: input }));
      setTested({ input: key, result });
    },
  };
}

function ConnectionResult({ result, testId }: { result: Schemas['ConnectionTest']; testId: string }) {
  const { t } = useI18n();
  return (
    <output className={result.ok ? 'ok' : 'error'} data-testid={testId}>
      {result.ok ? t('bind.testOk') : t('bind.testFailed', { message: result.message })}
    </output>
  );
}

/** A new API key for the bound account, saved only after a passing test of that very key. */
function ReplaceCredential({ groupId, account }: { groupId: string; account: Schemas['Account'] }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [credential, setCredential] = useState('');
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const input: Schemas['ConnectionTestInput'] = {
    provider: account.provider as Schemas['ConnectionTestInput']['provider'],
    credential: credential.trim(),
    ...(account.baseUrl ? { baseUrl: account.baseUrl } : {}),
  };
  const connection = useConnectionTest(input);
  const run = async (work: () => Promise<void>) => {
    setError(null);
    setBusy(true);
    try {
      await work();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      aria-label={t('bind.replace')}
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () => {
          await must(
            api.PATCH('/groups/{id}/account', {
              params: { path: { id: groupId } },
              body: { credential: input.credential },
            }),
          );
          setSaved(true);
          setCredential('');
          await queryClient.invalidateQueries({ queryKey: keys.groupAccount(groupId) });
        });
      }}
    >
      <h2>{t('bind.replace')}</h2>
      <Field
        label={t('bind.newCredential')}
        hint={t('bind.credentialHint')}
        name="newCredential"
        type="password"
        autoComplete="off"
        value={credential}
        onChange={(value) => {
          setCredential(value);
          setSaved(false);
        }}
        required
      />
      <div className="row">
        <button
          type="button"
          className="secondary"
          disabled={busy || !credential.trim()}
          onClick={() => void run(connection.run)}
        >
          {t('bind.test')}
        </button>
        {/* A result is for the key that was tested: another key shows none until it is tested. */}
        {connection.current && <ConnectionResult result={connection.current} testId="replace-result" />}
      </div>
      <ErrorMessage error={error} />
      <button type="submit" disabled={busy || !connection.passed}>
        {t('bind.replaceSave')}
      </button>
      {saved && (
        <p role="status" className="ok">
          {t('bind.replaced')}
        </p>
      )}
    </form>
  );
}

/** Unbinds the account and deletes it, credential and all; the group stays, ready for another. */
function Unbind({ groupId, name }: { groupId: string; name: string }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  return (
    <section aria-label={t('bind.unbind')}>
      <h2>{t('bind.unbind')}</h2>
      <p className="muted">{t('bind.unbindHint')}</p>
      <div className="row">
        <ConfirmButton
          label={t('bind.unbind')}
          confirmLabel={t('bind.unbindConfirm', { name })}
          onConfirm={async () => {
            setError(null);
            try {
              await must(api.DELETE('/groups/{id}/account', { params: { path: { id: groupId } } }));
              await queryClient.invalidateQueries({ queryKey: keys.groupAccount(groupId) });
            } catch (err) {
              setError(err);
            }
          }}
        />
      </div>
      <ErrorMessage error={error} />
    </section>
  );
}
