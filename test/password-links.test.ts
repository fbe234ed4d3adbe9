// Password links: a system admin makes one for a person who forgot their password (or never had
// one); the person uses it once to set a new password, which ends every session they had and
// signs them in. Through the API as the dashboard calls it, D1 for real.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../worker/auth/api-key';
import { browser, login, passwordUser, sessionCookieOf, signedIn } from './support/auth';
import { admin } from './support/relay';

const NEW_PASSWORD = 'a brand new password';

type Link = { token: string; userId: string; expiresAt: number };

async function linkFor(userId: string) {
  const made = await admin<Link>('POST', `/users/${userId}/password-link`);
  expect(made.status).toBe(201);
  return made.json;
}

const use = (token: string, password = NEW_PASSWORD) =>
  browser<{ user: { id: string }; session: { method: string } }>(null, 'POST', `/password-links/${token}`, {
    body: { password },
  });

describe('password links', () => {
  it('set a new password once, end every old session and sign the person in', async () => {
    const person = await signedIn('Forgetful');
    const link = await linkFor(person.id);
    expect(link.token).toMatch(/^cppwd_[0-9a-f]{48}$/);
    expect(link.expiresAt - Date.now()).toBeGreaterThan(23 * 3_600_000);
    // Only the token's hash is kept.
    const row = await env.DB.prepare('SELECT token_hash FROM password_resets WHERE user_id = ?')
      .bind(person.id)
      .first<{ token_hash: string }>();
    expect(row?.token_hash).toBe(await sha256Hex(link.token));

    const preview = await browser(null, 'GET', `/password-links/${link.token}`);
    expect(preview).toMatchObject({ status: 200, json: { email: person.email, name: 'Forgetful' } });

    const used = await use(link.token);
    expect(used.status).toBe(200);
    expect(used.json).toMatchObject({ user: { id: person.id }, session: { method: 'reset' } });
    const fresh = sessionCookieOf(used.res);
    expect((await browser(fresh, 'GET', '/me')).status).toBe(200);
    // Whoever held the old session (or knew the old password) is out.
    expect((await browser(person.session, 'GET', '/me')).status).toBe(401);
    expect((await login(person.email, person.password)).status).toBe(401);
    expect((await login(person.email, NEW_PASSWORD)).status).toBe(200);

    // Used once: the link is gone, for looking and for using.
    expect((await browser(null, 'GET', `/password-links/${link.token}`)).status).toBe(404);
    const again = await use(link.token, 'yet another password');
    expect(again).toMatchObject({ status: 404, json: { error: { code: 'not_found' } } });
    expect((await login(person.email, NEW_PASSWORD)).status).toBe(200);

    const audit = await env.DB.prepare(
      "SELECT action, actor_id FROM audit_log WHERE target_id = ? AND action LIKE 'user.password%' ORDER BY id",
    )
      .bind(person.id)
      .all<{ action: string; actor_id: string | null }>();
    expect(audit.results).toEqual([
      { action: 'user.password_link', actor_id: null },
      { action: 'user.password_reset', actor_id: person.id },
    ]);
  });

  it('gives a person added without a password a way in', async () => {
    const made = await admin<{ id: string }>('POST', '/users', {
      email: `${crypto.randomUUID().slice(0, 8)}@example.com`,
      name: 'Newcomer',
    });
    const link = await linkFor(made.json.id);
    expect((await use(link.token)).status).toBe(200);
  });

  it('a newer link voids the older; an expired or malformed one is a 404', async () => {
    const person = await passwordUser();
    const older = await linkFor(person.id);
    const newer = await linkFor(person.id);
    expect((await use(older.token)).status).toBe(404);
    expect((await browser(null, 'GET', `/password-links/cppwd_${'0'.repeat(48)}`)).status).toBe(404);
    expect((await browser(null, 'GET', '/password-links/not-a-token')).status).toBe(404);

    await env.DB.prepare('UPDATE password_resets SET expires_at = ? WHERE token_hash = ?')
      .bind(Date.now() - 1, await sha256Hex(newer.token))
      .run();
    expect((await use(newer.token)).status).toBe(404);
    expect((await login(person.email, person.password)).status).toBe(200);
  });

  it('of 10 uses at once, one sets the password and the others change nothing', async () => {
    const person = await passwordUser();
    const link = await linkFor(person.id);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => use(link.token, `parallel password ${i}`)),
    );
    const won = results.filter((r) => r.status === 200);
    expect(won).toHaveLength(1);
    expect(results.filter((r) => r.status === 404)).toHaveLength(9);
    const winner = results.indexOf(won[0]!);
    expect((await login(person.email, `parallel password ${winner}`)).status).toBe(200);
    // The winner's session survived the losers.
    expect((await browser(sessionCookieOf(won[0]!.res), 'GET', '/me')).status).toBe(200);
  });

  it('refuses a disabled person, a short password, and anyone but a system admin making one', async () => {
    const person = await passwordUser();
    expect((await admin('PATCH', `/users/${person.id}`, { disabled: true })).status).toBe(200);
    expect(await admin('POST', `/users/${person.id}/password-link`)).toMatchObject({
      status: 409,
      json: { error: { code: 'conflict' } },
    });
    expect((await admin('POST', `/users/${crypto.randomUUID()}/password-link`)).status).toBe(404);

    const other = await passwordUser();
    const link = await linkFor(other.id);
    expect((await use(link.token, 'short')).status).toBe(400);
    // Disabling someone voids their links: re-enabled, they need a new one.
    await admin('PATCH', `/users/${other.id}`, { disabled: true });
    expect((await use(link.token)).status).toBe(404);
    await admin('PATCH', `/users/${other.id}`, { disabled: false });
    expect((await use(link.token)).status).toBe(404);
    expect((await use((await linkFor(other.id)).token)).status).toBe(200);

    // Someone signed in, not a system admin, asking for a link to their own account: 403.
    const member = await signedIn();
    const own = await browser(member.session, 'POST', `/users/${member.id}/password-link`);
    expect(own.status).toBe(403);
  });
});
