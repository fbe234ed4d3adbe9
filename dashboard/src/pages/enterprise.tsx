// The enterprise page (owners and admins): overview cards, the account pools per provider with live
// utilisation, departments and their groups with budget bars (each group links to its page, where
// both manage its members and invites), the scheduling policy per pool, and the members with their
// roles. Writes are offered to those the API lets write (an owner: enterprise.manage and
// ai.manage); an admin sees the same page read-only.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useParams } from 'wouter';
import {
  adminKeys,
  useAccountStates,
  useAccounts,
  useBudgetStates,
  useBudgets,
  useDepartments,
  useEnterprise,
  useEnterpriseMembers,
  useUsage,
} from '../api/admin-queries';
import { api, must, type Schemas } from '../api/client';
import { keys, useGroups, useMe } from '../api/queries';
import { BudgetBarView, ConditionBadge, Countdown, UtilisationBar, useNow } from '../components/admin-ui';
import { SubscriptionSignIn } from '../components/oauth-sign-in';
import { Card, ConfirmButton, ErrorMessage, Field, Loading, Select, Stat } from '../components/ui';
import { useI18n } from '../i18n';
import { ownsEnterprise } from '../lib/access';
import { departmentOptions, poolUtilisation } from '../lib/admin';
import { formatCount, formatMicros, formatShare, monthStart } from '../lib/format';
import { wholeNumber } from '../lib/forms';

type Account = Schemas['Account'];
type Budget = Schemas['Budget'];
type Provider = Account['provider'];
type PoolPolicy = NonNullable<NonNullable<Schemas['Enterprise']['pools']>[Provider]>;
type Strategy = NonNullable<PoolPolicy['strategy']>;

const PROVIDERS: readonly Provider[] = [
  'anthropic',
  'openai',
  'gemini',
  'azure-openai',
  'bedrock',
  'openai-compatible',
  'anthropic-compatible',
];
const STRATEGIES: readonly Strategy[] = ['least_connections', 'round_robin', 'weighted', 'headroom'];

