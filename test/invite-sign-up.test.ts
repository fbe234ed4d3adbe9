// Signing up through an invite link: a newcomer gives email, name and password, and comes out with
// an account, a seat in the group and a session cookie, in one step. An email that already has an
// account is told to sign in and accept; a used-up, revoked or expired invite, a full group or the
// wrong email leaves no account behind, however many sign up at once.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { browser, login, newAddress, sessionCookieOf } from './support/auth';
import { type ApiErrorBody, memberCount, ownedCarpool, statusCounts } from './support/groups';
import { api, newUser } from './support/relay';

type Refusal = ApiErrorBody & { error: { details?: { status?: string } } };
interface SignedUp {
  user: { id: string; email: string; name: string; passwordHash?: string };
  session: { id: string; method: string };
  group: { id: string; name: string };
  member: { groupId: string; userId: string; role: string };
}

const PASSWORD = 'a long enough password';

async function invite(token: string, groupId: string, body: Record<string, unknown> = {}) {
  const res = await api<{ id: string; token: string }>(token, 'POST', `/groups/${groupId}/invites`, body);
  if (res.status !== 201) throw new Error(`invite: ${JSON.stringify(res.json)}`);
  return res.json;
}

function email(): string {
  return `${crypto.randomUUID().slice(0, 12)}@example.com`;
}

function signUp(token: string, body: Record<string, unknown>) {
  return browser<SignedUp & Refusal>(null, 'POST', `/invites/${token}/sign-up`, { body, ip: newAddress() });
}

async function usersWith(...emails: string[]): Promise<number> {
  const row = await env.DB.prepare(
    `SELECT count(*) AS n FROM users WHERE email IN (${emails.map(() => '?').join(',')})`,
  )
    .bind(...emails)
    .first<{ n: number }>();
  return row!.n;
}

async function uses(inviteId: string): Promise<number> {
  return (await env.DB.prepare('SELECT uses FROM invites WHERE id = ?')
    .bind(inviteId)
    .first<{ uses: number }>())!.uses;
}

