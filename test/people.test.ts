// People: users as a system admin runs them (grants, the last system admin, disabling), an
// enterprise's members and roles (the last owner, removal out of its groups and keys) and its
// departments (one level deep).
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, admin, api, newUser, streamMessage } from './support/relay';

interface ApiErrorBody {
  error: { code: string; message: string };
}
type Person = Awaited<ReturnType<typeof newUser>>;

async function status(token: string | null, method: string, path: string, body?: unknown): Promise<number> {
  return (await api(token, method, path, body)).status;
}

async function enterprise() {
  const [owner, adminUser, member] = await Promise.all([
    newUser('Owner'),
    newUser('Admin'),
    newUser('Member'),
  ]);
  const created = await api<{ id: string }>(ADMIN_TOKEN, 'POST', '/enterprises', {
    name: `acme ${crypto.randomUUID().slice(0, 8)}`,
    ownerId: owner.id,
  });
  const id = created.json.id;
  await api(owner.token, 'POST', `/enterprises/${id}/members`, { userId: adminUser.id, role: 'admin' });
  await api(owner.token, 'POST', `/enterprises/${id}/members`, { userId: member.id, role: 'member' });
  return { id, owner, admin: adminUser, member };
}

/** An account in the enterprise's pool, a group of it with `person` as a member, and their key. */
async function groupWithKey(enterpriseId: string, person: Person) {
  const tag = crypto.randomUUID().replaceAll('-', '');
  await admin('POST', '/accounts', {
    name: `pool ${tag}`,
    provider: 'anthropic',
    credential: `sk-fake.${tag}.ok`,
    enterpriseId,
  });
  const group = await admin<{ id: string }>('POST', '/groups', {
    name: `g ${tag}`,
    kind: 'enterprise',
    enterpriseId,
  });
  await admin('POST', `/groups/${group.json.id}/members`, { userId: person.id, role: 'member' });
  const key = await admin<{ id: string; key: string }>('POST', '/keys', {
    groupId: group.json.id,
    userId: person.id,
  });
  return { groupId: group.json.id, keyId: key.json.id, key: key.json.key };
}

async function relayStatus(key: string): Promise<number> {
  const res = await streamMessage(key);
  await res.text();
  return res.status;
}

