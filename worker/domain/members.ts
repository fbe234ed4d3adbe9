// A group's members: owners (who manage the group) and members. Seats are capped by the group's
// maxMembers in D1 itself (a trigger), so no number of parallel adds or invite accepts overfills a
// group. A carpool keeps an owner: its last owner can neither leave, be removed nor be demoted
// until someone else owns it (enterprise groups are run by their enterprise, and may have none).
// Leaving or being removed revokes one's keys in the group at once.
import { and, eq, ne, type SQL, sql } from 'drizzle-orm';
import { ApiError } from '../api/errors';
import { failedOn } from '../db/constraints';
import {
  apiKeys,
  enterpriseMembers,
  type Group,
  type GroupMember,
  groupMembers,
  groups,
  users,
} from '../db/schema';
import { auditInsertIf } from './audit';
import { actorId, type Caller, memberships } from './caller';
import { authorizedGroup, type MemberView, membersOf } from './groups';
import { revokeAtGate } from './keys';

export type MemberRole = GroupMember['role'];

export async function listMembers(caller: Caller, groupId: string): Promise<MemberView[]> {
  await authorizedGroup(caller, groupId, 'group.view');
  return membersOf(caller, groupId);
}

/**
 * Adds a person by id. A system admin may add anyone; in an enterprise group, those who manage it
 * may add the enterprise's own people. Carpool owners invite instead (worker/domain/invites.ts):
 * nobody is put into a carpool without accepting.
 */
export async function addMember(
  caller: Caller,
  groupId: string,
  input: { userId: string; role: MemberRole },
): Promise<GroupMember> {
  const group = await authorizedGroup(caller, groupId, 'group.manage');
  const m = await memberships(caller);
  if (!m.system) {
    if (!group.enterpriseId)
      throw new ApiError(
        'forbidden',
        `People join carpool ${groupId} through an invite (POST /groups/${groupId}/invites), not by id.`,
      );
    const [inEnterprise] = await caller.db
      .select({ userId: enterpriseMembers.userId })
      .from(enterpriseMembers)
      .where(
        and(
          eq(enterpriseMembers.enterpriseId, group.enterpriseId),
          eq(enterpriseMembers.userId, input.userId),
        ),
      );
    if (!inEnterprise)
      throw new ApiError('not_found', `No user ${input.userId} in enterprise ${group.enterpriseId}.`);
  } else {
    const [user] = await caller.db.select({ id: users.id }).from(users).where(eq(users.id, input.userId));
    if (!user) throw new ApiError('not_found', `No user ${input.userId}.`);
  }
  const d = caller.db;
  let row: GroupMember | undefined;
  try {
    [[row]] = await d.batch([
      d
        .insert(groupMembers)
        .values({ groupId, userId: input.userId, role: input.role })
        .onConflictDoNothing()
        .returning(),
      auditInsertIf(
        caller,
        {
          action: 'group.member.add',
          target: { type: 'user', id: input.userId },
          enterpriseId: group.enterpriseId,
          groupId,
          detail: { role: input.role },
        },
        sql`changes() = 1`,
      ),
    ]);
  } catch (err) {
    throw fullConflict(err, group) ?? err;
  }
  if (!row) throw new ApiError('conflict', `User ${input.userId} is already a member of group ${groupId}.`);
  return row;
}

export interface Removal {
  groupId: string;
  userId: string;
  /** How many of their keys in the group were revoked. */
  keysRevoked: number;
}

/** Removes a member (whoever manages the group); their keys in the group are revoked at once. */
export async function removeMember(caller: Caller, groupId: string, userId: string): Promise<Removal> {
  const group = await authorizedGroup(caller, groupId, 'group.manage');
  return remove(caller, group, userId, 'group.member.remove');
}

/** The caller leaves the group; their keys in it are revoked at once. */
export async function leaveGroup(caller: Caller, groupId: string): Promise<Removal> {
  const group = await authorizedGroup(caller, groupId, 'group.view');
  const self = actorId(caller);
  if (!self) throw new ApiError('invalid_request', 'The operator token is no member of any group.');
  return remove(caller, group, self, 'group.member.leave');
}

async function remove(caller: Caller, group: Group, userId: string, action: string): Promise<Removal> {
  const d = caller.db;
  const member = and(eq(groupMembers.groupId, group.id), eq(groupMembers.userId, userId));
  const [[gone], , revoked] = await d.batch([
    d
      .delete(groupMembers)
      .where(and(member, keepsAnOwner(group.id, userId)))
      .returning({ role: groupMembers.role }),
    auditInsertIf(
      caller,
      { action, target: { type: 'user', id: userId }, enterpriseId: group.enterpriseId, groupId: group.id },
      sql`changes() = 1`,
    ),
    // In the same transaction as the removal, and only if it happened: no request is admitted on
    // these keys once the member is gone (the gate learns it below, before this call returns).
    d
      .update(apiKeys)
      .set({ status: 'revoked', revokedAt: Date.now() })
      .where(
        and(
          eq(apiKeys.groupId, group.id),
          eq(apiKeys.userId, userId),
          eq(apiKeys.status, 'active'),
          sql`NOT EXISTS (SELECT 1 FROM ${groupMembers} WHERE ${member})`,
        ),
      )
      .returning({ id: apiKeys.id, keyHash: apiKeys.keyHash }),
  ]);
  if (!gone) throw await notRemovable(caller, group, userId);
  await revokeAtGate(caller.env, group.id, revoked);
  return { groupId: group.id, userId, keysRevoked: revoked.length };
}

