// The 10-minute cron does bounded work per run: closing last month takes at most a fixed number of
// groups a run, oldest first, each against its own zone's month, and a group whose close keeps
// failing does not keep the others from closing on the following runs; the budget reconciliation
// checks at most a fixed number of budgets a run, least recently checked first, still flags a
// drift found twice in a row by a budget's own checks, and records every budget it checked.
//
// A file of its own, for a D1 holding only these groups and budgets: the closing runs are given a
// `now` in 2020, and their groups are rows written straight into D1 with a created_at before it.
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RECONCILE_LIMIT, reconcileBudgets } from '../worker/budgets/reconcile';
import { CLOSE_LIMIT, closeLastMonths } from '../worker/domain/billing';
import { pushGroup } from '../worker/domain/push';
import { writeUsage } from '../worker/queue/consumer';
import { admin, type Carpool, seedCarpool } from './support/relay';
import { usageEventFor } from './support/usage';

afterEach(() => {
  vi.restoreAllMocks();
});

const DAY = 86_400_000;
// 05:00 UTC on 1 March 2020, an hour past the grace: February is over in UTC, and in Los Angeles
// (21:00 on 29 February) only January is.
const NOW = Date.parse('2020-03-01T05:00:00Z');

/** Bare groups (no members, no account: a zero bill), created a day apart in this order. */
async function groupsCreated(zone: string, first: number, n: number, tag: string): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${tag}-${i}`);
  await env.DB.batch(
    ids.map((id, i) =>
      env.DB.prepare(
        'INSERT INTO groups (id, name, kind, time_zone, created_at) VALUES (?, ?, ?, ?, ?)',
      ).bind(id, id, 'carpool', zone, first + i * DAY),
    ),
  );
  return ids;
}

async function closedMonths(ids: string[]): Promise<Record<string, string[]>> {
  const { results } = await env.DB.prepare(
    `SELECT group_id, month, closed_by FROM statements WHERE group_id IN (${ids.map(() => '?').join(', ')}) ORDER BY month`,
  )
    .bind(...ids)
    .all<{ group_id: string; month: string; closed_by: string }>();
  const out: Record<string, string[]> = {};
  for (const r of results) out[r.group_id] = [...(out[r.group_id] ?? []), `${r.month} ${r.closed_by}`];
  return out;
}

describe('closing last month', () => {
  it('closes at most the limit a run, oldest first, each group in its own zone’s month', async () => {
    const utc = await groupsCreated('UTC', Date.parse('2019-11-01T00:00:00Z'), 3, 'utc');
    const la = await groupsCreated('America/Los_Angeles', Date.parse('2019-11-02T12:00:00Z'), 2, 'la');
    // Created in February: nothing to close in Los Angeles' January.
    const [lateLa] = await groupsCreated(
      'America/Los_Angeles',
      Date.parse('2020-02-10T00:00:00Z'),
      1,
      'la-new',
    );
    const all = [...utc, ...la, lateLa!];
    // utc-0 closed January already, as its owner would have: February is still due.
    await env.DB.prepare(
      `INSERT INTO statements (id, group_id, month, time_zone, period_start, period_end, split_mode,
        prorate_by_days, fixed_fee_micros, metered_micros, late_metered_micros, bill_micros,
        adjustments_micros, total_micros, adjustment_count, closed_at, closed_by)
       VALUES ('jan', 'utc-0', '2020-01', 'UTC', ?, ?, 'usage', 0, 0, 0, 0, 0, 0, 0, 0, ?, 'operator')`,
    )
      .bind(Date.parse('2020-01-01T00:00:00Z'), Date.parse('2020-02-01T00:00:00Z'), NOW - 20 * DAY)
      .run();

    // Oldest first, two a run: utc-0 (1 Nov), utc-1 (2 Nov), la-0 (2 Nov, noon), utc-2, la-1.
    expect(await closeLastMonths(env, NOW, 2)).toBe(2);
    expect(await closedMonths(all)).toEqual({
      'utc-0': ['2020-01 operator', '2020-02 cron'],
      'utc-1': ['2020-02 cron'],
    });
    expect(await closeLastMonths(env, NOW, 2)).toBe(2);
    expect(await closeLastMonths(env, NOW, 2)).toBe(1);
    expect(await closeLastMonths(env, NOW, 2)).toBe(0);
    expect(await closedMonths(all)).toEqual({
      'utc-0': ['2020-01 operator', '2020-02 cron'],
      'utc-1': ['2020-02 cron'],
      'utc-2': ['2020-02 cron'],
      'la-0': ['2020-01 cron'],
      'la-1': ['2020-01 cron'],
    });
    // Later that morning February is over in Los Angeles too.
    expect(await closeLastMonths(env, Date.parse('2020-03-01T10:00:00Z'), 2)).toBe(2);
    expect(await closeLastMonths(env, Date.parse('2020-03-01T10:00:00Z'), 2)).toBe(1);
    expect((await closedMonths(all))['la-new-0']).toEqual(['2020-02 cron']);
  });

  it('a group whose close always fails does not keep the others from closing', async () => {
    const ids = await groupsCreated('UTC', Date.parse('2019-06-01T00:00:00Z'), 4, 'broken');
    // The oldest group's statement is refused every time, and not as a conflict.
    await env.DB.prepare(
      `CREATE TRIGGER refuse_broken_0 BEFORE INSERT ON statements WHEN NEW.group_id = 'broken-0'
       BEGIN SELECT RAISE(ABORT, 'refused for the test'); END`,
    ).run();
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const runs = [];
      for (let i = 0; i < 4; i++) runs.push(await closeLastMonths(env, NOW, 2));
      // It fails and goes to the back: the next run closes two others, the last two retry it alone.
      expect(runs).toEqual([1, 2, 0, 0]);
    } finally {
      await env.DB.prepare('DROP TRIGGER refuse_broken_0').run();
    }
    expect(Object.keys(await closedMonths(ids)).sort()).toEqual(['broken-1', 'broken-2', 'broken-3']);
    expect(error.mock.calls.filter(([line]) => String(line).includes('broken-0'))).toHaveLength(3);
    // Once it can be closed, it is.
    expect(await closeLastMonths(env, NOW, 2)).toBe(1);
  });

  it('as many failing groups as a run takes do not hold the others back, and are still retried', async () => {
    const ids = await groupsCreated('UTC', Date.parse('2019-05-01T00:00:00Z'), 4, 'stuck');
    // The two oldest are refused every time: without the failure record every run would take them.
    await env.DB.prepare(
      `CREATE TRIGGER refuse_stuck BEFORE INSERT ON statements WHEN NEW.group_id IN ('stuck-0', 'stuck-1')
       BEGIN SELECT RAISE(ABORT, 'refused for the test'); END`,
    ).run();
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const runs = [];
      for (let i = 0; i < 3; i++) runs.push(await closeLastMonths(env, NOW + i, 2));
      // Run 1 fails both; run 2 closes the two others; run 3 tries the failed ones again.
      expect(runs).toEqual([0, 2, 0]);
    } finally {
      await env.DB.prepare('DROP TRIGGER refuse_stuck').run();
    }
    expect(Object.keys(await closedMonths(ids)).sort()).toEqual(['stuck-2', 'stuck-3']);
    expect(error.mock.calls.filter(([line]) => String(line).includes('stuck-0'))).toHaveLength(2);
    expect(await closeLastMonths(env, NOW, 2)).toBe(2);
  });

  it('closes CLOSE_LIMIT groups a run unless told otherwise', async () => {
    // Groups from 2018, closed at the end of that year's November: none of the others is due.
    await groupsCreated('UTC', Date.parse('2018-01-01T00:00:00Z'), CLOSE_LIMIT + 1, 'default');
    const november = Date.parse('2018-12-01T05:00:00Z');
    expect(await closeLastMonths(env, november)).toBe(CLOSE_LIMIT);
    expect(await closeLastMonths(env, november)).toBe(1);
  });
});

/** A group budget for each period (one per target and period) on each of `n` new carpools. */
async function groupBudgets(n: number, carpools: Carpool[] = []): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const carpool = await seedCarpool();
    carpools.push(carpool);
    const { groupId } = carpool;
    for (const period of ['day', 'week', 'month', 'total']) {
      const budget = await admin<{ id: string }>('POST', '/budgets', {
        scope: 'group',
        groupId,
        period,
        limitMicros: 100_000_000,
      });
      expect(budget.status).toBe(201);
      ids.push(budget.json.id);
    }
  }
  return ids;
}

describe('reconciling budgets', () => {
  it('records every budget it checked, more than one statement could bind', async () => {
    const ids = await groupBudgets(4);
    const results = await reconcileBudgets(env);
    expect(results.map((r) => r.budgetId).sort()).toEqual([...ids].sort());
    const { results: rows } = await env.DB.prepare('SELECT budget_id FROM budget_reconciliations').all();
    expect(rows).toHaveLength(ids.length);
  });

  it('checks the least recently checked first, each budget once in ceil(N / limit) runs', async () => {
    // Only this test's budgets: the rotation is over all of them.
    await env.DB.prepare('DELETE FROM budgets').run();
    const carpools: Carpool[] = [];
    const ids = (await groupBudgets(1, carpools)).sort();
    const base = Date.now();
    const run = async (k: number) =>
      (await reconcileBudgets(env, base + k * 1_000, 2)).map((r) => r.budgetId);
    // Never checked first, by id; then the oldest check.
    expect(await run(1)).toEqual(ids.slice(0, 2));
    expect(await run(2)).toEqual(ids.slice(2, 4));
    expect(await run(3)).toEqual(ids.slice(0, 2));

    // D1 learns of spending the gate never counted. A drift is flagged on a budget's second check
    // that finds it, however many runs apart: c and d find it at runs 4 and 6, a and b at 5 and 7.
    const { keyId, userId, groupId, accountId } = carpools[0]!;
    await writeUsage(env, [
      usageEventFor({ keyId, userId, groupId, accountId }, base, {
        costMicros: 4_321,
        ttfbMs: 1,
        durationMs: 1,
      }),
    ]);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const checks = async (k: number) =>
      (await reconcileBudgets(env, base + k * 1_000, 2)).map((r) => [r.budgetId, r.driftMicros, r.flagged]);
    const [a, b, c, d] = ids;
    expect(await checks(4)).toEqual([
      [c, 4_321, false],
      [d, 4_321, false],
    ]);
    expect(await checks(5)).toEqual([
      [a, 4_321, false],
      [b, 4_321, false],
    ]);
    expect(await checks(6)).toEqual([
      [c, 4_321, true],
      [d, 4_321, true],
    ]);
    expect(await checks(7)).toEqual([
      [a, 4_321, true],
      [b, 4_321, true],
    ]);
    expect(warn).toHaveBeenCalledTimes(4);
  });

  it('a budget its gate does not know is skipped, and goes to the back of the line all the same', async () => {
    await env.DB.prepare('DELETE FROM budgets').run();
    const carpools: Carpool[] = [];
    const ids = (await groupBudgets(1, carpools)).sort();
    // Written straight into D1, never pushed: its gate has not learned it. Its id sorts first.
    const { groupId, userId } = carpools[0]!;
    await env.DB.prepare(
      `INSERT INTO budgets (id, scope, scope_id, group_id, user_id, period, limit_micros)
       VALUES ('0-unknown', 'member', ?, ?, ?, 'day', 1000000)`,
    )
      .bind(`${groupId}:${userId}`, groupId, userId)
      .run();
    const base = Date.now();
    const run = async (k: number) =>
      (await reconcileBudgets(env, base + k * 1_000, 2)).map((r) => r.budgetId);
    // Run 1 takes the unknown budget (skipped: no check) and a; run 2 moves on to b and c; run 3
    // takes d and, its turn come again, the unknown one.
    expect(await run(1)).toEqual(ids.slice(0, 1));
    expect(await run(2)).toEqual(ids.slice(1, 3));
    expect(await run(3)).toEqual([ids[3]]);
    const turns = await env.DB.prepare(
      "SELECT taken_at FROM budget_turns WHERE budget_id = '0-unknown'",
    ).first();
    expect(turns).toEqual({ taken_at: base + 3_000 });
    const checked = await env.DB.prepare(
      "SELECT count(*) AS n FROM budget_reconciliations WHERE budget_id = '0-unknown'",
    ).first();
    expect(checked).toEqual({ n: 0 });
  });

  it('checks RECONCILE_LIMIT budgets a run unless told otherwise', async () => {
    await env.DB.prepare('DELETE FROM budgets').run();
    // Key budgets written straight into D1 on one group (the keys need not exist), then pushed to
    // its gate, as creating them through the API would, one by one.
    const { groupId } = await seedCarpool();
    const ids = Array.from({ length: RECONCILE_LIMIT + 1 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`);
    await env.DB.batch(
      ids.map((id) =>
        env.DB.prepare(
          `INSERT INTO budgets (id, scope, scope_id, key_id, group_id, period, limit_micros, mode, time_zone)
           VALUES (?, 'key', ?, ?, ?, 'month', 100000000, 'hard', 'UTC')`,
        ).bind(id, id, id, groupId),
      ),
    );
    await pushGroup(env, groupId);
    const first = await reconcileBudgets(env);
    expect(first.map((r) => r.budgetId)).toEqual(ids.slice(0, RECONCILE_LIMIT));
    const second = await reconcileBudgets(env, Date.now() + 1_000);
    expect(second.map((r) => r.budgetId)).toEqual([
      ids[RECONCILE_LIMIT],
      ...ids.slice(0, RECONCILE_LIMIT - 1),
    ]);
  });
});
