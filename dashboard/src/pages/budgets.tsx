// Budgets per scope (enterprise, department, group, member, key): each with its live bar (spent,
// reserved by requests in flight, limit), created, changed and removed here. The API decides who
// may set which (enterprise and department: enterprise.manage; group and member: group.manage;
// key: group.manage or its holder) and lists only what the viewer may see.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import {
  adminKeys,
  useBudgetNames,
  useBudgetStates,
  useBudgets,
  useEnterprises,
  useGroupDetail,
} from '../api/admin-queries';
import { api, must, type Schemas } from '../api/client';
import { keys, useGroups, useMe } from '../api/queries';
import { BudgetBarView } from '../components/admin-ui';
import { Card, ConfirmButton, ErrorMessage, Field, Loading, Select } from '../components/ui';
import { type Language, type Translate, useI18n } from '../i18n';
import { budgetScopes, managesGroup, mayChangeBudget, ownsEnterprise } from '../lib/access';
import { budgetTargetName, departmentOptions, keyLabel } from '../lib/admin';
import { type FieldLabels, optionLabels } from '../lib/errors';
import { formatMicros, parseDollars } from '../lib/format';

type Budget = Schemas['Budget'];
type Scope = Budget['scope'];
type Period = Budget['period'];
type Mode = Budget['mode'];
const SCOPES: readonly Scope[] = ['enterprise', 'department', 'group', 'member', 'key'];
const PERIODS: readonly Period[] = ['day', 'week', 'month', 'total'];
const MODES: readonly Mode[] = ['hard', 'soft'];

/**
 * What a budget is on, in words: the enterprise, department, group, person or key by name, from
 * what the viewer may read (a list the API refuses them just leaves the id); and what the viewer
 * may set a budget on.
 */
function useScopeNames(budgets: readonly Budget[]) {
  const me = useMe();
  const enterprises = useEnterprises();
  const groups = useGroups();
  const groupList = groups.data?.data ?? [];
  const { names, departments: allDepartments } = useBudgetNames(budgets);
  // Targets one may set a budget on: an enterprise (and its departments) one owns, a group one manages.
  const ownedDepartments = allDepartments.filter((d) => ownsEnterprise(me.data, d.enterpriseId));
  return {
    names,
    scopes: budgetScopes(me.data, groupList),
    enterprises: (enterprises.data?.data ?? []).filter((e) => ownsEnterprise(me.data, e.id)),
    managedGroups: groupList.filter((g) => managesGroup(me.data, g)),
    groups: groupList,
    departments: departmentOptions(ownedDepartments),
  };
}

/** The budget forms' fields as the API names them; a limit is typed in dollars, so its bound is too. */
function budgetFields(t: Translate, language: Language): FieldLabels {
  return {
    limitMicros: { label: t('adm.budgets.limit'), value: (micros) => formatMicros(micros, language) },
    mode: { label: t('adm.budgets.mode'), options: optionLabels(MODES, (m) => t(`adm.mode.${m}`)) },
    period: { label: t('adm.budgets.period'), options: optionLabels(PERIODS, (p) => t(`adm.period.${p}`)) },
    scope: { label: t('adm.budgets.scope'), options: optionLabels(SCOPES, (s) => t(`adm.scope.${s}`)) },
  };
}

export default function BudgetsPage() {
  const { t } = useI18n();
  const budgets = useBudgets();
  const list = budgets.data?.data ?? [];
  const states = useBudgetStates(list.map((b) => b.id));
  const scopes = useScopeNames(list);
  if (budgets.isPending) return <Loading />;
  // A failed refresh keeps the page under its error (components/guard.tsx says why).
  if (budgets.isLoadingError) return <ErrorMessage error={budgets.error} />;
  return (
    <>
      <h1>{t('adm.budgets.title')}</h1>
      <ErrorMessage error={budgets.error} />
      <Card title={t('adm.budgets.list')}>
        {list.length === 0 && <p className="muted">{t('adm.budgets.none')}</p>}
        {list.map((b, i) => (
          <BudgetRow
            key={b.id}
            budget={b}
            live={states[i]?.data?.live ?? null}
            name={budgetTargetName(b, scopes.names)}
          />
        ))}
      </Card>
      <NewBudget scopes={scopes} />
    </>
  );
}

