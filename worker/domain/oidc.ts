// Sign-in through an OIDC provider. `startOidcSignIn` records a sign-in in flight (hashes of its
// state, nonce and PKCE verifier; the verifier itself goes to the browser in a cookie, which binds
// the flow to that browser) and names the provider's authorization URL. `finishOidcSignIn` takes
// the callback: the state is consumed once, the code exchanged with the verifier, the ID token
// verified, and the identity (issuer, subject) resolved to a user:
//   1. an identity already linked signs in as its user;
//   2. otherwise the provider must vouch for the email (`email_verified`): a user with that email
//      gets the identity linked (claimed from whoever set a password on it, see `claimUser`), and
//      if there is none, a user is created (no roles until invited);
//   3. an unverified email is refused, so nobody can claim someone else's address.
import { and, eq, gt, isNull, lte, sql } from 'drizzle-orm';
import { ApiError } from '../api/errors';
import { randomToken, sha256Base64url } from '../auth/encoding';
import {
  authorizationUrl,
  discover,
  exchangeCode,
  type IdTokenClaims,
  type OidcConfig,
  oidcConfig,
  pkceChallenge,
  verifyIdToken,
} from '../auth/oidc';
import { allowedOrigins } from '../auth/origin';
import {
  oidcLogins,
  passwordResets,
  personalAccessTokens,
  sessions,
  type User,
  userIdentities,
  users,
} from '../db/schema';
import { audit, auditInsert } from './audit';
import type { Caller } from './caller';
import { revokeKeysWhere, tellGates } from './key-revocation';
import { type IssuedSession, normalizeEmail, type SignInContext, signIn } from './sessions';

/** How long a browser has between leaving for the provider and coming back. */
export const OIDC_FLOW_TTL_MS = 10 * 60_000;
const NAME_MAX = 100;

function configured(env: Env): OidcConfig {
  const config = oidcConfig(env);
  if (!config)
    throw new ApiError(
      'not_found',
      'Sign-in with an identity provider is not configured (OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET).',
    );
  return config;
}

/**
 * Where a browser may be sent after signing in: a path on this origin, or a URL on an allowed
 * dashboard origin. Anything else (another site, `//host`) is refused: no open redirect.
 */
export function safeReturnTo(env: Env, returnTo: string | undefined): string {
  if (returnTo === undefined || returnTo === '') return '/';
  // Browsers drop tabs and line breaks inside a URL (`/\t/evil.test` is `//evil.test`), and a
  // header cannot carry them: refused outright, then the path is read as a browser reads it.
  if (/\p{Cc}/u.test(returnTo)) throw refusedReturnTo();
  if (/^\/(?![/\\])/.test(returnTo)) {
    const url = new URL(returnTo, 'https://relay.invalid');
    if (url.origin === 'https://relay.invalid') return url.pathname + url.search + url.hash;
    throw refusedReturnTo();
  }
  try {
    if (allowedOrigins(env).has(new URL(returnTo).origin)) return returnTo;
  } catch {}
  throw refusedReturnTo();
}

const refusedReturnTo = () =>
  new ApiError('invalid_request', 'returnTo must be a path, or a URL on an allowed dashboard origin.');

export async function startOidcSignIn(
  ctx: SignInContext,
  input: { redirectUri: string; returnTo?: string },
): Promise<{ location: string; verifier: string }> {
  const config = configured(ctx.env);
  const returnTo = safeReturnTo(ctx.env, input.returnTo);
  const discovery = await discover(config);
  const state = randomToken(32);
  const nonce = randomToken(32);
  const verifier = randomToken(32);
  const now = Date.now();
  await ctx.db.batch([
    ctx.db.delete(oidcLogins).where(lte(oidcLogins.expiresAt, now)),
    ctx.db.insert(oidcLogins).values({
      stateHash: await sha256Base64url(state),
      nonceHash: await sha256Base64url(nonce),
      verifierHash: await sha256Base64url(verifier),
      returnTo,
      expiresAt: now + OIDC_FLOW_TTL_MS,
    }),
  ]);
  const location = authorizationUrl(discovery, config, {
    redirectUri: input.redirectUri,
    state,
    nonce,
    codeChallenge: await pkceChallenge(verifier),
  });
  return { location, verifier };
}

export interface CallbackInput {
  state?: string;
  code?: string;
  error?: string;
  error_description?: string;
  iss?: string;
}

export async function finishOidcSignIn(
  ctx: SignInContext,
  input: CallbackInput,
  verifier: string | null,
  redirectUri: string,
): Promise<{ issued: IssuedSession; returnTo: string }> {
  const config = configured(ctx.env);
  if (!input.state) throw new ApiError('invalid_request', 'The callback carries no state.');
  // Consumed whatever happens next: a state is good for one callback.
  const [flow] = await ctx.db
    .delete(oidcLogins)
    .where(
      and(eq(oidcLogins.stateHash, await sha256Base64url(input.state)), gt(oidcLogins.expiresAt, Date.now())),
    )
    .returning();
  if (!flow)
    throw new ApiError('invalid_request', 'This sign-in has expired or was already used: start it again.');
  if (!verifier || (await sha256Base64url(verifier)) !== flow.verifierHash)
    throw new ApiError(
      'invalid_request',
      'This sign-in was started in another browser: start it again here.',
    );
  // RFC 9207: a provider that names itself in the callback must be ours.
  if (input.iss !== undefined && input.iss !== config.issuer)
    throw new ApiError('unauthorized', 'The callback names another identity provider (iss).');
  if (input.error)
    throw new ApiError(
      'unauthorized',
      `The identity provider did not sign you in: ${input.error.slice(0, 64)}${
        input.error_description ? ` (${input.error_description.slice(0, 200)})` : ''
      }.`,
    );
  if (!input.code) throw new ApiError('invalid_request', 'The callback carries no code.');
  const discovery = await discover(config);
  const idToken = await exchangeCode(discovery, config, { code: input.code, redirectUri, verifier });
  const claims = await verifyIdToken(discovery, config, idToken, { nonceHash: flow.nonceHash });
  const user = await userOfIdentity(ctx, config.issuer, claims);
  return { issued: await signIn(ctx, user, 'oidc'), returnTo: flow.returnTo };
}

