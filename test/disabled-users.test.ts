// A person a system admin disables is refused everywhere at once: their session cookies, a fresh
// password sign-in, their personal access tokens, and their member keys on the relay. Letting
// them back in restores sign-in and tokens; their keys stay revoked (they make new ones).
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { browser, login, newAddress, passwordUser, sessionCookieOf } from './support/auth';
import { ownedCarpool, tokenFor } from './support/groups';
import { ADMIN_TOKEN, api, streamMessage } from './support/relay';

async function disabledPerson() {
  const carpool = await ownedCarpool();
  const person = await passwordUser('Dana');
  expect(
    (await api(ADMIN_TOKEN, 'POST', `/groups/${carpool.groupId}/members`, { userId: person.id })).status,
  ).toBe(201);
  const signedIn = await login(person.email, person.password);
  expect(signedIn.status).toBe(200);
  const session = sessionCookieOf(signedIn.res);
  const token = await tokenFor(person.id);
  const key = await api<{ key: string }>(token, 'POST', `/groups/${carpool.groupId}/keys`, {
    name: 'laptop',
  });
  expect(key.status).toBe(201);
  // Everything works before.
  expect((await browser(session, 'GET', '/me')).status).toBe(200);
  expect((await api(token, 'GET', '/me')).status).toBe(200);
  const before = await streamMessage(key.json.key);
  expect(before.status).toBe(200);
  await before.text();

  const disabled = await api<{ disabledAt: number | null }>(ADMIN_TOKEN, 'PATCH', `/users/${person.id}`, {
    disabled: true,
  });
  expect(disabled.status).toBe(200);
  expect(disabled.json.disabledAt).not.toBeNull();
  return { ...person, session, token, key: key.json.key, groupId: carpool.groupId };
}

describe('a disabled user', () => {
  it('is refused with their session, their token, a new password sign-in and their keys', async () => {
    const p = await disabledPerson();
    const me = await browser<{ error: { message: string } }>(p.session, 'GET', '/me');
    expect(me.status).toBe(401);
    expect(me.json.error.message).toContain('session has ended');
    expect((await api(p.token, 'GET', '/me')).status).toBe(401);

    const again = await login(p.email, p.password, { ip: newAddress() });
    expect(again.status).toBe(403);
    expect(JSON.stringify(again.json)).toContain('disabled');
    expect(again.res.headers.getSetCookie().join()).not.toContain('carpool_session=');
    // A wrong password still gets the answer everyone gets: guessing tells nobody the account is disabled.
    expect((await login(p.email, 'not the password', { ip: newAddress() })).status).toBe(401);

    const relayed = await streamMessage(p.key);
    expect(relayed.status).toBe(403);
    const body = (await relayed.json()) as { type: string; error: { type: string; message: string } };
    expect(body).toMatchObject({
      type: 'error',
      error: { type: 'permission_error', message: 'This API key has been revoked.' },
    });
  });

  it('has their sessions ended and their keys revoked in D1, and the change audited', async () => {
    const p = await disabledPerson();
    const open = await env.DB.prepare(
      'SELECT COUNT(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL',
    )
      .bind(p.id)
      .first<{ n: number }>();
    expect(open!.n).toBe(0);
    const active = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM api_keys WHERE user_id = ? AND status = 'active'",
    )
      .bind(p.id)
      .first<{ n: number }>();
    expect(active!.n).toBe(0);
    const audit = await env.DB.prepare(
      "SELECT detail FROM audit_log WHERE action = 'user.update' AND target_id = ? ORDER BY at DESC LIMIT 1",
    )
      .bind(p.id)
      .first<{ detail: string }>();
    expect(JSON.parse(audit!.detail)).toMatchObject({ keysRevoked: 1, sessionsEnded: 1 });
  });

  it('let back in, signs in and uses tokens again; the revoked key stays revoked', async () => {
    const p = await disabledPerson();
    expect((await api(ADMIN_TOKEN, 'PATCH', `/users/${p.id}`, { disabled: false })).status).toBe(200);
    const again = await login(p.email, p.password, { ip: newAddress() });
    expect(again.status).toBe(200);
    expect((await browser(sessionCookieOf(again.res), 'GET', '/me')).status).toBe(200);
    // The old session was ended, not just hidden while disabled.
    expect((await browser(p.session, 'GET', '/me')).status).toBe(401);
    expect((await api(p.token, 'GET', '/me')).status).toBe(200);
    const relayed = await streamMessage(p.key);
    expect(relayed.status).toBe(403);
    expect(await relayed.text()).toContain('revoked');
  });
});
