// Sign-in and sessions: password sign-in (rate-limited, one answer for every failure), issuing a
// session (the cookie's random token; D1 keeps its SHA-256), resolving a session back to its
// principal, sign-out here or everywhere, password change, and a person's list of sessions.
//
// For other parts of the people layer (invites, setup, OIDC): `createPasswordUser` /
// `passwordUserValues` make a user who signs in with a password, and `signIn` opens a session for
// a user already proven to be who they are; the route sets the cookie (worker/auth/session-cookie.ts).
import { and, desc, eq, gt, isNull, ne, or, sql } from 'drizzle-orm';
import { ApiError, RetryLaterError } from '../api/errors';
import { sha256Hex } from '../auth/api-key';
import { randomToken } from '../auth/encoding';
import { countAttempt, forgiveAttempt, limitKeys } from '../auth/login-limits';
import { hashPassword, verifyPassword } from '../auth/password';
import type { Db } from '../db/client';
import { type Session, sessions, type User, users } from '../db/schema';
import { audit, auditInsert } from './audit';
import { authorize, type Caller, type Principal } from './caller';

/** Everything a sign-in needs to know about the request, before there is a principal. */
export interface SignInContext {
  db: Db;
  env: Env;
  ip: string | null;
  userAgent: string | null;
}

export type PublicUser = Omit<User, 'passwordHash'>;
export type PublicSession = Omit<Session, 'tokenHash'>;

export interface IssuedSession {
  /** The cookie's value: shown to the browser once, stored only hashed. */
  token: string;
  session: PublicSession;
  user: PublicUser;
}

const SESSION_TOKEN = /^[A-Za-z0-9_-]{43}$/;
const USER_AGENT_MAX = 256;
/** Last use to the minute is enough, and spares a write per request. */
const LAST_SEEN_GRANULARITY_MS = 60_000;

export function publicUser({ passwordHash: _hash, ...rest }: User): PublicUser {
  return rest;
}

function publicSession({ tokenHash: _hash, ...rest }: Session): PublicSession {
  return rest;
}

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** How long sessions last: SESSION_TTL_MS at most (30 days), SESSION_IDLE_TTL_MS unused (7 days). */
export function sessionLifetimes(env: Env): { ttlMs: number; idleMs: number } {
  return {
    ttlMs: positive(env.SESSION_TTL_MS, 30 * 24 * 3_600_000),
    idleMs: positive(env.SESSION_IDLE_TTL_MS, 7 * 24 * 3_600_000),
  };
}

/**
 * Emails are compared as typed, without surrounding space and ASCII case. Only ASCII letters are
 * folded: `toLowerCase` also turns the Kelvin sign (U+212A) into `k`, so a provider vouching for
 * `\u212Aelvin@…` would have signed in as `kelvin@…`.
 */
export function normalizeEmail(email: string): string {
  return email.trim().replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
}

/** The row of a new user who signs in with a password, hash computed: insert it alone or in a batch. */
export async function passwordUserValues(input: {
  email: string;
  name: string;
  password: string;
  systemRole?: User['systemRole'];
}): Promise<typeof users.$inferInsert> {
  return {
    id: crypto.randomUUID(),
    email: normalizeEmail(input.email),
    name: input.name,
    systemRole: input.systemRole ?? 'user',
    passwordHash: await hashPassword(input.password),
  };
}

/** Creates a user who signs in with a password; 409 when the email is taken. */
export async function createPasswordUser(
  db: Db,
  input: { email: string; name: string; password: string },
): Promise<PublicUser> {
  const values = await passwordUserValues(input);
  const [row] = await db.insert(users).values(values).onConflictDoNothing().returning();
  if (!row) throw new ApiError('conflict', `A user with email ${values.email} already exists.`);
  return publicUser(row);
}

/** The caller a freshly signed-in person acts as, for the audit log of their own sign-in. */
export function sessionCaller(
  ctx: SignInContext,
  user: Pick<User, 'id' | 'systemRole'>,
  sessionId: string,
): Caller {
  return {
    principal: {
      kind: 'user',
      userId: user.id,
      systemRole: user.systemRole,
      via: 'session',
      credentialId: sessionId,
    },
    db: ctx.db,
    env: ctx.env,
    ip: ctx.ip,
  };
}

/**
 * Opens a session for a user whose identity has been proven (a password, the setup token, an
 * OIDC provider, an accepted invite). Also sweeps the user's own dead sessions.
 */