export default function EnterprisePage() {
  const { id } = useParams<{ id: string }>();
  const { t, language } = useI18n();
  const me = useMe();
  const enterprise = useEnterprise(id);
  const accounts = useAccounts(id);
  const groups = useGroups();
  const departments = useDepartments(id);
  const budgets = useBudgets();
  const now = useNow();
  const owner = ownsEnterprise(me.data, id);
  const queryClient = useQueryClient();

  const pool = (accounts.data?.data ?? []).filter((a) => a.enterpriseId === id);
  const states = useAccountStates(pool.map((a) => a.id));
  const stateOf = new Map(pool.map((a, i) => [a.id, states[i]?.data]));
  const myGroups = (groups.data?.data ?? []).filter((g) => g.enterpriseId === id);
  const from = monthStart();
  // The whole enterprise in one read-out: its totals, and its groups' lines for the active count.
  const usage = useUsage({ enterpriseId: id, from }, true, true);
  const myBudgets = (budgets.data?.data ?? []).filter((b) => b.enterpriseId === id);
  const budgetStates = useBudgetStates(myBudgets.map((b) => b.id));
  const liveOf = new Map(myBudgets.map((b, i) => [b.id, budgetStates[i]?.data?.live ?? null]));

  if (enterprise.isPending) return <Loading />;
  // A failed refresh keeps the page under its error (components/guard.tsx says why).
  if (enterprise.isLoadingError) return <ErrorMessage error={enterprise.error} />;

  const pools = poolUtilisation(
    pool.map((a) => ({ provider: a.provider, state: stateOf.get(a.id) })),
    now,
  );
  const inUse = pools.reduce((s, p) => s + p.inUse, 0);
  const max = pools.reduce((s, p) => s + p.max, 0);
  const monthCost = usage.data?.totals.costMicros ?? 0;
  const activeGroups = (usage.data?.byGroup ?? []).filter((g) => g.requests > 0).length;

  /** A department's budget bars, then its groups with theirs. */
  const departmentBody = (departmentId: string) => (
    <>
      {budgetBars((b) => b.scope === 'department' && b.departmentId === departmentId)}
      <ul>
        {myGroups
          .filter((g) => g.departmentId === departmentId)
          .map((g) => (
            <li key={g.id}>
              <strong>
                <Link href={`/groups/${g.id}`}>{g.name}</Link>
              </strong>
              {budgetBars((b) => b.scope === 'group' && b.groupId === g.id)}
            </li>
          ))}
      </ul>
    </>
  );
  const budgetBars = (match: (b: Budget) => boolean) =>
    myBudgets.filter(match).map((b) => {
      const live = liveOf.get(b.id);
      return (
        <BudgetBarView
          key={b.id}
          label={t('adm.budget.label', {
            period: t(`adm.period.${b.period}`),
            mode: t(`adm.mode.${b.mode}`),
          })}
          limit={b.limitMicros}
          spent={live?.spentMicros}
          reserved={live?.reservedMicros}
        />
      );
    });

  return (
    <>
      <h1>{enterprise.data.name}</h1>
      <ErrorMessage error={enterprise.error} />
      <div className="stats">
        <Stat label={t('adm.ent.accounts')} value={formatCount(pool.length, language)} />
        <Stat
          label={t('adm.ent.activeGroups')}
          value={formatCount(activeGroups, language)}
          hint={t('adm.ent.ofGroups', { n: myGroups.length })}
        />
        <Stat label={t('adm.ent.monthCost')} value={formatMicros(monthCost, language)} />
        <Stat
          label={t('adm.ent.utilisation')}
          value={formatShare(inUse, max, language)}
          hint={t('adm.bar.inUse', { inUse, max })}
        />
      </div>

      <Card title={t('adm.ent.pools')}>
        {accounts.isError && <ErrorMessage error={accounts.error} />}
        {pools.length === 0 && <p className="muted">{t('adm.ent.noPools')}</p>}
        {pools.map((p) => (
          <section key={p.provider} aria-label={p.provider}>
            <h3>{p.provider}</h3>
            <UtilisationBar label={t('adm.ent.poolBar', { n: p.accounts })} inUse={p.inUse} max={p.max} />
            <p className="muted">{t('adm.ent.poolCounts', { cooling: p.cooling, disabled: p.disabled })}</p>
            <ul className="adm-hbars">
              {pool
                .filter((a) => a.provider === p.provider)
                .map((a) => {
                  const state = stateOf.get(a.id);
                  return (
                    <li key={a.id}>
                      {state ? (
                        <UtilisationBar
                          label={
                            <>
                              {a.name} <ConditionBadge state={state} now={now} />{' '}
                              <Countdown state={state} now={now} />
                            </>
                          }
                          inUse={state.inUse}
                          max={state.max}
                        />
                      ) : (
                        <span>{a.name}</span>
                      )}
                      {(state?.reason ?? a.disabledReason) && (
                        <p className="muted adm-wrap">{state?.reason ?? a.disabledReason}</p>
                      )}
                    </li>
                  );
                })}
            </ul>
          </section>
        ))}
        {owner && <AddPoolAccount enterpriseId={id} />}
        {owner && (
          <SubscriptionSignIn
            target={{ enterpriseId: id }}
            onDone={() => queryClient.invalidateQueries({ queryKey: ['accounts'] })}
          />
        )}
      </Card>

      <Card title={t('adm.ent.departments')}>
        {budgetBars((b) => b.scope === 'enterprise')}
        {departments.isError && <ErrorMessage error={departments.error} />}
        {(departments.data?.data ?? []).length === 0 && <p className="muted">{t('adm.ent.noDepartments')}</p>}
        {/* A tree one level deep: each sub-department inside the department above it. */}
        {(departments.data?.data ?? [])
          .filter((d) => !d.parentId)
          .map((d) => (
            <section key={d.id} aria-label={d.name}>
              <h3>{d.name}</h3>
              {departmentBody(d.id)}
              {(departments.data?.data ?? [])
                .filter((sub) => sub.parentId === d.id)
                .map((sub) => (
                  <section key={sub.id} aria-label={sub.name} className="adm-subdepartment">
                    <h4>{sub.name}</h4>
                    {departmentBody(sub.id)}
                  </section>
                ))}
            </section>
          ))}
        {myGroups.some((g) => !g.departmentId) && (
          <section aria-label={t('adm.ent.noDepartment')}>
            <h3>{t('adm.ent.noDepartment')}</h3>
            <ul>
              {myGroups
                .filter((g) => !g.departmentId)
                .map((g) => (
                  <li key={g.id}>
                    <strong>
                      <Link href={`/groups/${g.id}`}>{g.name}</Link>
                    </strong>
                    {budgetBars((b) => b.scope === 'group' && b.groupId === g.id)}
                  </li>
                ))}
            </ul>
          </section>
        )}
        {owner && <AddDepartment enterpriseId={id} departments={departments.data?.data ?? []} />}
        {owner && <AddGroup enterpriseId={id} departments={departments.data?.data ?? []} />}
        {owner && myGroups.length > 0 && (departments.data?.data ?? []).length > 0 && (
          <MoveGroup groups={myGroups} departments={departments.data?.data ?? []} />
        )}
        {owner && (departments.data?.data ?? []).length > 0 && (
          <ChangeDepartment enterpriseId={id} departments={departments.data?.data ?? []} />
        )}
      </Card>

      <Policy
        enterprise={enterprise.data}
        editable={owner}
        providers={pools.map((p) => p.provider as Provider)}
      />
      <Members enterpriseId={id} editable={owner} />
      {owner && <RenameEnterprise key={enterprise.data.name} enterpriseId={id} name={enterprise.data.name} />}
    </>
  );
}

