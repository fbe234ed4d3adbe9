// Groups and their members through /api/v1, as the people who run and use them: who may create,
// see, change and delete a group; members joining, leaving, being removed and handing ownership
// over; seats that no number of parallel adds overfills; a removed member's keys refused at once.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import {
  type ApiErrorBody,
  enterpriseWithGroup,
  memberCount,
  memberOf,
  ownedCarpool,
  statusCounts,
} from './support/groups';
import { ADMIN_TOKEN, admin, api, newUser, streamMessage } from './support/relay';

interface Group {
  id: string;
  name: string;
  kind: string;
  boundAccountId: string | null;
  enterpriseId: string | null;
  departmentId: string | null;
  maxMembers: number;
  members?: { userId: string; role: string }[];
}

function groupGate(groupId: string) {
  return env.GROUP_GATE.get(env.GROUP_GATE.idFromName(`group:${groupId}`));
}

async function newAccount(fields: Record<string, unknown> = {}): Promise<string> {
  const res = await admin<{ id: string }>('POST', '/accounts', {
    name: 'acct',
    provider: 'anthropic',
    credential: 'sk-fake.x.ok',
    ...fields,
  });
  return res.json.id;
}

describe('creating groups', () => {
  it('a person creates a carpool without an account and owns it; nobody else sees it', async () => {
    const ana = await newUser('Ana');
    const bob = await newUser('Bob');
    const created = await api<Group>(ana.token, 'POST', '/groups', {
      name: 'Ana and friends',
      kind: 'carpool',
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ kind: 'carpool', boundAccountId: null, maxMembers: 10 });
    const id = created.json.id;
    const read = await api<Group>(ana.token, 'GET', `/groups/${id}`);
    expect(read.json.members).toEqual([expect.objectContaining({ userId: ana.id, role: 'owner' })]);
    const me = await api<{ groups: { groupId: string; role: string }[] }>(ana.token, 'GET', '/me');
    expect(me.json.groups).toEqual([{ groupId: id, role: 'owner' }]);
    expect((await api(bob.token, 'GET', `/groups/${id}`)).status).toBe(404);
    expect((await api<{ data: Group[] }>(bob.token, 'GET', '/groups')).json.data).toEqual([]);
    expect((await api<{ data: Group[] }>(ana.token, 'GET', '/groups')).json.data.map((g) => g.id)).toEqual([
      id,
    ]);
    const all = await admin<{ data: Group[] }>('GET', '/groups');
    expect(all.json.data.map((g) => g.id)).toContain(id);
    const audit = await env.DB.prepare(
      "SELECT actor FROM audit_log WHERE action = 'group.create' AND target_id = ?",
    )
      .bind(id)
      .first<{ actor: string }>();
    expect(audit?.actor).toBe(`user:${ana.id}`);
  });

  it('binds an existing account on creation for a system admin only, never a pool’s and never twice', async () => {
    const ana = await newUser('Ana');
    const free = await newAccount();
    // A person cannot take an account by its id: to them it does not exist.
    const taken = await api<ApiErrorBody>(ana.token, 'POST', '/groups', {
      name: 'mine',
      kind: 'carpool',
      accountId: free,
    });
    expect(taken.status).toBe(404);
    expect((await admin('POST', '/groups', { name: 'ok', kind: 'carpool', accountId: free })).status).toBe(
      201,
    );
    const twice = await admin<ApiErrorBody>('POST', '/groups', {
      name: 'again',
      kind: 'carpool',
      accountId: free,
    });
    expect(twice.status).toBe(409);
    expect(twice.json.error.message).toMatch(/already bound/);

    const enterprise = await admin<{ id: string }>('POST', '/enterprises', { name: 'Pool owner' });
    const pooled = await newAccount({ enterpriseId: enterprise.json.id });
    const fromPool = await admin<ApiErrorBody>('POST', '/groups', {
      name: 'steal',
      kind: 'carpool',
      accountId: pooled,
    });
    expect(fromPool.status).toBe(409);
    expect(fromPool.json.error.message).toMatch(/either one carpool's or one enterprise's/);
  });

  it('an enterprise group needs its enterpriseId, group.create there, and a department of its own enterprise', async () => {
    const acme = await enterpriseWithGroup();
    const other = await enterpriseWithGroup();
    const missing = await api<ApiErrorBody>(acme.owner.token, 'POST', '/groups', {
      name: 'x',
      kind: 'enterprise',
    });
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toMatch(/enterpriseId/);
    const input = { name: 'Research', kind: 'enterprise', enterpriseId: acme.enterpriseId };
    expect((await api(acme.admin.token, 'POST', '/groups', input)).status).toBe(403);
    expect((await api(acme.member.token, 'POST', '/groups', input)).status).toBe(403);
    expect((await api(other.owner.token, 'POST', '/groups', input)).status).toBe(404);

    await env.DB.batch([
      env.DB.prepare("INSERT INTO departments (id, enterprise_id, name) VALUES (?, ?, 'R&D')").bind(
        `dept-${acme.enterpriseId}`,
        acme.enterpriseId,
      ),
      env.DB.prepare("INSERT INTO departments (id, enterprise_id, name) VALUES (?, ?, 'Sales')").bind(
        `dept-${other.enterpriseId}`,
        other.enterpriseId,
      ),
    ]);
    const placed = await api<Group>(acme.owner.token, 'POST', '/groups', {
      ...input,
      departmentId: `dept-${acme.enterpriseId}`,
    });
    expect(placed).toMatchObject({ status: 201, json: { departmentId: `dept-${acme.enterpriseId}` } });
    const foreign = await api<ApiErrorBody>(acme.owner.token, 'POST', '/groups', {
      ...input,
      departmentId: `dept-${other.enterpriseId}`,
    });
    expect(foreign.status).toBe(400);
    expect(foreign.json.error.message).toMatch(/departmentId: no department/);
    // An enterprise group's creator takes no seat: the enterprise's owners and admins run it.
    expect(await memberCount(placed.json.id)).toBe(0);

    const carpoolInEnterprise = await api<ApiErrorBody>(acme.owner.token, 'POST', '/groups', {
      name: 'x',
      kind: 'carpool',
      enterpriseId: acme.enterpriseId,
    });
    expect(carpoolInEnterprise.status).toBe(400);
    const boundEnterpriseGroup = await admin<ApiErrorBody>('POST', '/groups', {
      ...input,
      accountId: await newAccount(),
    });
    expect(boundEnterpriseGroup.status).toBe(400);
    expect(boundEnterpriseGroup.json.error.message).toMatch(/accountId/);
  });
});

