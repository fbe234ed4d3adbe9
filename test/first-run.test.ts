// First run: while no user exists, the holder of SETUP_TOKEN creates the first user, a system
// admin, and is signed in; then setup is closed for good. This file's D1 starts empty (each test
// file has its own storage), and its tests run in order on the same database.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { db } from '../worker/db/client';
import { completeSetup, setupState } from '../worker/domain/setup';
import { browser, login, sessionCookieOf } from './support/auth';

const TOKEN = 'test-setup-token';

async function userCount(): Promise<number> {
  return (await env.DB.prepare('SELECT count(*) AS n FROM users').first<{ n: number }>())!.n;
}

function setup(body: Record<string, unknown>) {
  return browser<{ user: { id: string; systemRole: string }; error?: { code: string; message: string } }>(
    null,
    'POST',
    '/setup',
    { body },
  );
}

describe('first-run setup', () => {
  let winner: { email: string; session: string; id: string };

  it('is open while no user exists, and refuses a wrong token or a weak password', async () => {
    const state = await browser<{ open: boolean; message: string }>(null, 'GET', '/setup');
    expect(state).toMatchObject({ status: 200, json: { open: true } });
    const wrong = await setup({
      token: 'guess',
      email: 'root@example.com',
      name: 'Root',
      password: 'long enough',
    });
    expect(wrong.status).toBe(403);
    expect(wrong.json.error!.message).toContain('setup token is wrong');
    const weak = await setup({ token: TOKEN, email: 'root@example.com', name: 'Root', password: 'short' });
    expect(weak.status).toBe(400);
    expect(await userCount()).toBe(0);
  });

  it('is refused, and says why, while SETUP_TOKEN is not set', async () => {
    const without = { ...env, SETUP_TOKEN: '' };
    expect((await setupState(db(env), without)).message).toContain('SETUP_TOKEN');
    const ctx = { db: db(env), env: without, ip: null, userAgent: null };
    const input = { token: '', email: 'root@example.com', name: 'Root', password: 'long enough' };
    await expect(completeSetup(ctx, input)).rejects.toThrow(/SETUP_TOKEN/);
    expect(await userCount()).toBe(0);
  });

  it('lets exactly one of several concurrent setups create the first user, a signed-in system admin', async () => {
    const attempts = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        setup({
          token: TOKEN,
          email: `admin${i}@example.com`,
          name: `Admin ${i}`,
          password: 'a long passphrase',
        }),
      ),
    );
    const statuses = attempts.map((a) => a.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409]);
    expect(await userCount()).toBe(1);
    const won = attempts.find((a) => a.status === 201)!;
    expect(won.json.user.systemRole).toBe('system_admin');
    const lost = attempts.find((a) => a.status === 409)!;
    expect(lost.json.error!.message).toContain('Setup is done');
    const session = sessionCookieOf(won.res);
    const me = await browser<{ userId: string; systemRole: string; via: string }>(session, 'GET', '/me');
    expect(me.json).toMatchObject({ userId: won.json.user.id, systemRole: 'system_admin', via: 'session' });
    const email = (await env.DB.prepare('SELECT email FROM users').first<{ email: string }>())!.email;
    winner = { email, session, id: won.json.user.id };
    const audit = await env.DB.prepare(
      "SELECT detail FROM audit_log WHERE action = 'user.create' AND target_id = ?",
    )
      .bind(winner.id)
      .first<{ detail: string }>();
    expect(JSON.parse(audit!.detail)).toMatchObject({ via: 'setup', systemRole: 'system_admin' });
    expect(audit!.detail).not.toContain('passphrase');
  });

  it('then says plainly that setup is done, and stays closed', async () => {
    const state = await browser<{ open: boolean; message: string }>(null, 'GET', '/setup');
    expect(state.json.open).toBe(false);
    expect(state.json.message).toContain('Setup is done');
    const again = await setup({
      token: TOKEN,
      email: 'late@example.com',
      name: 'Late',
      password: 'a long passphrase',
    });
    expect(again.status).toBe(409);
    expect(await userCount()).toBe(1);
  });

  it('made a system admin who signs in with the password and acts as one', async () => {
    expect((await login(winner.email, 'a long passphrase')).status).toBe(200);
    const created = await browser(winner.session, 'POST', '/enterprises', { body: { name: 'Acme' } });
    expect(created.status).toBe(201);
  });
});