function AddPoolAccount({ enterpriseId }: { enterpriseId: string }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [provider, setProvider] = useState<Provider>('anthropic');
  const [credential, setCredential] = useState('');
  const [baseUrl, setBaseUrl] = useState('');
  const [maxConcurrency, setMaxConcurrency] = useState('5');
  const add = useMutation({
    mutationFn: () =>
      must(
        api.POST('/accounts', {
          body: {
            name,
            provider,
            credential,
            enterpriseId,
            baseUrl: baseUrl.trim() || undefined,
            maxConcurrency: wholeNumber(maxConcurrency, 'adm.field.maxConcurrency'),
          },
        }),
      ),
    onSuccess: () => {
      setName('');
      setCredential('');
      queryClient.invalidateQueries({ queryKey: ['accounts'] });
    },
  });
  return (
    <form
      aria-label={t('adm.ent.addAccount')}
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        add.mutate();
      }}
    >
      <h3>{t('adm.ent.addAccount')}</h3>
      <Field label={t('adm.field.name')} name="name" value={name} onChange={setName} required />
      <Select
        label={t('adm.field.provider')}
        name="provider"
        value={provider}
        options={PROVIDERS.map((p) => ({ value: p, label: p }))}
        onChange={setProvider}
      />
      <Field
        label={t('adm.field.credential')}
        name="credential"
        type="password"
        autoComplete="off"
        value={credential}
        onChange={setCredential}
        required
      />
      <Field
        label={t('adm.field.baseUrl')}
        hint={t('adm.field.baseUrlHint')}
        name="baseUrl"
        type="url"
        value={baseUrl}
        onChange={setBaseUrl}
      />
      <Field
        label={t('adm.field.maxConcurrency')}
        name="maxConcurrency"
        inputMode="numeric"
        value={maxConcurrency}
        onChange={setMaxConcurrency}
      />
      <ErrorMessage error={add.error} />
      <button type="submit" disabled={add.isPending}>
        {t('adm.ent.addAccount')}
      </button>
    </form>
  );
}

