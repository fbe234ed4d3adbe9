// First run: while no user exists, whoever holds the SETUP_TOKEN secret creates the first user,
// who becomes system admin and is signed in. The insert is conditional on the users table being
// empty, in one statement, so two setups at once (or setup racing any other user creation) give
// exactly one first user.
import { eq, sql } from 'drizzle-orm';
import { ApiError } from '../api/errors';
import { sameSecret } from '../auth/secrets';
import type { Db } from '../db/client';
import { users } from '../db/schema';
import { auditInsert } from './audit';
import {
  type IssuedSession,
  passwordUserValues,
  type SignInContext,
  sessionCaller,
  signIn,
} from './sessions';

export interface SetupState {
  open: boolean;
  message: string;
}

async function anyUser(db: Db): Promise<boolean> {
  const [row] = await db.select({ id: users.id }).from(users).limit(1);
  return row !== undefined;
}

const DONE = 'Setup is done: the first user exists. Sign in (POST /api/v1/auth/login).';

export async function setupState(db: Db, env: Env): Promise<SetupState> {
  if (await anyUser(db)) return { open: false, message: DONE };
  return env.SETUP_TOKEN
    ? { open: true, message: 'Setup is open: create the first user (a system admin) with the setup token.' }
    : {
        open: true,
        message:
          'Setup is open, but the SETUP_TOKEN secret is not set: set it (wrangler secret put SETUP_TOKEN).',
      };
}

export async function completeSetup(
  ctx: SignInContext,
  input: { token: string; email: string; name: string; password: string },
): Promise<IssuedSession> {
  const expected = ctx.env.SETUP_TOKEN?.trim();
  const valid = expected ? await sameSecret(input.token, expected) : false;
  // Only a refusal looks at whether setup is done (to say so plainly); the way in is the one
  // conditional insert below, with no check before it that a concurrent setup could slip past.
  if (!valid) {
    if (await anyUser(ctx.db)) throw new ApiError('conflict', DONE);
    throw new ApiError(
      'forbidden',
      expected
        ? 'The setup token is wrong.'
        : 'Setup needs the SETUP_TOKEN secret to be set (wrangler secret put SETUP_TOKEN).',
    );
  }
  const values = await passwordUserValues({ ...input, systemRole: 'system_admin' });
  const inserted = await ctx.db.all<{ id: string }>(sql`
    INSERT INTO ${users} (id, email, name, system_role, password_hash)
    SELECT ${values.id}, ${values.email}, ${values.name}, 'system_admin', ${values.passwordHash}
    WHERE NOT EXISTS (SELECT 1 FROM ${users})
    RETURNING id`);
  if (inserted.length === 0) throw new ApiError('conflict', DONE);
  const [user] = await ctx.db.select().from(users).where(eq(users.id, values.id));
  const issued = await signIn(ctx, user!, 'setup');
  await auditInsert(sessionCaller(ctx, user!, issued.session.id), {
    action: 'user.create',
    target: { type: 'user', id: user!.id },
    detail: { email: user!.email, name: user!.name, systemRole: 'system_admin', via: 'setup' },
  });
  return issued;
}
