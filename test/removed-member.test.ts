// A member removed from a carpool loses it at once, whatever credential they come with: their
// session and their personal access token see no trace of the group (404, as for any group not
// theirs), and their key is refused on the relay. Before removal, the same member acting as the
// owner is a 403: they see the group, their role does not allow the change.
import { describe, expect, it } from 'vitest';
import { browser, login, passwordUser, sessionCookieOf } from './support/auth';
import { ownedCarpool, tokenFor } from './support/groups';
import { ADMIN_TOKEN, api, streamMessage } from './support/relay';

describe('a removed member', () => {
  it('acts as owner: 403; once removed: their session, token and key reach nothing of the group', async () => {
    const carpool = await ownedCarpool();
    const member = await passwordUser('Removed');
    expect(
      (await api(ADMIN_TOKEN, 'POST', `/groups/${carpool.groupId}/members`, { userId: member.id })).status,
    ).toBe(201);
    const session = sessionCookieOf((await login(member.email, member.password)).res);
    const token = await tokenFor(member.id);
    const key = await api<{ key: string }>(token, 'POST', `/groups/${carpool.groupId}/keys`, {
      name: 'laptop',
    });
    expect(key.status).toBe(201);

    // A member acting as the owner.
    expect((await api(token, 'PATCH', `/groups/${carpool.groupId}`, { name: 'Mine now' })).status).toBe(403);
    expect(
      (await api(token, 'DELETE', `/groups/${carpool.groupId}/members/${carpool.owner.id}`)).status,
    ).toBe(403);
    expect((await api(token, 'POST', `/groups/${carpool.groupId}/invites`, {})).status).toBe(403);
    expect((await browser(session, 'GET', `/groups/${carpool.groupId}`)).status).toBe(200);

    const removed = await api(
      carpool.owner.token,
      'DELETE',
      `/groups/${carpool.groupId}/members/${member.id}`,
    );
    expect(removed).toMatchObject({ status: 200, json: { keysRevoked: 1 } });

    const relayed = await streamMessage(key.json.key);
    expect(relayed.status).toBe(403);
    expect(await relayed.text()).toContain('revoked');
    for (const path of [
      `/groups/${carpool.groupId}`,
      `/groups/${carpool.groupId}/members`,
      `/groups/${carpool.groupId}/keys`,
      `/groups/${carpool.groupId}/account`,
    ]) {
      expect((await browser(session, 'GET', path)).status, path).toBe(404);
      expect((await api(token, 'GET', path)).status, path).toBe(404);
    }
    expect(
      (await browser(session, 'POST', `/groups/${carpool.groupId}/keys`, { body: { name: 'again' } })).status,
    ).toBe(404);
    const groups = await api<{ data: { id: string }[] }>(token, 'GET', '/groups');
    expect(groups.json.data.map((g) => g.id)).not.toContain(carpool.groupId);
  });
});
