// Every page of the dashboard, in one table: its path, who may open it, and the page module
// (loaded lazily, so a page costs nothing until it is visited). To add a page: write
// pages/<name>.tsx with a default export, add a row here, and its strings to i18n/en.ts and
// i18n/zh-CN.ts. The guard (components/guard.tsx) sends the signed-out to /login and shows
// "not allowed" to a role the page is not for; the API refuses them anyway.
import { type ComponentType, type LazyExoticComponent, lazy } from 'react';

/**
 * Who may open a page:
 * - `public`: anyone, signed in or not;
 * - `signed-in`: any signed-in person;
 * - `group-owner`: the owner of the group named by the `:id` path parameter (or a system admin);
 * - `group-manager`: whoever manages that group (group.manage): its owner, or an owner or admin of
 *   its enterprise (or a system admin);
 * - `enterprise-admin`: an owner or admin of the enterprise named by `:id` (or a system admin);
 * - `manager`: a system admin, or an owner/admin of an enterprise, or a group owner;
 * - `system-admin`: a system admin.
 */
export type Access =
  | 'public'
  | 'signed-in'
  | 'group-owner'
  | 'group-manager'
  | 'enterprise-admin'
  | 'manager'
  | 'system-admin';

export interface PageRoute {
  path: string;
  access: Access;
  page: LazyExoticComponent<ComponentType>;
}

// Login and the member home are the first load a person waits for; their chunks count in the
// JS budget (dashboard/test/bundle-size.test.ts).
export const loginPage = lazy(() => import('./pages/login'));
export const homePage = lazy(() => import('./pages/home'));

export const routes: readonly PageRoute[] = [
  // Everyone
  { path: '/setup', access: 'public', page: lazy(() => import('./pages/setup')) },
  { path: '/login', access: 'public', page: loginPage },
  { path: '/invite/:token', access: 'public', page: lazy(() => import('./pages/invite')) },
  { path: '/password/:token', access: 'public', page: lazy(() => import('./pages/password-link')) },
  { path: '/key', access: 'public', page: lazy(() => import('./pages/key-lookup')) },
  { path: '/profile', access: 'signed-in', page: lazy(() => import('./pages/profile')) },

  // Member home: my groups, my cost and share, my keys, setup snippets
  { path: '/', access: 'signed-in', page: homePage },
  { path: '/groups/new', access: 'signed-in', page: lazy(() => import('./pages/new-group')) },

  // Carpool owner; an enterprise group's page is also its enterprise's owners' and admins'
  { path: '/groups/:id', access: 'group-manager', page: lazy(() => import('./pages/group')) },
  { path: '/groups/:id/account', access: 'group-owner', page: lazy(() => import('./pages/bind-account')) },
  // A carpool's statements: everyone in the group reads them (group.view); the page shows the
  // settings, adjustments, closing and settled marks only to the owner (group.manage).
  { path: '/groups/:id/statements', access: 'signed-in', page: lazy(() => import('./pages/statements')) },
  {
    path: '/groups/:id/statements/:month',
    access: 'signed-in',
    page: lazy(() => import('./pages/statements')),
  },

  // Admin (issue 12): enterprise, accounts health, usage, budgets and alerts, audit, system admin
  { path: '/enterprises/:id', access: 'enterprise-admin', page: lazy(() => import('./pages/enterprise')) },
  { path: '/accounts', access: 'manager', page: lazy(() => import('./pages/accounts')) },
  { path: '/usage', access: 'signed-in', page: lazy(() => import('./pages/usage')) },
  { path: '/budgets', access: 'manager', page: lazy(() => import('./pages/budgets')) },
  { path: '/alerts', access: 'manager', page: lazy(() => import('./pages/alerts')) },
  { path: '/audit', access: 'manager', page: lazy(() => import('./pages/audit')) },
  { path: '/system', access: 'system-admin', page: lazy(() => import('./pages/system')) },
];
