// Accounts as people run them: an enterprise's pool under ai.manage, a carpool's one account bound
// by its owner, the test connection, exclusivity (in every path and in D1 itself), strict bodies.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, admin, api, fakeLog, newUser, streamMessage } from './support/relay';

interface ApiErrorBody {
  error: { code: string; message: string };
}
interface AccountBody {
  id: string;
  name: string;
  enterpriseId: string | null;
  groupId: string | null;
  enabled: boolean;
  live?: { enabled: boolean; reason: string | null };
}
type Person = Awaited<ReturnType<typeof newUser>>;

/** An enterprise with an owner, an admin and a plain member, each acting with their own token. */
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
  for (const [person, role] of [
    [adminUser, 'admin'],
    [member, 'member'],
  ] as const) {
    const added = await api(owner.token, 'POST', `/enterprises/${id}/members`, { userId: person.id, role });
    expect(added.status).toBe(201);
  }
  return { id, owner, admin: adminUser, member };
}

/** A carpool as the operator sets one up: an account, the group bound to it, an owner and a member with keys. */
async function carpool() {
  const tag = crypto.randomUUID().replaceAll('-', '');
  const [owner, member] = await Promise.all([newUser('Carpool owner'), newUser('Carpool member')]);
  const account = await admin<{ id: string }>('POST', '/accounts', {
    name: `acct ${tag}`,
    provider: 'anthropic',
    credential: `sk-fake.${tag}.ok`,
  });
  const group = await admin<{ id: string }>('POST', '/groups', {
    name: `carpool ${tag}`,
    kind: 'carpool',
    accountId: account.json.id,
  });
  await admin('POST', `/groups/${group.json.id}/members`, { userId: owner.id, role: 'owner' });
  await admin('POST', `/groups/${group.json.id}/members`, { userId: member.id, role: 'member' });
  const key = await admin<{ key: string }>('POST', '/keys', { groupId: group.json.id, userId: member.id });
  return { tag, groupId: group.json.id, accountId: account.json.id, owner, member, key: key.json.key };
}

const poolAccount = (enterpriseId: string, tag = crypto.randomUUID().slice(0, 8)) => ({
  name: `pool ${tag}`,
  provider: 'anthropic',
  credential: `sk-fake.${tag}.ok`,
  enterpriseId,
});

async function status(token: string, method: string, path: string, body?: unknown): Promise<number> {
  return (await api(token, method, path, body)).status;
}