/** The enterprise's name (its owners). */
function RenameEnterprise({ enterpriseId, name }: { enterpriseId: string; name: string }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [value, setValue] = useState(name);
  const rename = useMutation({
    mutationFn: () =>
      must(
        api.PATCH('/enterprises/{id}', {
          params: { path: { id: enterpriseId } },
          body: { name: value.trim() },
        }),
      ),
    onSuccess: () => {
      queryClient.invalidateQueries({ queryKey: adminKeys.enterprise(enterpriseId) });
      queryClient.invalidateQueries({ queryKey: adminKeys.enterprises });
    },
  });
  return (
    <Card title={t('adm.ent.rename')}>
      <form
        aria-label={t('adm.ent.rename')}
        onSubmit={(e) => {
          e.preventDefault();
          rename.mutate();
        }}
      >
        <Field label={t('adm.field.name')} name="enterpriseName" value={value} onChange={setValue} required />
        <ErrorMessage error={rename.error} />
        <button type="submit" disabled={rename.isPending || !value.trim() || value.trim() === name}>
          {t('adm.ent.rename')}
        </button>
      </form>
    </Card>
  );
}

function AddDepartment({
  enterpriseId,
  departments,
}: {
  enterpriseId: string;
  departments: Schemas['Department'][];
}) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  // A department goes under a top-level one, or is top-level itself ('').
  const [parentId, setParentId] = useState('');
  const add = useMutation({
    mutationFn: () =>
      must(
        api.POST('/enterprises/{id}/departments', {
          params: { path: { id: enterpriseId } },
          body: { name, parentId: parentId || undefined },
        }),
      ),
    onSuccess: () => {
      setName('');
      setParentId('');
      queryClient.invalidateQueries({ queryKey: adminKeys.departments(enterpriseId) });
    },
  });
  return (
    <form
      aria-label={t('adm.ent.addDepartment')}
      onSubmit={(e) => {
        e.preventDefault();
        add.mutate();
      }}
    >
      <h3>{t('adm.ent.addDepartment')}</h3>
      <Field label={t('adm.field.name')} name="department" value={name} onChange={setName} required />
      {departments.some((d) => !d.parentId) && (
        <Select
          label={t('adm.ent.under')}
          name="parentId"
          value={parentId}
          options={[
            { value: '', label: t('adm.ent.topLevel') },
            ...departments.filter((d) => !d.parentId).map((d) => ({ value: d.id, label: d.name })),
          ]}
          onChange={setParentId}
        />
      )}
      <ErrorMessage error={add.error} />
      <button type="submit" disabled={add.isPending}>
        {t('adm.ent.addDepartment')}
      </button>
    </form>
  );
}

/** Moves a group to another department (or out of any): its gate answers to that one's budgets at once. */
function MoveGroup({
  groups,
  departments,
}: {
  groups: { id: string; name: string; departmentId: string | null }[];
  departments: Schemas['Department'][];
}) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [groupId, setGroupId] = useState(groups[0]?.id ?? '');
  const current = groups.find((g) => g.id === groupId);
  const [departmentId, setDepartmentId] = useState<string | null>(null);
  const target = departmentId ?? current?.departmentId ?? '';
  const move = useMutation({
    mutationFn: () =>
      must(
        api.PATCH('/groups/{id}', {
          params: { path: { id: groupId } },
          body: { departmentId: target || null },
        }),
      ),
    onSuccess: () => {
      setDepartmentId(null);
      queryClient.invalidateQueries({ queryKey: keys.groups });
    },
  });
  return (
    <form
      aria-label={t('adm.ent.moveGroup')}
      onSubmit={(e) => {
        e.preventDefault();
        move.mutate();
      }}
    >
      <h3>{t('adm.ent.moveGroup')}</h3>
      <Select
        label={t('adm.scope.group')}
        name="moveGroupId"
        value={groupId}
        options={groups.map((g) => ({ value: g.id, label: g.name }))}
        onChange={(value) => {
          setGroupId(value);
          setDepartmentId(null);
        }}
      />
      <Select
        label={t('adm.field.department')}
        name="moveDepartmentId"
        value={target}
        options={[{ value: '', label: t('adm.ent.noDepartment') }, ...departmentOptions(departments)]}
        onChange={setDepartmentId}
      />
      <ErrorMessage error={move.error} />
      <button type="submit" disabled={move.isPending || target === (current?.departmentId ?? '')}>
        {t('adm.ent.move')}
      </button>
    </form>
  );
}

