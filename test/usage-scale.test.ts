// Usage that scales: daily and monthly rollups equal the hours they hold, long ranges are answered
// from them (and every query is served by an index), the request log is listed with filters, a
// cursor and the caller's scope, trimmed past its retention, exported as CSV; and the budget
// reconciliation finds a counter and D1 in agreement, and reports a drift that persists.
import {
  createExecutionContext,
  createScheduledController,
  env,
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
import { ADMIN_TOKEN, admin, api, eventually, newUser, RELAY, streamMessage } from './support/relay';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

afterEach(() => {
  vi.restoreAllMocks();
});

interface Ids {
  keyId: string;
  userId: string;
  groupId: string;
  accountId: string;
}

function event(ids: Ids, at: number, fields: Partial<UsageEvent> = {}): UsageEvent {
  return {
    requestId: crypto.randomUUID(),
    at,
    ...ids,
    provider: 'anthropic',
    surface: 'anthropic',
    model: 'claude-sonnet-4-5',
    stream: true,
    status: 200,
    outcome: 'complete',
    upstreamRequestId: null,
    usage: {
      inputTokens: 100,
      outputTokens: 20,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      cacheReadTokens: 5,
    },
    estimated: false,
    costMicros: 1_234,
    unpriced: false,
    ttfbMs: 10,
    durationMs: 50,
    errorType: null,
    ...fields,
  } as UsageEvent;
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
    expect(usage.json.byHour).toEqual([]); // longer than a week
    // Days come from daily and hourly rows only: the months' days are there too.
    expect(usage.json.byDay.some((d) => d.day === Date.parse('2025-02-14T00:00:00Z'))).toBe(true);
    expect(usage.json.byDay.reduce((s, d) => s + d.requests, 0)).toBe(expected!.requests);

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
            statements.push(p.byModel.toSQL(), p.byMember.toSQL());
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
    }
  });
});
