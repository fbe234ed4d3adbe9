// Enterprises: account pools per provider shared by their departments and groups, with scheduling
// policy per pool. Created by a system admin (with an owner); seen by their members; changed by
// their owners (name) and by those who run their pools (`ai.manage`: pool policies).
import { eq, inArray } from 'drizzle-orm';
import { ApiError } from '../api/errors';
import { type Enterprise, enterpriseMembers, enterprises, groups, users } from '../db/schema';
import type { PoolPolicies } from '../scheduling/policy';
import { audit } from './audit';
import { authorize, type Caller, memberships } from './caller';
import { pushGroup } from './push';

export interface EnterpriseInput {
  name: string;
  pools?: PoolPolicies | null;
  /** The user who owns it; a system admin may leave it out and add owners later. */
  ownerId?: string;
}

export async function createEnterprise(caller: Caller, input: EnterpriseInput): Promise<Enterprise> {
  await authorize(caller, 'system.admin', { type: 'system' }, 'such enterprise');
  const id = crypto.randomUUID();
  const d = caller.db;
  if (input.ownerId) {
    const [owner] = await d.select({ id: users.id }).from(users).where(eq(users.id, input.ownerId));
    if (!owner) throw new ApiError('invalid_request', `No user ${input.ownerId} to own the enterprise.`);
  }
  const [row] = await d
    .insert(enterprises)
    .values({ id, name: input.name, pools: input.pools ?? null })
    .returning();
  if (input.ownerId) {
    await d.insert(enterpriseMembers).values({ enterpriseId: id, userId: input.ownerId, role: 'owner' });
  }
  await audit(caller, {
    action: 'enterprise.create',
    target: { type: 'enterprise', id },
    enterpriseId: id,
    detail: { name: input.name, ownerId: input.ownerId ?? null },
  });
  return row!;
}

/** The enterprises the caller sees: all of them for a system admin, else those they belong to. */
export async function listEnterprises(caller: Caller): Promise<Enterprise[]> {
  const m = await memberships(caller);
  if (m.system) return caller.db.select().from(enterprises);
  const ids = [...m.enterprises.keys()];
  if (ids.length === 0) return [];
  return caller.db.select().from(enterprises).where(inArray(enterprises.id, ids));
}

export async function getEnterprise(caller: Caller, id: string): Promise<Enterprise> {
  await authorize(caller, 'enterprise.view', { type: 'enterprise', enterpriseId: id }, `enterprise ${id}`);
  return findEnterprise(caller, id);
}

export async function updateEnterprise(
  caller: Caller,
  id: string,
  changes: Partial<Pick<EnterpriseInput, 'name' | 'pools'>>,
): Promise<Enterprise> {
  const resource = { type: 'enterprise' as const, enterpriseId: id };
  await authorize(caller, 'enterprise.view', resource, `enterprise ${id}`);
  if (changes.name !== undefined) await authorize(caller, 'enterprise.manage', resource, `enterprise ${id}`);
  if (changes.pools !== undefined) await authorize(caller, 'ai.manage', resource, `enterprise ${id}`);
  const before = await findEnterprise(caller, id);
  if (Object.keys(changes).length === 0) return before;
  const d = caller.db;
  const [row] = await d.update(enterprises).set(changes).where(eq(enterprises.id, id)).returning();
  await audit(caller, {
    action: 'enterprise.update',
    target: { type: 'enterprise', id },
    enterpriseId: id,
    detail: { fields: Object.keys(changes), before: { name: before.name }, after: { name: row!.name } },
  });
  // Pool policies are scheduled by every group of the enterprise.
  if (changes.pools !== undefined) {
    const members = await d.select({ id: groups.id }).from(groups).where(eq(groups.enterpriseId, id));
    await Promise.all(members.map((g) => pushGroup(caller.env, g.id)));
  }
  return row!;
}

export async function findEnterprise(caller: Caller, id: string): Promise<Enterprise> {
  const [row] = await caller.db.select().from(enterprises).where(eq(enterprises.id, id));
  if (!row) throw new ApiError('not_found', `No enterprise ${id}.`);
  return row;
}
