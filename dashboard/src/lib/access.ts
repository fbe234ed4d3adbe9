// What the signed-in person may do, from GET /me: the dashboard hides what a role may not do (the
// API refuses it anyway). Mirrors the roles of worker/domain/permissions.ts as the dashboard needs them.
import type { Schemas } from '../api/client';

export type Me = Schemas['Me'];

export function isSystemAdmin(me: Me | null | undefined): boolean {
  return me?.systemRole === 'system_admin';
}

/** Owner of the group (or system admin): may manage it, its members, invites and account. */
export function ownsGroup(me: Me | null | undefined, groupId: string): boolean {
  if (!me) return false;
  return isSystemAdmin(me) || me.groups.some((g) => g.groupId === groupId && g.role === 'owner');
}

export function memberOf(me: Me | null | undefined, groupId: string): boolean {
  return Boolean(me?.groups.some((g) => g.groupId === groupId));
}

export function ownedGroupIds(me: Me | null | undefined): string[] {
  return me?.groups.filter((g) => g.role === 'owner').map((g) => g.groupId) ?? [];
}

// Admin pages (issue 12): who runs an enterprise, and who manages anything at all.

/** Owner or admin of the enterprise (or system admin): may open its pages (enterprise.view). */
export function runsEnterprise(me: Me | null | undefined, enterpriseId: string): boolean {
  if (!me) return false;
  return (
    isSystemAdmin(me) ||
    me.enterprises.some((e) => e.enterpriseId === enterpriseId && (e.role === 'owner' || e.role === 'admin'))
  );
}

/** Owner of the enterprise (or system admin): enterprise.manage and ai.manage there. */
export function ownsEnterprise(me: Me | null | undefined, enterpriseId: string): boolean {
  if (!me) return false;
  return (
    isSystemAdmin(me) || me.enterprises.some((e) => e.enterpriseId === enterpriseId && e.role === 'owner')
  );
}

export function runEnterpriseIds(me: Me | null | undefined): string[] {
  return (
    me?.enterprises.filter((e) => e.role === 'owner' || e.role === 'admin').map((e) => e.enterpriseId) ?? []
  );
}

/**
 * Manages something (an enterprise, a carpool, or everything): the accounts health, budgets,
 * alerts and audit pages have something to show them.
 */
export function managesAnything(me: Me | null | undefined): boolean {
  return isSystemAdmin(me) || runEnterpriseIds(me).length > 0 || ownedGroupIds(me).length > 0;
}

type BudgetAuthority = Pick<Schemas['Budget'], 'scope' | 'authority' | 'enterpriseId' | 'groupId'>;

/**
 * Whether the viewer may change or remove a budget (worker/domain/budgets.ts, authorizeChange):
 * a department's or enterprise's takes its enterprise's owner; one the enterprise's owners or
 * admins set on a group takes one of them; any other, whoever manages the group. Whoever a budget
 * limits never lifts it, so the page offers them no button.
 */
export function mayChangeBudget(me: Me | null | undefined, budget: BudgetAuthority): boolean {
  if (!me) return false;
  if (isSystemAdmin(me)) return true;
  const enterpriseId = budget.enterpriseId;
  if (budget.scope === 'enterprise' || budget.scope === 'department')
    return enterpriseId !== null && ownsEnterprise(me, enterpriseId);
  const runs = enterpriseId !== null && runsEnterprise(me, enterpriseId);
  if (budget.authority === 'enterprise') return runs;
  return runs || (budget.groupId !== null && ownsGroup(me, budget.groupId));
}

/** A group as the admin pages know it: its id and its enterprise (null for a carpool). */
export interface GroupRef {
  id: string;
  enterpriseId: string | null;
}

/** group.manage over the group: its owner, its enterprise's owner or admin, or a system admin. */
export function managesGroup(me: Me | null | undefined, group: GroupRef): boolean {
  return ownsGroup(me, group.id) || (group.enterpriseId !== null && runsEnterprise(me, group.enterpriseId));
}

export type BudgetScope = Schemas['Budget']['scope'];

/**
 * The budget scopes the viewer may create (worker/domain/budgets.ts, authorizeTarget): an
 * enterprise's and a department's take an enterprise owner (enterprise.manage); a group's and a
 * member's, someone who manages a group; a key's, anyone in a group (their own key) or managing one.
 */
export function budgetScopes(me: Me | null | undefined, groups: readonly GroupRef[]): BudgetScope[] {
  if (!me) return [];
  const scopes: BudgetScope[] = [];
  if (isSystemAdmin(me) || me.enterprises.some((e) => e.role === 'owner'))
    scopes.push('enterprise', 'department');
  if (groups.some((g) => managesGroup(me, g))) scopes.push('group', 'member');
  if (groups.length > 0) scopes.push('key');
  return scopes;
}

/**
 * The scopes the viewer may manage alerts of (worker/domain/alerts.ts, manage) or read the audit
 * log of (worker/domain/audit.ts): the system for a system admin; an enterprise for its owners
 * when alerting (enterprise.manage: an admin may not), for its owners and admins in the audit log
 * (group.manage over it); a group for whoever manages it. As the pages' scope values: `system`,
 * `enterprise:<id>`, `group:<id>`.
 */
export function managedScopeValues(
  purpose: 'alerts' | 'audit',
  me: Me | null | undefined,
  enterprises: readonly { id: string }[],
  groups: readonly GroupRef[],
): string[] {
  if (!me) return [];
  const mayEnterprise = purpose === 'alerts' ? ownsEnterprise : runsEnterprise;
  return [
    ...(isSystemAdmin(me) ? ['system'] : []),
    ...enterprises.filter((e) => mayEnterprise(me, e.id)).map((e) => `enterprise:${e.id}`),
    ...groups.filter((g) => managesGroup(me, g)).map((g) => `group:${g.id}`),
  ];
}
