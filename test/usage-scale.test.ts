// Usage that scales: daily and monthly rollups equal the hours they hold, long ranges are answered
// from them (and every query is served by an index), the request log is listed with filters, a
// cursor and the caller's scope, trimmed past its retention, exported as CSV; and the budget
// reconciliation finds a counter and D1 in agreement, and reports a drift that persists.
import {
  createExecutionContext,
  createScheduledController,
  env,
  SELF,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { budgetRule } from '../worker/budgets/config';
import { reconcileBudgets, recordedSpend } from '../worker/budgets/reconcile';
import { db } from '../worker/db/client';
import type { Budget } from '../worker/db/schema';
import type { Caller } from '../worker/domain/caller';
import { pageQuery, requestLogWhere, trimRequestLog } from '../worker/domain/request-log';
import { usageScope, usageStatements } from '../worker/domain/usage';
import worker from '../worker/index';
import { writeUsage } from '../worker/queue/consumer';
import type { UsageEvent } from '../worker/queue/usage-event';
import { enterpriseWithGroup, memberOf, ownedCarpool } from './support/groups';
import {
  ADMIN_TOKEN,
  admin,
  api,
  eventually,
  newUser,
  RELAY,
  seedEnterprise,
  streamMessage,
} from './support/relay';
import { type UsageIds, usageEventFor } from './support/usage';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

afterEach(() => {
  vi.restoreAllMocks();
});

type Ids = UsageIds;

/** A streamed answer with some cache reads, unless `fields` say otherwise. */
function event(ids: Ids, at: number, fields: Parameters<typeof usageEventFor>[2] = {}): UsageEvent {
  return usageEventFor(ids, at, {
    stream: true,
    usage: { inputTokens: 100, outputTokens: 20, cacheReadTokens: 5 },
    costMicros: 1_234,
    ttfbMs: 10,
    durationMs: 50,
    ...fields,
  });
}

function fakeIds(): Ids {
  const t = crypto.randomUUID().slice(0, 8);
  return { keyId: `k-${t}`, userId: `u-${t}`, groupId: `g-${t}`, accountId: `a-${t}` };
}

async function all<T>(query: string, ...bind: unknown[]): Promise<T[]> {
  return (
    await env.DB.prepare(query)
      .bind(...bind)
      .all<T>()
  ).results;
}

/** Events around the edges of days and months in early 2025 (UTC), with varied costs and models. */
function edgeEvents(ids: Ids): UsageEvent[] {
  const t = (iso: string) => Date.parse(iso);
  const moments = [
    t('2025-01-15T04:59:59.999Z'),
    t('2025-01-15T05:00:00.000Z'),
    t('2025-01-31T23:30:00.000Z'),
    t('2025-01-31T23:59:59.999Z'),
    t('2025-02-01T00:00:00.000Z'),
    t('2025-02-14T12:00:00.000Z'),
    t('2025-02-28T23:59:59.999Z'),
    t('2025-03-01T00:00:00.000Z'),
    t('2025-03-31T23:00:00.000Z'),
    t('2025-04-01T00:30:00.000Z'),
    t('2025-04-10T12:59:59.999Z'),
    t('2025-04-10T13:00:00.000Z'),
  ];
  // And a spread of others, deterministic.
  for (let i = 0; i < 60; i++) moments.push(t('2025-01-10T00:00:00Z') + ((i * 7_919_777_113) % (95 * DAY)));
  return moments.map((at, i) =>
    event(ids, at, {
      costMicros: 1_000 + i * 37,
      model: i % 3 === 0 ? 'claude-haiku-4-5' : 'claude-sonnet-4-5',
      status: i % 5 === 0 ? 529 : 200,
      outcome: i % 5 === 0 ? 'upstream_error' : 'complete',
    }),
  );
}

const operator = (): Caller => ({ principal: { kind: 'operator' }, db: db(env), env, ip: null });

describe('rollups', () => {
  it('daily and monthly rows equal the sum of their hours across day and month edges, once', async () => {
    const ids = fakeIds();
    const events = edgeEvents(ids);
    await writeUsage(env, events);
    await writeUsage(env, events.slice(0, 20)); // redelivered: adds nothing anywhere

    const cols =
      'sum(requests) AS requests, sum(errors) AS errors, sum(input_tokens) AS input, sum(cost_micros) AS cost';
    const byDayFromHours = await all(
      `SELECT (hour / ${DAY}) * ${DAY} AS b, model, ${cols} FROM usage_hourly WHERE key_id = ? GROUP BY b, model ORDER BY b, model`,
      ids.keyId,
    );
    const daily = await all(
      `SELECT day AS b, model, ${cols} FROM usage_daily WHERE key_id = ? GROUP BY b, model ORDER BY b, model`,
      ids.keyId,
    );
    expect(daily).toEqual(byDayFromHours);
    const byMonthFromHours = await all(
      `SELECT CAST(strftime('%s', hour / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000 AS b, model, ${cols}
       FROM usage_hourly WHERE key_id = ? GROUP BY b, model ORDER BY b, model`,
      ids.keyId,
    );
    const monthly = await all(
      `SELECT month AS b, model, ${cols} FROM usage_monthly WHERE key_id = ? GROUP BY b, model ORDER BY b, model`,
      ids.keyId,
    );
    expect(monthly).toEqual(byMonthFromHours);
    expect(monthly.map((m) => (m as { b: number }).b)).toContain(Date.parse('2025-02-01T00:00:00Z'));
    // The last millisecond of January is January's; the first of February, February's.
    const [jan] = await all<{ requests: number }>(
      'SELECT sum(requests) AS requests FROM usage_monthly WHERE key_id = ? AND month = ?',
      ids.keyId,
      Date.parse('2025-01-01T00:00:00Z'),
    );
    const inJan = events.filter((e) => e.at < Date.parse('2025-02-01T00:00:00Z')).length;
    expect(jan!.requests).toBe(inJan);
    const [log] = await all<{ n: number }>(
      'SELECT count(*) AS n FROM request_log WHERE key_id = ?',
      ids.keyId,
    );
    expect(log!.n).toBe(events.length);
  });

  it('a long range is answered from months, days and edge hours, and matches the request log', async () => {
    const carpool = await ownedCarpool();
    const ids = {
      keyId: carpool.keyId,
      userId: carpool.userId,
      groupId: carpool.groupId,
      accountId: carpool.accountId,
    };
    await writeUsage(env, edgeEvents(ids));
    const from = Date.parse('2025-01-15T05:00:00Z');
    const to = Date.parse('2025-04-10T13:00:00Z');
    const [expected] = await all<{ requests: number; cost: number; errors: number }>(
      `SELECT count(*) AS requests, sum(cost_micros) AS cost, sum(status >= 400) AS errors FROM request_log
       WHERE key_id = ? AND created_at >= ? AND created_at < ?`,
      carpool.keyId,
      from,
      to,
    );
    // Hourly rows of the whole months are taken away: the answer cannot come from them.
    await env.DB.prepare('DELETE FROM usage_hourly WHERE key_id = ? AND hour >= ? AND hour < ?')
      .bind(carpool.keyId, Date.parse('2025-02-01T00:00:00Z'), Date.parse('2025-04-01T00:00:00Z'))
      .run();

    const usage = await api<{
      totals: { requests: number; costMicros: number; errors: number };
      byDay: { day: number; requests: number }[];
      byHour: unknown[];
      byModel: { model: string; requests: number }[];
      byKey: { keyId: string; name: string | null; prefix: string | null; requests: number }[];
      sources: { grain: string; from: number; to: number }[];
    }>(carpool.owner.token, 'GET', `/usage?keyId=${carpool.keyId}&from=${from}&to=${to}`);
    expect(usage.status).toBe(200);
    expect(usage.json.sources).toEqual([
      { grain: 'hour', from, to: Date.parse('2025-01-16T00:00:00Z') },
      { grain: 'day', from: Date.parse('2025-01-16T00:00:00Z'), to: Date.parse('2025-02-01T00:00:00Z') },
      { grain: 'month', from: Date.parse('2025-02-01T00:00:00Z'), to: Date.parse('2025-04-01T00:00:00Z') },
      { grain: 'day', from: Date.parse('2025-04-01T00:00:00Z'), to: Date.parse('2025-04-10T00:00:00Z') },
      { grain: 'hour', from: Date.parse('2025-04-10T00:00:00Z'), to },
    ]);
    expect(usage.json.totals).toMatchObject({
      requests: expected!.requests,
      costMicros: expected!.cost,
      errors: expected!.errors,
    });
    expect(usage.json.byModel.reduce((s, m) => s + m.requests, 0)).toBe(expected!.requests);
    // One line for the key, its five segments' rows merged, with the key's name and prefix.
    const key = await env.DB.prepare('SELECT name, prefix FROM api_keys WHERE id = ?')
      .bind(carpool.keyId)
      .first<{ name: string; prefix: string }>();
    expect(usage.json.byKey).toEqual([
      expect.objectContaining({
        keyId: carpool.keyId,
        name: key!.name,
        prefix: key!.prefix,
        requests: expected!.requests,
        costMicros: expected!.cost,
        errors: expected!.errors,
      }),
    ]);
    expect(usage.json.byHour).toEqual([]); // longer than a week
    // Days come from daily and hourly rows only: the months' days are there too.
    expect(usage.json.byDay.some((d) => d.day === Date.parse('2025-02-14T00:00:00Z'))).toBe(true);
    expect(usage.json.byDay.reduce((s, d) => s + d.requests, 0)).toBe(expected!.requests);
    // Each day once, at its UTC midnight, the hourly edges folded into theirs.
    const days = usage.json.byDay.map((d) => d.day);
    expect(days.filter((day) => day % 86_400_000 !== 0)).toEqual([]);
    expect(new Set(days).size).toBe(days.length);

    // A model filter narrows it.
    const haiku = await api<{ totals: { requests: number } }>(
      carpool.owner.token,
      'GET',
      `/usage?keyId=${carpool.keyId}&model=claude-haiku-4-5&from=${from}&to=${to}`,
    );
    expect(haiku.json.totals.requests).toBe(
      usage.json.byModel.find((m) => m.model === 'claude-haiku-4-5')!.requests,
    );
  });

  it('a key that is gone keeps its line, without a name', async () => {
    const ids = fakeIds();
    const at = Date.parse('2025-03-03T10:00:00Z');
    await writeUsage(env, [event(ids, at), event(ids, at + 1)]);
    const usage = await api<{ byKey: unknown[] }>(
      ADMIN_TOKEN,
      'GET',
      `/usage?userId=${ids.userId}&from=${at - DAY}&to=${at + DAY}`,
    );
    expect(usage.json.byKey).toEqual([
      expect.objectContaining({ keyId: ids.keyId, name: null, prefix: null, requests: 2 }),
    ]);
  });

  it('every usage and request-log query is served by an index, not a scan', async () => {
    const carpool = await ownedCarpool();
    const member = await memberOf(carpool.groupId);
    const memberCaller: Caller = {
      principal: { kind: 'user', userId: member.id, systemRole: 'user', via: 'token', credentialId: 'x' },
      db: db(env),
      env,
      ip: null,
    };
    const range = { from: Date.parse('2025-01-15T05:00:00Z'), to: Date.parse('2025-04-10T13:00:00Z') };
    const short = { from: Date.parse('2025-04-08T05:00:00Z'), to: Date.parse('2025-04-10T13:00:00Z') };
    const filters = [
      { keyId: carpool.keyId },
      { groupId: carpool.groupId },
      { userId: carpool.userId },
      { accountId: carpool.accountId },
      { groupId: carpool.groupId, model: 'claude-haiku-4-5' },
      // An enterprise's or department's groups (with its sub-departments'), from the groups and
      // departments tables by their indexes: each then sought by id.
      { enterpriseId: 'an-enterprise' },
      { departmentId: 'a-department' },
    ];
    const statements: { sql: string; params: unknown[] }[] = [];
    for (const [caller, qs] of [
      [operator(), filters],
      [memberCaller, [{ groupId: carpool.groupId }, { userId: member.id }]],
    ] as const) {
      for (const q of qs) {
        const scope = await usageScope(caller, q);
        for (const r of [range, short]) {
          const { parts, hourly } = usageStatements(db(env), { ...q, ...r }, scope);
          for (const p of parts) {
            statements.push(p.byModel.toSQL(), p.byGroup.toSQL(), p.byMember.toSQL(), p.byKey.toSQL());
            statements.push(p.byDay.toSQL());
          }
          if (hourly) statements.push(hourly.toSQL());
        }
        const where = await requestLogWhere(caller, { ...q, ...range });
        statements.push(pageQuery(db(env), where, null, 100).toSQL());
        statements.push(pageQuery(db(env), where, { createdAt: range.to, requestId: 'x' }, 100).toSQL());
      }
    }
    // The system admin's unfiltered listing, and the retention trim's oldest-first scan.
    statements.push(pageQuery(db(env), undefined, null, 100).toSQL());
    statements.push({
      sql: 'SELECT request_id FROM request_log WHERE created_at < ? ORDER BY created_at LIMIT 1000',
      params: [0],
    });
    expect(statements.length).toBeGreaterThan(50);
    let keyLookups = 0;
    let groupLookups = 0;
    let departmentLookups = 0;
    let memberLookups = 0;
    for (const s of statements) {
      const plan = await all<{ detail: string }>(`EXPLAIN QUERY PLAN ${s.sql}`, ...s.params);
      const details = plan.map((p) => p.detail);
      // Each read of a usage table seeks by an id (key, group, member, account), then time; only
      // the unfiltered listing and the trim walk the time index.
      const reads = details.filter((d) => /^(SEARCH|SCAN) (usage_\w+|request_log)\b/.test(d));
      expect(reads.length, s.sql).toBeGreaterThan(0);
      for (const d of reads) {
        expect(d, `${s.sql}\n${details.join('\n')}`).toMatch(
          /^SEARCH \w+ USING (COVERING )?INDEX \w+_(key|group|user|account)_idx \(\w+=\?|USING (COVERING )?INDEX request_log_created_idx/,
        );
      }
      // A key's name and prefix (the lines by key) are looked up by its id.
      for (const d of details.filter((d) => /^(SEARCH|SCAN) api_keys\b/.test(d))) {
        expect(d, s.sql).toMatch(/^SEARCH api_keys USING INDEX sqlite_autoindex_api_keys_1 \(id=\?\)$/);
        keyLookups++;
      }
      // The groups of an enterprise or a department are found by its index, never by a scan.
      for (const d of details.filter((d) => /^(SEARCH|SCAN) groups\b/.test(d)))
        expect(d, `${s.sql}\n${details.join('\n')}`).toMatch(/^SEARCH groups USING (COVERING )?INDEX /);
      // A department and its sub-departments are found by id and by parent, never by a scan.
      for (const d of details.filter((d) => /^(SEARCH|SCAN) departments\b/.test(d))) {
        expect(d, `${s.sql}\n${details.join('\n')}`).toMatch(/^SEARCH departments USING (COVERING )?INDEX /);
        departmentLookups++;
      }
      // A member's name (the lines by member) is looked up by their id.
      if (s.sql.includes('select "name" from "users"')) {
        expect(details, s.sql).toContain('SEARCH users USING INDEX sqlite_autoindex_users_1 (id=?)');
        memberLookups++;
      }
      // So is a group's name (the lines by group).
      if (s.sql.includes('select "name" from "groups"')) {
        expect(details, s.sql).toContain('SEARCH groups USING INDEX sqlite_autoindex_groups_1 (id=?)');
        groupLookups++;
      }
    }
    expect(keyLookups).toBeGreaterThan(0);
    expect(groupLookups).toBeGreaterThan(0);
    expect(departmentLookups).toBeGreaterThan(0);
    expect(memberLookups).toBeGreaterThan(0);
  });
});

interface Entry {
  requestId: string;
  createdAt: number;
  keyId: string;
  userId: string;
  model: string;
  status: number;
  outcome: string;
  accountId: string;
}

/** A carpool whose owner and a member each have a key, and a varied hour of logged requests. */
async function loggedCarpool() {
  const carpool = await ownedCarpool();
  const member = await memberOf(carpool.groupId);
  const memberKey = (
    await admin<{ id: string }>('POST', '/keys', { groupId: carpool.groupId, userId: member.id })
  ).json;
  const owner = {
    keyId: carpool.keyId,
    userId: carpool.userId,
    groupId: carpool.groupId,
    accountId: carpool.accountId,
  };
  const mine = { ...owner, keyId: memberKey.id, userId: member.id };
  const base = Date.now() - 2 * HOUR;
  const events = Array.from({ length: 12 }, (_, i) =>
    event(i % 3 === 0 ? mine : owner, base + i * 60_000, {
      model: i % 2 === 0 ? 'claude-haiku-4-5' : 'claude-sonnet-4-5',
      status: i % 4 === 0 ? 529 : 200,
      outcome: i % 4 === 0 ? 'upstream_error' : i === 5 ? 'client_abort' : 'complete',
      accountId: i === 7 ? `other-${carpool.accountId}` : carpool.accountId,
      costMicros: 1_000_000 + i,
    }),
  );
  await writeUsage(env, events);
  return { carpool, member, memberKey, events, base };
}

async function pages(token: string, query: string, limit: number): Promise<Entry[]> {
  const out: Entry[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; json: { data: Entry[]; nextCursor: string | null } } = await api(
      token,
      'GET',
      `/usage/requests?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
    );
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json.data.length).toBeLessThanOrEqual(limit);
    out.push(...res.json.data);
    cursor = res.json.nextCursor;
  } while (cursor);
  return out;
}

const ids = (entries: { requestId: string }[]) => entries.map((e) => e.requestId);
const newestFirst = (events: UsageEvent[]) => [...events].sort((a, b) => b.at - a.at).map((e) => e.requestId);

describe('the request log', () => {
  it('lists with each filter, newest first, page by page', async () => {
    const { carpool, memberKey, events, base } = await loggedCarpool();
    const token = carpool.owner.token;
    const g = `groupId=${carpool.groupId}`;
    expect(ids(await pages(token, g, 5))).toEqual(newestFirst(events));
    const cases: [string, (e: UsageEvent) => boolean][] = [
      [`keyId=${memberKey.id}`, (e) => e.keyId === memberKey.id],
      [`userId=${carpool.userId}`, (e) => e.userId === carpool.userId],
      [`${g}&model=claude-haiku-4-5`, (e) => e.model === 'claude-haiku-4-5'],
      [`${g}&status=529`, (e) => e.status === 529],
      [`${g}&outcome=client_abort`, (e) => e.outcome === 'client_abort'],
      [`accountId=${carpool.accountId}`, (e) => e.accountId === carpool.accountId],
      [
        `${g}&from=${base + 3 * 60_000}&to=${base + 6 * 60_000}`,
        (e) => e.at >= base + 3 * 60_000 && e.at < base + 6 * 60_000,
      ],
    ];
    for (const [query, keep] of cases) {
      expect(ids(await pages(token, query, 2)), query).toEqual(newestFirst(events.filter(keep)));
    }
    const bad = await api(token, 'GET', `/usage/requests?${g}&cursor=nonsense`);
    expect(bad.status).toBe(400);
    expect((await api(token, 'GET', `/usage/requests?${g}&outcome=maybe`)).status).toBe(400);
  });

  it('is scoped: a member sees their own, an owner the group, a stranger nothing; others’ ids are 404', async () => {
    const { carpool, member, memberKey, events } = await loggedCarpool();
    const g = `groupId=${carpool.groupId}`;
    const own = events.filter((e) => e.userId === member.id);
    expect(ids(await pages(member.token, g, 100))).toEqual(newestFirst(own));
    expect(ids(await pages(member.token, `keyId=${memberKey.id}`, 100))).toEqual(newestFirst(own));
    // Unfiltered: everything the member may see, which here is their own requests.
    expect(ids(await pages(member.token, 'model=claude-haiku-4-5', 100))).toEqual(
      newestFirst(own.filter((e) => e.model === 'claude-haiku-4-5')),
    );
    expect((await api(member.token, 'GET', `/usage/requests?keyId=${carpool.keyId}`)).status).toBe(404);
    expect((await api(member.token, 'GET', `/usage/requests?userId=${carpool.userId}`)).status).toBe(404);
    const stranger = await newUser('Stranger');
    expect((await api(stranger.token, 'GET', `/usage/requests?${g}`)).status).toBe(404);
    expect((await api(stranger.token, 'GET', `/usage/requests?accountId=${carpool.accountId}`)).status).toBe(
      404,
    );
    expect((await api<{ data: unknown[] }>(stranger.token, 'GET', '/usage/requests')).json.data).toEqual([]);
    // The system admin sees it all, on both mounts.
    expect(ids(await pages(ADMIN_TOKEN, g, 100))).toEqual(newestFirst(events));

    // An enterprise's owner and admin see its groups' requests; its plain member does not.
    const ent = await enterpriseWithGroup();
    const someone = {
      keyId: `k-${ent.groupId}`,
      userId: `u-${ent.groupId}`,
      groupId: ent.groupId,
      accountId: 'a',
    };
    const entEvents = [event(someone, Date.now() - HOUR), event(someone, Date.now() - HOUR + 1)];
    await writeUsage(env, entEvents);
    for (const who of [ent.owner, ent.admin])
      expect(ids(await pages(who.token, `groupId=${ent.groupId}`, 1))).toEqual(newestFirst(entEvents));
    expect((await api(ent.member.token, 'GET', `/usage/requests?groupId=${ent.groupId}`)).status).toBe(404);
    expect((await api(ent.owner.token, 'GET', `/usage/requests?${g}`)).status).toBe(404);
  });

  it('is trimmed past its retention by the cron, oldest first in batches; aggregates stay', async () => {
    const ids = fakeIds();
    const now = Date.now();
    const old = Array.from({ length: 2_100 }, (_, i) =>
      event(ids, now - 40 * DAY + i * 1000, { costMicros: 7 }),
    );
    const kept = [event(ids, now - 29 * DAY), event(ids, now - HOUR)];
    for (let i = 0; i < old.length; i += 500) await writeUsage(env, old.slice(i, i + 500));
    await writeUsage(env, kept);
    const totals = async () =>
      Promise.all(
        ['usage_hourly', 'usage_daily', 'usage_monthly'].map(
          async (t) =>
            (await all<{ n: number }>(`SELECT sum(requests) AS n FROM ${t} WHERE key_id = ?`, ids.keyId))[0]!
              .n,
        ),
      );
    expect(await totals()).toEqual([2_102, 2_102, 2_102]);

    const { deleted } = await trimRequestLog(env, now);
    expect(deleted).toBeGreaterThanOrEqual(2_100); // three statements of at most 1,000
    const left = await all<{ request_id: string }>(
      'SELECT request_id FROM request_log WHERE key_id = ? ORDER BY created_at',
      ids.keyId,
    );
    expect(left.map((r) => r.request_id)).toEqual(kept.map((e) => e.requestId));
    expect(await totals()).toEqual([2_102, 2_102, 2_102]);

    // The scheduled handler runs the same trim: a row just past 30 days goes, one inside stays.
    const edge = [event(ids, Date.now() - 30 * DAY - 60_000), event(ids, Date.now() - 30 * DAY + 60_000)];
    await writeUsage(env, edge);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '*/10 * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    const after = await all<{ request_id: string }>(
      'SELECT request_id FROM request_log WHERE key_id = ?',
      ids.keyId,
    );
    expect(after.map((r) => r.request_id).sort()).toEqual(
      [edge[1]!.requestId, ...kept.map((e) => e.requestId)].sort(),
    );
  });
});

async function csv(
  token: string,
  path: string,
): Promise<{ status: number; type: string | null; rows: string[][] }> {
  const res = await fetchApi(token, path);
  const text = await res.text();
  const rows = text
    .split('\r\n')
    .filter((l) => l !== '')
    .map((l) => l.split(','));
  return { status: res.status, type: res.headers.get('content-type'), rows };
}

async function fetchApi(token: string, path: string): Promise<Response> {
  return SELF.fetch(`${RELAY}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
}

describe('CSV exports', () => {
  it('the request log: header, a row per request with micro-dollars and dollars, same filters and scope', async () => {
    const { carpool, member, events } = await loggedCarpool();
    const out = await csv(
      carpool.owner.token,
      `/usage/requests.csv?groupId=${carpool.groupId}&model=claude-haiku-4-5`,
    );
    expect(out.status).toBe(200);
    expect(out.type).toContain('text/csv');
    const [header, ...rows] = out.rows;
    expect(header!.slice(0, 3)).toEqual(['request_id', 'created_at', 'created_at_ms']);
    const col = (name: string) => header!.indexOf(name);
    const haiku = events.filter((e) => e.model === 'claude-haiku-4-5');
    expect(rows.map((r) => r[0])).toEqual(newestFirst(haiku));
    for (const r of rows) {
      const e = haiku.find((x) => x.requestId === r[0])!;
      expect(Number(r[col('cost_micros')])).toBe(e.costMicros);
      expect(r[col('cost_dollars')]).toBe(`1.${String(e.costMicros! - 1_000_000).padStart(6, '0')}`);
      expect(r[col('model')]).toBe('claude-haiku-4-5');
    }
    const mine = await csv(member.token, `/usage/requests.csv?groupId=${carpool.groupId}`);
    expect(mine.rows.slice(1).map((r) => r[0])).toEqual(
      newestFirst(events.filter((e) => e.userId === member.id)),
    );
    const stranger = await newUser('Stranger');
    expect((await fetchApi(stranger.token, `/usage/requests.csv?groupId=${carpool.groupId}`)).status).toBe(
      404,
    );
  });

  it('usage: the aggregate rows of the range, coarsest first, adding up to the log', async () => {
    const carpool = await ownedCarpool();
    const member = await memberOf(carpool.groupId);
    const memberKey = (
      await admin<{ id: string }>('POST', '/keys', { groupId: carpool.groupId, userId: member.id })
    ).json;
    const owner = {
      keyId: carpool.keyId,
      userId: carpool.userId,
      groupId: carpool.groupId,
      accountId: carpool.accountId,
    };
    await writeUsage(env, edgeEvents(owner));
    await writeUsage(env, edgeEvents({ ...owner, keyId: memberKey.id, userId: member.id }));
    const from = Date.parse('2025-01-15T05:00:00Z');
    const to = Date.parse('2025-04-10T13:00:00Z');
    const out = await csv(carpool.owner.token, `/usage.csv?groupId=${carpool.groupId}&from=${from}&to=${to}`);
    expect(out.status).toBe(200);
    const [header, ...rows] = out.rows;
    const col = (name: string) => header!.indexOf(name);
    expect(new Set(rows.map((r) => r[col('period')]))).toEqual(new Set(['hour', 'day', 'month']));
    const [log] = await all<{ cost: number; n: number }>(
      'SELECT sum(cost_micros) AS cost, count(*) AS n FROM request_log WHERE group_id = ? AND created_at >= ? AND created_at < ?',
      carpool.groupId,
      from,
      to,
    );
    expect(rows.reduce((s, r) => s + Number(r[col('cost_micros')]), 0)).toBe(log!.cost);
    expect(rows.reduce((s, r) => s + Number(r[col('requests')]), 0)).toBe(log!.n);
    const feb = rows.filter(
      (r) => r[col('period')] === 'month' && r[col('period_start')] === '2025-02-01T00:00:00.000Z',
    );
    expect(feb.length).toBeGreaterThan(0);
    // A plain member's export of the group holds only their own rows.
    const theirs = await csv(member.token, `/usage.csv?groupId=${carpool.groupId}&from=${from}&to=${to}`);
    expect(theirs.rows.length).toBeGreaterThan(1);
    expect(new Set(theirs.rows.slice(1).map((r) => r[col('user_id')]))).toEqual(new Set([member.id]));
    expect((await fetchApi(member.token, `/usage.csv?keyId=${carpool.keyId}`)).status).toBe(404);
  });
});

describe('budget reconciliation', () => {
  async function settled(keyId: string, n: number) {
    await eventually(async () => {
      const [row] = await all<{ n: number }>('SELECT count(*) AS n FROM request_log WHERE key_id = ?', keyId);
      return row!.n === n ? true : undefined;
    });
  }

  it('finds a group budget with real requests at zero drift, then reports a drift that persists', async () => {
    const carpool = await ownedCarpool();
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'group',
      groupId: carpool.groupId,
      period: 'month',
      limitMicros: 100_000_000,
      timeZone: 'Asia/Kolkata',
    });
    expect(budget.status).toBe(201);
    for (let i = 0; i < 3; i++) await (await streamMessage(carpool.key)).text();
    await settled(carpool.keyId, 3);
    const warn = vi.spyOn(console, 'warn');

    const check = async () => (await reconcileBudgets(env)).find((r) => r.budgetId === budget.json.id)!;
    const first = await eventually(async () => {
      const r = await check();
      return r.driftMicros === 0 ? r : undefined;
    });
    expect(first.counterMicros).toBeGreaterThan(0);
    expect(first.recordedMicros).toBe(first.counterMicros);
    expect(first.flagged).toBe(false);
    const read = await api<{
      reconciliation: { driftMicros: number; counterMicros: number; periodKey: string };
    }>(carpool.owner.token, 'GET', `/budgets/${budget.json.id}`);
    expect(read.json.reconciliation).toMatchObject({ driftMicros: 0, counterMicros: first.counterMicros });
    expect(read.json.reconciliation.periodKey).toMatch(/^month:/);

    // D1 learns of spending the gate never counted (a usage event from nowhere).
    const ids = {
      keyId: carpool.keyId,
      userId: carpool.userId,
      groupId: carpool.groupId,
      accountId: carpool.accountId,
    };
    await writeUsage(env, [event(ids, Date.now() - 1_000, { costMicros: 4_321 })]);
    const once = await check();
    expect(once).toMatchObject({ driftMicros: 4_321, flagged: false }); // could be queue lag: not yet
    expect(warn.mock.calls.filter(([line]) => String(line).includes(budget.json.id))).toEqual([]);
    const twice = await check();
    expect(twice).toMatchObject({ driftMicros: 4_321, flagged: true });
    const lines = warn.mock.calls
      .map(([line]) => String(line))
      .filter((line) => line.includes(budget.json.id))
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      {
        event: 'budget.drift',
        budgetId: budget.json.id,
        scope: 'group',
        scopeId: carpool.groupId,
        period: 'month',
        periodKey: first.periodKey,
        counterMicros: first.counterMicros,
        recordedMicros: first.counterMicros + 4_321,
        driftMicros: 4_321,
        previousDriftMicros: 4_321,
      },
    ]);
    const after = await api<{ reconciliation: { driftMicros: number; flagged: boolean } }>(
      ADMIN_TOKEN,
      'GET',
      `/budgets/${budget.json.id}`,
    );
    expect(after.json.reconciliation).toMatchObject({ driftMicros: 4_321, flagged: true });
  });

  it('reconciles an enterprise budget against the ledger', async () => {
    const pool = await seedEnterprise([{ maxConcurrency: 10 }]);
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'enterprise',
      enterpriseId: pool.enterpriseId,
      period: 'day',
      limitMicros: 100_000_000,
    });
    expect(budget.status).toBe(201);
    for (let i = 0; i < 2; i++) await (await streamMessage(pool.key)).text();
    await settled(pool.keyId, 2);
    // The groups report to the ledger within a second: then the two agree.
    const r = await eventually(async () => {
      const found = (await reconcileBudgets(env)).find((x) => x.budgetId === budget.json.id);
      return found && found.counterMicros > 0 && found.driftMicros === 0 ? found : undefined;
    });
    expect(r.recordedMicros).toBe(r.counterMicros);
  });

  it('counts D1 to the millisecond across half-hour zone edges, from aggregates and the log', async () => {
    const ids = fakeIds();
    // Asia/Kolkata months start at 18:30 UTC the day before.
    const from = Date.parse('2025-01-31T18:30:00Z');
    const to = Date.parse('2025-03-31T18:29:59.999Z');
    const moments = [
      from - 1,
      from,
      from + 29 * 60_000,
      Date.parse('2025-02-01T00:00:00Z'),
      Date.parse('2025-02-17T09:00:00Z'),
      Date.parse('2025-03-01T00:00:00Z'),
      Date.parse('2025-03-31T18:00:00Z'),
      to - 1,
      to,
      to + 1,
    ];
    await writeUsage(
      env,
      moments.map((at, i) => event(ids, at, { costMicros: 10 ** (i % 7) })),
    );
    const row = {
      id: 'b',
      scope: 'key',
      scopeId: ids.keyId,
      keyId: ids.keyId,
      enterpriseId: null,
      departmentId: null,
      groupId: ids.groupId,
      userId: null,
      period: 'month',
      limitMicros: 1,
      mode: 'hard',
      authority: 'group',
      timeZone: 'Asia/Kolkata',
      createdAt: 0,
    } satisfies Budget;
    expect(budgetRule(row).target).toBe(ids.keyId);
    const [expected] = await all<{ cost: number }>(
      'SELECT sum(cost_micros) AS cost FROM request_log WHERE key_id = ? AND created_at >= ? AND created_at < ?',
      ids.keyId,
      from,
      to,
    );
    // The whole month of February (UTC) is answered from usage_monthly: its hours are gone.
    await env.DB.prepare('DELETE FROM usage_hourly WHERE key_id = ? AND hour >= ? AND hour < ?')
      .bind(ids.keyId, Date.parse('2025-02-01T00:00:00Z'), Date.parse('2025-03-01T00:00:00Z'))
      .run();
    expect(await recordedSpend(env, row, from, to)).toBe(expected!.cost);
  });
});
