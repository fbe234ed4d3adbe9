// Test helpers for groups, members, invites and keys: people acting through /api/v1 with their own
// personal access tokens, over carpools whose account is on the fake upstream.
import { env } from 'cloudflare:test';
import { ADMIN_TOKEN, admin, api, type Carpool, newUser, seedCarpool } from './relay';

export interface ApiErrorBody {
  error: { code: string; message: string; requestId: string; details?: unknown };
}

export interface Person {
  id: string;
  email: string;
  token: string;
}

/** A personal access token for an existing user (minted by the operator). */
export async function tokenFor(userId: string): Promise<string> {
  const res = await api<{ token: string }>(ADMIN_TOKEN, 'POST', `/users/${userId}/tokens`, { name: 'test' });
  if (res.status !== 201) throw new Error(`token: ${JSON.stringify(res.json)}`);
  return res.json.token;
}

/** A carpool on the fake upstream (seedCarpool: its one member is its owner), and the owner's token. */
export async function ownedCarpool(
  options: Parameters<typeof seedCarpool>[0] = {},
): Promise<Carpool & { owner: Person }> {
  const carpool = await seedCarpool(options);
  const row = await env.DB.prepare('SELECT email FROM users WHERE id = ?')
    .bind(carpool.userId)
    .first<{ email: string }>();
  return {
    ...carpool,
    owner: { id: carpool.userId, email: row!.email, token: await tokenFor(carpool.userId) },
  };
}

/** A new person made a member of a group by the operator. */
export async function memberOf(groupId: string, role: 'owner' | 'member' = 'member'): Promise<Person> {
  const person = await newUser(role === 'owner' ? 'Owner' : 'Member');
  const res = await admin('POST', `/groups/${groupId}/members`, { userId: person.id, role });
  if (res.status !== 201) throw new Error(`member: ${JSON.stringify(res.json)}`);
  return person;
}

/** An enterprise with an owner, an admin and a plain member, and an empty enterprise group. */
export async function enterpriseWithGroup(): Promise<{
  enterpriseId: string;
  groupId: string;
  owner: Person;
  admin: Person;
  member: Person;
}> {
  const [owner, adminUser, member] = await Promise.all([
    newUser('Owner'),
    newUser('Admin'),
    newUser('Member'),
  ]);
  const enterprise = await api<{ id: string }>(ADMIN_TOKEN, 'POST', '/enterprises', {
    name: 'Acme',
    ownerId: owner.id,
  });
  const enterpriseId = enterprise.json.id;
  // Enterprise membership is managed elsewhere; written directly to stand up the roles.
  await env.DB.batch([
    env.DB.prepare(
      "INSERT INTO enterprise_members (enterprise_id, user_id, role) VALUES (?, ?, 'admin')",
    ).bind(enterpriseId, adminUser.id),
    env.DB.prepare(
      "INSERT INTO enterprise_members (enterprise_id, user_id, role) VALUES (?, ?, 'member')",
    ).bind(enterpriseId, member.id),
  ]);
  const group = await api<{ id: string }>(owner.token, 'POST', '/groups', {
    name: 'Platform team',
    kind: 'enterprise',
    enterpriseId,
  });
  if (group.status !== 201) throw new Error(`group: ${JSON.stringify(group.json)}`);
  return { enterpriseId, groupId: group.json.id, owner, admin: adminUser, member };
}

export async function memberCount(groupId: string): Promise<number> {
  const row = await env.DB.prepare('SELECT count(*) AS n FROM group_members WHERE group_id = ?')
    .bind(groupId)
    .first<{ n: number }>();
  return row!.n;
}

/** How many answers had each status, e.g. `{201: 2, 409: 4}`. */
export function statusCounts(results: { status: number }[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}
