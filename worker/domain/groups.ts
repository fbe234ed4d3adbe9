// Groups. A carpool is a small team on one exclusive account: anyone signed in may create one and
// becomes its owner; it may be created without an account and bound later. An enterprise group is
// created by those who may create groups in its enterprise (`group.create`), optionally inside one
// of its departments, and is scheduled over the enterprise's pools. Members: worker/domain/members.ts.
import { and, asc, eq, inArray, or, type SQL, sql } from 'drizzle-orm';
import { groupGate } from '../../durable-objects/address';
import { ApiError, fieldRefusal } from '../api/errors';
import type { KeyBounds } from '../auth/key-bounds';
import { failedOn } from '../db/constraints';
import {
  accounts,
  apiKeys,
  departments,
  enterprises,
  type Group,
  groupMembers,
  groups,
  statementLines,
  statementSettlements,
  statements,
  users,
} from '../db/schema';
import type { PolicyOverrides } from '../scheduling/policy';
import { auditInsert, auditInsertIf } from './audit';
import { actorId, authorize, type Caller, memberships } from './caller';
import { revokeAtGate } from './keys';
import type { Action, Resource } from './permissions';
import { pushGroup } from './push';

export interface GroupInput {
  name: string;
  kind: Group['kind'];
  /** An existing account to bind a carpool to (system admins; others bind through the account routes). */
  accountId?: string;
  enterpriseId?: string;
  departmentId?: string;
  maxMembers: number;
  scheduling?: PolicyOverrides | null;
  keyBounds?: KeyBounds | null;
  splitMode?: Group['splitMode'];
  prorateByDays?: boolean;
  timeZone?: string;
}

export interface GroupChanges {
  name?: string;
  maxMembers?: number;
  scheduling?: PolicyOverrides | null;
  keyBounds?: KeyBounds | null;
  departmentId?: string | null;
  /** How the bill is shared, prorating, the zone of its months, who pays the fee (worker/domain/billing.ts). */
  splitMode?: Group['splitMode'];
  prorateByDays?: boolean;
  timeZone?: string;
  feePayerUserId?: string | null;
}

export function groupResource(group: Pick<Group, 'id' | 'enterpriseId'>): Resource {
  return { type: 'group', groupId: group.id, enterpriseId: group.enterpriseId };
}

/** The group, when the caller may do `action` on it: 404 when they cannot see it, 403 when they may not. */
export async function authorizedGroup(caller: Caller, id: string, action: Action): Promise<Group> {
  const [row] = await caller.db.select().from(groups).where(eq(groups.id, id));
  if (!row) throw new ApiError('not_found', `No group ${id}.`);
  await authorize(caller, action, groupResource(row), `group ${id}`);
  return row;
}

export async function createGroup(caller: Caller, input: GroupInput): Promise<Group> {
  if (input.kind === 'carpool') {
    if (input.enterpriseId)
      throw fieldRefusal(
        'enterpriseId',
        'a carpool belongs to no enterprise (an enterprise group is kind "enterprise").',
        { rule: 'not_for_kind' },
      );
    if (input.departmentId)
      throw fieldRefusal('departmentId', 'departments are an enterprise’s; a carpool has none.', {
        rule: 'not_for_kind',
      });
    if (input.accountId) await checkBindable(caller, input.accountId);
  } else {
    if (!input.enterpriseId)
      throw fieldRefusal('enterpriseId', 'an enterprise group needs its enterpriseId.', {
        code: 'invalid_type',
        required: true,
      });
    if (input.accountId)
      throw fieldRefusal(
        'accountId',
        'an enterprise group is served by its enterprise’s pools, not a bound account.',
        {
          rule: 'not_for_kind',
        },
      );
    await authorize(
      caller,
      'group.create',
      { type: 'enterprise', enterpriseId: input.enterpriseId },
      `enterprise ${input.enterpriseId}`,
    );
    const [enterprise] = await caller.db
      .select({ id: enterprises.id })
      .from(enterprises)
      .where(eq(enterprises.id, input.enterpriseId));
    if (!enterprise) throw new ApiError('not_found', `No enterprise ${input.enterpriseId}.`);
    if (input.departmentId) await checkDepartment(caller, input.departmentId, input.enterpriseId);
  }

  const id = crypto.randomUUID();
  const d = caller.db;
  // A person who creates a carpool owns it. Enterprise groups are run by the enterprise's owners
  // and admins, so their creator takes no seat.
  const ownerId = input.kind === 'carpool' ? actorId(caller) : null;
  const insertGroup = d
    .insert(groups)
    .values({
      id,
      name: input.name,
      kind: input.kind,
      boundAccountId: input.accountId ?? null,
      maxMembers: input.maxMembers,
      enterpriseId: input.enterpriseId ?? null,
      departmentId: input.departmentId ?? null,
      scheduling: input.scheduling ?? null,
      keyBounds: input.keyBounds ?? null,
      splitMode: input.splitMode,
      prorateByDays: input.prorateByDays,
      timeZone: input.timeZone,
    })
    .returning();
  const audit = auditInsert(caller, {
    action: 'group.create',
    target: { type: 'group', id },
    enterpriseId: input.enterpriseId ?? null,
    groupId: id,
    detail: {
      name: input.name,
      kind: input.kind,
      accountId: input.accountId ?? null,
      departmentId: input.departmentId ?? null,
      maxMembers: input.maxMembers,
      ownerId,
    },
  });
  let row: Group | undefined;
  try {
    if (ownerId) {
      const owner = d.insert(groupMembers).values({ groupId: id, userId: ownerId, role: 'owner' });
      [[row]] = await d.batch([insertGroup, owner, audit]);
    } else {
      [[row]] = await d.batch([insertGroup, audit]);
    }
  } catch (err) {
    throw bindingConflict(err, input.accountId) ?? err;
  }
  await pushGroup(caller.env, id);
  return row!;
}