/**
 * Renames a department, moves it (top level, or under another top-level one: the API keeps the
 * tree one level deep and says so), or deletes it once it is empty (the API refuses otherwise).
 */
function ChangeDepartment({
  enterpriseId,
  departments,
}: {
  enterpriseId: string;
  departments: Schemas['Department'][];
}) {
  const { t } = useI18n();
  const [departmentId, setDepartmentId] = useState(departments[0]?.id ?? '');
  const department = departments.find((d) => d.id === departmentId) ?? departments[0];
  if (!department) return null;
  return (
    <form aria-label={t('adm.ent.changeDepartment')} onSubmit={(e) => e.preventDefault()}>
      <h3>{t('adm.ent.changeDepartment')}</h3>
      <Select
        label={t('adm.field.department')}
        name="changeDepartmentId"
        value={department.id}
        options={departmentOptions(departments)}
        onChange={setDepartmentId}
      />
      {/* Remounted per department, so its fields start from that department's values. */}
      <DepartmentFields
        key={department.id}
        enterpriseId={enterpriseId}
        department={department}
        departments={departments}
        onDeleted={() => setDepartmentId('')}
      />
    </form>
  );
}

function DepartmentFields({
  enterpriseId,
  department,
  departments,
  onDeleted,
}: {
  enterpriseId: string;
  department: Schemas['Department'];
  departments: Schemas['Department'][];
  onDeleted: () => void;
}) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [name, setName] = useState(department.name);
  const [parentId, setParentId] = useState(department.parentId ?? '');
  const refresh = () => queryClient.invalidateQueries({ queryKey: adminKeys.departments(enterpriseId) });
  const save = useMutation({
    mutationFn: () =>
      must(
        api.PATCH('/departments/{id}', {
          params: { path: { id: department.id } },
          body: { name, parentId: parentId || null },
        }),
      ),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: () => must(api.DELETE('/departments/{id}', { params: { path: { id: department.id } } })),
    onSuccess: () => {
      onDeleted();
      return refresh();
    },
  });
  const parents = departments.filter((d) => !d.parentId && d.id !== department.id);
  return (
    <>
      <Field label={t('adm.field.name')} name="departmentName" value={name} onChange={setName} required />
      <Select
        label={t('adm.ent.under')}
        name="departmentParentId"
        value={parentId}
        options={[
          { value: '', label: t('adm.ent.topLevel') },
          ...parents.map((d) => ({ value: d.id, label: d.name })),
        ]}
        onChange={setParentId}
      />
      <ErrorMessage error={save.error ?? remove.error} />
      <div className="row">
        <button type="button" disabled={save.isPending || !name.trim()} onClick={() => save.mutate()}>
          {t('adm.common.save')}
        </button>
        <ConfirmButton
          label={t('adm.ent.deleteDepartment')}
          confirmLabel={t('adm.ent.deleteDepartmentConfirm', { name: department.name })}
          pending={remove.isPending}
          onConfirm={() => remove.mutate()}
        />
      </div>
    </>
  );
}

function AddGroup({
  enterpriseId,
  departments,
}: {
  enterpriseId: string;
  departments: Schemas['Department'][];
}) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [departmentId, setDepartmentId] = useState('');
  const [maxMembers, setMaxMembers] = useState('10');
  const add = useMutation({
    mutationFn: () =>
      must(
        api.POST('/groups', {
          body: {
            name,
            kind: 'enterprise',
            enterpriseId,
            departmentId: departmentId || undefined,
            // Empty takes the API's default of 10; 0 or a typo is refused, not replaced.
            maxMembers: wholeNumber(maxMembers, 'adm.field.maxMembers') ?? 10,
          },
        }),
      ),
    onSuccess: () => {
      setName('');
      queryClient.invalidateQueries({ queryKey: keys.groups });
      queryClient.invalidateQueries({ queryKey: keys.me });
    },
  });
  return (
    <form
      aria-label={t('adm.ent.addGroup')}
      onSubmit={(e) => {
        e.preventDefault();
        add.mutate();
      }}
    >
      <h3>{t('adm.ent.addGroup')}</h3>
      <Field label={t('adm.field.name')} name="group" value={name} onChange={setName} required />
      <Select
        label={t('adm.field.department')}
        name="departmentId"
        value={departmentId}
        options={[{ value: '', label: t('adm.ent.noDepartment') }, ...departmentOptions(departments)]}
        onChange={setDepartmentId}
      />
      <Field
        label={t('adm.field.maxMembers')}
        name="maxMembers"
        inputMode="numeric"
        value={maxMembers}
        onChange={setMaxMembers}
      />
      <ErrorMessage error={add.error} />
      <button type="submit" disabled={add.isPending}>
        {t('adm.ent.addGroup')}
      </button>
    </form>
  );
}

