// The people of an enterprise and their roles (owner, admin, member). Seen by every member, changed
// by its owners (`enterprise.manage`). An enterprise keeps at least one owner (a trigger in D1).
// Leaving the enterprise means leaving its groups: the person's memberships in the enterprise's
// groups end and their keys there are revoked at once, in the same D1 batch as the removal.
import { and, asc, eq, exists, inArray } from 'drizzle-orm';
import { ApiError, fieldRefusal } from '../api/errors';
import { apiKeys, enterpriseMembers, enterprises, groupMembers, groups, users } from '../db/schema';
import { audit } from './audit';
import { actorId, authorize, type Caller } from './caller';
import { revokeKeysWhere, tellGates } from './key-revocation';
import { normalizeEmail } from './sessions';

export type EnterpriseRole = (typeof enterpriseMembers.$inferSelect)['role'];

export interface EnterpriseMember {
  userId: string;
  email: string;
  name: string;
  role: EnterpriseRole;
  createdAt: number;
}

/** Who to add: an existing user by id, or a person by email (created if new, to sign in later). */
export interface MemberInput {
  userId?: string;
  email?: string;
  role: EnterpriseRole;
}

const resource = (enterpriseId: string) => ({ type: 'enterprise' as const, enterpriseId });
const what = (enterpriseId: string) => `enterprise ${enterpriseId}`;

export async function listMembers(caller: Caller, enterpriseId: string): Promise<EnterpriseMember[]> {
  await authorize(caller, 'enterprise.view', resource(enterpriseId), what(enterpriseId));
  return selectMembers(caller, enterpriseId);
}

function selectMembers(caller: Caller, enterpriseId: string, userId?: string) {
  return caller.db
    .select({
      userId: enterpriseMembers.userId,
      email: users.email,
      name: users.name,
      role: enterpriseMembers.role,
      createdAt: enterpriseMembers.createdAt,
    })
    .from(enterpriseMembers)
    .innerJoin(users, eq(users.id, enterpriseMembers.userId))
    .where(
      and(
        eq(enterpriseMembers.enterpriseId, enterpriseId),
        userId ? eq(enterpriseMembers.userId, userId) : undefined,
      ),
    )
    .orderBy(asc(enterpriseMembers.createdAt));
}

export async function addMember(
  caller: Caller,
  enterpriseId: string,
  input: MemberInput,
): Promise<EnterpriseMember> {
  await authorize(caller, 'enterprise.manage', resource(enterpriseId), what(enterpriseId));
  const d = caller.db;
  const [enterprise] = await d
    .select({ id: enterprises.id })
    .from(enterprises)
    .where(eq(enterprises.id, enterpriseId));
  if (!enterprise) throw new ApiError('not_found', `No ${what(enterpriseId)}.`);
  let userId: string;
  let created = false;
  if (input.userId) {
    const [user] = await d.select({ id: users.id }).from(users).where(eq(users.id, input.userId));
    if (!user) throw new ApiError('not_found', `No user ${input.userId}.`);
    userId = user.id;
  } else if (input.email) {
    // Find or create in one statement: a new person signs in later (OIDC, or an invite).
    const email = normalizeEmail(input.email);
    const fresh = crypto.randomUUID();
    const [inserted] = await d
      .insert(users)
      .values({ id: fresh, email, name: email.split('@')[0]! })
      .onConflictDoNothing()
      .returning({ id: users.id });
    created = inserted !== undefined;
    const [user] = await d.select({ id: users.id }).from(users).where(eq(users.email, email));
    userId = user!.id;
  } else {
    throw fieldRefusal(
      'userId',
      'send userId or email (one of them).',
      { rule: 'user_or_email' },
      'Invalid json: userId: send userId or email (one of them).',
    );
  }
  const [row] = await d
    .insert(enterpriseMembers)
    .values({ enterpriseId, userId, role: input.role })
    .onConflictDoNothing()
    .returning();
  if (!row) throw new ApiError('conflict', `User ${userId} is already a member of ${what(enterpriseId)}.`);
  await audit(caller, {
    action: 'enterprise.member.add',
    target: { type: 'user', id: userId },
    enterpriseId,
    detail: { role: input.role, ...(created ? { userCreated: true } : {}) },
  });
  const [member] = await selectMembers(caller, enterpriseId, userId);
  return member!;
}

