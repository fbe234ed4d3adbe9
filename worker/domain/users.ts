// People, as a system admin runs them: list, create (without a password: they get in through a
// password link or OIDC; an invite's sign-up is for emails without an account), rename, grant or revoke system admin, disable. A disabled person's
// sessions end, their tokens stop working and their keys are revoked at once; there is always one active system admin
// left (the operator token is automation, not a person who can recover the system).
import { and, asc, eq, isNotNull, isNull, ne, or, type SQL, sql } from 'drizzle-orm';
import { ApiError } from '../api/errors';
import { passwordResets, sessions, users } from '../db/schema';
import { audit } from './audit';
import { authorize, type Caller } from './caller';
import { revokeKeysWhere, tellGates } from './key-revocation';

/** A user as the API shows one: never a password hash or any other column by accident. */
export const userColumns = {
  id: users.id,
  email: users.email,
  name: users.name,
  systemRole: users.systemRole,
  disabledAt: users.disabledAt,
  createdAt: users.createdAt,
};
export type PublicUser = {
  [K in keyof typeof userColumns]: (typeof users.$inferSelect)[K];
};

export type SystemRole = PublicUser['systemRole'];

export interface UserInput {
  email: string;
  name: string;
  systemRole?: SystemRole;
}

export interface UserChanges {
  name?: string;
  systemRole?: SystemRole;
  /** True disables the person, false lets them back in (their revoked keys stay revoked). */
  disabled?: boolean;
}

const SYSTEM = { type: 'system' } as const;

export async function listUsers(caller: Caller, filter: { email?: string } = {}): Promise<PublicUser[]> {
  await authorize(caller, 'system.admin', SYSTEM, 'such list');
  return caller.db
    .select(userColumns)
    .from(users)
    .where(filter.email ? eq(users.email, filter.email.toLowerCase()) : undefined)
    .orderBy(asc(users.createdAt));
}

export async function createUser(caller: Caller, input: UserInput): Promise<PublicUser> {
  await authorize(caller, 'system.admin', SYSTEM, 'such list');
  const email = input.email.toLowerCase();
  const [row] = await caller.db
    .insert(users)
    .values({ id: crypto.randomUUID(), email, name: input.name, systemRole: input.systemRole ?? 'user' })
    .onConflictDoNothing()
    .returning(userColumns);
  if (!row) throw new ApiError('conflict', `A user with email ${email} already exists.`);
  await audit(caller, {
    action: 'user.create',
    target: { type: 'user', id: row.id },
    detail: { email, name: row.name, systemRole: row.systemRole },
  });
  return row;
}

/** One user: themself, or anyone for a system admin. */
export async function getUser(caller: Caller, id: string): Promise<PublicUser> {
  await authorize(caller, 'profile.manage', { type: 'user', userId: id }, `user ${id}`);
  return findUser(caller, id);
}

/** A person's own display name, changed by themself (a system admin changes anyone's: updateUser). */
export async function renameUser(caller: Caller, id: string, name: string): Promise<PublicUser> {
  await authorize(caller, 'profile.manage', { type: 'user', userId: id }, `user ${id}`);
  const before = await findUser(caller, id);
  const [row] = await caller.db.update(users).set({ name }).where(eq(users.id, id)).returning(userColumns);
  await audit(caller, {
    action: 'user.update',
    target: { type: 'user', id },
    detail: { fields: ['name'], before: { name: before.name }, after: { name: row!.name } },
  });
  return row!;
}

async function findUser(caller: Caller, id: string): Promise<PublicUser> {
  const [row] = await caller.db.select(userColumns).from(users).where(eq(users.id, id));
  if (!row) throw new ApiError('not_found', `No user ${id}.`);
  return row;
}

/**
 * A system admin's changes to a person. Demoting or disabling the last active system admin is
 * refused (409), decided by the UPDATE itself so that two admins demoting each other at once
 * cannot both succeed.
 */
export async function updateUser(caller: Caller, id: string, changes: UserChanges): Promise<PublicUser> {
  await authorize(caller, 'system.admin', { type: 'user', userId: id }, `user ${id}`);
  const before = await findUser(caller, id);
  const now = Date.now();
  const set: Partial<typeof users.$inferInsert> = {};
  if (changes.name !== undefined) set.name = changes.name;
  if (changes.systemRole !== undefined) set.systemRole = changes.systemRole;
  if (changes.disabled !== undefined) set.disabledAt = changes.disabled ? (before.disabledAt ?? now) : null;
  if (Object.keys(set).length === 0) return before;

  const d = caller.db;
  const anotherAdmin = sql`EXISTS (SELECT 1 FROM ${users} AS others WHERE others.system_role = 'system_admin' AND others.disabled_at IS NULL AND others.id != ${id})`;
  const staysAdmin =
    (set.systemRole ?? before.systemRole) === 'system_admin' &&
    (changes.disabled === undefined ? before.disabledAt === null : !changes.disabled);
  // Allowed unless it takes away the last active system admin.
  const keepsAnAdmin: SQL = staysAdmin
    ? sql`1`
    : or(ne(users.systemRole, 'system_admin'), isNotNull(users.disabledAt), anotherAdmin)!;
  // Only when the UPDATE below did disable them.
  const nowDisabled =
    changes.disabled === true
      ? sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${id} AND ${users.disabledAt} IS NOT NULL)`
      : sql`0`;
  const [[row], revoked, ended] = await d.batch([
    d
      .update(users)
      .set(set)
      .where(and(eq(users.id, id), keepsAnAdmin))
      .returning(userColumns),
    // A disabled person's keys stop at once, and their sessions end (tokens are refused while disabled).
    revokeKeysWhere(d, id, nowDisabled),
    d
      .update(sessions)
      .set({ revokedAt: now })
      .where(and(eq(sessions.userId, id), isNull(sessions.revokedAt), nowDisabled))
      .returning({ id: sessions.id }),
    // And a password link made before stops working: re-enabling lets them back in, not a link.
    d
      .update(passwordResets)
      .set({ usedAt: now })
      .where(and(eq(passwordResets.userId, id), isNull(passwordResets.usedAt), nowDisabled)),
  ]);
  if (!row)
    throw new ApiError(
      'conflict',
      'This is the last active system admin: make someone else system admin before demoting or disabling them.',
    );
  await tellGates(caller.env, revoked);
  const fields = Object.keys(changes) as (keyof UserChanges)[];
  await audit(caller, {
    action: 'user.update',
    target: { type: 'user', id },
    detail: {
      fields,
      before: { name: before.name, systemRole: before.systemRole, disabled: before.disabledAt !== null },
      after: { name: row.name, systemRole: row.systemRole, disabled: row.disabledAt !== null },
      ...(revoked.length ? { keysRevoked: revoked.length } : {}),
      ...(ended.length ? { sessionsEnded: ended.length } : {}),
    },
  });
  return row;
}
