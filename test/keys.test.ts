// Self-service keys: members make and manage their own, owners every key of their group, all
// within the bounds the group sets; a change to a key's rules binds at once, even where an isolate
// still caches the key's old rules.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { AdmitRequest } from '../durable-objects/group-gate';
import { type ApiErrorBody, memberOf, ownedCarpool, type Person } from './support/groups';
import { ADMIN_TOKEN, admin, api, eventually, streamMessage } from './support/relay';

interface Key {
  id: string;
  key: string;
  userId: string;
  groupId: string;
  name: string;
  status: string;
  allowedModels: string[] | null;
  allowedServices: string[] | null;
  maxConcurrency: number | null;
  requestsPerWindow: number | null;
  windowMinutes: number | null;
  expiresAt: number | null;
  activeForMs: number | null;
}

async function ownKey(person: Person, groupId: string, rules: Record<string, unknown> = {}): Promise<Key> {
  const res = await api<Key>(person.token, 'POST', `/groups/${groupId}/keys`, rules);
  if (res.status !== 201) throw new Error(`key: ${JSON.stringify(res.json)}`);
  return res.json;
}

/** Asks the group's gate directly, as a worker whose isolate cached the key before a change would. */
function admitStale(groupId: string, keyId: string, fields: Partial<AdmitRequest> = {}) {
  const gate = env.GROUP_GATE.get(env.GROUP_GATE.idFromName(`group:${groupId}`));
  return gate.admit({
    groupId,
    keyId,
    leaseId: crypto.randomUUID(),
    model: 'claude-sonnet-4-5',
    providers: ['anthropic'],
    native: ['anthropic'],
    sessionKey: null,
    limits: { maxConcurrency: null, requestsPerWindow: null, windowMinutes: null },
    userId: 'member',
    reserveMicros: 0,
    service: 'anthropic',
    userAgent: 'claude-cli/2.1.3 (external, cli)',
    ...fields,
  });
}

async function relayStatus(key: string, model?: string): Promise<{ status: number; body: string }> {
  const res = await streamMessage(key, { model });
  return { status: res.status, body: await res.text() };
}