function Policy({
  enterprise,
  editable,
  providers,
}: {
  enterprise: Schemas['Enterprise'];
  editable: boolean;
  providers: Provider[];
}) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const pools = enterprise.pools ?? {};
  const names = [...new Set([...providers, ...(Object.keys(pools) as Provider[])])].sort();
  const [provider, setProvider] = useState<Provider>(names[0] ?? 'anthropic');
  const current = pools[provider];
  const [strategy, setStrategy] = useState<Strategy>(current?.strategy ?? 'least_connections');
  const [maxAttempts, setMaxAttempts] = useState(String(current?.maxAttempts ?? ''));
  const [queueWaitMs, setQueueWaitMs] = useState(String(current?.queueWaitMs ?? ''));
  const save = useMutation({
    mutationFn: () => {
      // The API stores overrides and fills every field not given with its default
      // (worker/scheduling/policy.ts); the generated type lists the filled-in output shape.
      const override = {
        ...current,
        strategy,
        ...(maxAttempts ? { maxAttempts: Number(maxAttempts) } : {}),
        ...(queueWaitMs ? { queueWaitMs: Number(queueWaitMs) } : {}),
      } as PoolPolicy;
      return must(
        api.PATCH('/enterprises/{id}', {
          params: { path: { id: enterprise.id } },
          body: { pools: { ...pools, [provider]: override } },
        }),
      );
    },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: adminKeys.enterprise(enterprise.id) }),
  });
  return (
    <Card title={t('adm.ent.policy')}>
      {names.length === 0 && <p className="muted">{t('adm.ent.policyDefault')}</p>}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t('adm.field.provider')}</th>
              <th scope="col">{t('adm.field.strategy')}</th>
              <th scope="col" className="num">
                {t('adm.field.maxAttempts')}
              </th>
              <th scope="col" className="num">
                {t('adm.field.queueWaitMs')}
              </th>
            </tr>
          </thead>
          <tbody>
            {names.map((p) => (
              <tr key={p}>
                <td>{p}</td>
                <td>
                  {pools[p]?.strategy ? t(`adm.strategy.${pools[p].strategy}`) : t('adm.ent.policyDefault')}
                </td>
                <td className="num">{pools[p]?.maxAttempts ?? '—'}</td>
                <td className="num">{pools[p]?.queueWaitMs ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {editable && (
        <form
          aria-label={t('adm.ent.policyEdit')}
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate();
          }}
        >
          <h3>{t('adm.ent.policyEdit')}</h3>
          <Select
            label={t('adm.field.provider')}
            name="policyProvider"
            value={provider}
            options={[...new Set([...names, ...PROVIDERS])].map((p) => ({ value: p, label: p }))}
            onChange={(p) => {
              setProvider(p);
              setStrategy(pools[p]?.strategy ?? 'least_connections');
              setMaxAttempts(String(pools[p]?.maxAttempts ?? ''));
              setQueueWaitMs(String(pools[p]?.queueWaitMs ?? ''));
            }}
          />
          <Select
            label={t('adm.field.strategy')}
            name="strategy"
            value={strategy}
            options={STRATEGIES.map((s) => ({ value: s, label: t(`adm.strategy.${s}`) }))}
            onChange={setStrategy}
          />
          <Field
            label={t('adm.field.maxAttempts')}
            name="maxAttempts"
            inputMode="numeric"
            value={maxAttempts}
            onChange={setMaxAttempts}
          />
          <Field
            label={t('adm.field.queueWaitMs')}
            name="queueWaitMs"
            inputMode="numeric"
            value={queueWaitMs}
            onChange={setQueueWaitMs}
          />
          <ErrorMessage error={save.error} />
          <button type="submit" disabled={save.isPending}>
            {t('adm.common.save')}
          </button>
          {save.isSuccess && (
            <output className="ok" aria-live="polite">
              {t('adm.common.saved')}
            </output>
          )}
        </form>
      )}
    </Card>
  );
}