/**
 * An existing account may be bound on creation by a system admin only (anyone else could take an
 * account by its id); it must be in no enterprise pool and bound to no other carpool.
 */
async function checkBindable(caller: Caller, accountId: string): Promise<void> {
  await authorize(caller, 'system.admin', { type: 'system' }, `account ${accountId}`);
  const [account] = await caller.db
    .select({ id: accounts.id, enterpriseId: accounts.enterpriseId })
    .from(accounts)
    .where(eq(accounts.id, accountId));
  if (!account) throw new ApiError('not_found', `No account ${accountId}.`);
  if (account.enterpriseId)
    throw new ApiError(
      'conflict',
      `Account ${accountId} is in the pool of enterprise ${account.enterpriseId}: an account is either one carpool's or one enterprise's.`,
    );
}

/** A 409 for a write that broke carpool exclusivity (the unique index, or a trigger guarding it). */
function bindingConflict(err: unknown, accountId: string | undefined): ApiError | null {
  if (failedOn(err, 'groups.bound_account_id'))
    return new ApiError('conflict', `Account ${accountId} is already bound to another carpool group.`);
  if (accountId && failedOn(err, ''))
    return new ApiError(
      'conflict',
      `Account ${accountId} cannot be bound to this carpool: an account is either one carpool's or one enterprise's.`,
    );
  return null;
}

async function checkDepartment(caller: Caller, departmentId: string, enterpriseId: string): Promise<void> {
  const [department] = await caller.db
    .select({ id: departments.id })
    .from(departments)
    .where(and(eq(departments.id, departmentId), eq(departments.enterpriseId, enterpriseId)));
  if (!department)
    throw fieldRefusal('departmentId', `no department ${departmentId} in enterprise ${enterpriseId}.`, {
      rule: 'unknown_reference',
    });
}

/**
 * The groups the caller sees: those they are in, and every group of the enterprises they own or
 * administer; all of them for a system admin.
 */
export async function listGroups(caller: Caller): Promise<Group[]> {
  const m = await memberships(caller);
  const d = caller.db;
  if (m.system) return d.select().from(groups).orderBy(asc(groups.createdAt));
  const scopes: SQL[] = [];
  const groupIds = [...m.groups.keys()];
  if (groupIds.length > 0) scopes.push(inArray(groups.id, groupIds));
  const run = [...m.enterprises].filter(([, role]) => role !== 'member').map(([id]) => id);
  if (run.length > 0) scopes.push(inArray(groups.enterpriseId, run));
  if (scopes.length === 0) return [];
  return d
    .select()
    .from(groups)
    .where(or(...scopes))
    .orderBy(asc(groups.createdAt));
}

export interface MemberView {
  userId: string;
  role: 'owner' | 'member';
  email: string;
  name: string;
  joinedAt: number;
}

export async function getGroup(caller: Caller, id: string): Promise<Group & { members: MemberView[] }> {
  const group = await authorizedGroup(caller, id, 'group.view');
  return { ...group, members: await membersOf(caller, id) };
}

export function membersOf(caller: Caller, groupId: string): Promise<MemberView[]> {
  return caller.db
    .select({
      userId: groupMembers.userId,
      role: groupMembers.role,
      email: users.email,
      name: users.name,
      joinedAt: groupMembers.createdAt,
    })
    .from(groupMembers)
    .innerJoin(users, eq(users.id, groupMembers.userId))
    .where(eq(groupMembers.groupId, groupId))
    .orderBy(asc(groupMembers.createdAt));
}

/** The group's live scheduler state: leases in use and sticky sessions with their accounts. */
export async function groupState(caller: Caller, id: string) {
  const group = await authorizedGroup(caller, id, 'group.manage');
  return groupGate(caller.env, group.id).state();
}