describe('pool accounts', () => {
  it('are run by the enterprise owner (ai.manage), seen without secrets by its people, invisible to others', async () => {
    const acme = await enterprise();
    const other = await enterprise();
    const stranger = await newUser('Stranger');

    const created = await api<AccountBody>(acme.owner.token, 'POST', '/accounts', poolAccount(acme.id));
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ enterpriseId: acme.id, groupId: null, enabled: true });
    const id = created.json.id;

    // An enterprise admin runs groups, not pools; a plain member neither.
    expect(await status(acme.admin.token, 'POST', '/accounts', poolAccount(acme.id))).toBe(403);
    expect(await status(acme.member.token, 'POST', '/accounts', poolAccount(acme.id))).toBe(403);
    expect(await status(other.owner.token, 'POST', '/accounts', poolAccount(acme.id))).toBe(404);
    // Without an enterprise, an account would be no one's: people bind a carpool's instead.
    const nobodys = await api<ApiErrorBody>(acme.owner.token, 'POST', '/accounts', {
      ...poolAccount(acme.id),
      enterpriseId: undefined,
    });
    expect(nobodys.status).toBe(400);
    expect(nobodys.json.error.message).toMatch(/enterpriseId/);

    for (const person of [acme.owner, acme.admin, acme.member]) {
      const read = await api<AccountBody>(person.token, 'GET', `/accounts/${id}`);
      expect(read.status).toBe(200);
      expect(read.json.live?.enabled).toBe(true);
      expect(JSON.stringify(read.json)).not.toMatch(/sk-fake|credential/);
      expect(await status(person.token, 'GET', `/accounts/${id}/state`)).toBe(200);
      const listed = await api<{ data: AccountBody[] }>(person.token, 'GET', '/accounts');
      expect(listed.json.data.map((a) => a.id)).toEqual([id]);
      expect(JSON.stringify(listed.json)).not.toMatch(/sk-fake|credential/);
    }
    for (const person of [other.owner, stranger]) {
      expect(await status(person.token, 'GET', `/accounts/${id}`)).toBe(404);
      expect(await status(person.token, 'GET', `/accounts/${id}/state`)).toBe(404);
      expect(await status(person.token, 'PATCH', `/accounts/${id}`, { name: 'mine' })).toBe(404);
      expect(await status(person.token, 'POST', `/accounts/${id}/disable`, {})).toBe(404);
      const listed = await api<{ data: AccountBody[] }>(person.token, 'GET', '/accounts');
      expect(listed.json.data.map((a) => a.id)).not.toContain(id);
    }
    for (const person of [acme.admin, acme.member]) {
      expect(await status(person.token, 'PATCH', `/accounts/${id}`, { name: 'theirs' })).toBe(403);
      for (const action of ['disable', 'enable', 'reset', 'probe'])
        expect(await status(person.token, 'POST', `/accounts/${id}/${action}`)).toBe(403);
    }

    const renamed = await api<AccountBody>(acme.owner.token, 'PATCH', `/accounts/${id}`, {
      name: 'renamed',
      weight: 3,
    });
    expect(renamed).toMatchObject({ status: 200, json: { name: 'renamed' } });
    const disabled = await api<AccountBody>(acme.owner.token, 'POST', `/accounts/${id}/disable`, {
      reason: 'unpaid',
    });
    expect(disabled.json).toMatchObject({ enabled: false, disabledReason: 'unpaid' });
    const gate = await api<{ enabled: boolean; reason: string }>(
      acme.owner.token,
      'GET',
      `/accounts/${id}/state`,
    );
    expect(gate.json).toMatchObject({ enabled: false });
    expect((await api<AccountBody>(acme.owner.token, 'POST', `/accounts/${id}/enable`)).json.enabled).toBe(
      true,
    );
    expect(await status(acme.owner.token, 'POST', `/accounts/${id}/reset`)).toBe(200);
    const probe = await api<{ ok: boolean; status: number }>(
      acme.owner.token,
      'POST',
      `/accounts/${id}/probe`,
    );
    expect(probe.json).toMatchObject({ ok: true, status: 200 });

    // The operator (a system admin) sees every account, this one included.
    const all = await api<{ data: AccountBody[] }>(ADMIN_TOKEN, 'GET', '/accounts');
    expect(all.json.data.map((a) => a.id)).toContain(id);
  });

  it('join another pool only with ai.manage there too', async () => {
    const acme = await enterprise();
    const other = await enterprise();
    const created = await api<AccountBody>(acme.owner.token, 'POST', '/accounts', poolAccount(acme.id));
    const id = created.json.id;
    expect(await status(acme.owner.token, 'PATCH', `/accounts/${id}`, { enterpriseId: other.id })).toBe(404);
    expect(await status(acme.owner.token, 'PATCH', `/accounts/${id}`, { enterpriseId: null })).toBe(400);
    // Someone who owns both may move it.
    expect(
      (
        await api(ADMIN_TOKEN, 'POST', `/enterprises/${other.id}/members`, {
          userId: acme.owner.id,
          role: 'owner',
        })
      ).status,
    ).toBe(201);
    const moved = await api<AccountBody>(acme.owner.token, 'PATCH', `/accounts/${id}`, {
      enterpriseId: other.id,
    });
    expect(moved).toMatchObject({ status: 200, json: { enterpriseId: other.id } });
  });
});

