// Usage and the audit log, read by people: each sees what their scope covers, and a filter naming
// something outside it is a 404.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, admin, api, eventually, newUser, streamMessage } from './support/relay';

interface Usage {
  totals: { requests: number; costMicros: number };
  byMember: { userId: string; name: string | null; requests: number }[];
  byKey: { keyId: string; name: string | null; prefix: string | null; requests: number }[];
  byModel: { model: string }[];
  byHour: { hour: number }[];
}
interface AuditEntry {
  action: string;
  enterpriseId: string | null;
  groupId: string | null;
  targetId: string;
}
type Person = Awaited<ReturnType<typeof newUser>>;

async function status(token: string, path: string): Promise<number> {
  return (await api(token, 'GET', path)).status;
}

async function use(key: string, times: number) {
  for (let i = 0; i < times; i++) await (await streamMessage(key)).text();
}

type Key = { id: string; key: string; name: string; prefix: string };

async function keyFor(groupId: string, person: Person, name = '') {
  await admin('POST', `/groups/${groupId}/members`, { userId: person.id, role: 'member' });
  return newKey(groupId, person, name);
}

async function newKey(groupId: string, person: Person, name: string) {
  return (await admin<Key>('POST', '/keys', { groupId, userId: person.id, name })).json;
}

/**
 * An enterprise (owner, admin, plain member) with a pool account and one group of two members who
 * each use it; and a carpool (owner, member) that both use.
 */
async function world() {
  const tag = crypto.randomUUID().replaceAll('-', '');
  const people = await Promise.all(
    ['owner', 'admin', 'member', 'u1', 'u2', 'carOwner', 'carMember', 'stranger'].map((n) => newUser(n)),
  );
  const [owner, entAdmin, entMember, u1, u2, carOwner, carMember, stranger] = people as [
    Person,
    Person,
    Person,
    Person,
    Person,
    Person,
    Person,
    Person,
  ];
  const enterprise = (
    await api<{ id: string }>(ADMIN_TOKEN, 'POST', '/enterprises', { name: `e ${tag}`, ownerId: owner.id })
  ).json.id;
  await api(owner.token, 'POST', `/enterprises/${enterprise}/members`, {
    userId: entAdmin.id,
    role: 'admin',
  });
  await api(owner.token, 'POST', `/enterprises/${enterprise}/members`, {
    userId: entMember.id,
    role: 'member',
  });
  const poolAccount = (
    await api<{ id: string }>(owner.token, 'POST', '/accounts', {
      name: 'pool',
      provider: 'anthropic',
      credential: `sk-fake.${tag}p.ok`,
      enterpriseId: enterprise,
    })
  ).json.id;
  const group = (
    await admin<{ id: string }>('POST', '/groups', {
      name: 'g',
      kind: 'enterprise',
      enterpriseId: enterprise,
    })
  ).json.id;
  const k1 = await keyFor(group, u1, 'u1 laptop');
  const k2 = await keyFor(group, u2, 'u2 laptop');

  const carAccount = (
    await admin<{ id: string }>('POST', '/accounts', {
      name: 'car',
      provider: 'anthropic',
      credential: `sk-fake.${tag}c.ok`,
    })
  ).json.id;
  const carpool = (
    await admin<{ id: string }>('POST', '/groups', { name: 'c', kind: 'carpool', accountId: carAccount })
  ).json.id;
  await admin('POST', `/groups/${carpool}/members`, { userId: carOwner.id, role: 'owner' });
  const kc = await keyFor(carpool, carMember, 'car laptop');

  await use(k1.key, 1);
  await use(k2.key, 2);
  await use(kc.key, 1);
  await eventually(async () => {
    const all = await api<Usage>(ADMIN_TOKEN, 'GET', `/usage?groupId=${group}`);
    const car = await api<Usage>(ADMIN_TOKEN, 'GET', `/usage?groupId=${carpool}`);
    return all.json.totals.requests === 3 && car.json.totals.requests === 1 ? true : undefined;
  });
  return {
    enterprise,
    group,
    carpool,
    poolAccount,
    carAccount,
    owner,
    entAdmin,
    entMember,
    u1,
    u2,
    carOwner,
    carMember,
    stranger,
    k1,
    k2,
    kc,
  };
}

