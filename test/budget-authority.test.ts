// Whoever a budget limits cannot lift it: a budget keeps the authority of the permission its maker
// used (the enterprise's owners and admins, the group's managers, or a key's holder limiting their
// own key), and loosening or removing it takes that authority or one above it.
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, inIsolate, newUser, RELAY, seedCarpool } from './support/relay';

/** A DELETE's status (a 204 has no body to parse). */
async function remove(token: string, path: string): Promise<number> {
  const res = await inIsolate(`${RELAY}/api/v1${path}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${token}` },
  });
  return res.status;
}

type Budget = { id: string; authority: string };

describe('budget authority', () => {
  it('a key holder cannot lift what the group’s owner put on their key, but may lift their own', async () => {
    const carpool = await seedCarpool();
    const holder = await newUser('Bob');
    expect(
      (await api(ADMIN_TOKEN, 'POST', `/groups/${carpool.groupId}/members`, { userId: holder.id })).status,
    ).toBe(201);
    const key = await api<{ id: string }>(holder.token, 'POST', `/groups/${carpool.groupId}/keys`, {
      name: 'b',
    });
    expect(key.status).toBe(201);
    const owner = await api<{ token: string }>(ADMIN_TOKEN, 'POST', `/users/${carpool.userId}/tokens`, {
      name: 'owner',
    });

    const set = await api<Budget>(owner.json.token, 'POST', '/budgets', {
      scope: 'key',
      keyId: key.json.id,
      period: 'month',
      limitMicros: 1_000,
    });
    expect(set).toMatchObject({ status: 201, json: { authority: 'group' } });
    const lift = await api(holder.token, 'PATCH', `/budgets/${set.json.id}`, {
      limitMicros: 1e12,
      mode: 'soft',
    });
    expect(lift).toMatchObject({ status: 403, json: { error: { code: 'forbidden' } } });
    expect(await remove(holder.token, `/budgets/${set.json.id}`)).toBe(403);
    expect(
      (await api(owner.json.token, 'PATCH', `/budgets/${set.json.id}`, { limitMicros: 2_000 })).status,
    ).toBe(200);

    // A limit the holder set on their own key is theirs to change and remove.
    const own = await api<Budget>(holder.token, 'POST', '/budgets', {
      scope: 'key',
      keyId: key.json.id,
      period: 'day',
      limitMicros: 500,
    });
    expect(own).toMatchObject({ status: 201, json: { authority: 'holder' } });
    expect((await api(holder.token, 'PATCH', `/budgets/${own.json.id}`, { limitMicros: 900 })).status).toBe(
      200,
    );
    expect(await remove(holder.token, `/budgets/${own.json.id}`)).toBe(204);
  });

  it('a group’s owner cannot lift what the enterprise’s admins set on their group', async () => {
    const enterprise = await api<{ id: string }>(ADMIN_TOKEN, 'POST', '/enterprises', { name: 'Walled' });
    const admin = await newUser('Eve');
    const groupOwner = await newUser('Alice');
    for (const [user, role] of [
      [admin, 'admin'],
      [groupOwner, 'member'],
    ] as const)
      expect(
        (
          await api(ADMIN_TOKEN, 'POST', `/enterprises/${enterprise.json.id}/members`, {
            userId: user.id,
            role,
          })
        ).status,
      ).toBe(201);
    const group = await api<{ id: string }>(ADMIN_TOKEN, 'POST', '/groups', {
      name: 'Bots',
      kind: 'enterprise',
      enterpriseId: enterprise.json.id,
    });
    expect(group.status, JSON.stringify(group.json)).toBe(201);
    expect(
      (
        await api(admin.token, 'POST', `/groups/${group.json.id}/members`, {
          userId: groupOwner.id,
          role: 'owner',
        })
      ).status,
    ).toBe(201);

    const cap = await api<Budget>(admin.token, 'POST', '/budgets', {
      scope: 'group',
      groupId: group.json.id,
      period: 'month',
      limitMicros: 5_000_000,
    });
    expect(cap).toMatchObject({ status: 201, json: { authority: 'enterprise' } });
    const raised = await api(groupOwner.token, 'PATCH', `/budgets/${cap.json.id}`, { limitMicros: 1e12 });
    expect(raised).toMatchObject({
      status: 403,
      json: { error: { message: /enterprise’s owners or admins/ } },
    });
    expect(await remove(groupOwner.token, `/budgets/${cap.json.id}`)).toBe(403);
    expect(
      (await api(admin.token, 'PATCH', `/budgets/${cap.json.id}`, { limitMicros: 6_000_000 })).status,
    ).toBe(200);

    // A budget names what exists: an unknown enterprise is a 404, even for the operator.
    const nowhere = await api(ADMIN_TOKEN, 'POST', '/budgets', {
      scope: 'enterprise',
      enterpriseId: 'no-such-enterprise',
      period: 'month',
      limitMicros: 5,
    });
    expect(nowhere.status).toBe(404);

    // The group's owner may still limit their group further, with a budget of their own.
    const weekly = await api<Budget>(groupOwner.token, 'POST', '/budgets', {
      scope: 'group',
      groupId: group.json.id,
      period: 'week',
      limitMicros: 1_000_000,
    });
    expect(weekly).toMatchObject({ status: 201, json: { authority: 'group' } });
    expect(await remove(groupOwner.token, `/budgets/${weekly.json.id}`)).toBe(204);
  });
});
