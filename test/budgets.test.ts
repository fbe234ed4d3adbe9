// Budgets hold under concurrency: a hard budget is passed by at most the actual cost of the
// requests in flight when it was reached; a refused request gets a 402 in its own dialect that
// names the budget and says when it resets; after settlement the gate's counter equals what the
// request log recorded, to the micro-dollar.
import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { recordedSpend } from '../worker/budgets/reconcile';
import { db } from '../worker/db/client';
import { budgets } from '../worker/db/schema';
import { budgetView, loggedCost } from './support/gates';
import {
  addEnterpriseGroup,
  admin,
  api,
  type Carpool,
  eventually,
  newUser,
  RELAY,
  relayFetch,
  requestLogFor,
  seedCarpool,
  seedEnterprise,
  streamMessage,
} from './support/relay';

/** The cost of one `streamMessage` request on this carpool, measured with a key of its own. */
async function costOfOne(carpool: Carpool): Promise<number> {
  const probe = await admin<{ id: string; key: string }>('POST', '/keys', {
    groupId: carpool.groupId,
    userId: carpool.userId,
  });
  await (await streamMessage(probe.json.key)).text();
  const [row] = await requestLogFor(probe.json.id);
  expect(row!.cost_micros).toBeGreaterThan(0);
  return row!.cost_micros;
}

/** Sends `total` requests, `parallel` at a time; returns each status and the refusals' bodies. */
async function send(key: string, total: number, parallel: number) {
  const statuses: number[] = [];
  const refusals: { status: number; headers: Headers; body: { error: { type: string; message: string } } }[] =
    [];
  for (let i = 0; i < total; i += parallel) {
    await Promise.all(
      Array.from({ length: Math.min(parallel, total - i) }, async () => {
        const res = await streamMessage(key);
        statuses.push(res.status);
        if (res.status === 200) await res.text();
        else refusals.push({ status: res.status, headers: res.headers, body: (await res.json()) as never });
      }),
    );
  }
  return { statuses, refusals };
}

