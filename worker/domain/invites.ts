// Invite links into a group. Whoever may invite into it (`user.invite`: its owners, its
// enterprise's owners and admins) makes one: a random token shown once and stored hashed, an
// expiry, a number of uses, optionally the one email that may use it; and may revoke it. Anyone
// holding the token may look at it; a signed-in person accepts it and joins as a member, in one D1
// transaction that checks the invite, takes a use only if they joined, and takes a seat under the
// group's maxMembers trigger: however many accept at once, neither the uses nor the seats overrun.
// A newcomer signs up through the link (email, name, password): their account, their membership and
// the use of the invite are one D1 batch, so a used-up invite or a full group leaves no account behind.
import { and, asc, count, eq, isNull, sql } from 'drizzle-orm';
import { ApiError, RetryLaterError } from '../api/errors';
import { linkToken, sha256Hex } from '../auth/api-key';
import { countAttempt, limitKeys } from '../auth/login-limits';
import {
  enterpriseMembers,
  type Group,
  type GroupMember,
  groupMembers,
  groups,
  type Invite,
  invites,
  users,
} from '../db/schema';
import { auditInsert, auditInsertIf } from './audit';
import { actorId, type Caller } from './caller';
import { authorizedGroup } from './groups';
import { fullConflict } from './members';
import {
  type IssuedSession,
  normalizeEmail,
  passwordUserValues,
  type SignInContext,
  signIn,
} from './sessions';

export const INVITE_PREFIX = 'cpinv_';
const TOKEN_PATTERN = /^cpinv_[0-9a-f]{48}$/;
export const DEFAULT_INVITE_TTL_MS = 7 * 86_400_000;

/**
 * Where an invite stands. `group_full` is the group's state, not the invite's: it may free up.
 * Checked in this order: a revoked invite says so even once expired.
 */
export const INVITE_STATUSES = ['active', 'revoked', 'expired', 'used_up', 'group_full'] as const;
export type InviteStatus = (typeof INVITE_STATUSES)[number];

export type PublicInvite = Omit<Invite, 'tokenHash'> & { status: Exclude<InviteStatus, 'group_full'> };

export interface InviteInput {
  /** From now; default 7 days. */
  expiresInMs?: number;
  maxUses?: number;
  /** Only the person with this email may accept. */
  email?: string | null;
}

function inviteStatus(invite: Invite, now: number): Exclude<InviteStatus, 'group_full'> {
  if (invite.revokedAt !== null) return 'revoked';
  if (invite.expiresAt <= now) return 'expired';
  if (invite.uses >= invite.maxUses) return 'used_up';
  return 'active';
}

function publicInvite({ tokenHash: _hash, ...rest }: Invite, now = Date.now()): PublicInvite {
  return { ...rest, status: inviteStatus({ tokenHash: _hash, ...rest }, now) };
}

export async function createInvite(
  caller: Caller,
  groupId: string,
  input: InviteInput,
): Promise<PublicInvite & { token: string }> {
  const group = await authorizedGroup(caller, groupId, 'user.invite');
  const token = linkToken(INVITE_PREFIX);
  const id = crypto.randomUUID();
  const expiresAt = Date.now() + (input.expiresInMs ?? DEFAULT_INVITE_TTL_MS);
  const email = input.email ? normalizeEmail(input.email) : null;
  const d = caller.db;
  const [[row]] = await d.batch([
    d
      .insert(invites)
      .values({
        id,
        groupId,
        tokenHash: await sha256Hex(token),
        createdBy: actorId(caller),
        expiresAt,
        maxUses: input.maxUses ?? 1,
        email,
      })
      .returning(),
    auditInsert(caller, {
      action: 'invite.create',
      target: { type: 'invite', id },
      enterpriseId: group.enterpriseId,
      groupId,
      detail: { expiresAt, maxUses: input.maxUses ?? 1, email },
    }),
  ]);
  return { ...publicInvite(row!), token };
}

export async function listInvites(caller: Caller, groupId: string): Promise<PublicInvite[]> {
  await authorizedGroup(caller, groupId, 'user.invite');
  const rows = await caller.db
    .select()
    .from(invites)
    .where(eq(invites.groupId, groupId))
    .orderBy(asc(invites.createdAt));
  const now = Date.now();
  return rows.map((r) => publicInvite(r, now));
}