describe('usage, scoped by the caller', () => {
  it('a member: their own usage, their group’s totals, nobody else’s', async () => {
    const w = await world();
    const own = await api<Usage>(w.u1.token, 'GET', `/usage?userId=${w.u1.id}`);
    expect(own.json.totals.requests).toBe(1);
    const byKey = await api<Usage>(w.u1.token, 'GET', `/usage?keyId=${w.k1.id}`);
    expect(byKey.json.totals.requests).toBe(1);

    const group = await api<Usage>(w.u1.token, 'GET', `/usage?groupId=${w.group}`);
    expect(group.status).toBe(200);
    expect(group.json.totals.requests).toBe(3);
    expect(group.json.byMember).toEqual([expect.objectContaining({ userId: w.u1.id, requests: 1 })]);

    expect(await status(w.u1.token, `/usage?userId=${w.u2.id}`)).toBe(404);
    expect(await status(w.u1.token, `/usage?keyId=${w.k2.id}`)).toBe(404);
    expect(await status(w.u1.token, `/usage?groupId=${w.carpool}`)).toBe(404);
    expect(await status(w.u1.token, `/usage?groupId=${w.group}&userId=${w.u2.id}`)).toBe(404);
    // An account is seen by whoever sees it: a carpool's by its members (their own usage on it),
    // a pool's by the enterprise's people, not by a member of one of its groups.
    const onAccount = await api<Usage>(w.carMember.token, 'GET', `/usage?accountId=${w.carAccount}`);
    expect(onAccount.json.totals.requests).toBe(1);
    expect(await status(w.u1.token, `/usage?accountId=${w.poolAccount}`)).toBe(404);
    expect(await status(w.u1.token, `/usage?accountId=${w.carAccount}`)).toBe(404);
  });

  it('whoever manages a group sees all of it; the enterprise’s plain members and strangers do not', async () => {
    const w = await world();
    for (const manager of [w.owner, w.entAdmin]) {
      const group = await api<Usage>(manager.token, 'GET', `/usage?groupId=${w.group}`);
      expect(group.json.totals.requests).toBe(3);
      // Each member's line names them, as the group's member list does.
      expect(
        group.json.byMember
          .map(({ userId, name }) => ({ userId, name }))
          .sort((a, b) => (a.name! < b.name! ? -1 : 1)),
      ).toEqual([
        { userId: w.u1.id, name: 'u1' },
        { userId: w.u2.id, name: 'u2' },
      ]);
      expect((await api<Usage>(manager.token, 'GET', `/usage?userId=${w.u2.id}`)).json.totals.requests).toBe(
        2,
      );
      expect((await api<Usage>(manager.token, 'GET', `/usage?keyId=${w.k2.id}`)).json.totals.requests).toBe(
        2,
      );
      expect(
        (await api<Usage>(manager.token, 'GET', `/usage?accountId=${w.poolAccount}`)).json.totals.requests,
      ).toBe(3);
      expect(await status(manager.token, `/usage?groupId=${w.carpool}`)).toBe(404);
      expect(await status(manager.token, `/usage?userId=${w.carMember.id}`)).toBe(404);
    }
    expect(await status(w.entMember.token, `/usage?groupId=${w.group}`)).toBe(404);
    expect(await status(w.stranger.token, `/usage?groupId=${w.group}`)).toBe(404);
    expect(await status(w.stranger.token, `/usage?accountId=${w.poolAccount}`)).toBe(404);

    const car = await api<Usage>(w.carOwner.token, 'GET', `/usage?groupId=${w.carpool}`);
    expect(car.json.byMember.map((m) => m.userId)).toEqual([w.carMember.id]);
    expect(
      (await api<Usage>(w.carOwner.token, 'GET', `/usage?userId=${w.carMember.id}`)).json.totals.requests,
    ).toBe(1);
    expect(
      (await api<Usage>(w.carOwner.token, 'GET', `/usage?accountId=${w.carAccount}`)).json.totals.requests,
    ).toBe(1);
    expect(await status(w.carOwner.token, `/usage?groupId=${w.group}`)).toBe(404);
    // A filter is needed; the operator reads anything.
    expect(await status(w.u1.token, '/usage')).toBe(400);
    expect((await api<Usage>(ADMIN_TOKEN, 'GET', `/usage?userId=${w.u2.id}`)).json.totals.requests).toBe(2);
  });
});