describe('a hard key budget', () => {
  it('holds under 200 requests: within its bound, refused plainly, counters equal the log', async () => {
    const carpool = await seedCarpool({ maxConcurrency: 10 });
    const cost = await costOfOne(carpool);
    const limit = 20 * cost;
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'key',
      keyId: carpool.keyId,
      period: 'month',
      limitMicros: limit,
    });
    expect(budget.status).toBe(201);

    const { statuses, refusals } = await send(carpool.key, 200, 8);
    const served = statuses.filter((s) => s === 200).length;
    expect(served + refusals.length).toBe(200);
    expect(served).toBeGreaterThanOrEqual(15);
    expect(refusals.length).toBeGreaterThan(100);
    // Refused while requests in flight hold the rest: a 429 to retry; once spent: a 402.
    for (const r of refusals) {
      if (r.status === 429) {
        expect(r.headers.get('retry-after')).not.toBeNull();
        expect(r.body.error.type).toBe('rate_limit_error');
        expect(r.body.error.message).toMatch(
          /^This key's monthly budget of \$\d+\.\d+ is committed to requests in flight/,
        );
        continue;
      }
      expect(r.status).toBe(402);
      expect(r.headers.get('x-should-retry')).toBe('false');
      expect(r.body.error.type).toBe('billing_error');
      expect(r.body.error.message).toMatch(/This key's monthly budget of \$\d+\.\d+ is spent .* resets at/);
    }
    expect(refusals.filter((r) => r.status === 402).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200 && s !== 402 && s !== 429)).toEqual([]);

    // Settled: nothing reserved, and the counter is what the log recorded, exactly.
    const logged = await eventually(async () => {
      const row = await loggedCost('key_id = ?', carpool.keyId);
      return row.n === served ? row : undefined;
    });
    const view = await eventually(async () => {
      const v = await budgetView(carpool.groupId, budget.json.id);
      return v.reservedMicros === 0 ? v : undefined;
    });
    expect(view.spentMicros).toBe(logged.cost);
    // The bound: at most the requests in flight when the limit was reached (≤ the account's 10).
    expect(logged.cost).toBeGreaterThanOrEqual(limit - cost);
    expect(logged.cost).toBeLessThanOrEqual(limit + 10 * cost);
  });

  it('is refused in each client dialect with a 402 that a retry cannot fix', async () => {
    const carpool = await seedCarpool();
    await admin('POST', '/budgets', { scope: 'key', keyId: carpool.keyId, period: 'day', limitMicros: 0 });
    const body = { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
    const anthropic = await relayFetch(`${RELAY}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': carpool.key, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(anthropic.status).toBe(402);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'billing_error' } });
    const openai = await relayFetch(`${RELAY}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${carpool.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(openai.status).toBe(402);
    expect(await openai.json()).toMatchObject({
      error: { type: 'insufficient_quota', code: 'budget_exhausted' },
    });
    expect(openai.headers.get('x-should-retry')).toBe('false');
  });
});

describe('a budget charged for what the client was given', () => {
  it("when failover found no other account and the failed attempt's answer was passed on", async () => {
    // message_start (the input billed), then an overloaded error before any content: the one
    // account cannot fail over, so the client gets that answer, and the log bills it.
    const carpool = await seedCarpool({ scenario: 'overloaded_after_start' });
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'key',
      keyId: carpool.keyId,
      period: 'month',
      limitMicros: 1_000_000_000,
    });
    expect(budget.status).toBe(201);
    const res = await streamMessage(carpool.key);
    expect(await res.text()).toContain('overloaded_error');
    const [row] = await requestLogFor(carpool.keyId);
    expect(row!.cost_micros).toBeGreaterThan(0);
    const view = await eventually(async () => {
      const v = await budgetView(carpool.groupId, budget.json.id);
      return v.reservedMicros === 0 && (v.spentMicros ?? 0) > 0 ? v : undefined;
    });
    expect(view.spentMicros).toBe(row!.cost_micros);
  });
});

describe('member and group budgets', () => {
  it('a member budget limits every key of that member; a group budget the whole group', async () => {
    const carpool = await seedCarpool();
    const second = await admin<{ key: string }>('POST', '/keys', {
      groupId: carpool.groupId,
      userId: carpool.userId,
    });
    await admin('POST', '/budgets', {
      scope: 'member',
      groupId: carpool.groupId,
      userId: carpool.userId,
      period: 'week',
      limitMicros: 1,
    });
    // The first request is admitted (nothing spent yet) and spends past the limit; then both keys stop.
    expect((await streamMessage(carpool.key)).status).toBe(200);
    await eventually(async () =>
      (await loggedCost('group_id = ?', carpool.groupId)).n === 1 ? true : undefined,
    );
    await eventually(async () => ((await streamMessage(second.json.key)).status === 402 ? true : undefined));
    const refused = await streamMessage(carpool.key);
    expect(refused.status).toBe(402);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(
      /^Your weekly budget/,
    );
  });
});