describe('strict account bodies', () => {
  it('send a credential only to the host it was given for: another host takes it again', async () => {
    const acme = await enterprise();
    const { json } = await api<AccountBody>(acme.owner.token, 'POST', '/accounts', poolAccount(acme.id));
    const path = `/accounts/${json.id}`;
    const moved = await api<ApiErrorBody>(acme.owner.token, 'PATCH', path, {
      baseUrl: 'https://elsewhere.test',
    });
    expect(moved.status).toBe(400);
    expect(moved.json.error.message).toContain('credential');
    const read = await api<AccountBody & { baseUrl: string | null }>(acme.owner.token, 'GET', path);
    expect(read.json.baseUrl).toBeNull();
    const withCredential = await api<AccountBody>(acme.owner.token, 'PATCH', path, {
      baseUrl: 'https://elsewhere.test/v1',
      credential: 'sk-fake.elsewhere.ok',
    });
    expect(withCredential.status).toBe(200);
    // Another path on the same host is the same recipient.
    expect(await status(acme.owner.token, 'PATCH', path, { baseUrl: 'https://elsewhere.test/v2' })).toBe(200);
    expect(await status(acme.owner.token, 'PATCH', path, { baseUrl: null })).toBe(400);
  });

  it('refuse an Azure api-version that cannot stream with usage, made or changed', async () => {
    const acme = await enterprise();
    const azure = (apiVersion: string) => ({
      name: 'azure',
      provider: 'azure-openai',
      credential: 'azure-key',
      baseUrl: `https://res.openai.azure.com?api-version=${apiVersion}`,
      enterpriseId: acme.id,
    });
    const old = await api<ApiErrorBody>(acme.owner.token, 'POST', '/accounts', azure('2024-06-01'));
    expect(old.status).toBe(400);
    expect(old.json.error.message).toMatch(/baseUrl: api-version 2024-06-01 predates stream_options/);
    for (const fine of ['2024-09-01-preview', '2024-10-21', '2025-04-01-preview', 'preview'])
      expect((await api(acme.owner.token, 'POST', '/accounts', azure(fine))).status, fine).toBe(201);
    const made = await api<AccountBody>(acme.owner.token, 'POST', '/accounts', azure('2024-10-21'));
    expect(made.status).toBe(201);
    const changed = await api<ApiErrorBody>(acme.owner.token, 'PATCH', `/accounts/${made.json.id}`, {
      baseUrl: 'https://res.openai.azure.com?api-version=2024-02-01',
    });
    expect(changed.status).toBe(400);
    expect(changed.json.error.message).toMatch(/predates stream_options/);
  });

  it('refuse unknown and immutable fields, naming them', async () => {
    const acme = await enterprise();
    const { json } = await api<AccountBody>(acme.owner.token, 'POST', '/accounts', poolAccount(acme.id));
    for (const [field, body] of [
      ['provider', { provider: 'openai' }],
      ['authKind', { authKind: 'oauth' }],
      ['colour', { colour: 'red' }],
      ['provider', { name: 'ok', provider: 'anthropic' }],
    ] as const) {
      const res = await api<ApiErrorBody>(acme.owner.token, 'PATCH', `/accounts/${json.id}`, body);
      expect(res.status, field).toBe(400);
      expect(res.json.error.message).toContain(field);
    }
    const unknownOnCreate = await api<ApiErrorBody>(acme.owner.token, 'POST', '/accounts', {
      ...poolAccount(acme.id),
      region: 'eu',
    });
    expect(unknownOnCreate.status).toBe(400);
    expect(unknownOnCreate.json.error.message).toContain('region');
    // Nothing changed.
    const read = await api<AccountBody & { provider: string }>(
      acme.owner.token,
      'GET',
      `/accounts/${json.id}`,
    );
    expect(read.json.provider).toBe('anthropic');
  });
});

