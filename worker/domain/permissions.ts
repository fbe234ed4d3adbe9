// Who may do what, as data. Roles hold actions; a principal holds roles over a resource through
// its memberships (the group the resource is in, that group's enterprise, the system). One
// function, `can`, reads the table; every domain function asks it before acting.
//
// The five roles of the product, highest first: system admin > enterprise owner > enterprise
// admin > group owner > group member. Higher roles hold the actions of the lower ones within
// their scope (an enterprise owner manages the groups of the enterprise, not other tenants').
// An enterprise's plain members hold only `enterprise.view`.

export const ACTIONS = [
  /** Everything: users, every tenant, prices, the operator's views. */
  'system.admin',
  /** See an enterprise: its departments, groups, members, pools and usage. */
  'enterprise.view',
  /** Change an enterprise: name, departments, members and their roles. */
  'enterprise.manage',
  /** Create groups in an enterprise. */
  'group.create',
  /** Run an enterprise's account pools: accounts, their credentials and health, pool policies. */
  'ai.manage',
  /** See a group: its members, its account's status, its usage and bill. */
  'group.view',
  /** Change a group: settings, members, every member's keys, a carpool's account. */
  'group.manage',
  /** Invite people into a group. */
  'user.invite',
  /** Use a group's AI through one's own keys. */
  'ai.use',
  /** One's own profile, sessions and tokens (over a user resource: that user, or a system admin). */
  'profile.manage',
] as const;
export type Action = (typeof ACTIONS)[number];

export const ROLES = [
  'system_admin',
  'enterprise_owner',
  'enterprise_admin',
  'enterprise_member',
  'group_owner',
  'group_member',
] as const;
export type Role = (typeof ROLES)[number];

const GROUP_MEMBER: readonly Action[] = ['group.view', 'ai.use'];
const GROUP_OWNER: readonly Action[] = [...GROUP_MEMBER, 'group.manage', 'user.invite'];
const ENTERPRISE_MEMBER: readonly Action[] = ['enterprise.view'];
// An enterprise admin runs the enterprise's groups but uses AI only in groups they belong to.
const ENTERPRISE_ADMIN: readonly Action[] = [
  ...ENTERPRISE_MEMBER,
  'group.view',
  'group.manage',
  'user.invite',
];
const ENTERPRISE_OWNER: readonly Action[] = [
  ...ENTERPRISE_ADMIN,
  'enterprise.manage',
  'group.create',
  'ai.manage',
];

/** The permission table: the actions each role holds within its scope. */
export const ROLE_ACTIONS: Readonly<Record<Role, readonly Action[]>> = {
  system_admin: ACTIONS,
  enterprise_owner: ENTERPRISE_OWNER,
  enterprise_admin: ENTERPRISE_ADMIN,
  enterprise_member: ENTERPRISE_MEMBER,
  group_owner: GROUP_OWNER,
  group_member: GROUP_MEMBER,
};

/**
 * What an action is about. A group or an account names the enterprise it belongs to (null for a
 * carpool), so an enterprise's roles reach it; a carpool's account names its group.
 */
export type Resource =
  | { type: 'system' }
  | { type: 'enterprise'; enterpriseId: string }
  | { type: 'group'; groupId: string; enterpriseId: string | null }
  | { type: 'account'; accountId: string; enterpriseId: string | null; groupId: string | null }
  | { type: 'user'; userId: string };

/** The principal's memberships: the roles it holds, per enterprise and per group. */
export interface Memberships {
  system: boolean;
  userId: string | null;
  enterprises: ReadonlyMap<string, 'owner' | 'admin' | 'member'>;
  groups: ReadonlyMap<string, 'owner' | 'member'>;
}

/** The roles a principal holds over a resource: from the resource's group, its enterprise, the system. */
export function rolesOver(m: Memberships, resource: Resource): Role[] {
  const roles: Role[] = [];
  if (m.system) roles.push('system_admin');
  const enterpriseId = 'enterpriseId' in resource ? resource.enterpriseId : null;
  const enterpriseRole = enterpriseId ? m.enterprises.get(enterpriseId) : undefined;
  if (enterpriseRole) roles.push(`enterprise_${enterpriseRole}`);
  const groupId = 'groupId' in resource ? resource.groupId : null;
  const groupRole = groupId ? m.groups.get(groupId) : undefined;
  if (groupRole) roles.push(`group_${groupRole}`);
  return roles;
}

/** Whether the principal holds `action` over `resource`. */
export function can(m: Memberships, action: Action, resource: Resource): boolean {
  // A person is their own profile's manager; a system admin everyone's.
  if (resource.type === 'user')
    return m.system || (action === 'profile.manage' && m.userId !== null && m.userId === resource.userId);
  return rolesOver(m, resource).some((role) => ROLE_ACTIONS[role].includes(action));
}

/** The action that lets one see a resource at all; without it, the resource does not exist for them. */
export function viewActionOf(resource: Resource): Action {
  switch (resource.type) {
    case 'system':
      return 'system.admin';
    case 'enterprise':
      return 'enterprise.view';
    case 'group':
      return 'group.view';
    case 'account':
      // A pool's account is the enterprise's; a carpool's is its group's.
      return resource.groupId ? 'group.view' : 'enterprise.view';
    case 'user':
      return 'profile.manage';
  }
}