describe('usage by key', () => {
  /** A key's line as the test knows it: its id, name, prefix and request count. */
  const line = (key: Key, requests: number) => ({
    keyId: key.id,
    name: key.name,
    prefix: key.prefix,
    requests,
  });
  const lines = (usage: Usage) =>
    usage.byKey.map(({ keyId, name, prefix, requests }) => ({ keyId, name, prefix, requests }));
  const byId = <T extends { keyId: string }>(rows: T[]) =>
    [...rows].sort((a, b) => (a.keyId < b.keyId ? -1 : 1));

  it('a line per key, named, in the same answer; a plain member sees only their own keys; never another tenant’s', async () => {
    const w = await world();
    // A second key for u1: their member line is both keys', and each key has its own.
    const k1b = await newKey(w.group, w.u1, 'u1 phone');
    await use(k1b.key, 2);
    await eventually(async () =>
      (await api<Usage>(ADMIN_TOKEN, 'GET', `/usage?groupId=${w.group}`)).json.totals.requests === 5
        ? true
        : undefined,
    );
    const everyKey = byId([line(w.k1, 1), line(k1b, 2), line(w.k2, 2)]);

    for (const manager of [w.owner, w.entAdmin]) {
      const group = (await api<Usage>(manager.token, 'GET', `/usage?groupId=${w.group}`)).json;
      expect(lines(group)).toEqual(everyKey);
      expect(group.byKey.reduce((n, k) => n + k.requests, 0)).toBe(group.totals.requests);
      // Every sum of a key's line is that key's own total.
      for (const { keyId, name: _name, prefix: _prefix, ...sums } of group.byKey)
        expect(sums).toEqual((await api<Usage>(manager.token, 'GET', `/usage?keyId=${keyId}`)).json.totals);
      expect(group.byMember.find((m) => m.userId === w.u1.id)?.requests).toBe(3);
      // By the pool account: its every group's keys, which are these.
      expect(
        lines((await api<Usage>(manager.token, 'GET', `/usage?accountId=${w.poolAccount}`)).json),
      ).toEqual(everyKey);
    }
    // A key's line names it and nothing secret: the sums, its id, name and prefix.
    const [first] = (await api<Usage>(w.owner.token, 'GET', `/usage?groupId=${w.group}`)).json.byKey;
    expect(Object.keys(first!).sort()).toEqual(
      [
        'cacheReadTokens',
        'cacheWrite1hTokens',
        'cacheWrite5mTokens',
        'costMicros',
        'errors',
        'inputTokens',
        'keyId',
        'name',
        'outputTokens',
        'prefix',
        'requests',
        'unpricedRequests',
      ].sort(),
    );

    // A plain member asking for their group: the group's totals, only their own keys' lines.
    const asMember = (await api<Usage>(w.u1.token, 'GET', `/usage?groupId=${w.group}`)).json;
    expect(asMember.totals.requests).toBe(5);
    expect(lines(asMember)).toEqual(byId([line(w.k1, 1), line(k1b, 2)]));
    expect(lines((await api<Usage>(w.u2.token, 'GET', `/usage?groupId=${w.group}`)).json)).toEqual([
      line(w.k2, 2),
    ]);
    expect(lines((await api<Usage>(w.u1.token, 'GET', `/usage?userId=${w.u1.id}`)).json)).toEqual(
      byId([line(w.k1, 1), line(k1b, 2)]),
    );

    // The carpool is another tenant: its key is only in its own answers, and theirs only in it.
    const car = (await api<Usage>(w.carOwner.token, 'GET', `/usage?groupId=${w.carpool}`)).json;
    expect(lines(car)).toEqual([line(w.kc, 1)]);
    expect(
      lines((await api<Usage>(w.carOwner.token, 'GET', `/usage?accountId=${w.carAccount}`)).json),
    ).toEqual([line(w.kc, 1)]);
    expect(lines((await api<Usage>(ADMIN_TOKEN, 'GET', `/usage?groupId=${w.group}`)).json)).toEqual(everyKey);
  });
});