export async function signIn(
  ctx: SignInContext,
  user: User | PublicUser,
  method: Session['method'],
): Promise<IssuedSession> {
  // However they proved who they are (password, OIDC, an invite), a disabled person gets no session.
  if (user.disabledAt !== null) throw accountDisabled();
  const now = Date.now();
  const { ttlMs, idleMs } = sessionLifetimes(ctx.env);
  const token = randomToken(32);
  const id = crypto.randomUUID();
  const [, inserted] = await ctx.db.batch([
    ctx.db
      .delete(sessions)
      .where(
        and(
          eq(sessions.userId, user.id),
          or(
            sql`${sessions.expiresAt} <= ${now}`,
            sql`${sessions.lastSeenAt} <= ${now - idleMs}`,
            sql`${sessions.revokedAt} IS NOT NULL`,
          ),
        ),
      ),
    ctx.db
      .insert(sessions)
      .values({
        id,
        userId: user.id,
        tokenHash: await sha256Hex(token),
        method,
        createdAt: now,
        expiresAt: now + ttlMs,
        lastSeenAt: now,
        userAgent: ctx.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
        ip: ctx.ip,
      })
      .returning(),
    auditInsert(sessionCaller(ctx, user, id), {
      action: 'session.create',
      target: { type: 'session', id },
      detail: { userId: user.id, method },
    }),
  ]);
  const { passwordHash: _hash, ...rest } = user as User;
  return { token, session: publicSession(inserted[0]!), user: rest };
}

/** Said only to someone who proved who they are: a guesser never learns the account is disabled. */
function accountDisabled(): ApiError {
  return new ApiError(
    'forbidden',
    'This account has been disabled: ask your administrator to let you back in.',
  );
}

/** Raised for every failed password sign-in: the same words whatever went wrong. */
const WRONG_CREDENTIALS = 'Wrong email or password.';

/**
 * Email and password sign-in. An unknown email, a person without a password and a wrong password
 * get the same 401 after the same PBKDF2 work; too many failures per account or per address get a
 * 429 with how long to wait, before any password is checked.
 */
export async function signInWithPassword(
  ctx: SignInContext,
  input: { email: string; password: string },
): Promise<IssuedSession> {
  const email = normalizeEmail(input.email);
  const keys = limitKeys(email, ctx.ip);
  const admission = await countAttempt(ctx.db, keys);
  if (!admission.allowed) {
    throw new RetryLaterError(
      `Too many failed sign-in attempts. Try again in ${admission.retryAfterSeconds} seconds.`,
      admission.retryAfterSeconds,
    );
  }
  const [user] = await ctx.db.select().from(users).where(eq(users.email, email));
  const verification = await verifyPassword(input.password, user?.passwordHash ?? null);
  if (!user || !verification.ok)
    throw new ApiError('unauthorized', WRONG_CREDENTIALS, { status: 'wrong_credentials' });
  await ctx.db.batch([
    ...forgiveAttempt(ctx.db, keys),
    ...(verification.needsRehash
      ? [
          ctx.db
            .update(users)
            .set({ passwordHash: await hashPassword(input.password) })
            .where(eq(users.id, user.id)),
        ]
      : []),
  ]);
  return signIn(ctx, user, 'password');
}

/** The principal a session cookie stands for, or null when it is unknown, expired or revoked. */
export async function principalOfSession(
  ctx: Pick<SignInContext, 'db' | 'env'>,
  token: string,
): Promise<Principal | null> {
  if (!SESSION_TOKEN.test(token)) return null;
  const now = Date.now();
  const { idleMs } = sessionLifetimes(ctx.env);
  const [row] = await ctx.db
    .select({
      id: sessions.id,
      userId: sessions.userId,
      createdAt: sessions.createdAt,
      expiresAt: sessions.expiresAt,
      lastSeenAt: sessions.lastSeenAt,
      revokedAt: sessions.revokedAt,
      systemRole: users.systemRole,
      disabledAt: users.disabledAt,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.tokenHash, await sha256Hex(token)));
  if (!row || row.revokedAt !== null || row.expiresAt <= now || row.lastSeenAt + idleMs <= now) return null;
  // Disabling revokes a person's sessions; this also covers one opened in the same instant.
  if (row.disabledAt !== null) return null;
  if (now - row.lastSeenAt > LAST_SEEN_GRANULARITY_MS) {
    await ctx.db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, row.id));
  }
  return {
    kind: 'user',
    userId: row.userId,
    systemRole: row.systemRole,
    via: 'session',
    credentialId: row.id,
    signedInAt: row.createdAt,
  };
}