export async function updateGroup(caller: Caller, id: string, changes: GroupChanges): Promise<Group> {
  const before = await authorizedGroup(caller, id, 'group.manage');
  // Nothing to change: the group as it is (as PATCH /users and /keys answer).
  if (Object.keys(changes).length === 0) return before;
  if (changes.departmentId !== undefined) {
    if (!before.enterpriseId)
      throw fieldRefusal('departmentId', 'departments are an enterprise’s; a carpool has none.', {
        rule: 'not_for_kind',
      });
    // Placing a group in the enterprise's structure is for those who may create groups there.
    await authorize(
      caller,
      'group.create',
      { type: 'enterprise', enterpriseId: before.enterpriseId },
      `enterprise ${before.enterpriseId}`,
    );
    if (changes.departmentId !== null)
      await checkDepartment(caller, changes.departmentId, before.enterpriseId);
  }
  if (changes.feePayerUserId && before.kind === 'enterprise')
    throw fieldRefusal(
      'feePayerUserId',
      'an enterprise group has no fee payer; its enterprise pays the bill.',
      {
        rule: 'not_for_kind',
      },
    );
  if (changes.feePayerUserId) {
    const [member] = await caller.db
      .select({ userId: groupMembers.userId })
      .from(groupMembers)
      .where(and(eq(groupMembers.groupId, id), eq(groupMembers.userId, changes.feePayerUserId)));
    if (!member)
      throw fieldRefusal('feePayerUserId', `${changes.feePayerUserId} is not a member of group ${id}.`, {
        rule: 'not_a_member',
      });
  }
  const d = caller.db;
  const { maxMembers } = changes;
  // The limit and the member count are compared in the same statement that sets it: no member
  // can join between a check and the write.
  const fits =
    maxMembers === undefined
      ? undefined
      : sql`(SELECT count(*) FROM ${groupMembers} WHERE ${groupMembers.groupId} = ${id}) <= ${maxMembers}`;
  const fields = Object.keys(changes) as (keyof GroupChanges)[];
  const [[row]] = await d.batch([
    d
      .update(groups)
      .set(changes)
      .where(and(eq(groups.id, id), fits))
      .returning(),
    // Written only when the update was.
    auditInsertIf(
      caller,
      {
        action: 'group.update',
        target: { type: 'group', id },
        enterpriseId: before.enterpriseId,
        groupId: id,
        detail: { fields, before: Object.fromEntries(fields.map((f) => [f, before[f]])), after: changes },
      },
      sql`changes() = 1`,
    ),
  ]);
  if (!row) {
    const members = (await membersOf(caller, id)).length;
    throw new ApiError(
      'conflict',
      `Group ${id} has ${members} members: maxMembers cannot go below that (remove members first).`,
    );
  }
  // A group moved to another department answers to that department's budgets from now on.
  if (
    changes.scheduling !== undefined ||
    changes.keyBounds !== undefined ||
    (changes.departmentId !== undefined && changes.departmentId !== before.departmentId)
  )
    await pushGroup(caller.env, id);
  return row;
}

/**
 * Deletes a group: its keys are revoked at once (and deleted with it), its members and invites go,
 * and a carpool's account is unbound (the account itself stays, with its history). Whoever manages
 * the group may delete it; an enterprise group also needs `group.create` in its enterprise.
 */
export async function deleteGroup(caller: Caller, id: string): Promise<{ id: string; keysRevoked: number }> {
  const group = await authorizedGroup(caller, id, 'group.manage');
  if (group.enterpriseId)
    await authorize(
      caller,
      'group.create',
      { type: 'enterprise', enterpriseId: group.enterpriseId },
      `enterprise ${group.enterpriseId}`,
    );
  const d = caller.db;
  // A closed month where someone still owes the fee payer is a debt between people: the group,
  // and with it everyone's way to read the statement, stays until it is settled.
  const [owing] = await d.all<{ month: string; n: number }>(sql`
    SELECT s.month AS month, count(*) AS n
    FROM ${statements} s JOIN ${statementLines} l ON l.statement_id = s.id
    WHERE s.group_id = ${id} AND l.amount_micros > 0 AND l.user_id IS NOT s.fee_payer_user_id
      AND s.fee_payer_user_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM ${statementSettlements} x
        WHERE x.statement_id = s.id AND x.user_id = l.user_id AND x.settled)
    GROUP BY s.month ORDER BY s.month LIMIT 1`);
  if (owing)
    throw new ApiError(
      'conflict',
      `${owing.month} is closed with ${owing.n} member(s) still owing the fee payer: mark them settled on the statement before deleting the group.`,
      { month: owing.month, unsettled: owing.n },
    );
  const [keys] = await d.batch([
    d.delete(apiKeys).where(eq(apiKeys.groupId, id)).returning({ id: apiKeys.id, keyHash: apiKeys.keyHash }),
    d.delete(groups).where(eq(groups.id, id)),
    auditInsert(caller, {
      action: 'group.delete',
      target: { type: 'group', id },
      enterpriseId: group.enterpriseId,
      groupId: id,
      detail: { name: group.name, kind: group.kind, unboundAccountId: group.boundAccountId },
    }),
  ]);
  await revokeAtGate(caller.env, id, keys);
  return { id, keysRevoked: keys.length };
}