/** Changes a member's role (whoever manages the group). */
export async function changeRole(
  caller: Caller,
  groupId: string,
  userId: string,
  role: MemberRole,
): Promise<GroupMember> {
  const group = await authorizedGroup(caller, groupId, 'group.manage');
  const d = caller.db;
  const member = and(eq(groupMembers.groupId, groupId), eq(groupMembers.userId, userId));
  const [[row]] = await d.batch([
    d
      .update(groupMembers)
      .set({ role })
      .where(and(member, role === 'member' ? keepsAnOwner(groupId, userId) : undefined))
      .returning(),
    auditInsertIf(
      caller,
      {
        action: 'group.member.role',
        target: { type: 'user', id: userId },
        enterpriseId: group.enterpriseId,
        groupId,
        detail: { role },
      },
      sql`changes() = 1`,
    ),
  ]);
  if (!row) throw await notRemovable(caller, group, userId);
  return row;
}

/**
 * Makes a member the group's only owner: they become owner and every other owner a member, in one
 * transaction. (A group may have several owners; this is how one hands a group over.)
 */
export async function transferOwnership(
  caller: Caller,
  groupId: string,
  userId: string,
): Promise<MemberView[]> {
  const group = await authorizedGroup(caller, groupId, 'group.manage');
  const d = caller.db;
  const target = and(eq(groupMembers.groupId, groupId), eq(groupMembers.userId, userId));
  const [[promoted]] = await d.batch([
    d.update(groupMembers).set({ role: 'owner' }).where(target).returning(),
    // Only once the new owner is one (the statement above found the member).
    d
      .update(groupMembers)
      .set({ role: 'member' })
      .where(
        and(
          eq(groupMembers.groupId, groupId),
          ne(groupMembers.userId, userId),
          eq(groupMembers.role, 'owner'),
          sql`EXISTS (SELECT 1 FROM ${groupMembers} WHERE ${target} AND ${groupMembers.role} = 'owner')`,
        ),
      ),
    auditInsertIf(
      caller,
      {
        action: 'group.owner.transfer',
        target: { type: 'user', id: userId },
        enterpriseId: group.enterpriseId,
        groupId,
      },
      sql`EXISTS (SELECT 1 FROM ${groupMembers} WHERE ${target} AND ${groupMembers.role} = 'owner')`,
    ),
  ]);
  if (!promoted) throw new ApiError('not_found', `No member ${userId} in group ${groupId}.`);
  return membersOf(caller, groupId);
}

/**
 * True for a member whose removal (or demotion) leaves the group run by someone: a plain member,
 * anyone in an enterprise group, or an owner of a carpool that has another owner. Evaluated inside
 * the statement that removes them, so two owners leaving at once cannot both succeed.
 */
function keepsAnOwner(groupId: string, userId: string): SQL {
  return sql`(${groupMembers.role} = 'member'
    OR (SELECT ${groups.kind} FROM ${groups} WHERE ${groups.id} = ${groupId}) <> 'carpool'
    OR EXISTS (SELECT 1 FROM ${groupMembers} AS others
      WHERE others.group_id = ${groupId} AND others.role = 'owner' AND others.user_id <> ${userId}))`;
}

/** Why a member could not be removed or demoted: not a member (404), or the carpool's last owner (409). */
async function notRemovable(caller: Caller, group: Group, userId: string): Promise<ApiError> {
  const [row] = await caller.db
    .select({ role: groupMembers.role })
    .from(groupMembers)
    .where(and(eq(groupMembers.groupId, group.id), eq(groupMembers.userId, userId)));
  if (!row) return new ApiError('not_found', `No member ${userId} in group ${group.id}.`);
  return new ApiError(
    'conflict',
    `User ${userId} is the last owner of carpool ${group.id}: make another member owner first (POST /groups/${group.id}/transfer), or delete the group.`,
  );
}

/** A 409 for an insert the group's member limit refused (the trigger in the migrations). */
export function fullConflict(err: unknown, group: Pick<Group, 'id'>): ApiError | null {
  if (!failedOn(err, 'group_full')) return null;
  return new ApiError('conflict', `Group ${group.id} is full (its maxMembers is reached).`);
}
