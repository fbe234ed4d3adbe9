// Password links. The relay sends no email, so a person who forgot their password (or was added
// without one and has no identity provider) gets back in through a link a system admin makes and
// hands over: a random token shown once and stored hashed, valid for PASSWORD_LINK_TTL_MS, used
// once. Using it sets the password, ends every session the person had (whoever knew the old
// password is out) and signs them in. A newer link voids the older ones.
//
// Only a system admin makes links: a link is a way into someone's account, and an enterprise's
// admins could otherwise take over an account that is also a member elsewhere.
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import { ApiError } from '../api/errors';
import { linkToken, sha256Hex } from '../auth/api-key';
import { forgiveAttempt, limitKeys } from '../auth/login-limits';
import { hashPassword } from '../auth/password';
import { passwordResets, sessions, users } from '../db/schema';
import { auditInsert, auditInsertIf } from './audit';
import { actorId, authorize, type Caller } from './caller';
import { type IssuedSession, type SignInContext, sessionCaller, signIn } from './sessions';

export const PASSWORD_LINK_PREFIX = 'cppwd_';
const TOKEN_PATTERN = /^cppwd_[0-9a-f]{48}$/;
/** Long enough to hand a link over by chat the same day; short enough not to linger. */
export const PASSWORD_LINK_TTL_MS = 24 * 3_600_000;

export interface PasswordLink {
  /** The link's token (`cppwd_…`): shown this once; the dashboard's link is `/password/<token>`. */
  token: string;
  userId: string;
  expiresAt: number;
}

export interface PasswordLinkPreview {
  email: string;
  name: string;
  expiresAt: number;
}

/** A system admin makes a password link for a person; their older links stop working. */
export async function issuePasswordLink(caller: Caller, userId: string): Promise<PasswordLink> {
  await authorize(caller, 'system.admin', { type: 'user', userId }, `user ${userId}`);
  const [user] = await caller.db
    .select({ id: users.id, disabledAt: users.disabledAt })
    .from(users)
    .where(eq(users.id, userId));
  if (!user) throw new ApiError('not_found', `No user ${userId}.`);
  if (user.disabledAt !== null)
    throw new ApiError('conflict', 'This person is disabled: enable them before making a password link.');
  const token = linkToken(PASSWORD_LINK_PREFIX);
  const id = crypto.randomUUID();
  const now = Date.now();
  const expiresAt = now + PASSWORD_LINK_TTL_MS;
  const d = caller.db;
  await d.batch([
    d
      .update(passwordResets)
      .set({ usedAt: now })
      .where(and(eq(passwordResets.userId, userId), isNull(passwordResets.usedAt))),
    d.insert(passwordResets).values({
      id,
      userId,
      tokenHash: await sha256Hex(token),
      createdBy: actorId(caller),
      expiresAt,
    }),
    auditInsert(caller, {
      action: 'user.password_link',
      target: { type: 'user', id: userId },
      detail: { expiresAt },
    }),
  ]);
  return { token, userId, expiresAt };
}

/** Whose link this is, for the page that asks for the new password. */
export async function previewPasswordLink(
  caller: Pick<Caller, 'db'>,
  token: string,
): Promise<PasswordLinkPreview> {
  const { user, link } = await findLink(caller, token);
  return { email: user.email, name: user.name, expiresAt: link.expiresAt };
}

/**
 * Sets the new password and signs the person in. One D1 batch, every statement conditioned on
 * the link still being unused, the link marked used last: of two uses at once, one sets the
 * password and the other changes nothing and gets a 404.
 */
export async function usePasswordLink(
  ctx: SignInContext,
  token: string,
  password: string,
): Promise<IssuedSession> {
  const { user, link } = await findLink(ctx, token);
  if (user.disabledAt !== null)
    throw new ApiError(
      'forbidden',
      'This account has been disabled: ask your administrator to let you back in.',
    );
  const now = Date.now();
  const unused = sql`EXISTS (SELECT 1 FROM ${passwordResets} WHERE ${passwordResets.id} = ${link.id}
    AND ${passwordResets.usedAt} IS NULL AND ${passwordResets.expiresAt} > ${now})`;
  const d = ctx.db;
  const [, , , used] = await d.batch([
    d
      .update(users)
      .set({ passwordHash: await hashPassword(password) })
      .where(and(eq(users.id, user.id), unused)),
    d
      .update(sessions)
      .set({ revokedAt: now })
      .where(and(eq(sessions.userId, user.id), isNull(sessions.revokedAt), unused)),
    // The person acts on their own account; the link is the credential they proved it with.
    auditInsertIf(
      sessionCaller(ctx, user, link.id),
      { action: 'user.password_reset', target: { type: 'user', id: user.id } },
      unused,
    ),
    d
      .update(passwordResets)
      .set({ usedAt: now })
      .where(and(eq(passwordResets.id, link.id), isNull(passwordResets.usedAt)))
      .returning({ id: passwordResets.id }),
    ...forgiveAttempt(d, limitKeys(user.email, ctx.ip)),
  ]);
  if (used.length === 0) throw linkGone();
  return signIn(ctx, user, 'reset');
}

/** One answer for an unknown, used, voided or expired link: a holder learns nothing more. */
function linkGone(): ApiError {
  return new ApiError('not_found', 'This password link is unknown, used or expired: ask for a new one.');
}

async function findLink(caller: Pick<Caller, 'db'>, token: string) {
  if (!TOKEN_PATTERN.test(token)) throw linkGone();
  const [row] = await caller.db
    .select({ link: passwordResets, user: users })
    .from(passwordResets)
    .innerJoin(users, eq(users.id, passwordResets.userId))
    .where(
      and(
        eq(passwordResets.tokenHash, await sha256Hex(token)),
        isNull(passwordResets.usedAt),
        gt(passwordResets.expiresAt, Date.now()),
      ),
    );
  if (!row) throw linkGone();
  return row;
}
