// The operator API: one error envelope, secrets that never come back out, and the rules that
// keep tenants apart (one carpool per account, member limits, keys only for members).
import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../worker/auth/api-key';
import { decryptCredential } from '../worker/auth/credentials';
import { admin, eventually, RELAY, seedCarpool, streamMessage } from './support/relay';

interface ApiErrorBody {
  error: { code: string; message: string; requestId: string };
}

describe('operator API', () => {
  it('refuses a missing or wrong operator token with the admin envelope', async () => {
    for (const authorization of [undefined, 'Bearer nope']) {
      const res = await SELF.fetch(`${RELAY}/admin/v1/accounts`, {
        headers: authorization ? { authorization } : {},
      });
      expect(res.status).toBe(401);
      const body = (await res.json()) as ApiErrorBody;
      expect(body.error.code).toBe('unauthorized');
      expect(body.error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('validates input and names the field', async () => {
    const res = await admin<ApiErrorBody>('POST', '/accounts', {
      name: '',
      provider: 'nope',
      credential: 'x',
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_request');
    expect(res.json.error.message).toMatch(/name/);
    expect(res.json.error.message).toMatch(/provider/);
    const notJson = await SELF.fetch(`${RELAY}/admin/v1/users`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' },
      body: '{',
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as ApiErrorBody).error.code).toBe('invalid_request');
  });

  it('never returns an upstream credential, and stores it encrypted to its account', async () => {
    const secret = 'sk-ant-api03-SECRET-never-shown';
    const created = await admin<Record<string, unknown>>('POST', '/accounts', {
      name: 'a',
      provider: 'anthropic',
      credential: secret,
    });
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    for (const res of [created, await admin('GET', '/accounts'), await admin('GET', `/accounts/${id}`)]) {
      expect(JSON.stringify(res.json)).not.toContain('SECRET');
      expect(JSON.stringify(res.json)).not.toContain('credentials');
    }
    const row = await env.DB.prepare('SELECT credentials_enc FROM accounts WHERE id = ?')
      .bind(id)
      .first<{ credentials_enc: string }>();
    expect(row!.credentials_enc).not.toContain('SECRET');
    expect(await decryptCredential(env.CREDENTIALS_KEY, id, row!.credentials_enc)).toBe(secret);
    // Bound to its account: the same ciphertext on another account does not decrypt.
    await expect(
      decryptCredential(env.CREDENTIALS_KEY, 'another-account', row!.credentials_enc),
    ).rejects.toThrow();
  });

  it('shows a key once, stores only its hash, and shows its prefix afterwards', async () => {
    const carpool = await seedCarpool();
    expect(carpool.key).toMatch(/^cp-[A-Za-z0-9]{48}$/);
    const read = await admin<Record<string, unknown>>('GET', `/keys/${carpool.keyId}`);
    expect(JSON.stringify(read.json)).not.toContain(carpool.key.slice(3));
    expect(read.json.prefix).toBe(`${carpool.key.slice(0, 9)}…${carpool.key.slice(-4)}`);
    const row = await env.DB.prepare('SELECT key_hash FROM api_keys WHERE id = ?')
      .bind(carpool.keyId)
      .first<{ key_hash: string }>();
    expect(row!.key_hash).toBe(await sha256Hex(carpool.key));
  });

  it('binds an account to one carpool only, caps members, and gives keys only to members', async () => {
    const carpool = await seedCarpool();
    const second = await admin<ApiErrorBody>('POST', '/groups', {
      name: 'thief',
      kind: 'carpool',
      accountId: carpool.accountId,
    });
    expect(second.status).toBe(409);
    expect(second.json.error.code).toBe('conflict');

    const small = await admin<{ id: string }>('POST', '/groups', {
      name: 'tiny',
      kind: 'carpool',
      maxMembers: 1,
      accountId: (
        await admin<{ id: string }>('POST', '/accounts', {
          name: 'b',
          provider: 'anthropic',
          credential: 'k',
        })
      ).json.id,
    });
    const u1 = await admin<{ id: string }>('POST', '/users', {
      email: `u1-${small.json.id}@x.io`,
      name: 'one',
    });
    const u2 = await admin<{ id: string }>('POST', '/users', {
      email: `u2-${small.json.id}@x.io`,
      name: 'two',
    });
    expect((await admin('POST', `/groups/${small.json.id}/members`, { userId: u1.json.id })).status).toBe(
      201,
    );
    const full = await admin<ApiErrorBody>('POST', `/groups/${small.json.id}/members`, {
      userId: u2.json.id,
    });
    expect(full.status).toBe(409);
    expect(full.json.error.message).toMatch(/full/);

    const outsider = await admin<ApiErrorBody>('POST', '/keys', {
      groupId: small.json.id,
      userId: u2.json.id,
    });
    expect(outsider.status).toBe(400);
    expect(outsider.json.error.message).toMatch(/not a member/);
    expect((await admin<ApiErrorBody>('GET', '/groups/no-such-group')).json.error.code).toBe('not_found');
  });

  it('reads usage for a key and for its group', async () => {
    const carpool = await seedCarpool();
    for (let i = 0; i < 3; i++) await (await streamMessage(carpool.key)).text();
    type Usage = {
      totals: { requests: number; inputTokens: number; costMicros: number };
      byMember: { userId: string }[];
    };
    const byKey = await eventually(async () => {
      const res = await admin<Usage>('GET', `/usage?keyId=${carpool.keyId}`);
      return res.json.totals.requests === 3 ? res.json : undefined;
    });
    const byGroup = await admin<Usage>('GET', `/usage?groupId=${carpool.groupId}`);
    expect(byGroup.json.totals).toEqual(byKey.totals);
    expect(byKey.totals.costMicros).toBeGreaterThan(0);
    expect(byGroup.json.byMember.map((m) => m.userId)).toEqual([carpool.userId]);
    expect((await admin<ApiErrorBody>('GET', '/usage')).json.error.code).toBe('invalid_request');
  });
});