/** Revokes an invite; revoking one already revoked changes nothing. */
export async function revokeInvite(caller: Caller, groupId: string, inviteId: string): Promise<PublicInvite> {
  const group = await authorizedGroup(caller, groupId, 'user.invite');
  const d = caller.db;
  const ofGroup = and(eq(invites.id, inviteId), eq(invites.groupId, groupId));
  const [[row]] = await d.batch([
    d
      .update(invites)
      .set({ revokedAt: Date.now() })
      .where(and(ofGroup, isNull(invites.revokedAt)))
      .returning(),
    auditInsertIf(
      caller,
      {
        action: 'invite.revoke',
        target: { type: 'invite', id: inviteId },
        enterpriseId: group.enterpriseId,
        groupId,
      },
      sql`changes() = 1`,
    ),
  ]);
  if (row) return publicInvite(row);
  const [existing] = await d.select().from(invites).where(ofGroup);
  if (!existing) throw new ApiError('not_found', `No invite ${inviteId} in group ${groupId}.`);
  return publicInvite(existing);
}

export interface InvitePreview {
  status: InviteStatus;
  group: { name: string; kind: Group['kind']; members: number; maxMembers: number };
  /** The name of who made the invite; null for one the operator made. */
  invitedBy: string | null;
  expiresAt: number;
  usesLeft: number;
  /** Whether only one email address may accept it (which one is not shown). */
  emailRestricted: boolean;
}

/** What the holder of an invite link sees, before signing in: the group, who invited, its state. */
export async function previewInvite(caller: Pick<Caller, 'db'>, token: string): Promise<InvitePreview> {
  const invite = await findInvite(caller, token);
  const [[group], [members], [inviter]] = await caller.db.batch([
    caller.db
      .select({ name: groups.name, kind: groups.kind, maxMembers: groups.maxMembers })
      .from(groups)
      .where(eq(groups.id, invite.groupId)),
    caller.db.select({ n: count() }).from(groupMembers).where(eq(groupMembers.groupId, invite.groupId)),
    caller.db
      .select({ name: users.name })
      .from(users)
      .where(eq(users.id, invite.createdBy ?? '')),
  ]);
  const n = members?.n ?? 0;
  const own = inviteStatus(invite, Date.now());
  return {
    status: own === 'active' && n >= group!.maxMembers ? 'group_full' : own,
    group: { name: group!.name, kind: group!.kind, members: n, maxMembers: group!.maxMembers },
    invitedBy: inviter?.name ?? null,
    expiresAt: invite.expiresAt,
    usesLeft: Math.max(0, invite.maxUses - invite.uses),
    emailRestricted: invite.email !== null,
  };
}

/**
 * The signed-in caller joins the invite's group as a member. Refused plainly when the invite is
 * revoked, expired or used up, the group is full, the caller is already in it, or the invite is
 * for another email (these answers carry `details.status`).
 */
/**
 * Whoever joins an enterprise's group through an invite joins the enterprise too, as a member (a
 * role they may already hold stays): the enterprise's people list shows them, and removing them
 * from the enterprise takes them out of its groups. Written only if the join happened.
 */
function joinEnterpriseOf(d: Caller['db'], groupId: string, userId: string) {
  return d
    .insert(enterpriseMembers)
    .select(
      sql`SELECT ${groups.enterpriseId}, ${userId}, 'member', CAST(unixepoch('subsec') * 1000 AS INTEGER)
        FROM ${groups}
        WHERE ${groups.id} = ${groupId} AND ${groups.enterpriseId} IS NOT NULL
          AND EXISTS (SELECT 1 FROM ${groupMembers}
            WHERE ${groupMembers.groupId} = ${groupId} AND ${groupMembers.userId} = ${userId})`,
    )
    .onConflictDoNothing();
}