describe('seeing and changing groups', () => {
  it('lists a person’s groups, and every group of the enterprises they run', async () => {
    const acme = await enterpriseWithGroup();
    const member = await memberOf(acme.groupId);
    const ids = async (token: string) =>
      (await api<{ data: Group[] }>(token, 'GET', '/groups')).json.data.map((g) => g.id);
    expect(await ids(acme.owner.token)).toEqual([acme.groupId]);
    expect(await ids(acme.admin.token)).toEqual([acme.groupId]);
    expect(await ids(acme.member.token)).toEqual([]);
    expect(await ids(member.token)).toEqual([acme.groupId]);
    expect((await api(acme.member.token, 'GET', `/groups/${acme.groupId}`)).status).toBe(404);
    expect((await api(acme.admin.token, 'GET', `/groups/${acme.groupId}/members`)).status).toBe(200);
  });

  it('managers change name, maxMembers (never below the member count), scheduling; members may not', async () => {
    const carpool = await ownedCarpool();
    const member = await memberOf(carpool.groupId);
    const stranger = await newUser('Stranger');
    const path = `/groups/${carpool.groupId}`;
    expect((await api(member.token, 'PATCH', path, { name: 'mine' })).status).toBe(403);
    expect((await api(stranger.token, 'PATCH', path, { name: 'mine' })).status).toBe(404);
    const renamed = await api<Group>(carpool.owner.token, 'PATCH', path, { name: 'The crew', maxMembers: 2 });
    expect(renamed).toMatchObject({ status: 200, json: { name: 'The crew', maxMembers: 2 } });
    const below = await api<ApiErrorBody>(carpool.owner.token, 'PATCH', path, { maxMembers: 1 });
    expect(below.status).toBe(409);
    expect(below.json.error.message).toMatch(/has 2 members/);
    expect((await api<Group>(carpool.owner.token, 'GET', path)).json.maxMembers).toBe(2);

    const split = await api<ApiErrorBody>(carpool.owner.token, 'PATCH', path, { splitMode: 'halves' });
    expect(split.status).toBe(400);
    expect(split.json.error.message).toMatch(/splitMode/);
    const even = await api<Group>(carpool.owner.token, 'PATCH', path, { splitMode: 'even' });
    expect(even).toMatchObject({ status: 200, json: { splitMode: 'even' } });
    const unknown = await api<ApiErrorBody>(carpool.owner.token, 'PATCH', path, { kind: 'enterprise' });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toMatch(/kind/);

    // Scheduling reaches the group's gate at once.
    const scheduled = await api(carpool.owner.token, 'PATCH', path, { scheduling: { maxAttempts: 2 } });
    expect(scheduled.status).toBe(200);
    const state = await api<{ config: { scheduling: unknown } }>(carpool.owner.token, 'GET', `${path}/state`);
    expect(state.json.config.scheduling).toMatchObject({ maxAttempts: 2 });
    expect((await api(member.token, 'GET', `${path}/state`)).status).toBe(403);
    const audit = await env.DB.prepare(
      "SELECT count(*) AS n FROM audit_log WHERE action = 'group.update' AND target_id = ?",
    )
      .bind(carpool.groupId)
      .first<{ n: number }>();
    // The rename, the split mode and the scheduling; the refused maxMembers change wrote nothing.
    expect(audit?.n).toBe(3);
  });

  it('deleting a carpool revokes its keys at once, removes its members and frees its account', async () => {
    const carpool = await ownedCarpool();
    const member = await memberOf(carpool.groupId);
    await (await streamMessage(carpool.key)).text();
    expect((await api(member.token, 'DELETE', `/groups/${carpool.groupId}`)).status).toBe(403);
    const deleted = await api(carpool.owner.token, 'DELETE', `/groups/${carpool.groupId}`);
    expect(deleted).toMatchObject({ status: 200, json: { id: carpool.groupId, keysRevoked: 1 } });
    // Gone from D1 with its group: unknown here; refused by the gate where an isolate still caches it.
    const refused = await streamMessage(carpool.key);
    expect(refused.status).toBe(401);
    await refused.text();
    expect((await groupGate(carpool.groupId).state()).revokedKeys).toBe(1);
    expect((await api(carpool.owner.token, 'GET', `/groups/${carpool.groupId}`)).status).toBe(404);
    expect(await memberCount(carpool.groupId)).toBe(0);
    const again = await admin('POST', '/groups', {
      name: 'next',
      kind: 'carpool',
      accountId: carpool.accountId,
    });
    expect(again.status).toBe(201);
  });

  it('an enterprise group is deleted by those who may create groups there', async () => {
    const acme = await enterpriseWithGroup();
    expect((await api(acme.admin.token, 'DELETE', `/groups/${acme.groupId}`)).status).toBe(403);
    expect((await api(acme.member.token, 'DELETE', `/groups/${acme.groupId}`)).status).toBe(404);
    expect((await api(acme.owner.token, 'DELETE', `/groups/${acme.groupId}`)).status).toBe(200);
  });
});

