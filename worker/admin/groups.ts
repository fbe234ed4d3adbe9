// Groups and their members. A carpool group is bound to exactly one account that no other group
// may hold; the database's unique index is the final word on that.
import { and, count, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import * as z from 'zod';
import { groupGate } from '../../durable-objects/address';
import { ApiError } from '../api/errors';
import type { AppEnv } from '../context';
import { db } from '../db/client';
import { accounts, enterprises, type Group, groupMembers, groups, users } from '../db/schema';
import { policyOverridesSchema } from '../scheduling/policy';
import { audit } from './audit';
import { pushGroup } from './push';
import { notSupportedYet, validate } from './validate';

const createGroupSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    kind: z.enum(groups.kind.enumValues),
    accountId: z.string().min(1).optional(),
    maxMembers: z.number().int().min(1).max(10_000).default(10),
    // Bills are not split yet: only the default is accepted until they are.
    splitMode: notSupportedYet('bills are not split yet', 'usage'),
    enterpriseId: z.string().min(1).optional(),
    departmentId: notSupportedYet('departments are not managed yet'),
    scheduling: policyOverridesSchema.optional(),
  })
  .refine((g) => g.kind !== 'carpool' || g.accountId, {
    message: 'a carpool group needs an accountId',
    path: ['accountId'],
  });

const addMemberSchema = z.object({
  userId: z.string().min(1),
  role: z.enum(groupMembers.role.enumValues).default('member'),
});

export const groupRoutes = new Hono<AppEnv>();

groupRoutes.post('/', validate('json', createGroupSchema), async (c) => {
  const input = c.req.valid('json');
  const d = db(c.env);
  // (worker/admin/accounts.ts and enterprises.ts moved to the API; their look-ups, inline until this file moves.)
  if (
    input.accountId &&
    !(await d.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, input.accountId))).length
  )
    throw new ApiError('not_found', `No account ${input.accountId}.`);
  if (
    input.enterpriseId &&
    !(await d.select({ id: enterprises.id }).from(enterprises).where(eq(enterprises.id, input.enterpriseId)))
      .length
  )
    throw new ApiError('not_found', `No enterprise ${input.enterpriseId}.`);
  const id = crypto.randomUUID();
  let row: Group | undefined;
  try {
    [row] = await d
      .insert(groups)
      .values({
        id,
        name: input.name,
        kind: input.kind,
        boundAccountId: input.accountId ?? null,
        maxMembers: input.maxMembers,
        enterpriseId: input.enterpriseId ?? null,
        scheduling: input.scheduling ?? null,
      })
      .returning();
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new ApiError('conflict', `Account ${input.accountId} is already bound to another carpool group.`);
    }
    throw err;
  }
  await audit(d, 'group.create', 'group', id, { kind: input.kind, accountId: input.accountId });
  await pushGroup(c.env, id);
  return c.json(row, 201);
});

groupRoutes.get('/', async (c) => c.json({ data: await db(c.env).select().from(groups) }));

groupRoutes.get('/:id', async (c) => {
  const group = await findGroup(c.env, c.req.param('id'));
  const members = await db(c.env)
    .select({ userId: groupMembers.userId, role: groupMembers.role, email: users.email, name: users.name })
    .from(groupMembers)
    .innerJoin(users, eq(users.id, groupMembers.userId))
    .where(eq(groupMembers.groupId, group.id));
  return c.json({ ...group, members });
});

/** Live scheduler state: leases in use and sticky sessions with their accounts. */
groupRoutes.get('/:id/state', async (c) => {
  const group = await findGroup(c.env, c.req.param('id'));
  return c.json(await groupGate(c.env, group.id).state());
});

groupRoutes.post('/:id/members', validate('json', addMemberSchema), async (c) => {
  const group = await findGroup(c.env, c.req.param('id'));
  const input = c.req.valid('json');
  const d = db(c.env);
  const [user] = await d.select({ id: users.id }).from(users).where(eq(users.id, input.userId));
  if (!user) throw new ApiError('not_found', `No user ${input.userId}.`);
  const [members] = await d
    .select({ n: count() })
    .from(groupMembers)
    .where(eq(groupMembers.groupId, group.id));
  if ((members?.n ?? 0) >= group.maxMembers) {
    throw new ApiError('conflict', `Group ${group.id} is full (${group.maxMembers} members).`);
  }
  const [row] = await d
    .insert(groupMembers)
    .values({ groupId: group.id, userId: input.userId, role: input.role })
    .onConflictDoNothing()
    .returning();
  if (!row) throw new ApiError('conflict', `User ${input.userId} is already a member of group ${group.id}.`);
  await audit(d, 'group.member.add', 'group', group.id, { userId: input.userId, role: input.role });
  return c.json(row, 201);
});

export async function findGroup(env: Env, id: string): Promise<Group> {
  const [row] = await db(env).select().from(groups).where(eq(groups.id, id));
  if (!row) throw new ApiError('not_found', `No group ${id}.`);
  return row;
}

export async function isMember(env: Env, groupId: string, userId: string): Promise<boolean> {
  const [row] = await db(env)
    .select({ userId: groupMembers.userId })
    .from(groupMembers)
    .where(and(eq(groupMembers.groupId, groupId), eq(groupMembers.userId, userId)));
  return row !== undefined;
}

/** drizzle wraps D1's error; the constraint name is in the cause. */
function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause)
    if (e.message.includes('UNIQUE constraint failed')) return true;
  return false;
}