describe('the audit log', () => {
  it('is read by those who manage its scope', async () => {
    const w = await world();
    await api(w.owner.token, 'PATCH', `/accounts/${w.poolAccount}`, { weight: 2 });
    expect(
      (await api(w.carOwner.token, 'PATCH', `/groups/${w.carpool}/account`, { name: 'renamed' })).status,
    ).toBe(200);

    for (const manager of [w.owner, w.entAdmin]) {
      const read = await api<{ data: AuditEntry[] }>(
        manager.token,
        'GET',
        `/audit?enterpriseId=${w.enterprise}`,
      );
      expect(read.status).toBe(200);
      const actions = read.json.data.map((e) => e.action);
      expect(actions).toEqual(
        expect.arrayContaining(['enterprise.member.add', 'account.create', 'account.update']),
      );
      expect(read.json.data.every((e) => e.enterpriseId === w.enterprise)).toBe(true);
      // Without a filter: everything they manage, nothing else.
      const mine = await api<{ data: AuditEntry[] }>(manager.token, 'GET', '/audit');
      expect(mine.json.data.some((e) => e.groupId === w.carpool)).toBe(false);
      expect(mine.json.data.some((e) => e.enterpriseId === w.enterprise)).toBe(true);
    }
    expect(await status(w.entMember.token, `/audit?enterpriseId=${w.enterprise}`)).toBe(403);
    expect(await status(w.stranger.token, `/audit?enterpriseId=${w.enterprise}`)).toBe(404);
    expect(await status(w.carOwner.token, `/audit?enterpriseId=${w.enterprise}`)).toBe(404);
    expect((await api<{ data: unknown[] }>(w.stranger.token, 'GET', '/audit')).json.data).toEqual([]);

    const car = await api<{ data: AuditEntry[] }>(w.carOwner.token, 'GET', `/audit?groupId=${w.carpool}`);
    // Newest first: the rename, then how the world's fixture built the carpool.
    expect(car.json.data.map((e) => e.action)).toEqual([
      'account.update',
      'key.create',
      'group.member.add',
      'group.member.add',
      'group.create',
    ]);
    expect(await status(w.carMember.token, `/audit?groupId=${w.carpool}`)).toBe(403);
    expect(await status(w.owner.token, `/audit?groupId=${w.carpool}`)).toBe(404);

    const limited = await api<{ data: AuditEntry[] }>(ADMIN_TOKEN, 'GET', '/audit?limit=2');
    expect(limited.json.data).toHaveLength(2);
    const later = await api<{ data: AuditEntry[] }>(ADMIN_TOKEN, 'GET', `/audit?from=${Date.now() + 60_000}`);
    expect(later.json.data).toEqual([]);
  });
});

