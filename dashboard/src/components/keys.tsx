// A member's keys in one group: the list with change (name, models, concurrency) and revoke, the
// create form with its rules, and the new key's plaintext shown once with copy buttons, setup
// snippets for each client and a test request.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, must, relayOrigin, type Schemas } from '../api/client';
import { keys } from '../api/queries';
import { type Language, type Translate, useI18n } from '../i18n';
import type { FieldLabels } from '../lib/errors';
import { formatDateTime } from '../lib/format';
import { keyRulesFromForm, modelList, wholeNumber } from '../lib/forms';
import { type Family, type ProbeResult, probeModel, probeRelay } from '../lib/probe';
import { CLIENTS, type Client, snippetFor } from '../lib/snippets';
import { CodeBlock, ConfirmButton, ErrorMessage, Field } from './ui';

export function SetupSnippets({ apiKey }: { apiKey: string }) {
  const { t } = useI18n();
  const [client, setClient] = useState<Client>('claude-code');
  return (
    <div>
      <h3>{t('keys.snippets')}</h3>
      <div className="tabs" role="tablist" aria-label={t('keys.snippets')}>
        {CLIENTS.map((c) => (
          <button
            key={c}
            type="button"
            role="tab"
            className="small"
            aria-selected={c === client}
            onClick={() => setClient(c)}
          >
            {t(`client.${c}`)}
          </button>
        ))}
      </div>
      <div role="tabpanel" aria-label={t(`client.${client}`)}>
        {snippetFor(client, relayOrigin, apiKey).map((s) => (
          <CodeBlock key={s.text} text={s.text} />
        ))}
      </div>
    </div>
  );
}

export function TestRequest({
  apiKey,
  family,
  models,
}: {
  apiKey: string;
  family: Family;
  models: string[] | null;
}) {
  const { t } = useI18n();
  const [result, setResult] = useState<ProbeResult | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <div className="row">
      <button
        type="button"
        className="secondary"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            setResult(await probeRelay(relayOrigin, apiKey, family, probeModel(family, models)));
          } catch (err) {
            setResult({ ok: false, status: 0, text: String(err) });
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? t('common.loading') : t('keys.test')}
      </button>
      {result && (
        <output className={result.ok ? 'ok' : 'error'} data-testid="test-result">
          {result.ok
            ? t('keys.testOk', { text: result.text })
            : t('keys.testFailed', { status: result.status, text: result.text })}
        </output>
      )}
    </div>
  );
}