function BudgetRow({
  budget,
  live,
  name,
}: {
  budget: Budget;
  live: Schemas['BudgetCounters'] | null;
  name: string;
}) {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const me = useMe();
  const [editing, setEditing] = useState(false);
  const [limit, setLimit] = useState((budget.limitMicros / 1_000_000).toString());
  const [mode, setMode] = useState<Mode>(budget.mode);
  const refresh = () => {
    queryClient.invalidateQueries({ queryKey: adminKeys.budgets });
    queryClient.invalidateQueries({ queryKey: adminKeys.budget(budget.id) });
  };
  const save = useMutation({
    mutationFn: () => {
      const limitMicros = parseDollars(limit);
      if (limitMicros === null) throw new Error(t('adm.budgets.badAmount'));
      return must(
        api.PATCH('/budgets/{id}', { params: { path: { id: budget.id } }, body: { limitMicros, mode } }),
      );
    },
    onSuccess: () => {
      setEditing(false);
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: () => must(api.DELETE('/budgets/{id}', { params: { path: { id: budget.id } } })),
    // A deleted budget is not read again (its state would be a 404): the list is, then its state goes.
    onSuccess: async () => {
      await queryClient.cancelQueries({ queryKey: adminKeys.budget(budget.id) });
      await queryClient.invalidateQueries({ queryKey: adminKeys.budgets });
      queryClient.removeQueries({ queryKey: adminKeys.budget(budget.id) });
    },
  });
  const title = t('adm.budgets.on', { scope: t(`adm.scope.${budget.scope}`), name });
  return (
    <section aria-label={title} className="adm-budget">
      <h3>{title}</h3>
      <BudgetBarView
        label={t('adm.budget.label', {
          period: t(`adm.period.${budget.period}`),
          mode: t(`adm.mode.${budget.mode}`),
        })}
        limit={budget.limitMicros}
        spent={live?.spentMicros}
        reserved={live?.reservedMicros}
      />
      {live?.resetsAt ? (
        <p className="muted">
          {t('adm.budgets.resets', {
            at: new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' }).format(
              live.resetsAt,
            ),
          })}
        </p>
      ) : null}
      {editing ? (
        <form
          aria-label={t('adm.budgets.edit')}
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate();
          }}
        >
          <Field
            label={t('adm.budgets.limit')}
            name="limit"
            inputMode="decimal"
            value={limit}
            onChange={setLimit}
            required
          />
          <Select
            label={t('adm.budgets.mode')}
            name="mode"
            value={mode}
            options={MODES.map((m) => ({ value: m, label: t(`adm.mode.${m}`) }))}
            onChange={setMode}
          />
          <div className="row">
            <button type="submit" className="small" disabled={save.isPending}>
              {t('adm.common.save')}
            </button>
            <button type="button" className="secondary small" onClick={() => setEditing(false)}>
              {t('adm.common.cancel')}
            </button>
          </div>
        </form>
      ) : mayChangeBudget(me.data, budget) ? (
        <div className="row">
          <button type="button" className="secondary small" onClick={() => setEditing(true)}>
            {t('adm.common.edit')}
          </button>
          <ConfirmButton
            small
            label={t('adm.common.delete')}
            confirmLabel={t('adm.budgets.deleteConfirm', { name: title })}
            pending={remove.isPending}
            onConfirm={() => remove.mutate()}
          />
          <span className="muted">{formatMicros(budget.limitMicros, language)}</span>
        </div>
      ) : (
        <p className="muted">
          {formatMicros(budget.limitMicros, language)} · {t(`adm.budgets.setBy.${budget.authority}`)}
        </p>
      )}
      <ErrorMessage error={save.error ?? remove.error} fields={budgetFields(t, language)} />
    </section>
  );
}