describe('paging the audit log', () => {
  it('follows nextCursor through entries that share one millisecond, each exactly once', async () => {
    // A batch of changes lands in one millisecond; seven rows at one `at`, as D1 would keep them.
    const action = `paging.${crypto.randomUUID().slice(0, 8)}`;
    const at = Date.now() - 1_000;
    await env.DB.batch(
      Array.from({ length: 7 }, (_, i) =>
        env.DB.prepare(
          'INSERT INTO audit_log (at, actor, action, target_type, target_id) VALUES (?, ?, ?, ?, ?)',
        ).bind(at, 'operator', action, 'test', `t${i}`),
      ),
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const page: { status: number; json: { data: AuditEntry[]; nextCursor: string | null } } = await api(
        ADMIN_TOKEN,
        'GET',
        `/audit?action=${action}&limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      seen.push(...page.json.data.map((e) => e.targetId));
      cursor = page.json.nextCursor;
      if (!cursor) break;
    }
    expect(seen.toSorted()).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't6']);
    // Newest first: within the millisecond, the later row (higher id) first.
    expect(seen).toEqual(['t6', 't5', 't4', 't3', 't2', 't1', 't0']);

    const last = await api<{ data: AuditEntry[]; nextCursor: string | null }>(
      ADMIN_TOKEN,
      'GET',
      `/audit?action=${action}&limit=7`,
    );
    expect(last.json.nextCursor).toBeNull();
    const forged = await api<{ error: { code: string } }>(ADMIN_TOKEN, 'GET', '/audit?cursor=bm90IG91cnM');
    expect(forged.status).toBe(400);
    expect(forged.json.error.code).toBe('invalid_request');
  });

  it('serves a system admin’s unscoped read from an index in its order, sorting nothing', async () => {
    // The statements of readAudit (worker/domain/audit.ts) with no scope nor filter: the first
    // page, and a page after a cursor. Either would otherwise scan and sort the whole log.
    const plan = async (sql: string, ...bind: number[]) =>
      (
        await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
          .bind(...bind)
          .all<{ detail: string }>()
      ).results.map((r) => r.detail);
    const first = await plan('SELECT * FROM audit_log ORDER BY at DESC, id DESC LIMIT ?', 101);
    const next = await plan(
      'SELECT * FROM audit_log WHERE at <= ? AND (at < ? OR id < ?) ORDER BY at DESC, id DESC LIMIT ?',
      Date.now(),
      Date.now(),
      1_000,
      101,
    );
    for (const steps of [first, next]) {
      expect(steps.join('\n')).toMatch(/USING (COVERING )?INDEX audit_log_at_idx/);
      expect(steps.join('\n')).not.toMatch(/TEMP B-TREE/);
    }
  });
});

describe('usage of a whole enterprise', () => {
  interface GroupLine {
    groupId: string;
    name: string | null;
    requests: number;
    costMicros: number;
  }
  const groupLines = (usage: Usage & { byGroup: GroupLine[] }) =>
    usage.byGroup.map(({ groupId, name, requests }) => ({ groupId, name, requests }));

  it('its owners and admins read every group’s in one answer, by group; nobody else, and no carpool’s', async () => {
    const w = await world();
    // A second group of the enterprise, run by a group owner who uses it; and another enterprise.
    const g2 = (
      await admin<{ id: string }>('POST', '/groups', {
        name: 'g2',
        kind: 'enterprise',
        enterpriseId: w.enterprise,
      })
    ).json.id;
    const groupOwner = await newUser('groupOwner');
    await admin('POST', `/groups/${g2}/members`, { userId: groupOwner.id, role: 'owner' });
    const ko = await newKey(g2, groupOwner, 'owner laptop');
    await use(ko.key, 2);
    const otherOwner = await newUser('otherOwner');
    const other = (
      await api<{ id: string }>(ADMIN_TOKEN, 'POST', '/enterprises', {
        name: 'other',
        ownerId: otherOwner.id,
      })
    ).json.id;
    await eventually(async () =>
      (await api<Usage>(ADMIN_TOKEN, 'GET', `/usage?groupId=${g2}`)).json.totals.requests === 2
        ? true
        : undefined,
    );

    for (const manager of [w.owner, w.entAdmin]) {
      const res = await api<Usage & { byGroup: GroupLine[] }>(
        manager.token,
        'GET',
        `/usage?enterpriseId=${w.enterprise}`,
      );
      expect(res.status).toBe(200);
      const groupTotals = await Promise.all(
        [w.group, g2].map(
          async (g) => (await api<Usage>(manager.token, 'GET', `/usage?groupId=${g}`)).json.totals,
        ),
      );
      // The enterprise's totals are its groups' totals, summed; the carpool's request is not in it.
      expect(res.json.totals).toEqual(
        Object.fromEntries(
          Object.keys(res.json.totals).map((k) => [
            k,
            groupTotals.reduce((n, t) => n + t[k as keyof typeof t], 0),
          ]),
        ),
      );
      expect(res.json.totals.requests).toBe(5);
      expect(groupLines(res.json)).toEqual(
        [
          { groupId: w.group, name: 'g', requests: 3 },
          { groupId: g2, name: 'g2', requests: 2 },
        ].sort((a, b) => (a.groupId < b.groupId ? -1 : 1)),
      );
      for (const line of res.json.byGroup)
        expect(line.costMicros).toBe(groupTotals[line.groupId === w.group ? 0 : 1]!.costMicros);
      // The request log and the CSV take the same filter.
      const log = await api<{ data: { groupId: string }[] }>(
        manager.token,
        'GET',
        `/usage/requests?enterpriseId=${w.enterprise}`,
      );
      expect(log.json.data).toHaveLength(5);
      expect(log.json.data.every((r) => r.groupId === w.group || r.groupId === g2)).toBe(true);
    }
    // A department of it: only its groups; for the enterprise's owners, nobody below them. One
    // above it covers its own groups and its sub-department's.
    const newDepartment = async (name: string, parentId?: string) =>
      (
        await api<{ id: string }>(w.owner.token, 'POST', `/enterprises/${w.enterprise}/departments`, {
          name,
          parentId,
        })
      ).json.id;
    const top = await newDepartment('top');
    const department = await newDepartment('d', top);
    expect((await api(ADMIN_TOKEN, 'PATCH', `/groups/${g2}`, { departmentId: department })).status).toBe(200);
    expect((await api(ADMIN_TOKEN, 'PATCH', `/groups/${w.group}`, { departmentId: top })).status).toBe(200);
    const ofTop = (
      await api<Usage & { byGroup: GroupLine[] }>(w.owner.token, 'GET', `/usage?departmentId=${top}`)
    ).json;
    expect(ofTop.totals.requests).toBe(5);
    expect(ofTop.byGroup.map((g) => g.groupId).sort()).toEqual([w.group, g2].sort());
    const ofDepartment = (
      await api<Usage & { byGroup: GroupLine[] }>(
        w.entAdmin.token,
        'GET',
        `/usage?departmentId=${department}`,
      )
    ).json;
    expect(groupLines(ofDepartment)).toEqual([{ groupId: g2, name: 'g2', requests: 2 }]);
    expect(ofDepartment.totals.requests).toBe(2);
    for (const person of [groupOwner, w.entMember, otherOwner])
      expect(await status(person.token, `/usage?departmentId=${department}`)).toBe(404);

    const all = (
      await api<Usage & { byGroup: GroupLine[] }>(ADMIN_TOKEN, 'GET', `/usage?enterpriseId=${w.enterprise}`)
    ).json;
    expect(all.totals.requests).toBe(5);
    expect(all.byGroup.map((g) => g.groupId)).not.toContain(w.carpool);

    // Members of its groups, its plain members, a group's owner, strangers and another tenant's
    // owner: the enterprise does not exist for them; nor does it for its owner under another's id.
    for (const person of [w.u1, w.u2, groupOwner, w.entMember, w.carOwner, w.stranger, otherOwner])
      expect(await status(person.token, `/usage?enterpriseId=${w.enterprise}`), person.id).toBe(404);
    for (const person of [w.u1, groupOwner, w.entMember, otherOwner])
      expect(await status(person.token, `/usage/requests?enterpriseId=${w.enterprise}`)).toBe(404);
    expect(await status(w.owner.token, `/usage?enterpriseId=${other}`)).toBe(404);
    expect(await status(w.owner.token, '/usage?enterpriseId=nope')).toBe(404);
  });

  it('byGroup in the other read-outs: a member asking for themself sees their groups, nothing of another tenant', async () => {
    const w = await world();
    const own = (await api<Usage & { byGroup: GroupLine[] }>(w.u1.token, 'GET', `/usage?userId=${w.u1.id}`))
      .json;
    expect(groupLines(own)).toEqual([{ groupId: w.group, name: 'g', requests: 1 }]);
    // Asking for their group as a plain member: the group's total, as the totals say.
    const group = (
      await api<Usage & { byGroup: GroupLine[] }>(w.u1.token, 'GET', `/usage?groupId=${w.group}`)
    ).json;
    expect(groupLines(group)).toEqual([{ groupId: w.group, name: 'g', requests: 3 }]);
    const car = (
      await api<Usage & { byGroup: GroupLine[] }>(w.carOwner.token, 'GET', `/usage?accountId=${w.carAccount}`)
    ).json;
    expect(groupLines(car)).toEqual([{ groupId: w.carpool, name: 'c', requests: 1 }]);
  });
});
