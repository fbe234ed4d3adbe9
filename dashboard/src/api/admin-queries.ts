// Reads of the admin pages (issue 12) as TanStack Query hooks, beside api/queries.ts: one key per
// API path, so each write invalidates exactly what it changed.
import { useQueries, useQuery } from '@tanstack/react-query';
import { type BudgetNames, departmentOptions, keyLabel } from '../lib/admin';
import { api, must, type Schemas } from './client';
import { keys, useGroups, useMe } from './queries';
import type { operations } from './schema';

export const adminKeys = {
  enterprises: ['enterprises'] as const,
  enterprise: (id: string) => ['enterprise', id] as const,
  enterpriseMembers: (id: string) => ['enterprise', id, 'members'] as const,
  departments: (id: string) => ['enterprise', id, 'departments'] as const,
  accounts: (enterpriseId?: string) => ['accounts', enterpriseId ?? 'all'] as const,
  accountState: (id: string) => ['account', id, 'state'] as const,
  budgets: ['budgets'] as const,
  budget: (id: string) => ['budget', id] as const,
  usage: (query: Record<string, string | number | null | undefined>) => ['usage', 'q', query] as const,
  audit: (query: Record<string, string | number | undefined>) => ['audit', query] as const,
  users: ['users'] as const,
  prices: ['prices'] as const,
  alerts: (base: string, what: string) => ['alerts', base, what] as const,
};

export function useEnterprises(enabled = true) {
  return useQuery({
    queryKey: adminKeys.enterprises,
    enabled,
    queryFn: () => must(api.GET('/enterprises')),
  });
}

export function useEnterprise(id: string) {
  return useQuery({
    queryKey: adminKeys.enterprise(id),
    queryFn: () => must(api.GET('/enterprises/{id}', { params: { path: { id } } })),
  });
}

export function useEnterpriseMembers(id: string) {
  return useQuery({
    queryKey: adminKeys.enterpriseMembers(id),
    queryFn: () => must(api.GET('/enterprises/{id}/members', { params: { path: { id } } })),
  });
}

export function useDepartments(id: string, enabled = true) {
  return useQuery({
    queryKey: adminKeys.departments(id),
    enabled,
    queryFn: () => must(api.GET('/enterprises/{id}/departments', { params: { path: { id } } })),
  });
}

export function useAccounts(enterpriseId?: string) {
  return useQuery({
    queryKey: adminKeys.accounts(enterpriseId),
    queryFn: () => must(api.GET('/accounts', { params: { query: enterpriseId ? { enterpriseId } : {} } })),
  });
}

/** The live state of each account (its gate's), refreshed every few seconds while shown. */
export function useAccountStates(ids: readonly string[], refetchInterval = 5000) {
  return useQueries({
    queries: ids.map((id) => ({
      queryKey: adminKeys.accountState(id),
      queryFn: () => must(api.GET('/accounts/{id}/state', { params: { path: { id } } })),
      refetchInterval,
    })),
  });
}

export function useBudgets() {
  return useQuery({ queryKey: adminKeys.budgets, queryFn: () => must(api.GET('/budgets')) });
}

/** Each budget with its live counters (GET /budgets lists them without). */
export function useBudgetStates(ids: readonly string[]) {
  return useQueries({
    queries: ids.map((id) => ({
      queryKey: adminKeys.budget(id),
      queryFn: () => must(api.GET('/budgets/{id}', { params: { path: { id } } })),
      refetchInterval: 10_000,
    })),
  });
}

export type UsageQuery = NonNullable<operations['getUsage']['parameters']['query']>;

/** The filters that name what a usage read-out is about: the API asks for one of them. */
const USAGE_SCOPES = ['groupId', 'userId', 'keyId', 'accountId', 'enterpriseId', 'departmentId'] as const;

/**
 * One usage read-out; nothing is read until it names a scope. `live`: read again every 30 s, as
 * usage is metered through the queue, a little after the requests it counts.
 */
export function useUsage(query: UsageQuery, enabled = true, live = false) {
  return useQuery({
    queryKey: adminKeys.usage(query),
    enabled: enabled && USAGE_SCOPES.some((name) => Boolean(query[name])),
    queryFn: () => must(api.GET('/usage', { params: { query } })),
    refetchInterval: live ? 30_000 : false,
  });
}

/** A group with its members; nothing is read while no group is chosen. */
export function useGroupDetail(id: string) {
  return useQuery({
    queryKey: ['group', id] as const,
    enabled: Boolean(id),
    queryFn: () => must(api.GET('/groups/{id}', { params: { path: { id } } })),
  });
}

/**
 * What budgets are on, by name, from what the viewer may read (a list the API refuses them just
 * leaves the id): enterprises, departments (of every enterprise one belongs to, or whose department
 * budget one sees), groups, and the members and keys of the groups whose member and key budgets
 * are listed. Shared by the budgets page and the alert rules' budget picker.
 */
export function useBudgetNames(budgets: readonly Schemas['Budget'][]) {
  const me = useMe();
  const enterprises = useEnterprises();
  const groups = useGroups();
  const groupList = groups.data?.data ?? [];
  // Departments of every enterprise one runs or belongs to, or whose department budget one sees.
  const enterpriseIds = [
    ...new Set([
      ...(me.data?.enterprises ?? []).map((e) => e.enterpriseId),
      ...budgets.filter((b) => b.scope === 'department' && b.enterpriseId).map((b) => b.enterpriseId!),
    ]),
  ];
  const departments = useQueries({
    queries: enterpriseIds.map((id) => ({
      queryKey: adminKeys.departments(id),
      retry: false,
      queryFn: () => must(api.GET('/enterprises/{id}/departments', { params: { path: { id } } })),
    })),
  });
  // People and keys of the groups whose member and key budgets are listed.
  const groupsOf = (scope: Schemas['Budget']['scope']) => [
    ...new Set(budgets.filter((b) => b.scope === scope && b.groupId).map((b) => b.groupId!)),
  ];
  const members = useQueries({
    queries: groupsOf('member').map((id) => ({
      queryKey: ['group', id] as const,
      retry: false,
      queryFn: () => must(api.GET('/groups/{id}', { params: { path: { id } } })),
    })),
  });
  const keyLists = useQueries({
    queries: groupsOf('key').map((id) => ({
      queryKey: keys.allGroupKeys(id),
      retry: false,
      queryFn: () => must(api.GET('/groups/{id}/keys', { params: { path: { id } } })),
    })),
  });
  const allDepartments = departments.flatMap((q) => q.data?.data ?? []);
  const names: BudgetNames = {
    enterprises: new Map((enterprises.data?.data ?? []).map((e) => [e.id, e.name])),
    // A sub-department by its place in the tree ("Sales › EMEA"), as in the target list.
    departments: new Map(departmentOptions(allDepartments).map((d) => [d.value, d.label])),
    groups: new Map(groupList.map((g) => [g.id, g.name])),
    members: new Map(
      members.flatMap((q) =>
        q.data ? [[q.data.id, new Map(q.data.members.map((m) => [m.userId, m.name]))] as const] : [],
      ),
    ),
    keys: new Map(
      keyLists.flatMap((q) => (q.data?.data ?? []).map((k) => [k.id, keyLabel(k, k.id)] as const)),
    ),
  };
  return { names, departments: allDepartments };
}
