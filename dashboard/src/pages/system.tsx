// System admin: every person (rename, grant or revoke system admin, disable or re-enable, make a
// password link for one who forgot theirs), every
// enterprise (create one with its owner), every
// account (the health page has their live state), and model price overrides (micro-dollars per
// million tokens).
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'wouter';
import { adminKeys, useAccounts, useEnterprises } from '../api/admin-queries';
import { api, must, type Schemas } from '../api/client';
import '../admin.css';
import { Card, CodeBlock, ConfirmButton, ErrorMessage, Field, Loading } from '../components/ui';
import { useI18n } from '../i18n';
import { formatDateTime, formatMicros, parseDollars } from '../lib/format';

export default function SystemPage() {
  const { t } = useI18n();
  return (
    <>
      <h1>{t('adm.system.title')}</h1>
      <Users />
      <Enterprises />
      <AllAccounts />
      <Prices />
    </>
  );
}

function Users() {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const users = useQuery({
    queryKey: adminKeys.users,
    queryFn: () => must(api.GET('/users', { params: { query: {} } })),
  });
  const change = useMutation({
    mutationFn: (v: { id: string; body: Schemas['UserChanges'] }) =>
      must(api.PATCH('/users/{id}', { params: { path: { id: v.id } }, body: v.body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: adminKeys.users }),
  });
  const link = useMutation({
    mutationFn: (user: { id: string; name: string }) =>
      must(api.POST('/users/{id}/password-link', { params: { path: { id: user.id } } })).then((made) => ({
        ...made,
        name: user.name,
      })),
  });
  return (
    <Card title={t('adm.system.users')}>
      {users.isPending && <Loading />}
      <ErrorMessage error={users.error ?? change.error ?? link.error} />
      {link.data && (
        <section aria-label={t('adm.system.passwordLinkFor', { name: link.data.name })}>
          <p>
            {t('adm.system.passwordLinkHint', {
              name: link.data.name,
              time: formatDateTime(link.data.expiresAt, language),
            })}
          </p>
          <CodeBlock text={`${window.location.origin}/password/${link.data.token}`} />
        </section>
      )}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t('adm.field.name')}</th>
              <th scope="col">{t('adm.field.email')}</th>
              <th scope="col">{t('adm.field.role')}</th>
              <th scope="col">{t('adm.common.status')}</th>
              <th scope="col">{t('adm.common.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {(users.data?.data ?? []).map((u) => (
              <tr key={u.id}>
                <td>
                  <RenameUser
                    key={u.name}
                    name={u.name}
                    onRename={(name) => change.mutate({ id: u.id, body: { name } })}
                  />
                </td>
                <td>{u.email}</td>
                <td>{u.systemRole === 'system_admin' ? t('adm.role.systemAdmin') : t('adm.role.user')}</td>
                <td>
                  {u.disabledAt
                    ? t('adm.system.disabledAt', { at: formatDateTime(u.disabledAt, language) })
                    : t('adm.common.enabled')}
                </td>
                <td>
                  <div className="row">
                    {u.systemRole === 'system_admin' ? (
                      <button
                        type="button"
                        className="secondary small"
                        onClick={() => change.mutate({ id: u.id, body: { systemRole: 'user' } })}
                      >
                        {t('adm.system.revokeAdmin')}
                      </button>
                    ) : (
                      // Everything, for everyone: asked twice.
                      <ConfirmButton
                        small
                        label={t('adm.system.grantAdmin')}
                        confirmLabel={t('adm.system.grantAdminConfirm', { name: u.name })}
                        pending={change.isPending}
                        onConfirm={() => change.mutate({ id: u.id, body: { systemRole: 'system_admin' } })}
                      />
                    )}
                    {u.disabledAt ? (
                      <button
                        type="button"
                        className="small"
                        onClick={() => change.mutate({ id: u.id, body: { disabled: false } })}
                      >
                        {t('adm.common.enable')}
                      </button>
                    ) : (
                      <ConfirmButton
                        small
                        label={t('adm.common.disable')}
                        confirmLabel={t('adm.system.disableConfirm', { name: u.name })}
                        pending={change.isPending}
                        onConfirm={() => change.mutate({ id: u.id, body: { disabled: true } })}
                      />
                    )}
                    {!u.disabledAt && (
                      <button
                        type="button"
                        className="secondary small"
                        aria-label={t('adm.system.passwordLinkFor', { name: u.name })}
                        onClick={() => link.mutate({ id: u.id, name: u.name })}
                      >
                        {t('adm.system.passwordLink')}
                      </button>
                    )}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

/** A person's name in the list, with a small form to change it (the API audits the change). */
function RenameUser({ name, onRename }: { name: string; onRename: (name: string) => void }) {
  const { t } = useI18n();
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(name);
  if (!editing)
    return (
      <>
        {name}{' '}
        <button type="button" className="secondary small" onClick={() => setEditing(true)}>
          {t('adm.system.rename', { name })}
        </button>
      </>
    );
  return (
    <form
      aria-label={t('adm.system.rename', { name })}
      onSubmit={(e) => {
        e.preventDefault();
        if (value.trim() && value.trim() !== name) onRename(value.trim());
        setEditing(false);
      }}
    >
      <Field label={t('adm.field.name')} name="userName" value={value} onChange={setValue} required />
      <button type="submit" className="small">
        {t('adm.common.save')}
      </button>
    </form>
  );
}

function Enterprises() {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const enterprises = useEnterprises();
  const [name, setName] = useState('');
  const [ownerEmail, setOwnerEmail] = useState('');
  const create = useMutation({
    mutationFn: async () => {
      const email = ownerEmail.trim();
      // Asked at the moment of creating, not from the list on screen (it may not be loaded yet).
      const found = email ? await must(api.GET('/users', { params: { query: { email } } })) : null;
      const owner = found?.data[0];
      if (email && !owner) throw new Error(t('adm.system.unknownUser', { email }));
      return must(api.POST('/enterprises', { body: { name, ...(owner ? { ownerId: owner.id } : {}) } }));
    },
    onSuccess: () => {
      setName('');
      setOwnerEmail('');
      queryClient.invalidateQueries({ queryKey: adminKeys.enterprises });
    },
  });
  return (
    <Card title={t('adm.system.enterprises')}>
      <ErrorMessage error={enterprises.error} />
      <ul>
        {(enterprises.data?.data ?? []).map((e) => (
          <li key={e.id}>
            <Link href={`/enterprises/${e.id}`}>{e.name}</Link>{' '}
            <span className="muted">{formatDateTime(e.createdAt, language)}</span>
          </li>
        ))}
      </ul>
      <form
        aria-label={t('adm.system.addEnterprise')}
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <h3>{t('adm.system.addEnterprise')}</h3>
        <Field label={t('adm.field.name')} name="enterpriseName" value={name} onChange={setName} required />
        <Field
          label={t('adm.system.ownerEmail')}
          hint={t('adm.system.ownerEmailHint')}
          name="ownerEmail"
          type="email"
          value={ownerEmail}
          onChange={setOwnerEmail}
        />
        <ErrorMessage error={create.error} />
        <button type="submit" disabled={create.isPending}>
          {t('adm.system.addEnterprise')}
        </button>
      </form>
    </Card>
  );
}

function AllAccounts() {
  const { t } = useI18n();
  const accounts = useAccounts();
  const enterprises = useEnterprises();
  const names = new Map((enterprises.data?.data ?? []).map((e) => [e.id, e.name]));
  return (
    <Card title={t('adm.system.accounts')} actions={<Link href="/accounts">{t('adm.accounts.title')}</Link>}>
      <ErrorMessage error={accounts.error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t('adm.field.name')}</th>
              <th scope="col">{t('adm.field.provider')}</th>
              <th scope="col">{t('adm.system.owner')}</th>
              <th scope="col">{t('adm.common.status')}</th>
            </tr>
          </thead>
          <tbody>
            {(accounts.data?.data ?? []).map((a) => (
              <tr key={a.id}>
                <td>{a.name}</td>
                <td>{a.provider}</td>
                <td>
                  {a.enterpriseId
                    ? (names.get(a.enterpriseId) ?? a.enterpriseId)
                    : a.groupId
                      ? t('adm.accounts.carpool')
                      : '—'}
                </td>
                <td>
                  {a.enabled
                    ? t('adm.common.enabled')
                    : `${t('adm.common.disabled')} ${a.disabledReason ?? ''}`}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

const RATES = [
  'inputMicros',
  'outputMicros',
  'cacheWrite5mMicros',
  'cacheWrite1hMicros',
  'cacheReadMicros',
] as const;
type Rate = (typeof RATES)[number];

function Prices() {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const prices = useQuery({
    queryKey: adminKeys.prices,
    queryFn: () => must(api.GET('/prices', { params: { query: {} } })),
  });
  const [model, setModel] = useState('');
  const [rates, setRates] = useState<Record<Rate, string>>({
    inputMicros: '',
    outputMicros: '',
    cacheWrite5mMicros: '',
    cacheWrite1hMicros: '',
    cacheReadMicros: '',
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: adminKeys.prices });
  const save = useMutation({
    mutationFn: () => {
      const parsed = Object.fromEntries(RATES.map((r) => [r, parseDollars(rates[r] || '0')])) as Record<
        Rate,
        number | null
      >;
      if (RATES.some((r) => parsed[r] === null)) throw new Error(t('adm.budgets.badAmount'));
      return must(
        api.PUT('/prices/{model}', {
          params: { path: { model } },
          body: parsed as Record<Rate, number>,
        }),
      );
    },
    onSuccess: () => {
      setModel('');
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (m: string) => must(api.DELETE('/prices/{model}', { params: { path: { model: m } } })),
    onSuccess: refresh,
  });
  const money = (micros: number) => formatMicros(micros, language);
  return (
    <Card title={t('adm.system.prices')}>
      <p className="muted">{t('adm.system.pricesUnit')}</p>
      {prices.data && (
        <p className="muted">
          {t('adm.system.pricesSource', { source: prices.data.source, asOf: prices.data.asOf })}
        </p>
      )}
      <ErrorMessage error={prices.error ?? remove.error} />
      {prices.data?.overrides.length === 0 && <p className="muted">{t('adm.system.noOverrides')}</p>}
      {(prices.data?.overrides.length ?? 0) > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('adm.system.model')}</th>
                {RATES.map((r) => (
                  <th key={r} scope="col" className="num">
                    {t(`adm.rate.${r}`)}
                  </th>
                ))}
                <th scope="col">{t('adm.common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {prices.data?.overrides.map((o) => (
                <tr key={o.model}>
                  <td className="adm-wrap">{o.model}</td>
                  {RATES.map((r) => (
                    <td key={r} className="num">
                      {money(o[r])}
                    </td>
                  ))}
                  <td>
                    <button type="button" className="danger small" onClick={() => remove.mutate(o.model)}>
                      {t('adm.common.remove')}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form
        aria-label={t('adm.system.addOverride')}
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <h3>{t('adm.system.addOverride')}</h3>
        <Field label={t('adm.system.model')} name="model" value={model} onChange={setModel} required />
        {RATES.map((r) => (
          <Field
            key={r}
            label={t(`adm.rate.${r}`)}
            name={r}
            inputMode="decimal"
            value={rates[r]}
            onChange={(v) => setRates({ ...rates, [r]: v })}
          />
        ))}
        <ErrorMessage
          error={save.error}
          fields={{
            model: t('adm.system.model'),
            ...Object.fromEntries(RATES.map((r) => [r, t(`adm.rate.${r}`)])),
          }}
        />
        <button type="submit" disabled={save.isPending}>
          {t('adm.common.save')}
        </button>
      </form>
    </Card>
  );
}