type EnterpriseRole = Schemas['EnterpriseMember']['role'];
const ENTERPRISE_ROLES: readonly EnterpriseRole[] = ['owner', 'admin', 'member'];

function Members({ enterpriseId, editable }: { enterpriseId: string; editable: boolean }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const members = useEnterpriseMembers(enterpriseId);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<EnterpriseRole>('member');
  // A role change (one's own included: an owner may make herself an admin) changes what /me says
  // and which groups one sees, and with them what this page offers.
  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: adminKeys.enterpriseMembers(enterpriseId) }),
      queryClient.invalidateQueries({ queryKey: keys.me }),
      queryClient.invalidateQueries({ queryKey: keys.groups }),
    ]);
  const add = useMutation({
    mutationFn: () =>
      must(
        api.POST('/enterprises/{id}/members', {
          params: { path: { id: enterpriseId } },
          body: { email, role },
        }),
      ),
    onSuccess: () => {
      setEmail('');
      refresh();
    },
  });
  const change = useMutation({
    mutationFn: (v: { userId: string; role: EnterpriseRole }) =>
      must(
        api.PATCH('/enterprises/{id}/members/{userId}', {
          params: { path: { id: enterpriseId, userId: v.userId } },
          body: { role: v.role },
        }),
      ),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: (userId: string) =>
      must(
        api.DELETE('/enterprises/{id}/members/{userId}', { params: { path: { id: enterpriseId, userId } } }),
      ),
    onSuccess: refresh,
  });
  const roleOptions = ENTERPRISE_ROLES.map((r) => ({ value: r, label: t(`adm.role.${r}`) }));
  return (
    <Card title={t('adm.ent.members')}>
      {members.isError && <ErrorMessage error={members.error} />}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t('adm.field.name')}</th>
              <th scope="col">{t('adm.field.email')}</th>
              <th scope="col">{t('adm.field.role')}</th>
              {editable && <th scope="col">{t('adm.common.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {(members.data?.data ?? []).map((m) => (
              <tr key={m.userId}>
                <td>{m.name}</td>
                <td>{m.email}</td>
                <td>
                  {editable ? (
                    <Select
                      label={
                        <span className="visually-hidden">{t('adm.field.roleOf', { name: m.name })}</span>
                      }
                      name={`role-${m.userId}`}
                      value={m.role}
                      options={roleOptions}
                      onChange={(r) => change.mutate({ userId: m.userId, role: r })}
                    />
                  ) : (
                    t(`adm.role.${m.role}`)
                  )}
                </td>
                {editable && (
                  <td>
                    <ConfirmButton
                      small
                      label={t('adm.common.remove')}
                      confirmLabel={t('adm.ent.removeMemberConfirm', { name: m.name })}
                      pending={remove.isPending}
                      onConfirm={() => remove.mutate(m.userId)}
                    />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ErrorMessage error={change.error ?? remove.error} />
      {editable && (
        <form
          aria-label={t('adm.ent.addMember')}
          onSubmit={(e) => {
            e.preventDefault();
            add.mutate();
          }}
        >
          <h3>{t('adm.ent.addMember')}</h3>
          <Field
            label={t('adm.field.email')}
            name="email"
            type="email"
            value={email}
            onChange={setEmail}
            required
          />
          <Select
            label={t('adm.field.role')}
            name="role"
            value={role}
            options={roleOptions}
            onChange={setRole}
          />
          <ErrorMessage error={add.error} />
          <button type="submit" disabled={add.isPending}>
            {t('adm.ent.addMember')}
          </button>
        </form>
      )}
    </Card>
  );
}