describe('enterprise budgets', () => {
  it('hold across groups through the ledger, and name the enterprise when spent', async () => {
    const pool = await seedEnterprise([{ maxConcurrency: 20 }]);
    const second = await addEnterpriseGroup(pool.enterpriseId);
    const one = await admin<{ id: string; key: string }>('POST', '/keys', {
      groupId: pool.groupId,
      userId: pool.userId,
    });
    await (await streamMessage(one.json.key)).text();
    const [first] = await requestLogFor(one.json.id);
    const cost = first!.cost_micros;
    const limit = 30 * cost;
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'enterprise',
      enterpriseId: pool.enterpriseId,
      period: 'month',
      limitMicros: limit,
      timeZone: 'Asia/Shanghai',
    });
    expect(budget.status).toBe(201);

    const [a, b] = await Promise.all([send(pool.key, 60, 4), send(second.key, 60, 4)]);
    const served = [...a.statuses, ...b.statuses].filter((s) => s === 200).length;
    const refusals = [...a.refusals, ...b.refusals];
    expect(served + refusals.length).toBe(120);
    expect(refusals.length).toBeGreaterThan(0);
    for (const r of refusals) {
      expect(r.body.error.type).toBe(r.status === 429 ? 'rate_limit_error' : 'billing_error');
      expect(r.body.error.message).toMatch(/^The enterprise's monthly budget of/);
    }
    const spent = await eventually(async () => {
      const row = await env.DB.prepare(
        "SELECT count(*) AS n, sum(cost_micros) AS cost FROM request_log WHERE group_id IN (?, ?) AND key_id <> ? AND outcome <> 'refused'",
      )
        .bind(pool.groupId, second.groupId, one.json.id)
        .first<{ n: number; cost: number }>();
      return row && row.n === served ? row.cost : undefined;
    });
    // Slices are counted against the limit when granted: spending passes it by at most what was
    // in flight (each group's 10 at a time).
    expect(spent).toBeLessThanOrEqual(limit + 20 * cost);
    expect(spent).toBeGreaterThanOrEqual(limit / 2);
    // The ledger hears of every micro-dollar (reports are sent within a second).
    const ledger = env.ENTERPRISE_LEDGER.get(env.ENTERPRISE_LEDGER.idFromName(`ledger:${pool.enterpriseId}`));
    await eventually(async () => {
      const [view] = await ledger.state(pool.enterpriseId);
      return view?.spentMicros === spent ? true : undefined;
    }, 15_000);
    const [view] = await ledger.state(pool.enterpriseId);
    expect(view!.grantedMicros).toBeLessThanOrEqual(limit);
  });
});

describe('department budgets', () => {
  it('cover the sub-departments’ groups, and follow a group or a department when it moves', async () => {
    const pool = await seedEnterprise([{ maxConcurrency: 5 }]);
    const department = async (name: string, parentId?: string) => {
      const made = await admin<{ id: string }>('POST', `/enterprises/${pool.enterpriseId}/departments`, {
        name,
        parentId,
      });
      expect(made.status).toBe(201);
      return made.json.id;
    };
    const eng = await department('Engineering');
    const backend = await department('Backend', eng);
    const ops = await department('Ops');
    const place = async (departmentId: string | null) =>
      expect((await admin('PATCH', `/groups/${pool.groupId}`, { departmentId })).status).toBe(200);
    await place(backend);
    // One request spends Engineering's whole budget (a micro-dollar), so the next is refused.
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'department',
      departmentId: eng,
      period: 'month',
      limitMicros: 1,
    });
    expect(budget.status).toBe(201);
    let served = 0;
    const statusOf = async () => {
      const res = await streamMessage(pool.key);
      const body = await res.text();
      if (res.status === 200) served++;
      return { status: res.status, body };
    };
    expect((await statusOf()).status).toBe(200);
    const refused = await eventually(async () => {
      const r = await statusOf();
      return r.status === 402 ? r : undefined;
    });
    expect(JSON.parse(refused.body).error.message).toMatch(/^The department's monthly budget of/);

    // The group moves to a department outside Engineering: served at once; back: refused at once.
    await place(ops);
    expect((await statusOf()).status).toBe(200);
    await place(backend);
    expect((await statusOf()).status).toBe(402);
    // Backend leaves Engineering (top-level now): its groups are no longer held by that budget.
    expect((await admin('PATCH', `/departments/${backend}`, { parentId: null })).status).toBe(200);
    expect((await statusOf()).status).toBe(200);
    expect((await admin('PATCH', `/departments/${backend}`, { parentId: eng })).status).toBe(200);
    expect((await statusOf()).status).toBe(402);

    // Reconciliation reads the same scope from D1: the sub-department's group is Engineering's.
    const logged = await eventually(async () => {
      const row = await loggedCost('group_id = ?', pool.groupId);
      return row.n === served ? row : undefined;
    });
    expect(logged.cost).toBeGreaterThan(0);
    const [row] = await db(env).select().from(budgets).where(eq(budgets.id, budget.json.id));
    const now = Date.now();
    expect(await recordedSpend(env, row!, now - 86_400_000, now + 3_600_000)).toBe(logged.cost);
  });
});