export async function setMemberRole(
  caller: Caller,
  enterpriseId: string,
  userId: string,
  role: EnterpriseRole,
): Promise<EnterpriseMember> {
  await authorize(caller, 'enterprise.manage', resource(enterpriseId), what(enterpriseId));
  const [before] = await selectMembers(caller, enterpriseId, userId);
  if (!before) throw new ApiError('not_found', `User ${userId} is not a member of ${what(enterpriseId)}.`);
  // The last owner's demotion is refused by a trigger (409), whatever raced with it.
  await caller.db
    .update(enterpriseMembers)
    .set({ role })
    .where(and(eq(enterpriseMembers.enterpriseId, enterpriseId), eq(enterpriseMembers.userId, userId)));
  await audit(caller, {
    action: 'enterprise.member.update',
    target: { type: 'user', id: userId },
    enterpriseId,
    detail: { before: { role: before.role }, after: { role } },
  });
  return { ...before, role };
}

/**
 * Removes a person from the enterprise, from its groups, and revokes their keys in those groups,
 * all in one D1 batch (the last owner's removal aborts all of it). Their groups outside the
 * enterprise (carpools) are theirs to keep.
 */
export async function removeMember(caller: Caller, enterpriseId: string, userId: string) {
  await authorize(caller, 'enterprise.manage', resource(enterpriseId), what(enterpriseId));
  return remove(caller, enterpriseId, userId, 'enterprise.member.remove');
}

/**
 * The caller leaves the enterprise, as `removeMember` would remove them. A person added by an
 * owner (by email, without being asked) can always walk away; the last owner cannot (409).
 */
export async function leaveEnterprise(caller: Caller, enterpriseId: string) {
  await authorize(caller, 'enterprise.view', resource(enterpriseId), what(enterpriseId));
  const self = actorId(caller);
  if (!self) throw new ApiError('invalid_request', 'The operator token is no member of any enterprise.');
  return remove(caller, enterpriseId, self, 'enterprise.member.leave');
}

async function remove(caller: Caller, enterpriseId: string, userId: string, action: string) {
  const d = caller.db;
  const isMember = exists(
    d
      .select({ one: enterpriseMembers.userId })
      .from(enterpriseMembers)
      .where(and(eq(enterpriseMembers.enterpriseId, enterpriseId), eq(enterpriseMembers.userId, userId))),
  );
  const enterpriseGroups = d
    .select({ id: groups.id })
    .from(groups)
    .where(eq(groups.enterpriseId, enterpriseId));
  const [revoked, leftGroups, removed] = await d.batch([
    revokeKeysWhere(d, userId, and(inArray(apiKeys.groupId, enterpriseGroups), isMember)!),
    d
      .delete(groupMembers)
      .where(and(eq(groupMembers.userId, userId), inArray(groupMembers.groupId, enterpriseGroups), isMember))
      .returning({ groupId: groupMembers.groupId }),
    d
      .delete(enterpriseMembers)
      .where(and(eq(enterpriseMembers.enterpriseId, enterpriseId), eq(enterpriseMembers.userId, userId)))
      .returning(),
  ]);
  if (removed.length === 0)
    throw new ApiError('not_found', `User ${userId} is not a member of ${what(enterpriseId)}.`);
  await tellGates(caller.env, revoked);
  await audit(caller, {
    action,
    target: { type: 'user', id: userId },
    enterpriseId,
    detail: {
      role: removed[0]!.role,
      groupsLeft: leftGroups.map((g) => g.groupId),
      keysRevoked: revoked.length,
    },
  });
  return {
    userId,
    role: removed[0]!.role,
    groupsLeft: leftGroups.map((g) => g.groupId),
    keysRevoked: revoked.length,
  };
}