/** Revoking a key, asked twice in the page as every other removal is; a refusal is shown. */
function RevokeKey({ apiKey, groupId }: { apiKey: Schemas['Key']; groupId: string }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const name = apiKey.name || apiKey.prefix;
  const revoke = useMutation({
    mutationFn: () => must(api.POST('/keys/{id}/revoke', { params: { path: { id: apiKey.id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: keys.groupKeys(groupId) }),
  });
  return (
    <>
      <ConfirmButton
        small
        label={t('keys.revokeOf', { name })}
        confirmLabel={t('keys.revokeConfirm', { name })}
        pending={revoke.isPending}
        onConfirm={() => revoke.mutate()}
      />
      <ErrorMessage error={revoke.error} />
    </>
  );
}

const DAY_MS = 86_400_000;

/** The key forms' fields as the API names them; a lifetime is typed in days, so its bound is too. */
function keyFields(t: Translate, language: Language): FieldLabels {
  return {
    name: t('keys.name'),
    allowedModels: t('keys.models'),
    maxConcurrency: t('keys.maxConcurrency'),
    expiresAt: {
      label: t('keys.expiresInDays'),
      value: (ms) => (ms / DAY_MS).toLocaleString(language, { maximumFractionDigits: 2 }),
    },
  };
}

export function GroupKeys({
  groupId,
  userId,
  family,
  models,
}: {
  groupId: string;
  userId: string;
  family: Family;
  models: string[] | null;
}) {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const list = useQuery({
    queryKey: keys.myGroupKeys(groupId),
    queryFn: () => must(api.GET('/keys', { params: { query: { groupId, userId } } })),
  });
  const [form, setForm] = useState({ name: '', models: '', expiresInDays: '', maxConcurrency: '' });
  const [created, setCreated] = useState<Schemas['NewKey'] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const set = (field: keyof typeof form) => (value: string) => setForm((f) => ({ ...f, [field]: value }));
  const active = (list.data?.data ?? []).filter((k) => k.status === 'active');
  const edited = active.find((k) => k.id === editing);

  return (
    <div>
      <h3>{t('keys.title')}</h3>
      {active.length === 0 ? (
        <p className="muted">{t('keys.none')}</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>{t('keys.name')}</th>
                <th>{t('keys.prefix')}</th>
                <th>{t('keys.expires')}</th>
                <th>
                  <span className="visually-hidden">{t('common.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {active.map((k) => (
                <tr key={k.id}>
                  <td>{k.name || '—'}</td>
                  <td>
                    <code>{k.prefix}</code>
                  </td>
                  <td>{k.expiresAt ? formatDateTime(k.expiresAt, language) : t('keys.never')}</td>
                  <td>
                    <div className="row">
                      <button
                        type="button"
                        className="secondary small"
                        aria-expanded={editing === k.id}
                        onClick={() => setEditing(editing === k.id ? null : k.id)}
                      >
                        {t('keys.change', { name: k.name || k.prefix })}
                      </button>
                      <RevokeKey apiKey={k} groupId={groupId} />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {edited && (
        <KeyChanges
          key={edited.id}
          apiKey={edited}
          onDone={async () => {
            setEditing(null);
            await queryClient.invalidateQueries({ queryKey: keys.groupKeys(groupId) });
          }}
        />
      )}

      {created && (
        <div className="secret" data-testid="new-key">
          <p>
            <strong>{t('keys.shownOnce')}</strong>
          </p>
          <CodeBlock text={created.key} label={t('keys.copyKey')} />
          <TestRequest apiKey={created.key} family={family} models={models} />
          <SetupSnippets apiKey={created.key} />
        </div>
      )}

      <details>
        <summary>{t('keys.create')}</summary>
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            try {
              const key = await must(api.POST('/keys', { body: { groupId, ...keyRulesFromForm(form) } }));
              setCreated(key);
              setForm({ name: '', models: '', expiresInDays: '', maxConcurrency: '' });
              await queryClient.invalidateQueries({ queryKey: keys.groupKeys(groupId) });
            } catch (err) {
              setError(err);
            }
          }}
        >
          <Field label={t('keys.name')} name="name" value={form.name} onChange={set('name')} />
          <Field
            label={t('keys.models')}
            hint={t('keys.modelsHint')}
            name="models"
            value={form.models}
            onChange={set('models')}
          />
          <Field
            label={t('keys.expiresInDays')}
            hint={t('keys.optional')}
            name="expiresInDays"
            inputMode="numeric"
            value={form.expiresInDays}
            onChange={set('expiresInDays')}
          />
          <Field
            label={t('keys.maxConcurrency')}
            hint={t('keys.optional')}
            name="maxConcurrency"
            inputMode="numeric"
            value={form.maxConcurrency}
            onChange={set('maxConcurrency')}
          />
          <ErrorMessage error={error} fields={keyFields(t, language)} />
          <div>
            <button type="submit">{t('keys.createSubmit')}</button>
          </div>
        </form>
      </details>
    </div>
  );
}

/**
 * A key's name, its models (empty: every model the group allows) and its concurrency (empty: no
 * limit of its own). The relay holds a narrowed rule at once, everywhere (docs/api.md, key rules).
 */
function KeyChanges({
  apiKey,
  onDone,
}: {
  apiKey: {
    id: string;
    name: string;
    prefix: string;
    allowedModels: string[] | null;
    maxConcurrency: number | null;
  };
  onDone: () => Promise<void>;
}) {
  const { t, language } = useI18n();
  const [name, setName] = useState(apiKey.name);
  const [models, setModels] = useState((apiKey.allowedModels ?? []).join(', '));
  const [maxConcurrency, setMaxConcurrency] = useState(apiKey.maxConcurrency?.toString() ?? '');
  const [error, setError] = useState<unknown>(null);
  const list = modelList(models);
  return (
    <form
      aria-label={t('keys.changeOf', { name: apiKey.name || apiKey.prefix })}
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          await must(
            api.PATCH('/keys/{id}', {
              params: { path: { id: apiKey.id } },
              body: {
                name: name.trim(),
                allowedModels: list.length > 0 ? list : null,
                // Empty: no limit of its own; anything but a whole number ≥ 1 is refused.
                maxConcurrency: wholeNumber(maxConcurrency, 'keys.maxConcurrency') ?? null,
              },
            }),
          );
          await onDone();
        } catch (err) {
          setError(err);
        }
      }}
    >
      <h4>{t('keys.changeOf', { name: apiKey.name || apiKey.prefix })}</h4>
      <Field label={t('keys.name')} name="keyName" value={name} onChange={setName} />
      <Field
        label={t('keys.models')}
        hint={t('keys.modelsHint')}
        name="keyModels"
        value={models}
        onChange={setModels}
      />
      <Field
        label={t('keys.maxConcurrency')}
        hint={t('keys.optional')}
        name="keyMaxConcurrency"
        inputMode="numeric"
        value={maxConcurrency}
        onChange={setMaxConcurrency}
      />
      <ErrorMessage error={error} fields={keyFields(t, language)} />
      <button type="submit">{t('keys.save')}</button>
    </form>
  );
}