describe('a budget goes with its target', () => {
  it('a department’s when it is deleted (and the ledger stops counting it); a group’s, its members’ and keys’ with the group', async () => {
    const pool = await seedEnterprise([{}]);
    const dept = await admin<{ id: string }>('POST', `/enterprises/${pool.enterpriseId}/departments`, {
      name: 'Short-lived',
    });
    const budget = (body: Record<string, unknown>) =>
      admin<{ id: string }>('POST', '/budgets', { period: 'month', limitMicros: 1_000_000, ...body });
    const ofDept = await budget({ scope: 'department', departmentId: dept.json.id });
    const ofEnterprise = await budget({ scope: 'enterprise', enterpriseId: pool.enterpriseId });
    const ofGroup = await budget({ scope: 'group', groupId: pool.groupId });
    const ofMember = await budget({ scope: 'member', groupId: pool.groupId, userId: pool.userId });
    const ofKey = await budget({ scope: 'key', keyId: pool.keyId });
    for (const b of [ofDept, ofEnterprise, ofGroup, ofMember, ofKey]) expect(b.status).toBe(201);
    const ledger = env.ENTERPRISE_LEDGER.get(env.ENTERPRISE_LEDGER.idFromName(`ledger:${pool.enterpriseId}`));
    const counted = async () => (await ledger.state(pool.enterpriseId)).map((v) => v.budgetId).sort();
    expect(await counted()).toEqual([ofDept.json.id, ofEnterprise.json.id].sort());

    expect((await admin('DELETE', `/departments/${dept.json.id}`)).status).toBe(200);
    expect((await admin('GET', `/budgets/${ofDept.json.id}`)).status).toBe(404);
    expect(await counted()).toEqual([ofEnterprise.json.id]);

    expect((await admin('DELETE', `/groups/${pool.groupId}`)).status).toBe(200);
    for (const b of [ofGroup, ofMember, ofKey])
      expect((await admin('GET', `/budgets/${b.json.id}`)).status).toBe(404);
    const left = await admin<{ data: { id: string }[] }>('GET', `/budgets?enterpriseId=${pool.enterpriseId}`);
    expect(left.json.data.map((b) => b.id)).toEqual([ofEnterprise.json.id]);
  });
});

describe('a soft budget', () => {
  it('never refuses', async () => {
    const carpool = await seedCarpool();
    await admin('POST', '/budgets', {
      scope: 'group',
      groupId: carpool.groupId,
      period: 'day',
      limitMicros: 1,
      mode: 'soft',
    });
    for (let i = 0; i < 3; i++)
      expect((await (await streamMessage(carpool.key)).text()).length).toBeGreaterThan(0);
    expect((await send(carpool.key, 3, 3)).statuses).toEqual([200, 200, 200]);
  });
});

describe('the key holder', () => {
  it('reads their key’s limits, spend and what remains with the key alone (GET /v1/key)', async () => {
    const carpool = await seedCarpool({ keyLimits: { maxConcurrency: 3 } });
    await admin('POST', '/budgets', {
      scope: 'key',
      keyId: carpool.keyId,
      period: 'day',
      limitMicros: 5_000_000,
      timeZone: 'Europe/Paris',
    });
    await (await streamMessage(carpool.key)).text();
    const [row] = await requestLogFor(carpool.keyId);
    const status = await eventually(async () => {
      const res = await relayFetch(`${RELAY}/v1/key`, {
        headers: { authorization: `Bearer ${carpool.key}` },
      });
      const json = (await res.json()) as {
        key: { id: string; rules: { maxConcurrency: number } };
        budgets: { scope: string; spentMicros: number; remainingMicros: number; resetsAt: number }[];
      };
      return json.budgets[0]?.spentMicros === row!.cost_micros ? json : undefined;
    });
    expect(status.key).toMatchObject({ id: carpool.keyId, rules: { maxConcurrency: 3 } });
    expect(status.budgets[0]).toMatchObject({ scope: 'key', remainingMicros: 5_000_000 - row!.cost_micros });
    expect(status.budgets[0]!.resetsAt).toBeGreaterThan(Date.now());
    expect((await relayFetch(`${RELAY}/v1/key`)).status).toBe(401);
  });
});