export async function acceptInvite(
  caller: Caller,
  token: string,
): Promise<{ group: Group; member: GroupMember }> {
  const userId = actorId(caller);
  if (!userId)
    throw new ApiError('invalid_request', 'An invite is accepted by a person: the operator token is none.');
  const invite = await findInvite(caller, token);
  const [user] = await caller.db.select({ email: users.email }).from(users).where(eq(users.id, userId));
  if (invite.email !== null && invite.email !== (user ? normalizeEmail(user.email) : undefined))
    throw wrongEmail();

  const d = caller.db;
  const [already] = await d
    .select({ userId: groupMembers.userId })
    .from(groupMembers)
    .where(and(eq(groupMembers.groupId, invite.groupId), eq(groupMembers.userId, userId)));
  if (already) throw alreadyMember();
  const now = Date.now();
  let joined: GroupMember | undefined;
  try {
    [[joined]] = await d.batch([
      // The invite is checked in the insert itself; the trigger on group_members checks the seat.
      d
        .insert(groupMembers)
        .select(
          sql`SELECT ${invites.groupId}, ${userId}, 'member', CAST(unixepoch('subsec') * 1000 AS INTEGER)
            FROM ${invites}
            WHERE ${invites.id} = ${invite.id} AND ${invites.revokedAt} IS NULL AND ${invites.expiresAt} > ${now}
              AND ${invites.uses} < ${invites.maxUses}
              AND (${invites.email} IS NULL
                OR ${invites.email} = (SELECT lower(email) FROM ${users} WHERE id = ${userId}))`,
        )
        .onConflictDoNothing()
        .returning(),
      // A use is taken only by a join that happened.
      d
        .update(invites)
        .set({ uses: sql`${invites.uses} + 1` })
        .where(and(eq(invites.id, invite.id), sql`changes() = 1`)),
      auditInsertIf(
        caller,
        {
          action: 'invite.accept',
          target: { type: 'invite', id: invite.id },
          groupId: invite.groupId,
          detail: { userId },
        },
        sql`changes() = 1`,
      ),
      joinEnterpriseOf(d, invite.groupId, userId),
    ]);
  } catch (err) {
    const full = fullConflict(err, { id: invite.groupId });
    if (full) throw new ApiError('conflict', 'The group is full.', { status: 'group_full' });
    throw err;
  }
  if (!joined) throw await whyNotJoined(caller, invite.id, userId);
  const [group] = await d.select().from(groups).where(eq(groups.id, invite.groupId));
  return { group: group!, member: joined };
}

export interface SignUpInput {
  email: string;
  name: string;
  password: string;
}

/**
 * A newcomer opens an invite link and signs up: their account is created, they join the group as
 * a member, the invite loses a use, and they are signed in. The account is written only if the
 * join happens: the user's INSERT is conditional on the invite (in the same batch that takes the
 * seat, which the maxMembers trigger guards), so a revoked, expired or used-up invite, a full group
 * or a race lost to another sign-up leaves nothing behind. An email that already has an account is
 * a 409 telling them to sign in and accept instead.
 */