/** The person acting for themself, as the audit log records it: their session does not exist yet. */
function selfCaller(ctx: SignInContext, userId: string): Caller {
  return {
    principal: { kind: 'user', userId, systemRole: 'user', via: 'session', credentialId: 'oidc-callback' },
    db: ctx.db,
    env: ctx.env,
    ip: ctx.ip,
  };
}

async function linkedUser(ctx: SignInContext, issuer: string, subject: string): Promise<User | undefined> {
  const [row] = await ctx.db
    .select({ user: users })
    .from(userIdentities)
    .innerJoin(users, eq(users.id, userIdentities.userId))
    .where(and(eq(userIdentities.issuer, issuer), eq(userIdentities.subject, subject)));
  return row?.user;
}

/**
 * Links the identity to the user who has its email. Nothing proved that user's email before: a
 * password is set by whoever typed the address (an invite's sign-up sends no mail), so someone
 * could have made the account ahead of its real owner. The provider's word wins: when the user has
 * a password and no identity yet, the password is cleared and every credential made under it
 * ends (sessions, personal access tokens, keys), in the batch that links the identity.
 */
async function claimUser(
  ctx: SignInContext,
  existing: User,
  identity: Omit<typeof userIdentities.$inferInsert, 'userId'>,
): Promise<User> {
  const d = ctx.db;
  const id = existing.id;
  const [linkedBefore] = await d
    .select({ subject: userIdentities.subject })
    .from(userIdentities)
    .where(eq(userIdentities.userId, id))
    .limit(1);
  const unproven = existing.passwordHash !== null && !linkedBefore;
  const now = Date.now();
  const claim = unproven ? sql`1` : sql`0`;
  const [, , revoked, ended, tokens] = await d.batch([
    d.insert(userIdentities).values({ ...identity, userId: id }),
    d
      .update(users)
      .set({ passwordHash: null })
      .where(and(eq(users.id, id), claim)),
    revokeKeysWhere(d, id, claim),
    d
      .update(sessions)
      .set({ revokedAt: now })
      .where(and(eq(sessions.userId, id), isNull(sessions.revokedAt), claim))
      .returning({ id: sessions.id }),
    d
      .update(personalAccessTokens)
      .set({ revokedAt: now })
      .where(and(eq(personalAccessTokens.userId, id), isNull(personalAccessTokens.revokedAt), claim))
      .returning({ id: personalAccessTokens.id }),
    d
      .update(passwordResets)
      .set({ usedAt: now })
      .where(and(eq(passwordResets.userId, id), isNull(passwordResets.usedAt), claim)),
  ]);
  await tellGates(ctx.env, revoked);
  await audit(selfCaller(ctx, id), {
    action: 'identity.link',
    target: { type: 'user', id },
    detail: {
      issuer: identity.issuer,
      subject: identity.subject,
      ...(unproven
        ? {
            passwordCleared: true,
            sessionsEnded: ended.length,
            tokensRevoked: tokens.length,
            keysRevoked: revoked.length,
          }
        : {}),
    },
  });
  return unproven ? { ...existing, passwordHash: null } : existing;
}

async function userOfIdentity(ctx: SignInContext, issuer: string, claims: IdTokenClaims): Promise<User> {
  const linked = await linkedUser(ctx, issuer, claims.sub);
  if (linked) {
    await ctx.db
      .update(userIdentities)
      .set({ lastSignInAt: Date.now() })
      .where(and(eq(userIdentities.issuer, issuer), eq(userIdentities.subject, claims.sub)));
    return linked;
  }
  if (!claims.email)
    throw new ApiError(
      'unauthorized',
      'The identity provider gave no email address (is the email scope allowed?).',
    );
  if (!claims.email_verified)
    throw new ApiError(
      'unauthorized',
      'The identity provider has not verified your email address, so it cannot sign you in here.',
    );
  const email = normalizeEmail(claims.email);
  const identity = { issuer, subject: claims.sub, email, lastSignInAt: Date.now() };
  const [existing] = await ctx.db.select().from(users).where(eq(users.email, email));
  try {
    if (existing) return await claimUser(ctx, existing, identity);
    const id = crypto.randomUUID();
    const name = (claims.name?.trim() || email.split('@')[0]!).slice(0, NAME_MAX);
    const [[created]] = await ctx.db.batch([
      ctx.db.insert(users).values({ id, email, name }).returning(),
      ctx.db.insert(userIdentities).values({ ...identity, userId: id }),
      auditInsert(selfCaller(ctx, id), {
        action: 'user.create',
        target: { type: 'user', id },
        detail: { email, name, via: 'oidc', issuer },
      }),
    ]);
    return created!;
  } catch (error) {
    // Two first sign-ins of one identity at once: the other one linked it; use that.
    const winner = await linkedUser(ctx, issuer, claims.sub);
    if (winner) return winner;
    throw error;
  }
}