describe("a carpool's account", () => {
  it('is seen by members, run by the owner: unbind deletes it, bind makes a new one, keys work again', async () => {
    const pool = await carpool();
    const stranger = await newUser('Stranger');

    const seen = await api<AccountBody>(pool.member.token, 'GET', `/groups/${pool.groupId}/account`);
    expect(seen).toMatchObject({ status: 200, json: { id: pool.accountId, groupId: pool.groupId } });
    expect(seen.json.live?.enabled).toBe(true);
    expect(JSON.stringify(seen.json)).not.toMatch(/sk-fake|credential/);
    expect(await status(pool.member.token, 'GET', `/accounts/${pool.accountId}`)).toBe(200);
    const listed = await api<{ data: AccountBody[] }>(pool.member.token, 'GET', '/accounts');
    expect(listed.json.data.map((a) => a.id)).toEqual([pool.accountId]);
    expect(await status(stranger.token, 'GET', `/groups/${pool.groupId}/account`)).toBe(404);
    expect(await status(stranger.token, 'GET', `/accounts/${pool.accountId}`)).toBe(404);

    // Members do not change it; neither does anyone through the pool routes (no ai.manage there).
    expect(await status(pool.member.token, 'PATCH', `/groups/${pool.groupId}/account`, { name: 'x' })).toBe(
      403,
    );
    expect(await status(pool.member.token, 'DELETE', `/groups/${pool.groupId}/account`)).toBe(403);
    expect(await status(pool.owner.token, 'PATCH', `/accounts/${pool.accountId}`, { name: 'x' })).toBe(403);
    expect(await status(stranger.token, 'DELETE', `/groups/${pool.groupId}/account`)).toBe(404);

    const patched = await api<AccountBody>(pool.owner.token, 'PATCH', `/groups/${pool.groupId}/account`, {
      name: 'ours',
      maxConcurrency: 2,
    });
    expect(patched).toMatchObject({ status: 200, json: { name: 'ours' } });
    const immutable = await api<ApiErrorBody>(pool.owner.token, 'PATCH', `/groups/${pool.groupId}/account`, {
      provider: 'openai',
    });
    expect(immutable.status).toBe(400);
    expect(immutable.json.error.message).toContain('provider');
    const notHere = await api<ApiErrorBody>(pool.owner.token, 'PATCH', `/groups/${pool.groupId}/account`, {
      enterpriseId: 'e1',
    });
    expect(notHere.status).toBe(400);
    expect(notHere.json.error.message).toContain('enterpriseId');

    const again = await api<ApiErrorBody>(pool.owner.token, 'POST', `/groups/${pool.groupId}/account`, {
      provider: 'anthropic',
      credential: 'sk-fake.x.ok',
    });
    expect(again.status).toBe(409);

    // Unbind: the account and its credential are gone, the group stays, its keys are refused.
    expect(await status(pool.owner.token, 'DELETE', `/groups/${pool.groupId}/account`)).toBe(200);
    expect(await status(pool.member.token, 'GET', `/groups/${pool.groupId}/account`)).toBe(404);
    expect(await status(ADMIN_TOKEN, 'GET', `/accounts/${pool.accountId}`)).toBe(404);
    const row = await env.DB.prepare('SELECT count(*) AS n FROM accounts WHERE id = ?')
      .bind(pool.accountId)
      .first<{ n: number }>();
    expect(row!.n).toBe(0);
    const refused = await streamMessage(pool.key);
    expect(refused.status).toBeGreaterThanOrEqual(400);
    await refused.text();

    // Five binds at once: exactly one account is made and bound, the rest are 409 and leave nothing.
    const name = `new one ${pool.tag}`;
    const binds = await Promise.all(
      Array.from({ length: 5 }, () =>
        api<AccountBody>(pool.owner.token, 'POST', `/groups/${pool.groupId}/account`, {
          name,
          provider: 'anthropic',
          credential: `sk-fake.${pool.tag}.ok`,
          maxConcurrency: 3,
        }),
      ),
    );
    expect(binds.map((b) => b.status).sort()).toEqual([201, 409, 409, 409, 409]);
    const bound = binds.find((b) => b.status === 201)!;
    expect(bound.json).toMatchObject({ groupId: pool.groupId, enterpriseId: null });
    const made = await env.DB.prepare('SELECT id FROM accounts WHERE name = ?')
      .bind(name)
      .all<{ id: string }>();
    expect(made.results).toEqual([{ id: bound.json.id }]);
    expect(JSON.stringify(bound.json)).not.toContain('sk-fake');
    const ok = await streamMessage(pool.key);
    expect(ok.status).toBe(200);
    await ok.text();
  });

  it('belongs to carpools only', async () => {
    const acme = await enterprise();
    const group = await admin<{ id: string }>('POST', '/groups', {
      name: 'dept',
      kind: 'enterprise',
      enterpriseId: acme.id,
    });
    const res = await api<ApiErrorBody>(acme.owner.token, 'POST', `/groups/${group.json.id}/account`, {
      provider: 'anthropic',
      credential: 'sk-fake.x.ok',
    });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/enterprise group/);
  });
});

