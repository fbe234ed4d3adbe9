// Invite links: made, listed and revoked by those who may invite; looked at with no credential;
// accepted by a signed-in person, atomically against the group's seats and the invite's uses.
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
import { ADMIN_TOKEN, api, newUser } from './support/relay';

interface NewInvite {
  id: string;
  token: string;
  status: string;
  maxUses: number;
  uses: number;
  email: string | null;
  expiresAt: number;
}

interface Preview {
  status: string;
  group: { name: string; members: number; maxMembers: number };
  invitedBy: string | null;
  usesLeft: number;
  emailRestricted: boolean;
}

type Refusal = ApiErrorBody & { error: { details?: { status?: string } } };

async function invite(token: string, groupId: string, body: Record<string, unknown> = {}) {
  const res = await api<NewInvite>(token, 'POST', `/groups/${groupId}/invites`, body);
  if (res.status !== 201) throw new Error(`invite: ${JSON.stringify(res.json)}`);
  return res.json;
}

async function inviteRow(id: string) {
  return env.DB.prepare('SELECT token_hash, uses FROM invites WHERE id = ?')
    .bind(id)
    .first<{ token_hash: string; uses: number }>();
}

describe('invites', () => {
  it('an owner invites a friend, who sees the group and who invited, then accepts and joins', async () => {
    const carpool = await ownedCarpool();
    await api(carpool.owner.token, 'PATCH', `/groups/${carpool.groupId}`, { name: 'Night owls' });
    const made = await invite(carpool.owner.token, carpool.groupId, { maxUses: 2 });
    expect(made.token).toMatch(/^cpinv_[0-9a-f]{48}$/);
    expect(made).toMatchObject({ status: 'active', maxUses: 2, uses: 0, email: null });
    // Stored hashed, and never shown again.
    expect((await inviteRow(made.id))?.token_hash).not.toContain(made.token.slice(6));
    const listed = await api(carpool.owner.token, 'GET', `/groups/${carpool.groupId}/invites`);
    expect(JSON.stringify(listed.json)).not.toContain(made.token);

    const preview = await api<Preview>(null, 'GET', `/invites/${made.token}`);
    expect(preview).toMatchObject({
      status: 200,
      json: {
        status: 'active',
        group: { name: 'Night owls', members: 1, maxMembers: 10 },
        invitedBy: 'Member',
        usesLeft: 2,
        emailRestricted: false,
      },
    });

    const friend = await newUser('Friend');
    const accepted = await api<{ group: { id: string }; member: { role: string } }>(
      friend.token,
      'POST',
      `/invites/${made.token}/accept`,
    );
    expect(accepted).toMatchObject({
      status: 200,
      json: { group: { id: carpool.groupId }, member: { role: 'member' } },
    });
    expect((await api(friend.token, 'GET', `/groups/${carpool.groupId}`)).status).toBe(200);
    const again = await api<Refusal>(friend.token, 'POST', `/invites/${made.token}/accept`);
    expect(again.status).toBe(409);
    expect(again.json.error.details?.status).toBe('already_member');
    expect((await inviteRow(made.id))?.uses).toBe(1);
    expect((await api<Preview>(null, 'GET', `/invites/${made.token}`)).json).toMatchObject({
      usesLeft: 1,
      group: { members: 2 },
    });
  });

  it('says plainly when an invite is expired, used up or revoked, and unknown tokens are 404', async () => {
    const carpool = await ownedCarpool();
    const [a, b, c] = await Promise.all([newUser('A'), newUser('B'), newUser('C')]);

    const expired = await invite(carpool.owner.token, carpool.groupId);
    await env.DB.prepare('UPDATE invites SET expires_at = ? WHERE id = ?')
      .bind(Date.now() - 1, expired.id)
      .run();
    const usedUp = await invite(carpool.owner.token, carpool.groupId, { maxUses: 1 });
    expect((await api(a.token, 'POST', `/invites/${usedUp.token}/accept`)).status).toBe(200);
    const revoked = await invite(carpool.owner.token, carpool.groupId);
    const revocation = await api<NewInvite>(
      carpool.owner.token,
      'DELETE',
      `/groups/${carpool.groupId}/invites/${revoked.id}`,
    );
    expect(revocation).toMatchObject({ status: 200, json: { status: 'revoked' } });

    for (const [made, status, message] of [
      [expired, 'expired', /expired/],
      [usedUp, 'used_up', /used as many times/],
      [revoked, 'revoked', /revoked/],
    ] as const) {
      expect((await api<Preview>(null, 'GET', `/invites/${made.token}`)).json.status).toBe(status);
      const refused = await api<Refusal>(b.token, 'POST', `/invites/${made.token}/accept`);
      expect(refused.status, status).toBe(409);
      expect(refused.json.error.details?.status).toBe(status);
      expect(refused.json.error.message).toMatch(message);
    }
    expect(await memberCount(carpool.groupId)).toBe(2);
    const states = await api<{ data: { id: string; status: string }[] }>(
      carpool.owner.token,
      'GET',
      `/groups/${carpool.groupId}/invites`,
    );
    expect(Object.fromEntries(states.json.data.map((i) => [i.id, i.status]))).toEqual({
      [expired.id]: 'expired',
      [usedUp.id]: 'used_up',
      [revoked.id]: 'revoked',
    });

    const unknown = `cpinv_${'0'.repeat(48)}`;
    expect((await api(null, 'GET', `/invites/${unknown}`)).status).toBe(404);
    expect((await api(c.token, 'POST', `/invites/${unknown}/accept`)).status).toBe(404);
    expect((await api(null, 'GET', '/invites/not-a-token')).status).toBe(404);
  });

  it('an invite for one email admits only the person with it', async () => {
    const carpool = await ownedCarpool();
    const invited = await newUser('Invited');
    const other = await newUser('Other');
    const made = await invite(carpool.owner.token, carpool.groupId, { email: invited.email.toUpperCase() });
    expect(made.email).toBe(invited.email);
    expect((await api<Preview>(null, 'GET', `/invites/${made.token}`)).json.emailRestricted).toBe(true);
    const wrong = await api<Refusal>(other.token, 'POST', `/invites/${made.token}/accept`);
    expect(wrong.status).toBe(403);
    expect(wrong.json.error.details?.status).toBe('wrong_email');
    expect((await inviteRow(made.id))?.uses).toBe(0);
    expect((await api(invited.token, 'POST', `/invites/${made.token}/accept`)).status).toBe(200);
  });

  it('20 parallel accepts of a group with 1 free seat give exactly 1 member', async () => {
    const carpool = await ownedCarpool();
    await api(carpool.owner.token, 'PATCH', `/groups/${carpool.groupId}`, { maxMembers: 2 });
    const made = await invite(carpool.owner.token, carpool.groupId, { maxUses: 20 });
    const people = await Promise.all(Array.from({ length: 20 }, () => newUser('Racer')));
    const results = await Promise.all(
      people.map((p) => api<Refusal>(p.token, 'POST', `/invites/${made.token}/accept`)),
    );
    expect(statusCounts(results)).toEqual({ 200: 1, 409: 19 });
    for (const r of results.filter((r) => r.status === 409))
      expect(r.json.error.details?.status).toBe('group_full');
    expect(await memberCount(carpool.groupId)).toBe(2);
    // Only the join that happened took a use.
    expect((await inviteRow(made.id))?.uses).toBe(1);
    expect((await api<Preview>(null, 'GET', `/invites/${made.token}`)).json.status).toBe('group_full');
  });

  it('10 parallel accepts of a one-use invite give exactly 1 member', async () => {
    const carpool = await ownedCarpool();
    const made = await invite(carpool.owner.token, carpool.groupId, { maxUses: 1 });
    const people = await Promise.all(Array.from({ length: 10 }, () => newUser('Racer')));
    const results = await Promise.all(
      people.map((p) => api<Refusal>(p.token, 'POST', `/invites/${made.token}/accept`)),
    );
    expect(statusCounts(results)).toEqual({ 200: 1, 409: 9 });
    for (const r of results.filter((r) => r.status === 409))
      expect(r.json.error.details?.status).toBe('used_up');
    expect(await memberCount(carpool.groupId)).toBe(2);
    expect((await inviteRow(made.id))?.uses).toBe(1);
  });

  it('only those who may invite make, list and revoke invites; other groups’ invites are 404', async () => {
    const carpool = await ownedCarpool();
    const member = await memberOf(carpool.groupId);
    const other = await ownedCarpool();
    const path = `/groups/${carpool.groupId}/invites`;
    expect((await api(member.token, 'POST', path, {})).status).toBe(403);
    expect((await api(member.token, 'GET', path)).status).toBe(403);
    expect((await api(other.owner.token, 'POST', path, {})).status).toBe(404);
    expect((await api(other.owner.token, 'GET', path)).status).toBe(404);
    const made = await invite(carpool.owner.token, carpool.groupId);
    expect((await api(member.token, 'DELETE', `${path}/${made.id}`)).status).toBe(403);
    expect((await api(other.owner.token, 'DELETE', `${path}/${made.id}`)).status).toBe(404);
    // Another group's invite id under one's own group is no invite of it.
    expect(
      (await api(other.owner.token, 'DELETE', `/groups/${other.groupId}/invites/${made.id}`)).status,
    ).toBe(404);
    expect((await api<Preview>(null, 'GET', `/invites/${made.token}`)).json.status).toBe('active');
    // The operator is no person to join a group.
    expect((await api(ADMIN_TOKEN, 'POST', `/invites/${made.token}/accept`)).status).toBe(400);
    expect((await api(null, 'POST', `/invites/${made.token}/accept`)).status).toBe(401);

    // An enterprise admin invites into the enterprise's groups.
    const acme = await enterpriseWithGroup();
    const fromAdmin = await api(acme.admin.token, 'POST', `/groups/${acme.groupId}/invites`, { maxUses: 5 });
    expect(fromAdmin.status).toBe(201);
    expect((await api(acme.member.token, 'POST', `/groups/${acme.groupId}/invites`, {})).status).toBe(404);
  });

  it('joining an enterprise’s group through an invite joins the enterprise, keeping a role held', async () => {
    const acme = await enterpriseWithGroup();
    const made = await invite(acme.admin.token, acme.groupId, { maxUses: 5 });
    const outsider = await newUser('Outsider');
    expect((await api(outsider.token, 'POST', `/invites/${made.token}/accept`)).status).toBe(200);
    // The enterprise's admin joins the group too: still its admin.
    expect((await api(acme.admin.token, 'POST', `/invites/${made.token}/accept`)).status).toBe(200);
    const signedUp = await api<{ user: { id: string } }>(null, 'POST', `/invites/${made.token}/sign-up`, {
      email: `${crypto.randomUUID().slice(0, 8)}@example.com`,
      name: 'Newcomer',
      password: 'newcomer password',
    });
    expect(signedUp.status).toBe(201);
    const people = await api<{ data: { userId: string; role: string }[] }>(
      acme.owner.token,
      'GET',
      `/enterprises/${acme.enterpriseId}/members`,
    );
    const roleOf = (id: string) => people.json.data.find((m) => m.userId === id)?.role;
    expect(roleOf(outsider.id)).toBe('member');
    expect(roleOf(signedUp.json.user.id)).toBe('member');
    expect(roleOf(acme.admin.id)).toBe('admin');
    // So the enterprise can take them out again, from its groups too.
    const removed = await api<{ groupsLeft: string[] }>(
      acme.owner.token,
      'DELETE',
      `/enterprises/${acme.enterpriseId}/members/${outsider.id}`,
    );
    expect(removed).toMatchObject({ status: 200, json: { groupsLeft: [acme.groupId] } });
  });

  it('refuses invite fields that cannot mean what they say', async () => {
    const carpool = await ownedCarpool();
    const path = `/groups/${carpool.groupId}/invites`;
    for (const body of [{ maxUses: 0 }, { expiresInMs: 10 }, { email: 'not-an-email' }, { role: 'owner' }]) {
      const res = await api<ApiErrorBody>(carpool.owner.token, 'POST', path, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.message).toMatch(Object.keys(body)[0]!);
    }
  });
});
