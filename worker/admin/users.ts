// People. A user is who a key belongs to; roles come from group and enterprise memberships.
import { asc, getTableColumns } from 'drizzle-orm';
import { Hono } from 'hono';
import * as z from 'zod';
import { ApiError } from '../api/errors';
import type { AppEnv } from '../context';
import { db } from '../db/client';
import { users } from '../db/schema';
import { audit } from './audit';
import { notSupportedYet, validate } from './validate';

const createUserSchema = z.strictObject({
  email: z.email().transform((e) => e.toLowerCase()),
  name: z.string().trim().min(1).max(100),
  // No one signs in yet, so a system role would grant nothing: only the default is accepted.
  systemRole: notSupportedYet('system roles take effect once people sign in', 'user'),
});

// A password hash never leaves the server.
const { passwordHash: _passwordHash, ...publicColumns } = getTableColumns(users);

export const userRoutes = new Hono<AppEnv>();

userRoutes.post('/', validate('json', createUserSchema), async (c) => {
  const input = c.req.valid('json');
  const d = db(c.env);
  const [row] = await d
    .insert(users)
    .values({ id: crypto.randomUUID(), email: input.email, name: input.name })
    .onConflictDoNothing()
    .returning(publicColumns);
  if (!row) throw new ApiError('conflict', `A user with email ${input.email} already exists.`);
  await audit(d, 'user.create', 'user', row.id);
  return c.json(row, 201);
});

userRoutes.get('/', async (c) => {
  return c.json({ data: await db(c.env).select(publicColumns).from(users).orderBy(asc(users.createdAt)) });
});