describe('an account is one carpool’s or one enterprise’s', () => {
  it('refuses an enterprise onto a bound account (409), in the API and in D1 itself', async () => {
    const pool = await carpool();
    const acme = await enterprise();
    const res = await admin<ApiErrorBody>('PATCH', `/accounts/${pool.accountId}`, { enterpriseId: acme.id });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('conflict');
    expect(res.json.error.message).toMatch(
      /bound to a carpool group; an account is either one carpool's or one enterprise's/,
    );
    const row = await env.DB.prepare('SELECT enterprise_id FROM accounts WHERE id = ?')
      .bind(pool.accountId)
      .first();
    expect(row).toEqual({ enterprise_id: null });
    await expect(
      env.DB.prepare('UPDATE accounts SET enterprise_id = ? WHERE id = ?')
        .bind(acme.id, pool.accountId)
        .run(),
    ).rejects.toThrow(/bound to a carpool group/);
  });

  it('refuses binding a pool account to a carpool (409), in the API and in D1 itself', async () => {
    const acme = await enterprise();
    const account = await api<AccountBody>(acme.owner.token, 'POST', '/accounts', poolAccount(acme.id));
    const res = await admin<ApiErrorBody>('POST', '/groups', {
      name: 'thief',
      kind: 'carpool',
      accountId: account.json.id,
    });
    expect(res.status).toBe(409);
    expect(res.json.error.message).toMatch(
      /is in the pool of enterprise [0-9a-f-]+: an account is either one carpool's or one enterprise's/,
    );
    const pool = await carpool();
    await expect(
      env.DB.prepare('UPDATE groups SET bound_account_id = NULL WHERE id = ?').bind(pool.groupId).run(),
    ).resolves.toBeTruthy();
    await expect(
      env.DB.prepare('UPDATE groups SET bound_account_id = ? WHERE id = ?')
        .bind(account.json.id, pool.groupId)
        .run(),
    ).rejects.toThrow(/in an enterprise pool/);
  });
});

describe('test connection', () => {
  it('checks a credential against the upstream, stores nothing and never echoes it', async () => {
    const person: Person = await newUser('Tester');
    const tag = crypto.randomUUID().replaceAll('-', '');
    const before = await env.DB.prepare('SELECT count(*) AS n FROM accounts').first<{ n: number }>();
    const ok = await api<{ ok: boolean; status: number; message: string }>(
      person.token,
      'POST',
      '/accounts/test',
      {
        provider: 'anthropic',
        credential: `sk-fake.${tag}.ok`,
      },
    );
    expect(ok).toMatchObject({ status: 200, json: { ok: true, status: 200 } });
    const log = await fakeLog(tag);
    expect(log.map((e) => `${e.method} ${e.path}`)).toEqual(['GET /v1/models']);

    const secret = 'sk-ant-api03-WRONG-never-echoed';
    const refused = await api<{ ok: boolean; status: number; message: string }>(
      person.token,
      'POST',
      '/accounts/test',
      {
        provider: 'anthropic',
        credential: secret,
      },
    );
    expect(refused).toMatchObject({ status: 200, json: { ok: false, status: 401 } });
    expect(refused.json.message).toMatch(/refused the credential/);
    expect(JSON.stringify(refused.json)).not.toContain('WRONG');

    const after = await env.DB.prepare('SELECT count(*) AS n FROM accounts').first<{ n: number }>();
    expect(after!.n).toBe(before!.n);
    expect(
      (await api(null, 'POST', '/accounts/test', { provider: 'anthropic', credential: 'x' })).status,
    ).toBe(401);
    const noBase = await api<ApiErrorBody>(person.token, 'POST', '/accounts/test', {
      provider: 'openai-compatible',
      credential: 'x',
    });
    expect(noBase.status).toBe(400);
    expect(noBase.json.error.message).toMatch(/baseUrl/);
  });
});