describe('users', () => {
  it('are listed and created by a system admin only; a person reads only themself', async () => {
    const ana = await newUser('Ana');
    const bob = await newUser('Bob');
    expect(await status(ana.token, 'GET', '/users')).toBe(404);
    expect(await status(ana.token, 'POST', '/users', { email: 'x@example.com', name: 'X' })).toBe(404);
    expect(await status(ana.token, 'GET', `/users/${ana.id}`)).toBe(200);
    expect(await status(ana.token, 'GET', `/users/${bob.id}`)).toBe(404);
    expect(await status(ana.token, 'PATCH', `/users/${bob.id}`, { name: 'Bobby' })).toBe(404);
    // They see themself, but granting oneself anything is a system admin's.
    expect(await status(ana.token, 'PATCH', `/users/${ana.id}`, { systemRole: 'system_admin' })).toBe(403);

    const listed = await api<{ data: { id: string; email: string }[] }>(
      ADMIN_TOKEN,
      'GET',
      `/users?email=${ana.email}`,
    );
    expect(listed.json.data.map((u) => u.id)).toEqual([ana.id]);
    const unknown = await api<ApiErrorBody>(ADMIN_TOKEN, 'POST', '/users', {
      email: 'y@example.com',
      name: 'Y',
      colour: 'red',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toContain('colour');
    const twice = await api<ApiErrorBody>(ADMIN_TOKEN, 'POST', '/users', {
      email: ana.email.toUpperCase(),
      name: 'Ana',
    });
    expect(twice.status).toBe(409);
  });

  it('a system admin grants and revokes system admin, audited; the last one stays', async () => {
    const ana = await newUser('Ana');
    const root = await api<{ id: string; systemRole: string }>(ADMIN_TOKEN, 'POST', '/users', {
      email: `root-${crypto.randomUUID().slice(0, 8)}@example.com`,
      name: 'Root',
      systemRole: 'system_admin',
    });
    expect(root).toMatchObject({ status: 201, json: { systemRole: 'system_admin' } });
    const rootToken = (
      await api<{ token: string }>(ADMIN_TOKEN, 'POST', `/users/${root.json.id}/tokens`, { name: 't' })
    ).json.token;
    expect(await status(rootToken, 'GET', '/users')).toBe(200);

    const granted = await api<{ systemRole: string }>(rootToken, 'PATCH', `/users/${ana.id}`, {
      systemRole: 'system_admin',
    });
    expect(granted).toMatchObject({ status: 200, json: { systemRole: 'system_admin' } });
    expect(await status(ana.token, 'GET', '/users')).toBe(200);
    const entries = await api<{
      data: { action: string; targetId: string; actorId: string; detail: unknown }[];
    }>(ADMIN_TOKEN, 'GET', '/audit');
    expect(entries.json.data.find((e) => e.action === 'user.update' && e.targetId === ana.id)).toMatchObject({
      actorId: root.json.id,
      detail: { before: { systemRole: 'user' }, after: { systemRole: 'system_admin' } },
    });

    // Every other active system admin steps down; the last one cannot be demoted or disabled.
    const { results } = await env.DB.prepare(
      "SELECT id FROM users WHERE system_role = 'system_admin' AND disabled_at IS NULL AND id != ?",
    )
      .bind(root.json.id)
      .all<{ id: string }>();
    for (const { id } of results)
      expect(await status(rootToken, 'PATCH', `/users/${id}`, { systemRole: 'user' })).toBe(200);
    expect(await status(ana.token, 'GET', '/users')).toBe(404);
    for (const change of [{ systemRole: 'user' }, { disabled: true }]) {
      const last = await api<ApiErrorBody>(rootToken, 'PATCH', `/users/${root.json.id}`, change);
      expect(last.status).toBe(409);
      expect(last.json.error.message).toMatch(/last active system admin/);
    }
    // With another one, they may step down.
    expect(await status(rootToken, 'PATCH', `/users/${ana.id}`, { systemRole: 'system_admin' })).toBe(200);
    expect(await status(rootToken, 'PATCH', `/users/${root.json.id}`, { systemRole: 'user' })).toBe(200);
    expect(await status(rootToken, 'GET', '/users')).toBe(404);
  });

  it('disabling someone stops their tokens and revokes their keys; re-enabling lets them back in', async () => {
    const acme = await enterprise();
    const bea = await newUser('Bea');
    const work = await groupWithKey(acme.id, bea);
    expect(await relayStatus(work.key)).toBe(200);

    const off = await api<{ disabledAt: number | null }>(ADMIN_TOKEN, 'PATCH', `/users/${bea.id}`, {
      disabled: true,
    });
    expect(off.status).toBe(200);
    expect(off.json.disabledAt).toBeGreaterThan(0);
    expect(await status(bea.token, 'GET', '/me')).toBe(401);
    expect(await relayStatus(work.key)).toBe(403);

    const on = await api<{ disabledAt: number | null }>(ADMIN_TOKEN, 'PATCH', `/users/${bea.id}`, {
      disabled: false,
    });
    expect(on.json.disabledAt).toBeNull();
    expect(await status(bea.token, 'GET', '/me')).toBe(200);
    // Keys stay revoked: a person let back in makes new ones.
    expect(await relayStatus(work.key)).toBe(403);
  });
});

describe('one’s own name', () => {
  it('a person changes their own display name (PATCH /me), audited; nobody else’s; the operator has none', async () => {
    const [ana, bob] = [await newUser('Ana'), await newUser('Bob')];
    const renamed = await api<{ id: string; name: string }>(ana.token, 'PATCH', '/me', {
      name: '  Ana Lopez ',
    });
    expect(renamed).toMatchObject({ status: 200, json: { id: ana.id, name: 'Ana Lopez' } });
    expect((await api<{ name: string }>(ana.token, 'GET', `/users/${ana.id}`)).json.name).toBe('Ana Lopez');
    expect((await api<{ name: string }>(bob.token, 'GET', `/users/${bob.id}`)).json.name).toBe('Bob');
    expect((await api(ana.token, 'PATCH', '/me', { name: '' })).status).toBe(400);
    expect((await api(ana.token, 'PATCH', '/me', { name: 'x', systemRole: 'system_admin' })).status).toBe(
      400,
    );
    expect((await api(ADMIN_TOKEN, 'PATCH', '/me', { name: 'Operator' })).status).toBe(400);
    const audit = await api<{ data: { action: string; targetId: string; detail: unknown }[] }>(
      ADMIN_TOKEN,
      'GET',
      '/audit?action=user.update',
    );
    expect(audit.json.data.length).toBeGreaterThan(0);
    expect(audit.json.data.filter((e) => e.action !== 'user.update')).toEqual([]);
    expect(audit.json.data.find((e) => e.targetId === ana.id)?.detail).toEqual({
      fields: ['name'],
      before: { name: 'Ana' },
      after: { name: 'Ana Lopez' },
    });
  });
});

describe('enterprise members', () => {
  it('are seen by the enterprise, changed by owners only, invisible to others', async () => {
    const acme = await enterprise();
    const other = await enterprise();
    const carl = await newUser('Carl');
    const path = `/enterprises/${acme.id}/members`;

    const listed = await api<{ data: { userId: string; role: string }[] }>(acme.member.token, 'GET', path);
    expect(listed.status).toBe(200);
    expect(Object.fromEntries(listed.json.data.map((m) => [m.userId, m.role]))).toEqual({
      [acme.owner.id]: 'owner',
      [acme.admin.id]: 'admin',
      [acme.member.id]: 'member',
    });
    expect(await status(other.owner.token, 'GET', path)).toBe(404);
    expect(await status(other.owner.token, 'POST', path, { userId: carl.id, role: 'member' })).toBe(404);
    expect(await status(acme.admin.token, 'POST', path, { userId: carl.id, role: 'member' })).toBe(403);
    expect(await status(acme.member.token, 'PATCH', `${path}/${acme.admin.id}`, { role: 'owner' })).toBe(403);
    expect(await status(acme.admin.token, 'DELETE', `${path}/${acme.member.id}`)).toBe(403);
    expect(await status(other.owner.token, 'DELETE', `${path}/${acme.member.id}`)).toBe(404);

    expect(await status(acme.owner.token, 'POST', path, { userId: carl.id, role: 'member' })).toBe(201);
    expect(await status(acme.owner.token, 'POST', path, { userId: carl.id, role: 'admin' })).toBe(409);
    expect(await status(acme.owner.token, 'POST', path, { userId: 'no-such-user', role: 'member' })).toBe(
      404,
    );
    const both = await api<ApiErrorBody>(acme.owner.token, 'POST', path, {
      userId: carl.id,
      email: 'c@x.io',
      role: 'member',
    });
    expect(both.status).toBe(400);
    // By email: a person not yet signed up is created, to sign in later.
    const email = `new-${crypto.randomUUID().slice(0, 8)}@Example.com`;
    const invited = await api<{ userId: string; email: string; role: string }>(
      acme.owner.token,
      'POST',
      path,
      {
        email,
        role: 'admin',
      },
    );
    expect(invited).toMatchObject({ status: 201, json: { email: email.toLowerCase(), role: 'admin' } });

    const promoted = await api<{ role: string }>(acme.owner.token, 'PATCH', `${path}/${carl.id}`, {
      role: 'admin',
    });
    expect(promoted).toMatchObject({ status: 200, json: { role: 'admin' } });
    expect(await status(acme.owner.token, 'PATCH', `${path}/${other.owner.id}`, { role: 'admin' })).toBe(404);
  });

  it('keep at least one owner', async () => {
    const acme = await enterprise();
    const path = `/enterprises/${acme.id}/members`;
    for (const [method, body] of [
      ['PATCH', { role: 'admin' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await api<ApiErrorBody>(acme.owner.token, method, `${path}/${acme.owner.id}`, body);
      expect(res.status).toBe(409);
      expect(res.json.error.message).toMatch(/at least one owner/);
    }
    expect(await status(acme.owner.token, 'PATCH', `${path}/${acme.admin.id}`, { role: 'owner' })).toBe(200);
    expect(await status(acme.owner.token, 'PATCH', `${path}/${acme.owner.id}`, { role: 'member' })).toBe(200);
    expect(await status(acme.admin.token, 'DELETE', `${path}/${acme.owner.id}`)).toBe(200);
    // In D1 itself, whatever path writes.
    await expect(
      env.DB.prepare('DELETE FROM enterprise_members WHERE enterprise_id = ? AND user_id = ?')
        .bind(acme.id, acme.admin.id)
        .run(),
    ).rejects.toThrow(/at least one owner/);
  });

  it('removing a member ends their memberships and keys in the enterprise’s groups, not elsewhere', async () => {
    const acme = await enterprise();
    const dan = await newUser('Dan');
    await api(acme.owner.token, 'POST', `/enterprises/${acme.id}/members`, {
      userId: dan.id,
      role: 'member',
    });
    const work = await groupWithKey(acme.id, dan);
    const elsewhere = await enterprise();
    const side = await groupWithKey(elsewhere.id, dan);
    expect(await relayStatus(work.key)).toBe(200);

    const removed = await api<{ groupsLeft: string[]; keysRevoked: number }>(
      acme.owner.token,
      'DELETE',
      `/enterprises/${acme.id}/members/${dan.id}`,
    );
    expect(removed).toMatchObject({ status: 200, json: { groupsLeft: [work.groupId], keysRevoked: 1 } });
    expect(await relayStatus(work.key)).toBe(403);
    const member = await env.DB.prepare(
      'SELECT count(*) AS n FROM group_members WHERE group_id = ? AND user_id = ?',
    )
      .bind(work.groupId, dan.id)
      .first<{ n: number }>();
    expect(member!.n).toBe(0);
    // Outside the enterprise, nothing changed.
    expect(await relayStatus(side.key)).toBe(200);
    expect(await status(acme.owner.token, 'DELETE', `/enterprises/${acme.id}/members/${dan.id}`)).toBe(404);
    const audit = await api<{ data: { action: string; detail: { keysRevoked: number } }[] }>(
      acme.owner.token,
      'GET',
      `/audit?enterpriseId=${acme.id}`,
    );
    expect(audit.json.data.find((e) => e.action === 'enterprise.member.remove')?.detail.keysRevoked).toBe(1);
  });
});

describe('departments', () => {
  it('are one level deep, seen by the enterprise, changed by owners, invisible to others', async () => {
    const acme = await enterprise();
    const other = await enterprise();
    const path = `/enterprises/${acme.id}/departments`;
    const top = await api<{ id: string; parentId: string | null }>(acme.owner.token, 'POST', path, {
      name: 'Engineering',
    });
    expect(top).toMatchObject({ status: 201, json: { parentId: null } });
    const sub = await api<{ id: string }>(acme.owner.token, 'POST', path, {
      name: 'Platform',
      parentId: top.json.id,
    });
    expect(sub.status).toBe(201);
    const deep = await api<ApiErrorBody>(acme.owner.token, 'POST', path, {
      name: 'Too deep',
      parentId: sub.json.id,
    });
    expect(deep.status).toBe(400);
    expect(deep.json.error.message).toMatch(/one level deep/);
    const other2 = await api<{ id: string }>(acme.owner.token, 'POST', path, { name: 'Sales' });
    // A department with sub-departments stays top-level.
    expect(
      await status(acme.owner.token, 'PATCH', `/departments/${top.json.id}`, { parentId: other2.json.id }),
    ).toBe(400);
    // Another enterprise's department is no parent here.
    const theirs = await api<{ id: string }>(
      other.owner.token,
      'POST',
      `/enterprises/${other.id}/departments`,
      { name: 'X' },
    );
    expect(await status(acme.owner.token, 'POST', path, { name: 'Y', parentId: theirs.json.id })).toBe(404);
    // The trigger holds whatever path writes.
    await expect(
      env.DB.prepare(
        "INSERT INTO departments (id, enterprise_id, parent_id, name) VALUES ('d-deep', ?, ?, 'x')",
      )
        .bind(acme.id, sub.json.id)
        .run(),
    ).rejects.toThrow(/one level deep/);

    const listed = await api<{ data: { id: string }[] }>(acme.member.token, 'GET', path);
    expect(listed.json.data.map((d) => d.id).sort()).toEqual(
      [top.json.id, sub.json.id, other2.json.id].sort(),
    );
    expect(await status(other.owner.token, 'GET', path)).toBe(404);
    expect(await status(acme.admin.token, 'POST', path, { name: 'Mine' })).toBe(403);
    expect(await status(acme.admin.token, 'PATCH', `/departments/${top.json.id}`, { name: 'Eng' })).toBe(403);
    expect(await status(other.owner.token, 'PATCH', `/departments/${top.json.id}`, { name: 'Eng' })).toBe(
      404,
    );
    expect(await status(other.owner.token, 'DELETE', `/departments/${sub.json.id}`)).toBe(404);
    expect(await status(acme.owner.token, 'PATCH', `/departments/${top.json.id}`, { colour: 'red' })).toBe(
      400,
    );
    const renamed = await api<{ name: string }>(acme.owner.token, 'PATCH', `/departments/${top.json.id}`, {
      name: 'Eng',
    });
    expect(renamed).toMatchObject({ status: 200, json: { name: 'Eng' } });

    const busy = await api<ApiErrorBody>(acme.owner.token, 'DELETE', `/departments/${top.json.id}`);
    expect(busy.status).toBe(409);
    expect(await status(acme.owner.token, 'DELETE', `/departments/${sub.json.id}`)).toBe(200);
    expect(await status(acme.owner.token, 'DELETE', `/departments/${top.json.id}`)).toBe(200);
    expect(await status(acme.owner.token, 'DELETE', `/departments/${top.json.id}`)).toBe(404);
  });
});

describe('operator-only routes', () => {
  it('prices and metrics answer system admins only, at the same paths on /api/v1 and /admin/v1', async () => {
    const ana = await newUser('Ana');
    for (const [method, path, body] of [
      ['GET', '/prices', undefined],
      ['GET', '/prices/claude-sonnet-4-5', undefined],
      [
        'PUT',
        '/prices/x-model',
        { inputMicros: 1, outputMicros: 1, cacheWrite5mMicros: 1, cacheWrite1hMicros: 1, cacheReadMicros: 1 },
      ],
      ['DELETE', '/prices/x-model', undefined],
      ['GET', '/metrics', undefined],
    ] as const) {
      expect(await status(ana.token, method, path, body), `${method} ${path}`).toBe(404);
      expect(await status(null, method, path, body), `${method} ${path}`).toBe(401);
    }
    expect(await status(ADMIN_TOKEN, 'GET', '/prices/models/gemini-2.5-pro')).toBe(200);
    const metrics = await admin<{ relayRequests: number }>('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(typeof metrics.json.relayRequests).toBe('number');
  });

  it('a person added without being asked leaves on their own: out of its groups, keys revoked; its last owner stays', async () => {
    const acme = await enterprise();
    const dan = await newUser('Dan');
    await api(acme.owner.token, 'POST', `/enterprises/${acme.id}/members`, {
      email: dan.email,
      role: 'admin',
    });
    const work = await groupWithKey(acme.id, dan);
    expect(await relayStatus(work.key)).toBe(200);

    const left = await api<{ role: string; groupsLeft: string[]; keysRevoked: number }>(
      dan.token,
      'POST',
      `/enterprises/${acme.id}/leave`,
    );
    expect(left).toMatchObject({
      status: 200,
      json: { role: 'admin', groupsLeft: [work.groupId], keysRevoked: 1 },
    });
    expect(await relayStatus(work.key)).toBe(403);
    expect(await status(dan.token, 'GET', `/enterprises/${acme.id}`)).toBe(404);
    expect(await status(dan.token, 'POST', `/enterprises/${acme.id}/leave`)).toBe(404);
    const me = await api<{ enterprises: unknown[] }>(dan.token, 'GET', '/me');
    expect(me.json.enterprises).toEqual([]);

    // The only owner hands the enterprise over first.
    const refused = await api<ApiErrorBody>(acme.owner.token, 'POST', `/enterprises/${acme.id}/leave`);
    expect(refused.status).toBe(409);
    expect(await status(acme.owner.token, 'GET', `/enterprises/${acme.id}`)).toBe(200);
    const audit = await api<{ data: { action: string; targetId: string }[] }>(
      acme.owner.token,
      'GET',
      `/audit?enterpriseId=${acme.id}`,
    );
    expect(audit.json.data.find((e) => e.action === 'enterprise.member.leave')?.targetId).toBe(dan.id);
  });
});
