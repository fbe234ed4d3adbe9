// Personal access tokens: a person's own credential for scripts (`Authorization: Bearer cpat_…`),
// acting with exactly that person's roles. A person manages their own; a system admin may mint
// one for any user (automation, and tests acting as a user). Making one takes a recent sign-in.
import { and, desc, eq, isNull } from 'drizzle-orm';
import { ApiError, fieldRefusal } from '../api/errors';
import { sha256Hex, toHex } from '../auth/api-key';
import { type PersonalAccessToken, personalAccessTokens, users } from '../db/schema';
import { audit } from './audit';
import { authorize, type Caller, type Principal } from './caller';

export const TOKEN_PREFIX = 'cpat_';
const TOKEN_PATTERN = /^cpat_[0-9a-f]{40}$/;

export type PublicToken = Omit<PersonalAccessToken, 'tokenHash'>;

function publicToken({ tokenHash: _hash, ...rest }: PersonalAccessToken): PublicToken {
  return rest;
}

export interface TokenInput {
  name: string;
  /** Milliseconds since the epoch; none: until revoked. */
  expiresAt?: number | null;
}

/**
 * How recent a session's sign-in must be to make a token. A token outlives every session and
 * survives a password change, so a stolen session cookie (or a token) must not be able to mint
 * one: making one takes a sign-in, as GitHub's sudo mode does.
 */
export const RECENT_SIGN_IN_MS = 15 * 60_000;

/** 403 `details.status: sign_in_again` unless the caller signed in moments ago (or is the operator). */
function requireRecentSignIn({ principal }: Caller): void {
  if (principal.kind === 'operator') return;
  if (principal.via === 'token')
    throw new ApiError(
      'forbidden',
      'A personal access token cannot make tokens: sign in to the dashboard and make it there.',
      { status: 'sign_in_again' },
    );
  if (principal.signedInAt === undefined || Date.now() - principal.signedInAt > RECENT_SIGN_IN_MS)
    throw new ApiError(
      'forbidden',
      'Sign in again to make a personal access token: this session signed in more than 15 minutes ago.',
      { status: 'sign_in_again' },
    );
}

export async function createToken(
  caller: Caller,
  userId: string,
  input: TokenInput,
): Promise<PublicToken & { token: string }> {
  await authorize(caller, 'profile.manage', { type: 'user', userId }, `user ${userId}`);
  requireRecentSignIn(caller);
  const [user] = await caller.db.select({ id: users.id }).from(users).where(eq(users.id, userId));
  if (!user) throw new ApiError('not_found', `No user ${userId}.`);
  if (input.expiresAt != null && input.expiresAt <= Date.now())
    throw fieldRefusal(
      'expiresAt',
      'must be in the future.',
      { rule: 'future' },
      'expiresAt must be in the future.',
    );
  const token = `${TOKEN_PREFIX}${toHex(crypto.getRandomValues(new Uint8Array(20)))}`;
  const [row] = await caller.db
    .insert(personalAccessTokens)
    .values({
      id: crypto.randomUUID(),
      userId,
      name: input.name,
      tokenHash: await sha256Hex(token),
      prefix: `${token.slice(0, 11)}…${token.slice(-4)}`,
      expiresAt: input.expiresAt ?? null,
    })
    .returning();
  await audit(caller, {
    action: 'token.create',
    target: { type: 'token', id: row!.id },
    detail: { userId, name: input.name, expiresAt: input.expiresAt ?? null },
  });
  return { ...publicToken(row!), token };
}

export async function listTokens(caller: Caller, userId: string): Promise<PublicToken[]> {
  await authorize(caller, 'profile.manage', { type: 'user', userId }, `user ${userId}`);
  const rows = await caller.db
    .select()
    .from(personalAccessTokens)
    .where(eq(personalAccessTokens.userId, userId))
    .orderBy(desc(personalAccessTokens.createdAt));
  return rows.map(publicToken);
}

export async function revokeToken(caller: Caller, userId: string, tokenId: string): Promise<PublicToken> {
  await authorize(caller, 'profile.manage', { type: 'user', userId }, `user ${userId}`);
  const [row] = await caller.db
    .update(personalAccessTokens)
    .set({ revokedAt: Date.now() })
    .where(
      and(
        eq(personalAccessTokens.id, tokenId),
        eq(personalAccessTokens.userId, userId),
        isNull(personalAccessTokens.revokedAt),
      ),
    )
    .returning();
  if (!row) throw new ApiError('not_found', `No active token ${tokenId}.`);
  await audit(caller, { action: 'token.revoke', target: { type: 'token', id: tokenId }, detail: { userId } });
  return publicToken(row);
}

/** The principal a bearer token stands for, or null when it is not a valid personal access token. */
export async function principalOfToken(caller: Pick<Caller, 'db'>, token: string): Promise<Principal | null> {
  if (!TOKEN_PATTERN.test(token)) return null;
  const now = Date.now();
  const [row] = await caller.db
    .select({
      id: personalAccessTokens.id,
      userId: personalAccessTokens.userId,
      expiresAt: personalAccessTokens.expiresAt,
      revokedAt: personalAccessTokens.revokedAt,
      lastUsedAt: personalAccessTokens.lastUsedAt,
      systemRole: users.systemRole,
      disabledAt: users.disabledAt,
    })
    .from(personalAccessTokens)
    .innerJoin(users, eq(users.id, personalAccessTokens.userId))
    .where(eq(personalAccessTokens.tokenHash, await sha256Hex(token)));
  if (!row || row.revokedAt !== null || (row.expiresAt !== null && row.expiresAt <= now)) return null;
  // A disabled person's tokens stop working; they work again if the person is let back in.
  if (row.disabledAt !== null) return null;
  // Last use to the minute is enough, and spares a write per call.
  if (row.lastUsedAt === null || now - row.lastUsedAt > 60_000) {
    await caller.db
      .update(personalAccessTokens)
      .set({ lastUsedAt: now })
      .where(eq(personalAccessTokens.id, row.id));
  }
  return { kind: 'user', userId: row.userId, systemRole: row.systemRole, via: 'token', credentialId: row.id };
}