describe('members', () => {
  it('a carpool is joined by invite, not by id; an enterprise group’s managers add the enterprise’s people', async () => {
    const carpool = await ownedCarpool();
    const friend = await newUser('Friend');
    const byOwner = await api<ApiErrorBody>(
      carpool.owner.token,
      'POST',
      `/groups/${carpool.groupId}/members`,
      {
        userId: friend.id,
      },
    );
    expect(byOwner.status).toBe(403);
    expect(byOwner.json.error.message).toMatch(/invite/);

    const acme = await enterpriseWithGroup();
    const outsider = await newUser('Outsider');
    const path = `/groups/${acme.groupId}/members`;
    expect((await api(acme.admin.token, 'POST', path, { userId: outsider.id })).status).toBe(404);
    const added = await api(acme.admin.token, 'POST', path, { userId: acme.member.id });
    expect(added).toMatchObject({ status: 201, json: { userId: acme.member.id, role: 'member' } });
    const twice = await api<ApiErrorBody>(acme.admin.token, 'POST', path, { userId: acme.member.id });
    expect(twice.status).toBe(409);
    expect(twice.json.error.message).toMatch(/already a member/);
    const listed = await api<{ data: { userId: string }[] }>(acme.member.token, 'GET', path);
    expect(listed.json.data.map((m) => m.userId)).toEqual([acme.member.id]);
  });

  it('maxMembers holds under parallel adds: 6 at once with a limit of 2 give exactly 2', async () => {
    const group = await admin<{ id: string }>('POST', '/groups', {
      name: 'tiny',
      kind: 'carpool',
      maxMembers: 2,
    });
    const people = await Promise.all(Array.from({ length: 6 }, () => newUser('Racer')));
    const results = await Promise.all(
      people.map((p) => admin<ApiErrorBody>('POST', `/groups/${group.json.id}/members`, { userId: p.id })),
    );
    expect(statusCounts(results)).toEqual({ 201: 2, 409: 4 });
    for (const r of results.filter((r) => r.status === 409)) expect(r.json.error.message).toMatch(/full/);
    expect(await memberCount(group.json.id)).toBe(2);
  });

  it('removing a member revokes their keys at once: the relay and the gate refuse them', async () => {
    const carpool = await ownedCarpool();
    const member = await memberOf(carpool.groupId);
    const key = await api<{ id: string; key: string }>(
      member.token,
      'POST',
      `/groups/${carpool.groupId}/keys`,
      {
        name: 'laptop',
      },
    );
    expect(key.status).toBe(201);
    const ok = await streamMessage(key.json.key);
    expect(ok.status).toBe(200);
    await ok.text();

    const removed = await api(
      carpool.owner.token,
      'DELETE',
      `/groups/${carpool.groupId}/members/${member.id}`,
    );
    expect(removed).toMatchObject({ status: 200, json: { userId: member.id, keysRevoked: 1 } });
    const refused = await streamMessage(key.json.key);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toMatch(/revoked/);
    // An isolate that still caches the key as active is refused by the gate.
    const admission = await groupGate(carpool.groupId).admit({
      groupId: carpool.groupId,
      keyId: key.json.id,
      leaseId: crypto.randomUUID(),
      model: 'claude-sonnet-4-5',
      providers: ['anthropic'],
      native: ['anthropic'],
      sessionKey: null,
      limits: { maxConcurrency: null, requestsPerWindow: null, windowMinutes: null },
      userId: member.id,
      reserveMicros: 0,
      service: 'anthropic',
      userAgent: null,
    });
    expect(admission).toMatchObject({ ok: false, message: 'This API key has been revoked.' });
    const row = await env.DB.prepare('SELECT status FROM api_keys WHERE id = ?')
      .bind(key.json.id)
      .first<{ status: string }>();
    expect(row?.status).toBe('revoked');
    // The owner's own key is untouched.
    const owners = await streamMessage(carpool.key);
    expect(owners.status).toBe(200);
    await owners.text();
    expect((await api(member.token, 'GET', `/groups/${carpool.groupId}`)).status).toBe(404);
  });

  it('a member leaves (their keys revoked); a carpool’s last owner can neither leave, be removed nor be demoted', async () => {
    const carpool = await ownedCarpool();
    const member = await memberOf(carpool.groupId);
    const key = await api<{ id: string }>(member.token, 'POST', `/groups/${carpool.groupId}/keys`, {});
    const left = await api(member.token, 'POST', `/groups/${carpool.groupId}/leave`);
    expect(left).toMatchObject({ status: 200, json: { userId: member.id, keysRevoked: 1 } });
    const row = await env.DB.prepare('SELECT status FROM api_keys WHERE id = ?')
      .bind(key.json.id)
      .first<{ status: string }>();
    expect(row?.status).toBe('revoked');

    const path = `/groups/${carpool.groupId}`;
    const leave = await api<ApiErrorBody>(carpool.owner.token, 'POST', `${path}/leave`);
    expect(leave.status).toBe(409);
    expect(leave.json.error.message).toMatch(/last owner/);
    expect((await api(ADMIN_TOKEN, 'DELETE', `${path}/members/${carpool.owner.id}`)).status).toBe(409);
    const demote = await api(carpool.owner.token, 'PATCH', `${path}/members/${carpool.owner.id}`, {
      role: 'member',
    });
    expect(demote.status).toBe(409);
    expect(await memberCount(carpool.groupId)).toBe(1);
  });

  it('ownership is transferred, or shared, and then an owner may leave', async () => {
    const carpool = await ownedCarpool();
    const heir = await memberOf(carpool.groupId);
    const path = `/groups/${carpool.groupId}`;
    expect((await api(heir.token, 'POST', `${path}/transfer`, { userId: heir.id })).status).toBe(403);
    const stranger = await newUser('Stranger');
    const notMember = await api(carpool.owner.token, 'POST', `${path}/transfer`, { userId: stranger.id });
    expect(notMember.status).toBe(404);
    const moved = await api<{ data: { userId: string; role: string }[] }>(
      carpool.owner.token,
      'POST',
      `${path}/transfer`,
      { userId: heir.id },
    );
    expect(moved.status).toBe(200);
    expect(Object.fromEntries(moved.json.data.map((m) => [m.userId, m.role]))).toEqual({
      [carpool.owner.id]: 'member',
      [heir.id]: 'owner',
    });
    // The former owner is a member now: managing is over for them.
    expect((await api(carpool.owner.token, 'PATCH', path, { name: 'x' })).status).toBe(403);
    // Several owners: the new owner makes the old one an owner again, then leaves.
    const promoted = await api(heir.token, 'PATCH', `${path}/members/${carpool.owner.id}`, { role: 'owner' });
    expect(promoted).toMatchObject({ status: 200, json: { role: 'owner' } });
    expect((await api(heir.token, 'POST', `${path}/leave`)).status).toBe(200);
  });

  it('of two owners leaving at once, exactly one may go', async () => {
    const carpool = await ownedCarpool();
    const second = await memberOf(carpool.groupId, 'owner');
    const path = `/groups/${carpool.groupId}/leave`;
    const results = await Promise.all([
      api(carpool.owner.token, 'POST', path),
      api(second.token, 'POST', path),
    ]);
    expect(statusCounts(results)).toEqual({ 200: 1, 409: 1 });
    expect(await memberCount(carpool.groupId)).toBe(1);
  });

  it('a member acting as owner gets 403; another group’s people get 404 on every group route', async () => {
    const carpool = await ownedCarpool();
    const member = await memberOf(carpool.groupId);
    const other = await ownedCarpool();
    const path = `/groups/${carpool.groupId}`;
    const managing: [string, string, unknown][] = [
      ['PATCH', path, { name: 'x' }],
      ['DELETE', path, undefined],
      ['GET', `${path}/state`, undefined],
      ['POST', `${path}/members`, { userId: other.owner.id }],
      ['PATCH', `${path}/members/${carpool.owner.id}`, { role: 'member' }],
      ['DELETE', `${path}/members/${carpool.owner.id}`, undefined],
      ['POST', `${path}/transfer`, { userId: member.id }],
    ];
    for (const [method, p, body] of managing) {
      expect((await api(member.token, method, p, body)).status, `${method} ${p}`).toBe(403);
    }
    const viewing: [string, string, unknown][] = [
      ['GET', path, undefined],
      ['GET', `${path}/members`, undefined],
      ['POST', `${path}/leave`, undefined],
    ];
    for (const [method, p, body] of [...managing, ...viewing]) {
      const res = await api<ApiErrorBody>(other.owner.token, method, p, body);
      expect(res.status, `${method} ${p}`).toBe(404);
      expect(res.json.error.code).toBe('not_found');
    }
    expect(await memberCount(carpool.groupId)).toBe(2);
  });
});