describe('self-service keys', () => {
  it('a member makes, lists, renames and revokes their own keys; the plaintext is shown once', async () => {
    const carpool = await ownedCarpool();
    const member = await memberOf(carpool.groupId);
    const made = await ownKey(member, carpool.groupId, { name: 'laptop' });
    expect(made).toMatchObject({
      userId: member.id,
      groupId: carpool.groupId,
      name: 'laptop',
      status: 'active',
    });
    expect(made.key).toMatch(/^cp-[A-Za-z0-9]{48}$/);
    expect((await relayStatus(made.key)).status).toBe(200);

    const mine = await api<{ data: Key[] }>(member.token, 'GET', `/groups/${carpool.groupId}/keys`);
    expect(mine.json.data.map((k) => k.id)).toEqual([made.id]);
    expect(JSON.stringify(mine.json)).not.toContain(made.key.slice(3));
    expect((await api<{ data: Key[] }>(member.token, 'GET', '/keys')).json.data.map((k) => k.id)).toEqual([
      made.id,
    ]);
    const all = await api<{ data: Key[] }>(carpool.owner.token, 'GET', `/groups/${carpool.groupId}/keys`);
    expect(all.json.data.map((k) => k.id).sort()).toEqual([made.id, carpool.keyId].sort());

    const renamed = await api<Key>(member.token, 'PATCH', `/keys/${made.id}`, { name: 'desktop' });
    expect(renamed).toMatchObject({ status: 200, json: { name: 'desktop' } });
    const revoked = await api<Key>(member.token, 'POST', `/keys/${made.id}/revoke`);
    expect(revoked).toMatchObject({ status: 200, json: { status: 'revoked' } });
    const refused = await relayStatus(made.key);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatch(/revoked/);
    const late = await api<ApiErrorBody>(member.token, 'PATCH', `/keys/${made.id}`, { name: 'again' });
    expect(late.status).toBe(409);
  });

  it('owners manage every key of their group; members only their own; other groups see nothing', async () => {
    const carpool = await ownedCarpool();
    const member = await memberOf(carpool.groupId);
    const peer = await memberOf(carpool.groupId);
    const other = await ownedCarpool();

    // A key spends on its holder's bill: the owner manages it but cannot make one in the member's
    // name (and so never holds its plaintext).
    const issued = await api<ApiErrorBody>(carpool.owner.token, 'POST', `/groups/${carpool.groupId}/keys`, {
      userId: member.id,
      name: 'issued',
    });
    expect(issued).toMatchObject({ status: 403, json: { error: { code: 'forbidden' } } });
    const forMember = await api<Key>(member.token, 'POST', `/groups/${carpool.groupId}/keys`, {
      name: 'mine',
    });
    expect(forMember).toMatchObject({ status: 201, json: { userId: member.id } });
    const id = forMember.json.id;
    // A member acting as owner.
    expect(
      (await api(peer.token, 'POST', `/groups/${carpool.groupId}/keys`, { userId: member.id })).status,
    ).toBe(403);
    expect(
      (await api(peer.token, 'POST', '/keys', { groupId: carpool.groupId, userId: member.id })).status,
    ).toBe(403);
    for (const [method, path, body] of [
      ['GET', `/keys/${id}`, undefined],
      ['PATCH', `/keys/${id}`, { name: 'mine' }],
      ['POST', `/keys/${id}/revoke`, undefined],
    ] as const) {
      expect((await api(peer.token, method, path, body)).status, `${method} ${path}`).toBe(403);
      expect((await api(other.owner.token, method, path, body)).status, `${method} ${path}`).toBe(404);
    }
    expect((await api(other.owner.token, 'GET', `/groups/${carpool.groupId}/keys`)).status).toBe(404);
    expect(
      (await api(other.owner.token, 'POST', `/groups/${carpool.groupId}/keys`, { userId: member.id })).status,
    ).toBe(404);
    const filtered = await api<{ data: Key[] }>(other.owner.token, 'GET', `/keys?groupId=${carpool.groupId}`);
    expect(filtered.json.data).toEqual([]);
    // The operator (automation) may make a key for someone, only a member of the group.
    const notMember = await api<ApiErrorBody>(ADMIN_TOKEN, 'POST', `/groups/${carpool.groupId}/keys`, {
      userId: other.owner.id,
    });
    expect(notMember.status).toBe(400);
    expect(notMember.json.error.message).toMatch(/not a member/);

    expect((await api(member.token, 'GET', `/keys/${id}`)).status).toBe(200);
    expect((await api(carpool.owner.token, 'PATCH', `/keys/${id}`, { maxConcurrency: 2 })).status).toBe(200);
    expect((await api(carpool.owner.token, 'POST', `/keys/${id}/revoke`)).status).toBe(200);
  });

  it('a narrowed rule binds at once, also where an isolate still caches the old rules', async () => {
    const carpool = await ownedCarpool();
    const member = await memberOf(carpool.groupId);
    const made = await ownKey(member, carpool.groupId);
    expect((await relayStatus(made.key, 'claude-sonnet-4-5')).status).toBe(200);

    const narrowed = await api<Key>(member.token, 'PATCH', `/keys/${made.id}`, {
      allowedModels: ['claude-haiku-*'],
      requestsPerWindow: 1,
      windowMinutes: 60,
    });
    expect(narrowed).toMatchObject({ status: 200, json: { allowedModels: ['claude-haiku-*'] } });
    const refused = await relayStatus(made.key, 'claude-sonnet-4-5');
    expect(refused.status).toBe(403);
    expect(refused.body).toMatch(/allowedModels/);

    // A worker still holding the key's old record (no model rule, no window) is held to the new one.
    expect(await admitStale(carpool.groupId, made.id)).toMatchObject({
      ok: false,
      code: 'model_not_allowed',
    });
    const first = await admitStale(carpool.groupId, made.id, { model: 'claude-haiku-4-5' });
    expect(first.ok).toBe(true);
    if (first.ok) {
      const gate = env.GROUP_GATE.get(env.GROUP_GATE.idFromName(`group:${carpool.groupId}`));
      await gate.release(first.leaseId, undefined, first.account.id);
    }
    expect(await admitStale(carpool.groupId, made.id, { model: 'claude-haiku-4-5' })).toMatchObject({
      ok: false,
      kind: 'rate_limited',
    });
  });

  it('a widened rule takes effect at once where it was made (elsewhere, within KEY_CACHE_TTL_MS)', async () => {
    const carpool = await ownedCarpool();
    const member = await memberOf(carpool.groupId);
    const made = await ownKey(member, carpool.groupId, { allowedModels: ['claude-haiku-*'] });
    expect((await relayStatus(made.key, 'claude-sonnet-4-5')).status).toBe(403);
    expect((await api(member.token, 'PATCH', `/keys/${made.id}`, { allowedModels: null })).status).toBe(200);
    expect((await relayStatus(made.key, 'claude-sonnet-4-5')).status).toBe(200);
  });

  it('the database stores no key for someone outside its group, whatever path writes it', async () => {
    const carpool = await ownedCarpool();
    const outsider = await ownedCarpool();
    const insert = env.DB.prepare(
      "INSERT INTO api_keys (id, key_hash, prefix, user_id, group_id) VALUES (?, ?, 'cp-x', ?, ?)",
    ).bind(crypto.randomUUID(), crypto.randomUUID(), outsider.owner.id, carpool.groupId);
    await expect(insert.run()).rejects.toThrow(/key_owner_not_member/);
  });

  it('refuses budgets and fields a key cannot change', async () => {
    const carpool = await ownedCarpool();
    for (const body of [{ dailyBudgetMicros: 1000 }, { groupId: 'other' }, { userId: 'someone' }]) {
      const res = await api<ApiErrorBody>(carpool.owner.token, 'PATCH', `/keys/${carpool.keyId}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.message).toMatch(Object.keys(body)[0]!);
    }
  });
});

describe('key bounds', () => {
  const bounds = {
    allowedModels: ['claude-haiku-*'],
    allowedServices: ['anthropic'],
    maxConcurrency: 2,
    requestsPerWindow: 10,
    windowMinutes: 60,
    maxLifetimeMs: 86_400_000,
  };

  it('a key leaving a bounded rule open gets the bound; one exceeding a bound is refused, naming it', async () => {
    const carpool = await ownedCarpool();
    const member = await memberOf(carpool.groupId);
    const set = await api(carpool.owner.token, 'PATCH', `/groups/${carpool.groupId}`, { keyBounds: bounds });
    expect(set).toMatchObject({ status: 200, json: { keyBounds: bounds } });
    expect((await api(member.token, 'PATCH', `/groups/${carpool.groupId}`, { keyBounds: null })).status).toBe(
      403,
    );

    const before = Date.now();
    const filled = await ownKey(member, carpool.groupId);
    expect(filled).toMatchObject({
      allowedModels: ['claude-haiku-*'],
      allowedServices: ['anthropic'],
      maxConcurrency: 2,
      requestsPerWindow: 10,
      windowMinutes: 60,
    });
    expect(filled.expiresAt).toBeGreaterThanOrEqual(before + 86_400_000);
    expect(filled.expiresAt).toBeLessThanOrEqual(Date.now() + 86_400_000);

    const cases: [Record<string, unknown>, RegExp][] = [
      [{ allowedModels: ['claude-sonnet-4-5'] }, /keyBounds\.allowedModels/],
      [{ allowedModels: ['claude-*'] }, /keyBounds\.allowedModels/],
      [{ allowedServices: ['openai'] }, /keyBounds\.allowedServices/],
      [{ maxConcurrency: 5 }, /keyBounds\.maxConcurrency/],
      // Two 30-minute windows of 10 fit in the bound's hour: 20 > 10.
      [{ requestsPerWindow: 10, windowMinutes: 30 }, /requestsPerWindow/],
      [{ expiresAt: Date.now() + 2 * 86_400_000 }, /keyBounds\.maxLifetimeMs/],
    ];
    for (const [rules, message] of cases) {
      const res = await api<ApiErrorBody>(member.token, 'POST', `/groups/${carpool.groupId}/keys`, rules);
      expect(res.status, JSON.stringify(rules)).toBe(400);
      expect(res.json.error.message).toMatch(message);
    }
    const within = await ownKey(member, carpool.groupId, {
      allowedModels: ['claude-haiku-4-5'],
      requestsPerWindow: 5,
      windowMinutes: 30,
      activeForMs: 3_600_000,
      maxConcurrency: 1,
    });
    expect(within).toMatchObject({ requestsPerWindow: 5, windowMinutes: 30, expiresAt: null });
    // Owners and the operator are bound too; so is a change.
    const byOwner = await api(carpool.owner.token, 'POST', `/groups/${carpool.groupId}/keys`, {
      maxConcurrency: 3,
    });
    expect(byOwner.status).toBe(400);
    const byOperator = await admin('POST', '/keys', {
      groupId: carpool.groupId,
      userId: member.id,
      allowedModels: ['claude-opus-4-1'],
    });
    expect(byOperator.status).toBe(400);
    const widened = await api<ApiErrorBody>(carpool.owner.token, 'PATCH', `/keys/${within.id}`, {
      allowedModels: null,
    });
    // Left open, a bounded rule is the bound.
    expect(widened).toMatchObject({ status: 200, json: { allowedModels: ['claude-haiku-*'] } });
    expect(
      (await api(carpool.owner.token, 'PATCH', `/keys/${within.id}`, { maxConcurrency: 10 })).status,
    ).toBe(400);
  });

  it('bounds set after a key was made bind it at admission at once', async () => {
    const carpool = await ownedCarpool();
    const member = await memberOf(carpool.groupId);
    const made = await ownKey(member, carpool.groupId);
    expect((await relayStatus(made.key, 'claude-sonnet-4-5')).status).toBe(200);
    const set = await api(carpool.owner.token, 'PATCH', `/groups/${carpool.groupId}`, {
      keyBounds: { allowedModels: ['claude-haiku-*'], maxConcurrency: 1 },
    });
    expect(set.status).toBe(200);
    const refused = await relayStatus(made.key, 'claude-sonnet-4-5');
    expect(refused.status).toBe(403);
    expect(refused.body).toMatch(/keyBounds\.allowedModels/);
    expect((await relayStatus(made.key, 'claude-haiku-4-5')).status).toBe(200);

    // The bound's concurrency applies to a key that has none of its own.
    const gate = env.GROUP_GATE.get(env.GROUP_GATE.idFromName(`group:${carpool.groupId}`));
    await eventually(async () => ((await gate.state()).leasesInUse === 0 ? true : undefined));
    const first = await admitStale(carpool.groupId, made.id, { model: 'claude-haiku-4-5' });
    expect(first).toMatchObject({ ok: true });
    expect(await admitStale(carpool.groupId, made.id, { model: 'claude-haiku-4-5' })).toMatchObject({
      ok: false,
      kind: 'rate_limited',
    });
    if (first.ok) await gate.release(first.leaseId, undefined, first.account.id);
    const cleared = await api(carpool.owner.token, 'PATCH', `/groups/${carpool.groupId}`, {
      keyBounds: null,
    });
    expect(cleared.status).toBe(200);
    expect((await relayStatus(made.key, 'claude-sonnet-4-5')).status).toBe(200);
  });

  it('refuses bounds that cannot mean what they say', async () => {
    const carpool = await ownedCarpool();
    for (const keyBounds of [
      { allowedModels: [] },
      { windowMinutes: 5 },
      { maxConcurrency: 0 },
      { budget: 1 },
    ]) {
      const res = await api<ApiErrorBody>(carpool.owner.token, 'PATCH', `/groups/${carpool.groupId}`, {
        keyBounds,
      });
      expect(res.status, JSON.stringify(keyBounds)).toBe(400);
      expect(res.json.error.message).toMatch(/keyBounds/);
    }
  });
});