describe('who sets budgets', () => {
  it('owners set group and member budgets; a member only their own key; other tenants see nothing', async () => {
    const owner = await newUser('Owner');
    const member = await newUser('Member');
    const stranger = await newUser('Stranger');
    const carpool = await seedCarpool();
    await admin('POST', `/groups/${carpool.groupId}/members`, { userId: owner.id, role: 'owner' });
    await admin('POST', `/groups/${carpool.groupId}/members`, { userId: member.id, role: 'member' });
    const memberKey = await admin<{ id: string }>('POST', '/keys', {
      groupId: carpool.groupId,
      userId: member.id,
    });
    const groupBudget = { scope: 'group', groupId: carpool.groupId, period: 'month', limitMicros: 1_000_000 };
    expect((await api(member.token, 'POST', '/budgets', groupBudget)).status).toBe(403);
    expect((await api(stranger.token, 'POST', '/budgets', groupBudget)).status).toBe(404);
    const created = await api<{ id: string }>(owner.token, 'POST', '/budgets', groupBudget);
    expect(created.status).toBe(201);
    expect(
      (
        await api(member.token, 'POST', '/budgets', {
          scope: 'key',
          keyId: memberKey.json.id,
          period: 'day',
          limitMicros: 10,
        })
      ).status,
    ).toBe(201);
    expect((await api(member.token, 'GET', `/budgets/${created.json.id}`)).status).toBe(200);
    expect((await api(stranger.token, 'GET', `/budgets/${created.json.id}`)).status).toBe(404);
    expect((await api(member.token, 'PATCH', `/budgets/${created.json.id}`, { limitMicros: 5 })).status).toBe(
      403,
    );
    expect(
      (await api(owner.token, 'POST', '/budgets', { ...groupBudget, timeZone: 'Mars/Olympus' })).status,
    ).toBe(400);
    expect((await api(owner.token, 'POST', '/budgets', groupBudget)).status).toBe(409);

    // Another tenant learns nothing from a budget's id: not its group, nor its key, nor who is in it.
    const keyBudget = await api<{ id: string }>(owner.token, 'POST', '/budgets', {
      scope: 'key',
      keyId: memberKey.json.id,
      period: 'month',
      limitMicros: 10,
    });
    for (const id of [created.json.id, keyBudget.json.id]) {
      for (const [method, body] of [
        ['GET', undefined],
        ['PATCH', { limitMicros: 1 }],
        ['DELETE', undefined],
      ] as const) {
        const seen = await api<{ error: { message: string } }>(
          stranger.token,
          method,
          `/budgets/${id}`,
          body,
        );
        expect(seen, `${method} ${id}`).toMatchObject({
          status: 404,
          json: { error: { message: `No budget ${id}.` } },
        });
      }
    }
    const memberBudget = (userId: string) => ({ ...groupBudget, scope: 'member', userId });
    for (const userId of [member.id, stranger.id]) {
      const probe = await api<{ error: { message: string } }>(
        stranger.token,
        'POST',
        '/budgets',
        memberBudget(userId),
      );
      expect(probe.status).toBe(404);
      expect(probe.json.error.message).toBe(`No member ${userId} of group ${carpool.groupId}.`);
    }
    // Those who may set it are told plainly who is not in the group.
    expect((await api(owner.token, 'POST', '/budgets', memberBudget(stranger.id))).status).toBe(400);
  });
});