export async function signUpWithInvite(
  ctx: SignInContext,
  token: string,
  input: SignUpInput,
): Promise<IssuedSession & { group: Group; member: GroupMember }> {
  const invite = await findInvite(ctx, token);
  const email = normalizeEmail(input.email);
  // Plain answers first, before the password's hashing work.
  const status = inviteStatus(invite, Date.now());
  if (status !== 'active') throw inviteRefusal(status);
  if (invite.email !== null && invite.email !== email) throw wrongEmail();
  const [existing] = await ctx.db.select({ id: users.id }).from(users).where(eq(users.email, email));
  if (existing) throw await accountExists(ctx, email);

  const values = await passwordUserValues({ email, name: input.name, password: input.password });
  const userId = values.id!;
  const self: Caller = {
    principal: { kind: 'user', userId, systemRole: 'user', via: 'session', credentialId: 'invite-sign-up' },
    db: ctx.db,
    env: ctx.env,
    ip: ctx.ip,
  };
  const d = ctx.db;
  const now = Date.now();
  const created = sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${userId})`;
  let row: typeof users.$inferSelect | undefined;
  let joined: GroupMember | undefined;
  try {
    [[row], [joined]] = await d.batch([
      // Every column of users, in order; only while the invite can still be used by this email.
      d
        .insert(users)
        .select(
          sql`SELECT ${userId}, ${email}, ${input.name}, 'user', NULL, ${values.passwordHash!}, ${now}
            FROM ${invites}
            WHERE ${invites.id} = ${invite.id} AND ${invites.revokedAt} IS NULL AND ${invites.expiresAt} > ${now}
              AND ${invites.uses} < ${invites.maxUses}
              AND (${invites.email} IS NULL OR ${invites.email} = ${email})`,
        )
        .onConflictDoNothing()
        .returning(),
      // The seat: the group_members trigger aborts the whole batch (the user too) when it is full.
      d
        .insert(groupMembers)
        .select(sql`SELECT ${invite.groupId}, ${userId}, 'member', ${now} WHERE ${created}`)
        .returning(),
      d
        .update(invites)
        .set({ uses: sql`${invites.uses} + 1` })
        .where(and(eq(invites.id, invite.id), sql`changes() = 1`)),
      auditInsertIf(
        self,
        {
          action: 'user.create',
          target: { type: 'user', id: userId },
          detail: { email, name: input.name, via: 'invite', inviteId: invite.id },
        },
        created,
      ),
      auditInsertIf(
        self,
        {
          action: 'invite.accept',
          target: { type: 'invite', id: invite.id },
          groupId: invite.groupId,
          detail: { userId, signedUp: true },
        },
        created,
      ),
      joinEnterpriseOf(d, invite.groupId, userId),
    ]);
  } catch (err) {
    if (fullConflict(err, { id: invite.groupId }))
      throw new ApiError('conflict', 'The group is full.', { status: 'group_full' });
    throw err;
  }
  if (!row || !joined) {
    const [taken] = await d.select({ id: users.id }).from(users).where(eq(users.email, email));
    if (taken) throw await accountExists(ctx, email);
    const [current] = await d.select().from(invites).where(eq(invites.id, invite.id));
    const after = current ? inviteStatus(current, Date.now()) : 'revoked';
    throw after === 'active' ? wrongEmail() : inviteRefusal(after);
  }
  const [group] = await d.select().from(groups).where(eq(groups.id, invite.groupId));
  const issued = await signIn(ctx, row, 'invite');
  return { ...issued, group: group!, member: joined };
}

function wrongEmail(): ApiError {
  return new ApiError('forbidden', 'This invite is for another email address.', { status: 'wrong_email' });
}

/**
 * The 409 tells whoever holds an invite link that an email has an account, which the link does
 * not entitle them to ask in bulk: each such answer counts as a failed sign-in, for the email and
 * for the client's address (docs/auth.md), and past those limits the answer is a 429 that says
 * nothing about the email. Asking with an email that has no account is no cheaper: it makes one,
 * in the inviter's group.
 */
async function accountExists(ctx: SignInContext, email: string): Promise<ApiError> {
  const admission = await countAttempt(ctx.db, limitKeys(email, ctx.ip));
  if (!admission.allowed)
    return new RetryLaterError(
      `Too many failed attempts. Try again in ${admission.retryAfterSeconds} seconds.`,
      admission.retryAfterSeconds,
    );
  return new ApiError(
    'conflict',
    'An account with this email already exists: sign in, then accept the invite (POST /api/v1/invites/{token}/accept).',
    { status: 'account_exists' },
  );
}

async function whyNotJoined(caller: Caller, inviteId: string, userId: string): Promise<ApiError> {
  const [invite] = await caller.db.select().from(invites).where(eq(invites.id, inviteId));
  if (!invite) return new ApiError('not_found', 'No such invite.');
  const status = inviteStatus(invite, Date.now());
  if (status !== 'active') return inviteRefusal(status);
  const [member] = await caller.db
    .select({ userId: groupMembers.userId })
    .from(groupMembers)
    .where(and(eq(groupMembers.groupId, invite.groupId), eq(groupMembers.userId, userId)));
  if (member) return alreadyMember();
  return wrongEmail();
}

function alreadyMember(): ApiError {
  return new ApiError('conflict', 'You are already a member of this group.', { status: 'already_member' });
}

function inviteRefusal(status: Exclude<InviteStatus, 'active' | 'group_full'>): ApiError {
  const message = {
    revoked: 'This invite has been revoked.',
    expired: 'This invite has expired.',
    used_up: 'This invite has been used as many times as it allows.',
  }[status];
  return new ApiError('conflict', message, { status });
}

async function findInvite(caller: Pick<Caller, 'db'>, token: string): Promise<Invite> {
  const notFound = new ApiError('not_found', 'No such invite.');
  if (!TOKEN_PATTERN.test(token)) throw notFound;
  const [invite] = await caller.db
    .select()
    .from(invites)
    .where(eq(invites.tokenHash, await sha256Hex(token)));
  if (!invite) throw notFound;
  return invite;
}