/** Ends the session this cookie holds, if it is one (sign-out needs no other proof than the cookie). */
export async function signOut(ctx: Pick<SignInContext, 'db'>, caller: Caller | null, token: string | null) {
  if (!token || !SESSION_TOKEN.test(token)) return;
  const [row] = await ctx.db
    .update(sessions)
    .set({ revokedAt: Date.now() })
    .where(and(eq(sessions.tokenHash, await sha256Hex(token)), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id, userId: sessions.userId });
  if (row && caller)
    await audit(caller, {
      action: 'session.revoke',
      target: { type: 'session', id: row.id },
      detail: { userId: row.userId },
    });
}

function active(now: number, idleMs: number) {
  return and(isNull(sessions.revokedAt), gt(sessions.expiresAt, now), gt(sessions.lastSeenAt, now - idleMs));
}

/** The caller's own session, when they came with one. */
function currentSessionId(caller: Caller): string | null {
  const p = caller.principal;
  return p.kind === 'user' && p.via === 'session' ? p.credentialId : null;
}

/** Ends every session of a user (personal access tokens stay). Returns how many ended. */
export async function signOutEverywhere(caller: Caller, userId: string): Promise<number> {
  await authorize(caller, 'profile.manage', { type: 'user', userId }, `user ${userId}`);
  const ended = await caller.db
    .update(sessions)
    .set({ revokedAt: Date.now() })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
  await audit(caller, {
    action: 'session.revoke_all',
    target: { type: 'user', id: userId },
    detail: { sessions: ended.length },
  });
  return ended.length;
}

export type ListedSession = PublicSession & { current: boolean };

export async function listSessions(caller: Caller, userId: string): Promise<ListedSession[]> {
  await authorize(caller, 'profile.manage', { type: 'user', userId }, `user ${userId}`);
  const { idleMs } = sessionLifetimes(caller.env);
  const rows = await caller.db
    .select()
    .from(sessions)
    .where(and(eq(sessions.userId, userId), active(Date.now(), idleMs)))
    .orderBy(desc(sessions.lastSeenAt));
  const current = currentSessionId(caller);
  return rows.map((row) => ({ ...publicSession(row), current: row.id === current }));
}

export async function revokeSession(
  caller: Caller,
  userId: string,
  sessionId: string,
): Promise<PublicSession> {
  await authorize(caller, 'profile.manage', { type: 'user', userId }, `user ${userId}`);
  const { idleMs } = sessionLifetimes(caller.env);
  const now = Date.now();
  const [row] = await caller.db
    .update(sessions)
    .set({ revokedAt: now })
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), active(now, idleMs)))
    .returning();
  if (!row) throw new ApiError('not_found', `No active session ${sessionId}.`);
  await audit(caller, {
    action: 'session.revoke',
    target: { type: 'session', id: sessionId },
    detail: { userId },
  });
  return publicSession(row);
}

/**
 * A person changes their password, proving the current one (which counts against the account's
 * sign-in limit, so a stolen session cannot guess it). Every other session ends; the one making
 * the change, and personal access tokens, stay.
 */
export async function changePassword(
  caller: Caller,
  userId: string,
  input: { currentPassword: string; newPassword: string },
): Promise<{ sessionsEnded: number }> {
  await authorize(caller, 'profile.manage', { type: 'user', userId }, `user ${userId}`);
  const [user] = await caller.db.select().from(users).where(eq(users.id, userId));
  if (!user) throw new ApiError('not_found', `No user ${userId}.`);
  if (user.passwordHash === null)
    throw new ApiError(
      'invalid_request',
      'This account has no password: it signs in through its identity provider.',
    );
  const keys = limitKeys(user.email, caller.ip);
  const admission = await countAttempt(caller.db, keys);
  if (!admission.allowed)
    throw new RetryLaterError(
      `Too many failed attempts. Try again in ${admission.retryAfterSeconds} seconds.`,
      admission.retryAfterSeconds,
    );
  if (!(await verifyPassword(input.currentPassword, user.passwordHash)).ok)
    throw new ApiError('forbidden', 'The current password is wrong.', { status: 'wrong_password' });
  const keep = currentSessionId(caller);
  const now = Date.now();
  const [ended] = await caller.db.batch([
    caller.db
      .update(sessions)
      .set({ revokedAt: now })
      .where(
        and(
          eq(sessions.userId, userId),
          isNull(sessions.revokedAt),
          keep ? ne(sessions.id, keep) : undefined,
        ),
      )
      .returning({ id: sessions.id }),
    caller.db
      .update(users)
      .set({ passwordHash: await hashPassword(input.newPassword) })
      .where(eq(users.id, userId)),
    ...forgiveAttempt(caller.db, keys),
    auditInsert(caller, { action: 'user.password_change', target: { type: 'user', id: userId } }),
  ]);
  return { sessionsEnded: ended.length };
}