describe('signing up through an invite', () => {
  it('creates the account, joins the group and signs in; the newcomer then makes a key', async () => {
    const carpool = await ownedCarpool();
    const made = await invite(carpool.owner.token, carpool.groupId);
    const address = email();
    const res = await signUp(made.token, {
      email: address.toUpperCase(),
      name: 'Friend',
      password: PASSWORD,
    });
    expect(res.status).toBe(201);
    expect(res.json.user).toMatchObject({ email: address, name: 'Friend' });
    expect(res.json.user.passwordHash).toBeUndefined();
    expect(res.json.member).toMatchObject({
      groupId: carpool.groupId,
      userId: res.json.user.id,
      role: 'member',
    });
    expect(res.json.group.id).toBe(carpool.groupId);
    // The session says how the person got in (auth.md's session methods).
    expect(res.json.session.method).toBe('invite');
    const session = sessionCookieOf(res.res);

    const me = await browser<{ userId: string }>(session, 'GET', '/me');
    expect(me).toMatchObject({ status: 200, json: { userId: res.json.user.id } });
    const key = await browser<{ key: string; userId: string }>(
      session,
      'POST',
      `/groups/${carpool.groupId}/keys`,
      {
        body: { name: 'laptop' },
      },
    );
    expect(key.status).toBe(201);
    expect(key.json.userId).toBe(res.json.user.id);
    expect(await uses(made.id)).toBe(1);
    // The password they chose signs them in later.
    expect((await login(address, PASSWORD)).status).toBe(200);
    const audit = await env.DB.prepare(
      "SELECT action FROM audit_log WHERE actor_id = ? AND action IN ('user.create', 'invite.accept') ORDER BY action",
    )
      .bind(res.json.user.id)
      .all<{ action: string }>();
    expect(audit.results.map((r) => r.action)).toEqual(['invite.accept', 'user.create']);
  });

  it('tells someone who already has an account to sign in and accept, and changes nothing', async () => {
    const carpool = await ownedCarpool();
    const made = await invite(carpool.owner.token, carpool.groupId);
    const existing = await newUser('Has account');
    const res = await signUp(made.token, {
      email: existing.email.toUpperCase(),
      name: 'Again',
      password: PASSWORD,
    });
    expect(res.status).toBe(409);
    expect(res.json.error.details?.status).toBe('account_exists');
    expect(res.json.error.message).toMatch(/sign in, then accept/);
    expect(res.res.headers.getSetCookie().join()).not.toContain('carpool_session=');
    expect(await memberCount(carpool.groupId)).toBe(1);
    expect(await uses(made.id)).toBe(0);
    // Signed in, they accept with the existing route.
    expect((await api(existing.token, 'POST', `/invites/${made.token}/accept`)).status).toBe(200);
  });

  it('says an email has an account only as often as a sign-in may fail, then a 429 naming no one', async () => {
    const carpool = await ownedCarpool();
    const made = await invite(carpool.owner.token, carpool.groupId, { maxUses: 50 });
    const existing = await newUser('Probed');
    const ip = newAddress();
    const probe = (address: string, from = ip) =>
      browser<Refusal>(null, 'POST', `/invites/${made.token}/sign-up`, {
        body: { email: address, name: 'Probe', password: PASSWORD },
        ip: from,
      });
    // Per email: 10, as for failed sign-ins, whatever the address.
    for (let i = 0; i < 10; i++) expect((await probe(existing.email, newAddress())).status).toBe(409);
    const limited = await probe(existing.email);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.json.error.details?.status).toBeUndefined();
    expect(limited.json.error.message).not.toMatch(/account|exists/i);
    // Per address: 30 such answers, for any emails (this address has counted 1: make it 30).
    const counted = await env.DB.prepare('UPDATE login_limits SET failures = 30 WHERE key = ?')
      .bind(`address:${ip}`)
      .run();
    expect(counted.meta.changes).toBe(1);
    const other = await newUser('Also probed');
    expect((await probe(other.email)).status).toBe(429);
    expect((await probe(other.email, newAddress())).status).toBe(409);
    // A newcomer is not held up by others' probes from the same address: signing up is no failure.
    expect((await probe(email())).status).toBe(201);
    expect(await memberCount(carpool.groupId)).toBe(2);
  });

  it('honours the invite’s email restriction', async () => {
    const carpool = await ownedCarpool();
    const invited = email();
    const made = await invite(carpool.owner.token, carpool.groupId, { email: invited });
    const stranger = email();
    const wrong = await signUp(made.token, { email: stranger, name: 'Stranger', password: PASSWORD });
    expect(wrong.status).toBe(403);
    expect(wrong.json.error.details?.status).toBe('wrong_email');
    expect(await usersWith(stranger)).toBe(0);
    const right = await signUp(made.token, {
      email: invited.toUpperCase(),
      name: 'Invited',
      password: PASSWORD,
    });
    expect(right.status).toBe(201);
  });

  it('says plainly when the invite is used up, revoked or expired, and creates nobody', async () => {
    const carpool = await ownedCarpool();
    const usedUp = await invite(carpool.owner.token, carpool.groupId, { maxUses: 1 });
    expect((await signUp(usedUp.token, { email: email(), name: 'First', password: PASSWORD })).status).toBe(
      201,
    );
    const revoked = await invite(carpool.owner.token, carpool.groupId);
    await api(carpool.owner.token, 'DELETE', `/groups/${carpool.groupId}/invites/${revoked.id}`);
    const expired = await invite(carpool.owner.token, carpool.groupId);
    await env.DB.prepare('UPDATE invites SET expires_at = ? WHERE id = ?')
      .bind(Date.now() - 1, expired.id)
      .run();
    for (const [made, status] of [
      [usedUp, 'used_up'],
      [revoked, 'revoked'],
      [expired, 'expired'],
    ] as const) {
      const address = email();
      const res = await signUp(made.token, { email: address, name: 'Late', password: PASSWORD });
      expect(res.status, status).toBe(409);
      expect(res.json.error.details?.status).toBe(status);
      expect(await usersWith(address)).toBe(0);
    }
    expect(
      (await signUp(`cpinv_${'0'.repeat(48)}`, { email: email(), name: 'X', password: PASSWORD })).status,
    ).toBe(404);
  });

  it('refuses a malformed sign-up, naming the field', async () => {
    const carpool = await ownedCarpool();
    const made = await invite(carpool.owner.token, carpool.groupId);
    const short = await signUp(made.token, { email: email(), name: 'Short', password: 'short' });
    expect(short.status).toBe(400);
    expect(short.json.error.message).toContain('password');
    const extra = await signUp(made.token, {
      email: email(),
      name: 'Extra',
      password: PASSWORD,
      role: 'owner',
    });
    expect(extra.status).toBe(400);
    expect(extra.json.error.message).toContain('role');
    expect(await uses(made.id)).toBe(0);
  });

  it('12 parallel sign-ups for 1 free seat give exactly 1 account and 1 member', async () => {
    const carpool = await ownedCarpool();
    await api(carpool.owner.token, 'PATCH', `/groups/${carpool.groupId}`, { maxMembers: 2 });
    const made = await invite(carpool.owner.token, carpool.groupId, { maxUses: 20 });
    const emails = Array.from({ length: 12 }, email);
    const results = await Promise.all(
      emails.map((e) => signUp(made.token, { email: e, name: 'Racer', password: PASSWORD })),
    );
    expect(statusCounts(results)).toEqual({ 201: 1, 409: 11 });
    for (const r of results.filter((r) => r.status === 409))
      expect(r.json.error.details?.status).toBe('group_full');
    expect(await memberCount(carpool.groupId)).toBe(2);
    expect(await usersWith(...emails)).toBe(1);
    expect(await uses(made.id)).toBe(1);
  });

  it('12 parallel sign-ups on a one-use invite give exactly 1 account', async () => {
    const carpool = await ownedCarpool();
    const made = await invite(carpool.owner.token, carpool.groupId, { maxUses: 1 });
    const emails = Array.from({ length: 12 }, email);
    const results = await Promise.all(
      emails.map((e) => signUp(made.token, { email: e, name: 'Racer', password: PASSWORD })),
    );
    expect(statusCounts(results)).toEqual({ 201: 1, 409: 11 });
    for (const r of results.filter((r) => r.status === 409))
      expect(r.json.error.details?.status).toBe('used_up');
    expect(await usersWith(...emails)).toBe(1);
    expect(await memberCount(carpool.groupId)).toBe(2);
  });
});