function NewBudget({ scopes }: { scopes: ReturnType<typeof useScopeNames> }) {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const [chosenScope, setScope] = useState<Scope>('group');
  // Only the scopes the viewer may set (the API refuses the others with 403).
  const scope: Scope = scopes.scopes.includes(chosenScope) ? chosenScope : (scopes.scopes[0] ?? 'key');
  const [target, setTarget] = useState('');
  const [groupId, setGroupId] = useState('');
  const [period, setPeriod] = useState<Period>('month');
  const [mode, setMode] = useState<Mode>('hard');
  const [limit, setLimit] = useState('');
  const group = useGroupDetail(groupId);
  const groupKeys = useQuery({
    queryKey: keys.allGroupKeys(groupId),
    enabled: scope === 'key' && Boolean(groupId),
    queryFn: () => must(api.GET('/groups/{id}/keys', { params: { path: { id: groupId } } })),
  });
  const create = useMutation({
    mutationFn: () => {
      const limitMicros = parseDollars(limit);
      if (limitMicros === null) throw new Error(t('adm.budgets.badAmount'));
      const ids =
        scope === 'enterprise'
          ? { enterpriseId: target }
          : scope === 'department'
            ? { departmentId: target }
            : scope === 'group'
              ? { groupId: target }
              : scope === 'member'
                ? { groupId, userId: target }
                : { keyId: target };
      return must(api.POST('/budgets', { body: { scope, period, mode, limitMicros, ...ids } }));
    },
    onSuccess: () => {
      setLimit('');
      queryClient.invalidateQueries({ queryKey: adminKeys.budgets });
    },
  });
  const targets =
    scope === 'enterprise'
      ? scopes.enterprises.map((e) => ({ value: e.id, label: e.name }))
      : scope === 'department'
        ? scopes.departments
        : scope === 'group'
          ? scopes.managedGroups.map((g) => ({ value: g.id, label: g.name }))
          : scope === 'member'
            ? (group.data?.members ?? []).map((m) => ({ value: m.userId, label: `${m.name} <${m.email}>` }))
            : (groupKeys.data?.data ?? [])
                .filter((k) => k.status === 'active')
                .map((k) => ({ value: k.id, label: keyLabel(k, k.id) }));
  const choose = [{ value: '', label: t('adm.common.choose') }, ...targets];
  return (
    <Card title={t('adm.budgets.new')}>
      <form
        aria-label={t('adm.budgets.new')}
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Select
          label={t('adm.budgets.scope')}
          name="scope"
          value={scope}
          options={SCOPES.filter((s) => scopes.scopes.includes(s)).map((s) => ({
            value: s,
            label: t(`adm.scope.${s}`),
          }))}
          onChange={(s) => {
            setScope(s);
            setTarget('');
            setGroupId('');
          }}
        />
        {(scope === 'member' || scope === 'key') && (
          <Select
            label={t('adm.scope.group')}
            name="groupId"
            value={groupId}
            options={[
              { value: '', label: t('adm.common.choose') },
              // A member's budget takes a group one manages; a key's, any group (one's own keys).
              ...(scope === 'member' ? scopes.managedGroups : scopes.groups).map((g) => ({
                value: g.id,
                label: g.name,
              })),
            ]}
            onChange={(g) => {
              setGroupId(g);
              setTarget('');
            }}
          />
        )}
        <Select
          label={t(`adm.scope.${scope}`)}
          name="target"
          value={target}
          options={choose}
          onChange={setTarget}
        />
        <Select
          label={t('adm.budgets.period')}
          name="period"
          value={period}
          options={PERIODS.map((p) => ({ value: p, label: t(`adm.period.${p}`) }))}
          onChange={setPeriod}
        />
        <Select
          label={t('adm.budgets.mode')}
          name="mode"
          value={mode}
          options={MODES.map((m) => ({ value: m, label: t(`adm.mode.${m}`) }))}
          onChange={setMode}
        />
        <Field
          label={t('adm.budgets.limit')}
          hint={t('adm.budgets.limitHint')}
          name="limit"
          inputMode="decimal"
          value={limit}
          onChange={setLimit}
          required
        />
        <ErrorMessage error={create.error} fields={budgetFields(t, language)} />
        <button type="submit" disabled={create.isPending || !target}>
          {t('adm.budgets.create')}
        </button>
      </form>
    </Card>
  );
}
