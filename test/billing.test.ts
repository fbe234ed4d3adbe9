// The carpool bill in workerd: a carpool on a $200-a-month account with metered usage from real
// requests (the official Anthropic SDK through the relay), each split mode, proration for a member
// who joined mid-month, closing a month into an immutable statement (409s, CSV, settled marks,
// adjustments), late usage through the real queue consumer, the cron close, the group usage API,
// and permissions (a plain member, another tenant).
//
// To close a past month the tests move the group back in time directly in D1 (its created_at,
// its members' joined dates, and the hour buckets of the usage they made): the relay only records
// usage "now", and only a month that is over can be closed.
import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { monthBounds, monthOf, previousMonth } from '../worker/billing/months';
import { CLOSE_GRACE_MS, closeLastMonths, MAX_ADJUSTMENTS } from '../worker/domain/billing';
import type { UsageEvent } from '../worker/queue/usage-event';
import { type ApiErrorBody, memberOf, type Person } from './support/groups';
import { admin, anthropicClient, api, newUser, RELAY, requestLogFor } from './support/relay';
import { backdate, deliverUsage, usageEventFor } from './support/usage';

const FEE = 200_000_000;
const DAY = 86_400_000;

interface Line {
  userId: string;
  userName: string;
  daysPresent: number;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costMicros: number;
  meteredMicros: number;
  lateCostMicros: number;
  feePartMicros: number;
  usagePartMicros: number;
  adjustmentsMicros: number;
  amountMicros: number;
  owesPayerMicros: number;
  settled: boolean | null;
}

interface Statement {
  groupId: string;
  month: string;
  /** The first instant the bill covers. */
  from: number;
  status: 'open' | 'closed';
  closedBy: string | null;
  splitMode: string;
  feePayer: { userId: string; paidMicros: number; ownAmountMicros: number; owedMicros: number } | null;
  totals: {
    requests: number;
    costMicros: number;
    meteredMicros: number;
    fixedFeeMicros: number;
    lateMeteredMicros: number;
    billMicros: number;
    adjustmentsMicros: number;
    totalMicros: number;
  };
  lines: Line[];
  adjustments: { userId: string; amountMicros: number; reason: string }[];
  lateUsage: { fromMonth: string; userId: string; requests: number; costMicros: number; note: string }[];
}

interface Crew {
  groupId: string;
  accountId: string;
  ann: Person;
  bob: Person;
  cat: Person;
  keys: Record<'ann' | 'bob' | 'cat', string>;
  keyIds: Record<'ann' | 'bob' | 'cat', string>;
}

/** Ann's carpool on a $200 account on the fake upstream, with Bob and Cat, a key each. */
async function crew(account: Record<string, unknown> = {}): Promise<Crew> {
  const ann = await newUser('Ann');
  const group = await api<{ id: string }>(ann.token, 'POST', '/groups', {
    name: 'The crew',
    kind: 'carpool',
  });
  expect(group.status).toBe(201);
  const groupId = group.json.id;
  const tag = crypto.randomUUID().replaceAll('-', '');
  const bound = await api<{ id: string; monthlyFeeMicros: number; meteredBilling: boolean }>(
    ann.token,
    'POST',
    `/groups/${groupId}/account`,
    { provider: 'anthropic', credential: `sk-fake.${tag}.ok`, monthlyFeeMicros: FEE, ...account },
  );
  expect(bound.status).toBe(201);
  const bob = await memberOf(groupId);
  const cat = await memberOf(groupId);
  const keys = {} as Crew['keys'];
  const keyIds = {} as Crew['keyIds'];
  for (const [name, person] of Object.entries({ ann, bob, cat }) as ['ann' | 'bob' | 'cat', Person][]) {
    const key = await admin<{ id: string; key: string }>('POST', '/keys', { groupId, userId: person.id });
    expect(key.status).toBe(201);
    keys[name] = key.json.key;
    keyIds[name] = key.json.id;
  }
  return { groupId, accountId: bound.json.id, ann, bob, cat, keys, keyIds };
}

/** Real requests through the relay with the Anthropic SDK; resolves once they are metered in D1. */
async function use(c: Crew, who: 'ann' | 'bob' | 'cat', times: number): Promise<void> {
  const client = anthropicClient(c.keys[who]);
  for (let i = 0; i < times; i++) {
    const msg = await client.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: `hello ${i}` }],
    });
    expect(msg.type).toBe('message');
  }
  await requestLogFor(c.keyIds[who], times);
}

/** The month before the current one (UTC), and its bounds. */
function lastMonth() {
  const month = previousMonth(monthOf(Date.now(), 'UTC'));
  return monthBounds(month, 'UTC');
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const lineOf = (s: Statement, userId: string) => s.lines.find((l) => l.userId === userId)!;

function expectBalanced(s: Statement) {
  expect(sum(s.lines.map((l) => l.feePartMicros))).toBe(s.totals.fixedFeeMicros);
  expect(sum(s.lines.map((l) => l.usagePartMicros))).toBe(
    s.totals.meteredMicros + s.totals.lateMeteredMicros,
  );
  expect(sum(s.lines.map((l) => l.amountMicros))).toBe(s.totals.totalMicros);
  expect(s.totals.billMicros).toBe(
    s.totals.fixedFeeMicros + s.totals.meteredMicros + s.totals.lateMeteredMicros,
  );
  expect(s.totals.totalMicros).toBe(s.totals.billMicros + s.totals.adjustmentsMicros);
  for (const l of s.lines) expect(l.feePartMicros + l.usagePartMicros).toBeGreaterThanOrEqual(0);
}

function lateEvent(c: Crew, who: 'ann' | 'bob' | 'cat', at: number): UsageEvent {
  const ids = { keyId: c.keyIds[who], userId: c[who].id, groupId: c.groupId, accountId: c.accountId };
  return usageEventFor(ids, at, { usage: { inputTokens: 1000, outputTokens: 1000 }, costMicros: 18_000 });
}

describe('the bill of a carpool', () => {
  it('shows the account fee and billing mode, settable by the owner', async () => {
    const c = await crew({ meteredBilling: false });
    const shown = await api<{ monthlyFeeMicros: number; meteredBilling: boolean }>(
      c.ann.token,
      'GET',
      `/groups/${c.groupId}/account`,
    );
    expect(shown.json).toMatchObject({ monthlyFeeMicros: FEE, meteredBilling: false });
    const changed = await api(c.ann.token, 'PATCH', `/groups/${c.groupId}/account`, {
      monthlyFeeMicros: 100_000_000,
      meteredBilling: true,
    });
    expect(changed).toMatchObject({
      status: 200,
      json: { monthlyFeeMicros: 100_000_000, meteredBilling: true },
    });
    const negative = await api<ApiErrorBody>(c.ann.token, 'PATCH', `/groups/${c.groupId}/account`, {
      monthlyFeeMicros: -1,
    });
    expect(negative.status).toBe(400);
    expect(negative.json.error.message).toMatch(/monthlyFeeMicros/);
    expect(
      (await api(c.bob.token, 'PATCH', `/groups/${c.groupId}/account`, { monthlyFeeMicros: 0 })).status,
    ).toBe(403);
    const audit = await env.DB.prepare(
      "SELECT detail FROM audit_log WHERE action = 'account.update' AND target_id = ? ORDER BY id DESC",
    )
      .bind(c.accountId)
      .first<{ detail: string }>();
    expect(JSON.parse(audit!.detail)).toMatchObject({
      before: { monthlyFeeMicros: FEE, meteredBilling: false },
      after: { monthlyFeeMicros: 100_000_000, meteredBilling: true },
    });
  });

  it('group settings: split mode, proration, time zone and fee payer, by the owner only', async () => {
    const c = await crew();
    const path = `/groups/${c.groupId}`;
    const set = await api(c.ann.token, 'PATCH', path, {
      splitMode: 'base_usage',
      prorateByDays: true,
      timeZone: 'Asia/Tokyo',
      feePayerUserId: c.bob.id,
    });
    expect(set).toMatchObject({
      status: 200,
      json: {
        splitMode: 'base_usage',
        prorateByDays: true,
        timeZone: 'Asia/Tokyo',
        feePayerUserId: c.bob.id,
      },
    });
    const preview = await api<Statement & { timeZone: string; from: number }>(
      c.ann.token,
      'GET',
      `${path}/statements/current`,
    );
    expect(preview.json.timeZone).toBe('Asia/Tokyo');
    expect(preview.json.from).toBe(monthBounds(monthOf(Date.now(), 'Asia/Tokyo'), 'Asia/Tokyo').start);
    expect(preview.json.feePayer?.userId).toBe(c.bob.id);
    const zone = await api<ApiErrorBody>(c.ann.token, 'PATCH', path, { timeZone: 'Mars/Olympus' });
    expect(zone.status).toBe(400);
    expect(zone.json.error.message).toMatch(/timeZone/);
    const stranger = await newUser('Stranger');
    const payer = await api<ApiErrorBody>(c.ann.token, 'PATCH', path, { feePayerUserId: stranger.id });
    expect(payer.status).toBe(400);
    expect(payer.json.error.message).toMatch(/feePayerUserId/);
    expect((await api(c.bob.token, 'PATCH', path, { splitMode: 'even' })).status).toBe(403);
    expect((await api(stranger.token, 'PATCH', path, { splitMode: 'even' })).status).toBe(404);
    // The fee payer leaves: the first owner pays again.
    await api(c.bob.token, 'POST', `${path}/leave`);
    const after = await api<Statement>(c.ann.token, 'GET', `${path}/statements/current`);
    expect(after.json.feePayer?.userId).toBe(c.ann.id);
  });

  it('splits a $200 fee plus metered usage from real requests, in each mode', async () => {
    const c = await crew();
    await use(c, 'ann', 2);
    await use(c, 'bob', 1);
    const path = `/groups/${c.groupId}/statements/current`;

    // The group usage API, in the design documents' shape; a plain member reads it whole.
    const usage = await api<{
      groupInfo: { name: string; memberCount: number; boundAccount: { id: string } };
      currentPeriod: { totalRequests: number; totalTokens: number; totalCost: number; costPerMember: number };
      memberBreakdown: { userId: string; userName: string; requests: number; tokens: number; cost: number }[];
    }>(c.cat.token, 'GET', `/groups/${c.groupId}/usage`);
    expect(usage.status).toBe(200);
    expect(usage.json.groupInfo).toMatchObject({
      name: 'The crew',
      memberCount: 3,
      boundAccount: { id: c.accountId },
    });
    const logs = [...(await requestLogFor(c.keyIds.ann, 2)), ...(await requestLogFor(c.keyIds.bob, 1))];
    const loggedCost = sum(logs.map((l) => l.cost_micros));
    expect(loggedCost).toBeGreaterThan(0);
    expect(usage.json.currentPeriod).toEqual({
      totalRequests: 3,
      totalTokens: sum(
        logs.map(
          (l) =>
            l.input_tokens +
            l.output_tokens +
            l.cache_read_tokens +
            l.cache_write_5m_tokens +
            l.cache_write_1h_tokens,
        ),
      ),
      totalCost: loggedCost,
      costPerMember: Math.floor(loggedCost / 3),
    });
    const byUser = new Map(usage.json.memberBreakdown.map((m) => [m.userId, m]));
    expect(byUser.get(c.ann.id)).toMatchObject({ userName: 'Ann', requests: 2 });
    expect(byUser.get(c.bob.id)).toMatchObject({ requests: 1 });
    expect(byUser.get(c.cat.id)).toMatchObject({ requests: 0, tokens: 0, cost: 0 });

    // By usage (the default): the whole bill by API-equivalent cost; Cat used nothing.
    const byUsage = (await api<Statement>(c.cat.token, 'GET', path)).json;
    expect(byUsage).toMatchObject({ status: 'open', splitMode: 'usage' });
    expect(byUsage.totals).toMatchObject({ fixedFeeMicros: FEE, meteredMicros: loggedCost, requests: 3 });
    expect(byUsage.totals.billMicros).toBe(FEE + loggedCost);
    expectBalanced(byUsage);
    const ann = lineOf(byUsage, c.ann.id);
    const bob = lineOf(byUsage, c.bob.id);
    expect(lineOf(byUsage, c.cat.id).amountMicros).toBe(0);
    const exactAnn = ((FEE + loggedCost) * ann.costMicros) / (ann.costMicros + bob.costMicros);
    expect(Math.abs(ann.amountMicros - exactAnn)).toBeLessThanOrEqual(2);
    // Ann is the fee payer: the others owe her their amounts.
    expect(byUsage.feePayer).toMatchObject({
      userId: c.ann.id,
      paidMicros: FEE + loggedCost,
      owedMicros: bob.amountMicros,
      ownAmountMicros: ann.amountMicros,
    });

    // Even: a third each; the leftover micro-dollars go to the smallest ids.
    await api(c.ann.token, 'PATCH', `/groups/${c.groupId}`, { splitMode: 'even' });
    const even = (await api<Statement>(c.ann.token, 'GET', path)).json;
    expectBalanced(even);
    const fees = even.lines.map((l) => l.feePartMicros);
    expect(Math.max(...fees) - Math.min(...fees)).toBeLessThanOrEqual(1);
    const ids = even.lines.map((l) => l.userId);
    expect(ids).toEqual([...ids].sort());
    expect(fees).toEqual([66_666_667, 66_666_667, 66_666_666]);

    // Base + usage: the fee evenly, each one's own metered cost on top.
    await api(c.ann.token, 'PATCH', `/groups/${c.groupId}`, { splitMode: 'base_usage' });
    const base = (await api<Statement>(c.ann.token, 'GET', path)).json;
    expectBalanced(base);
    for (const l of base.lines) {
      expect(l.usagePartMicros).toBe(l.meteredMicros);
      expect(l.feePartMicros).toBeGreaterThanOrEqual(66_666_666);
    }

    // A fee-only subscription: usage still shares the bill, but the bill is the fee.
    await api(c.ann.token, 'PATCH', `/groups/${c.groupId}/account`, { meteredBilling: false });
    await api(c.ann.token, 'PATCH', `/groups/${c.groupId}`, { splitMode: 'usage' });
    const subscription = (await api<Statement>(c.ann.token, 'GET', path)).json;
    expect(subscription.totals).toMatchObject({ billMicros: FEE, meteredMicros: 0, costMicros: loggedCost });
    expectBalanced(subscription);
    expect(lineOf(subscription, c.ann.id).amountMicros + lineOf(subscription, c.bob.id).amountMicros).toBe(
      FEE,
    );
  });

  it('prorates by days a member who joined mid-month, and keeps membership history', async () => {
    const c = await crew();
    const last = lastMonth();
    await backdate(c.groupId, last.start - 10 * DAY);
    // Cat joined on the 21st of last month (set in D1: the relay only records joins "now").
    await env.DB.prepare('UPDATE membership_periods SET joined_at = ? WHERE group_id = ? AND user_id = ?')
      .bind(last.start + 20 * DAY + 3_600_000, c.groupId, c.cat.id)
      .run();
    await api(c.ann.token, 'PATCH', `/groups/${c.groupId}`, { splitMode: 'even', prorateByDays: true });
    const path = `/groups/${c.groupId}/statements/current?month=${last.month}`;
    const s = (await api<Statement & { daysInMonth: number }>(c.ann.token, 'GET', path)).json;
    const days = s.daysInMonth;
    expect(lineOf(s, c.cat.id).daysPresent).toBe(days - 20);
    expect(lineOf(s, c.ann.id).daysPresent).toBe(days);
    expectBalanced(s);
    const exactCat = (FEE * (days - 20)) / (2 * days + days - 20);
    expect(Math.abs(lineOf(s, c.cat.id).feePartMicros - exactCat)).toBeLessThan(1);
    // Without proration, Cat pays a full third.
    await api(c.ann.token, 'PATCH', `/groups/${c.groupId}`, { prorateByDays: false });
    const flat = (await api<Statement>(c.ann.token, 'GET', path)).json;
    expect(Math.abs(lineOf(flat, c.cat.id).feePartMicros - FEE / 3)).toBeLessThan(1);

    // Leaving closes a stay and joining again opens another, whatever path did it.
    await api(c.ann.token, 'DELETE', `/groups/${c.groupId}/members/${c.bob.id}`);
    await admin('POST', `/groups/${c.groupId}/members`, { userId: c.bob.id, role: 'member' });
    const { results } = await env.DB.prepare(
      'SELECT joined_at, left_at FROM membership_periods WHERE group_id = ? AND user_id = ? ORDER BY id',
    )
      .bind(c.groupId, c.bob.id)
      .all<{ joined_at: number; left_at: number | null }>();
    expect(results).toHaveLength(2);
    expect(results[0]!.left_at).toBeGreaterThan(0);
    expect(results[1]!.left_at).toBeNull();
  });
});

describe('statements', () => {
  it('closes a past month into an immutable statement: JSON, CSV, adjustments, settled marks', async () => {
    const c = await crew();
    await use(c, 'ann', 1);
    await use(c, 'bob', 2);
    const last = lastMonth();
    await backdate(c.groupId, last.start - 10 * DAY, last.start + 5 * DAY);
    const base = `/groups/${c.groupId}`;

    // An adjustment to the open month shows in its preview.
    const adjusted = await api<{ month: string; amountMicros: number }>(
      c.ann.token,
      'POST',
      `${base}/adjustments`,
      {
        userId: c.cat.id,
        amountMicros: -5_000_000,
        reason: 'Cat paid for the team lunch',
        month: last.month,
      },
    );
    expect(adjusted).toMatchObject({ status: 201, json: { month: last.month, amountMicros: -5_000_000 } });
    const preview = (
      await api<Statement>(c.ann.token, 'GET', `${base}/statements/current?month=${last.month}`)
    ).json;
    expect(preview.totals.adjustmentsMicros).toBe(-5_000_000);
    expect(lineOf(preview, c.cat.id).adjustmentsMicros).toBe(-5_000_000);
    expectBalanced(preview);
    expect(preview.totals.requests).toBe(3);

    // Only a month that is over, once.
    const early = await api<ApiErrorBody>(c.ann.token, 'POST', `${base}/statements`, {
      month: monthOf(Date.now(), 'UTC'),
    });
    expect(early.status).toBe(409);
    expect(early.json.error.message).toMatch(/not over/);
    const closed = await api<Statement>(c.ann.token, 'POST', `${base}/statements`, { month: last.month });
    expect(closed.status).toBe(201);
    expect(closed.json).toMatchObject({ status: 'closed', closedBy: `user:${c.ann.id}`, month: last.month });
    expect({
      ...closed.json,
      status: 'open',
      closedAt: null,
      closedBy: null,
      lines: closed.json.lines.map((l) => ({ ...l, settled: null })),
    }).toEqual(preview);
    expect(closed.json.lines.every((l) => l.settled === false)).toBe(true);
    const again = await api<ApiErrorBody>(c.ann.token, 'POST', `${base}/statements`, { month: last.month });
    expect(again.status).toBe(409);
    expect(again.json.error.message).toMatch(/closed already/);
    expect((await api(c.ann.token, 'GET', `${base}/statements/current?month=${last.month}`)).status).toBe(
      409,
    );

    // Frozen: the database refuses to change it, and so does the API.
    await expect(
      env.DB.prepare('UPDATE statements SET total_micros = 0 WHERE group_id = ?').bind(c.groupId).run(),
    ).rejects.toThrow(/statement_immutable/);
    await expect(
      env.DB.prepare('DELETE FROM statement_lines WHERE user_id = ?').bind(c.ann.id).run(),
    ).rejects.toThrow(/statement_immutable/);
    const late = await api<ApiErrorBody>(c.ann.token, 'POST', `${base}/adjustments`, {
      userId: c.bob.id,
      amountMicros: 1,
      reason: 'too late',
      month: last.month,
    });
    expect(late.status).toBe(409);
    // Changing the settings and the fee afterwards changes nothing in it.
    await api(c.ann.token, 'PATCH', base, { splitMode: 'even' });
    await api(c.ann.token, 'PATCH', `${base}/account`, { monthlyFeeMicros: 1 });
    const read = await api<Statement>(c.bob.token, 'GET', `${base}/statements/${last.month}`);
    expect(read).toMatchObject({ status: 200, json: closed.json });
    const list = await api<{ data: { month: string; totalMicros: number }[] }>(
      c.cat.token,
      'GET',
      `${base}/statements`,
    );
    expect(list.json.data).toEqual([
      expect.objectContaining({ month: last.month, totalMicros: closed.json.totals.totalMicros }),
    ]);

    // CSV: a header, a row per person, a totals row.
    for (const url of [
      `${base}/statements/${last.month}.csv`,
      `${base}/statements/${last.month}?format=csv`,
    ]) {
      const res = await SELF.fetch(`${RELAY}/api/v1${url}`, {
        headers: { authorization: `Bearer ${c.bob.token}` },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
      const rows = (await res.text()).trimEnd().split('\r\n');
      expect(rows[0]).toMatch(/^month,user_id,user_name,days_present,requests,/);
      expect(rows).toHaveLength(1 + 3 + 1);
      const header = rows[0]!.split(',');
      const amount = header.indexOf('amount_micros');
      const usd = header.indexOf('amount_usd');
      const people = rows.slice(1, 4).map((r) => r.split(','));
      const totals = rows[4]!.split(',');
      expect(totals[1]).toBe('TOTAL');
      expect(sum(people.map((p) => Number(p[amount])))).toBe(Number(totals[amount]));
      expect(Number(totals[amount])).toBe(closed.json.totals.totalMicros);
      const cat = people.find((p) => p[1] === c.cat.id)!;
      expect(Number(cat[usd])).toBeCloseTo(Number(cat[amount]) / 1e6, 2);
    }

    // Settled marks: the owner's, audited; a plain member may not.
    expect(
      (
        await api(c.bob.token, 'PUT', `${base}/statements/${last.month}/settlements/${c.bob.id}`, {
          settled: true,
        })
      ).status,
    ).toBe(403);
    const settled = await api<Statement>(
      c.ann.token,
      'PUT',
      `${base}/statements/${last.month}/settlements/${c.bob.id}`,
      {
        settled: true,
      },
    );
    expect(settled.status).toBe(200);
    expect(lineOf(settled.json, c.bob.id).settled).toBe(true);
    const unsettled = await api<Statement>(
      c.ann.token,
      'PUT',
      `${base}/statements/${last.month}/settlements/${c.bob.id}`,
      { settled: false },
    );
    expect(lineOf(unsettled.json, c.bob.id).settled).toBe(false);
    expect(unsettled.json.totals).toEqual(closed.json.totals);
    const { results } = await env.DB.prepare('SELECT action FROM audit_log WHERE group_id = ? ORDER BY id')
      .bind(c.groupId)
      .all<{ action: string }>();
    const actions = results.map((r) => r.action);
    for (const action of ['bill.adjust', 'statement.close', 'statement.settle', 'statement.unsettle'])
      expect(actions).toContain(action);

    // Deleting the group would take everyone's way to read what they owe: refused until settled.
    const refused = await api<{ error: { message: string } }>(c.ann.token, 'DELETE', base);
    expect(refused).toMatchObject({ status: 409, json: { error: { message: /still owing the fee payer/ } } });
    for (const who of [c.bob, c.cat])
      await api(c.ann.token, 'PUT', `${base}/statements/${last.month}/settlements/${who.id}`, {
        settled: true,
      });
    expect((await api(c.ann.token, 'DELETE', base)).status).toBe(200);
  });

  it('keeps a closed statement as it was when late usage arrives, and carries it into the next month', async () => {
    const c = await crew({ monthlyFeeMicros: 0 });
    const last = lastMonth();
    await backdate(c.groupId, last.start - 10 * DAY);
    await deliverUsage([lateEvent(c, 'bob', last.start + 3 * DAY)]);
    const base = `/groups/${c.groupId}`;
    const closed = await api<Statement>(c.ann.token, 'POST', `${base}/statements`, { month: last.month });
    expect(closed.status).toBe(201);
    expect(closed.json.totals.meteredMicros).toBe(18_000);

    // Usage recorded into the closed month, through the queue consumer, after the close.
    await deliverUsage([lateEvent(c, 'bob', last.end - 60_000), lateEvent(c, 'cat', last.start + DAY)]);
    const read = await api<Statement>(c.ann.token, 'GET', `${base}/statements/${last.month}`);
    expect(read.json).toEqual(closed.json);

    const next = (await api<Statement>(c.ann.token, 'GET', `${base}/statements/current`)).json;
    expect(next.lateUsage).toEqual([
      expect.objectContaining({ fromMonth: last.month, userId: [c.bob.id, c.cat.id].sort()[0], requests: 1 }),
      expect.objectContaining({ fromMonth: last.month, userId: [c.bob.id, c.cat.id].sort()[1], requests: 1 }),
    ]);
    expect(next.lateUsage[0]!.note).toContain(`late usage from ${last.month}`);
    expect(next.totals.lateMeteredMicros).toBe(36_000);
    expect(lineOf(next, c.bob.id).lateCostMicros).toBe(18_000);
    expect(lineOf(next, c.bob.id).amountMicros).toBe(18_000);
    expectBalanced(next);
  });

  it('a time zone changed after a close neither bills an hour twice nor drops one', async () => {
    const c = await crew({ monthlyFeeMicros: 0 });
    const open = lastMonth();
    const closedMonth = monthBounds(previousMonth(open.month), 'UTC');
    await backdate(c.groupId, closedMonth.start - 10 * DAY);
    // Bob an hour before the closed month ended (in UTC), Cat an hour after.
    await deliverUsage([
      lateEvent(c, 'bob', closedMonth.end - 3_600_000),
      lateEvent(c, 'cat', closedMonth.end + 3_600_000),
    ]);
    const base = `/groups/${c.groupId}`;
    const closed = await api<Statement>(c.ann.token, 'POST', `${base}/statements`, {
      month: closedMonth.month,
    });
    expect(closed.json.totals.meteredMicros).toBe(18_000);

    // UTC+14: the open month would start 14 hours before the close, billing Bob's hour again;
    // UTC−10: 10 hours after it, billing Cat's hour nowhere. It starts where the close ended.
    for (const timeZone of ['Pacific/Kiritimati', 'Pacific/Honolulu']) {
      expect((await api(c.ann.token, 'PATCH', base, { timeZone })).status).toBe(200);
      const next = await api<Statement>(c.ann.token, 'GET', `${base}/statements/current?month=${open.month}`);
      expect(next.status, JSON.stringify(next.json)).toBe(200);
      expect(next.json.from, timeZone).toBe(closedMonth.end);
      expect(next.json.totals.meteredMicros, timeZone).toBe(18_000);
      expect(lineOf(next.json, c.cat.id).costMicros, timeZone).toBe(18_000);
      expect(next.json.lateUsage).toEqual([]);
    }
    // A month is from 1970 on (years 0–99 were read as 1900–1999), and only one the group lived in.
    expect((await api(c.ann.token, 'GET', `${base}/statements/current?month=0001-01`)).status).toBe(400);
    const before = await api(c.ann.token, 'POST', `${base}/adjustments`, {
      userId: c.bob.id,
      amountMicros: 1,
      reason: 'before the group',
      month: '2001-01',
    });
    expect(before).toMatchObject({ status: 409, json: { error: { message: /did not exist in 2001-01/ } } });

    // A month takes at most MAX_ADJUSTMENTS, so that its sum stays exact.
    const month = open.month;
    await env.DB.batch(
      Array.from({ length: MAX_ADJUSTMENTS }, (_, i) =>
        env.DB.prepare(
          'INSERT INTO bill_adjustments (id, group_id, month, user_id, amount_micros, reason, created_by) VALUES (?, ?, ?, ?, 1, ?, ?)',
        ).bind(`adj-${c.groupId}-${i}`, c.groupId, month, c.bob.id, 'many', c.ann.id),
      ),
    );
    const tooMany = await api(c.ann.token, 'POST', `${base}/adjustments`, {
      userId: c.bob.id,
      amountMicros: 1,
      reason: 'one more',
      month,
    });
    expect(tooMany).toMatchObject({ status: 409, json: { error: { message: /1000 adjustments already/ } } });
  });

  it('the cron job closes last month for the groups that did not', async () => {
    const c = await crew();
    const month = previousMonth(monthOf(Date.now() - CLOSE_GRACE_MS, 'UTC'));
    await backdate(c.groupId, monthBounds(month, 'UTC').start - DAY);
    expect(await closeLastMonths(env)).toBeGreaterThanOrEqual(1);
    const s = await api<Statement>(c.bob.token, 'GET', `/groups/${c.groupId}/statements/${month}`);
    expect(s.json).toMatchObject({ status: 'closed', closedBy: 'cron', month });
    expect(s.json.totals.fixedFeeMicros).toBe(FEE);
    expectBalanced(s.json);
    // Once: the next run leaves it be, and a group made this month has nothing to close.
    const fresh = await crew();
    await closeLastMonths(env);
    const { results } = await env.DB.prepare('SELECT group_id FROM statements WHERE group_id IN (?, ?)')
      .bind(c.groupId, fresh.groupId)
      .all();
    expect(results).toHaveLength(1);
    const audit = await env.DB.prepare(
      "SELECT actor FROM audit_log WHERE group_id = ? AND action = 'statement.close'",
    )
      .bind(c.groupId)
      .first<{ actor: string }>();
    expect(audit?.actor).toBe('cron');
  });

  it('an enterprise group’s bill is its metered cost alone', async () => {
    const ent = await admin<{ id: string }>('POST', '/enterprises', { name: 'Acme billing' });
    const account = await admin<{ id: string }>('POST', '/accounts', {
      name: 'pool',
      provider: 'anthropic',
      credential: 'sk-fake.entbill.ok',
      enterpriseId: ent.json.id,
      monthlyFeeMicros: FEE,
    });
    expect(account.status).toBe(201);
    const group = await admin<{ id: string }>('POST', '/groups', {
      name: 'dept',
      kind: 'enterprise',
      enterpriseId: ent.json.id,
    });
    // Its owner is no fee payer: the enterprise pays, and no member owes another anything.
    const owner = await newUser('Olga');
    expect(
      (await admin('POST', `/groups/${group.json.id}/members`, { userId: owner.id, role: 'owner' })).status,
    ).toBe(201);
    const s = await admin<Statement>('GET', `/groups/${group.json.id}/statements/current`);
    expect(s.status).toBe(200);
    expect(s.json.totals).toMatchObject({ fixedFeeMicros: 0, billMicros: 0 });
    expect(s.json.feePayer).toBeNull();
    const payer = await admin('PATCH', `/groups/${group.json.id}`, { feePayerUserId: owner.id });
    expect(payer).toMatchObject({ status: 400, json: { error: { message: /no fee payer/ } } });
  });
});

describe('permissions', () => {
  it('members read; only the owner closes, adjusts and settles; another tenant gets 404', async () => {
    const c = await crew();
    const other = await crew();
    const last = lastMonth();
    await backdate(c.groupId, last.start - DAY);
    const base = `/groups/${c.groupId}`;
    for (const path of ['/usage', '/statements', '/statements/current'])
      expect((await api(c.bob.token, 'GET', `${base}${path}`)).status).toBe(200);
    expect((await api(c.bob.token, 'POST', `${base}/statements`, { month: last.month })).status).toBe(403);
    expect(
      (
        await api(c.bob.token, 'POST', `${base}/adjustments`, {
          userId: c.bob.id,
          amountMicros: -1,
          reason: 'me',
        })
      ).status,
    ).toBe(403);

    // Another carpool's owner: every route is a 404 (ids cannot be probed).
    const stranger = other.ann.token;
    const refused = await Promise.all([
      api(stranger, 'GET', `${base}/usage`),
      api(stranger, 'GET', `${base}/statements`),
      api(stranger, 'GET', `${base}/statements/current`),
      api(stranger, 'GET', `${base}/statements/${last.month}`),
      api(stranger, 'POST', `${base}/statements`, { month: last.month }),
      api(stranger, 'POST', `${base}/adjustments`, { userId: c.bob.id, amountMicros: 1, reason: 'x' }),
      api(stranger, 'PUT', `${base}/statements/${last.month}/settlements/${c.bob.id}`, { settled: true }),
    ]);
    expect(refused.map((r) => r.status)).toEqual([404, 404, 404, 404, 404, 404, 404]);
    // The owner cannot adjust for someone who was never in the group, nor name another tenant.
    const outsider = await api<ApiErrorBody>(c.ann.token, 'POST', `${base}/adjustments`, {
      userId: other.bob.id,
      amountMicros: 1,
      reason: 'x',
    });
    expect(outsider.status).toBe(404);
    const zero = await api<ApiErrorBody>(c.ann.token, 'POST', `${base}/adjustments`, {
      userId: c.bob.id,
      amountMicros: 0,
      reason: 'x',
    });
    expect(zero.status).toBe(400);
    const badMonth = await api<ApiErrorBody>(c.ann.token, 'GET', `${base}/usage?month=2026-13`);
    expect(badMonth.status).toBe(400);
    // Nothing was closed by the refused calls.
    expect((await api(c.ann.token, 'GET', `${base}/statements/${last.month}`)).status).toBe(404);
  });
});

/** Usage put straight into the hourly aggregate (as the queue consumer would), at `at`'s hour. */
async function usageAt(c: Crew, who: 'ann' | 'bob' | 'cat', at: number, costMicros: number): Promise<void> {
  await env.DB.prepare(
    `INSERT INTO usage_hourly (hour, key_id, user_id, group_id, account_id, model, requests, input_tokens, output_tokens, cost_micros)
     VALUES (?, ?, ?, ?, ?, ?, 1, 100, 100, ?)`,
  )
    .bind(
      Math.floor(at / 3_600_000) * 3_600_000,
      c.keyIds[who],
      c[who].id,
      c.groupId,
      c.accountId,
      `model-${crypto.randomUUID()}`,
      costMicros,
    )
    .run();
}

describe('periods and rules a closed month froze', () => {
  const SEP = '2026-09';
  const OCT = '2026-10';
  const NOV = '2026-11';
  const octStart = Date.UTC(2026, 9, 1);
  const novStart = Date.UTC(2026, 10, 1);

  it('a month closed after a later one ends where that one starts: usage is billed once', async () => {
    const c = await crew({ monthlyFeeMicros: 100_000_001 });
    await backdate(c.groupId, Date.UTC(2026, 7, 1));
    const base = `/groups/${c.groupId}`;
    const oct = await api<Statement & { to: number }>(c.ann.token, 'POST', `${base}/statements`, {
      month: OCT,
    });
    expect(oct.status).toBe(201);
    expect([oct.json.from, oct.json.to]).toEqual([octStart, novStart]);
    await usageAt(c, 'bob', octStart + 5 * 3_600_000, 222_222);
    expect((await api(c.ann.token, 'PATCH', base, { timeZone: 'Etc/GMT+12' })).status).toBe(200);

    // September in UTC−12 would end at Oct 1 12:00Z, 12 hours into the closed October.
    const sep = await api<Statement & { to: number; daysInMonth: number }>(
      c.ann.token,
      'POST',
      `${base}/statements`,
      {
        month: SEP,
      },
    );
    expect(sep.status, JSON.stringify(sep.json)).toBe(201);
    expect(sep.json.from).toBe(Date.UTC(2026, 8, 1, 12));
    expect(sep.json.to).toBe(octStart);
    expect(sep.json.totals.meteredMicros).toBe(0);
    expect(sep.json.lateUsage).toEqual([]);
    expect(sep.json.daysInMonth).toBe(30);

    // The late 222,222 is October's, carried once.
    const nov = await api<Statement & { daysInMonth: number }>(
      c.ann.token,
      'GET',
      `${base}/statements/current?month=${NOV}`,
    );
    expect(nov.status).toBe(200);
    expect(nov.json.from).toBe(novStart);
    expect(nov.json.lateUsage).toEqual([
      expect.objectContaining({
        fromMonth: OCT,
        userId: c.bob.id,
        costMicros: 222_222,
        meteredMicros: 222_222,
      }),
    ]);
    expect(nov.json.totals.billMicros).toBe(100_000_001 + 222_222);
    // November's days are its own: the sliver of local Oct 31 it starts with is not a day of it.
    expect(nov.json.daysInMonth).toBe(30);
    expectBalanced(nov.json);
  });

  it('a closed month keeps the billing mode it was closed with (fee-only → metered)', async () => {
    const c = await crew({ meteredBilling: false });
    await backdate(c.groupId, Date.UTC(2026, 8, 1));
    const base = `/groups/${c.groupId}`;
    await usageAt(c, 'bob', octStart + 3 * DAY, 5_000_000);
    const oct = await api<Statement>(c.ann.token, 'POST', `${base}/statements`, { month: OCT });
    expect(oct.json.totals.billMicros).toBe(FEE);
    await api(c.ann.token, 'PATCH', `${base}/account`, { meteredBilling: true });
    const nov = await api<Statement>(c.ann.token, 'GET', `${base}/statements/current?month=${NOV}`);
    expect(nov.status).toBe(200);
    expect(nov.json.lateUsage).toEqual([]);
    expect(nov.json.totals.billMicros).toBe(FEE);
  });

  it('a closed month keeps the billing mode it was closed with (metered → fee-only → unbound)', async () => {
    const c = await crew();
    await backdate(c.groupId, Date.UTC(2026, 7, 1));
    const base = `/groups/${c.groupId}`;
    await usageAt(c, 'bob', Date.UTC(2026, 8, 3), 1_722_223);
    const sep = await api<Statement>(c.ann.token, 'POST', `${base}/statements`, { month: SEP });
    expect(sep.json.totals.billMicros).toBe(FEE + 1_722_223);
    // Late usage of September arrives; the account turns fee-only; October carries it, metered
    // as September was.
    await usageAt(c, 'cat', Date.UTC(2026, 8, 20), 18_000);
    await api(c.ann.token, 'PATCH', `${base}/account`, { meteredBilling: false });
    // The cron job's close (it failed every run on the negative late cost).
    expect(await closeLastMonths(env, Date.UTC(2026, 10, 2), 1000)).toBeGreaterThanOrEqual(1);
    const oct = await api<Statement>(c.ann.token, 'GET', `${base}/statements/${OCT}`);
    expect(oct.json).toMatchObject({ status: 'closed', closedBy: 'cron' });
    await expect(
      env.DB.prepare('UPDATE statement_accounts SET metered_billing = 1 WHERE account_id = ?')
        .bind(c.accountId)
        .run(),
    ).rejects.toThrow(/statement_immutable/);
    expect(oct.json.lateUsage).toEqual([
      expect.objectContaining({
        fromMonth: SEP,
        userId: c.cat.id,
        costMicros: 18_000,
        meteredMicros: 18_000,
      }),
    ]);
    expect(oct.json.totals.billMicros).toBe(FEE + 18_000);
    // Back to metered, then fee-only, then the account unbound and deleted: nothing is owed twice
    // and nothing goes negative.
    for (const change of [{ meteredBilling: true }, { meteredBilling: false }]) {
      await api(c.ann.token, 'PATCH', `${base}/account`, change);
      const nov = await api<Statement>(c.ann.token, 'GET', `${base}/statements/current?month=${NOV}`);
      expect(nov.status, JSON.stringify(nov.json)).toBe(200);
      expect(nov.json.lateUsage).toEqual([]);
      expect(nov.json.totals.lateMeteredMicros).toBe(0);
    }
    expect((await api(c.ann.token, 'DELETE', `${base}/account`)).status).toBe(200);
    const nov = await api<Statement>(c.ann.token, 'GET', `${base}/statements/current?month=${NOV}`);
    expect(nov.status, JSON.stringify(nov.json)).toBe(200);
    expect(nov.json.lateUsage).toEqual([]);
    expect(nov.json.totals.billMicros).toBe(0);
  });

  it('the usage API and the statement read a month over the same window', async () => {
    const c = await crew({ monthlyFeeMicros: 0 });
    await backdate(c.groupId, Date.UTC(2026, 8, 1));
    const base = `/groups/${c.groupId}`;
    expect((await api(c.ann.token, 'POST', `${base}/statements`, { month: OCT })).status).toBe(201);
    await api(c.ann.token, 'PATCH', base, { timeZone: 'Etc/GMT+12' });
    await usageAt(c, 'bob', novStart + 3_600_000, 77_777);
    const usage = await api<{ from: number; to: number; currentPeriod: { totalCost: number } }>(
      c.ann.token,
      'GET',
      `${base}/usage?month=${NOV}`,
    );
    const bill = await api<Statement & { to: number }>(
      c.ann.token,
      'GET',
      `${base}/statements/current?month=${NOV}`,
    );
    expect(bill.json.totals.meteredMicros).toBe(77_777);
    expect([usage.json.from, usage.json.to]).toEqual([bill.json.from, bill.json.to]);
    expect(usage.json.currentPeriod.totalCost).toBe(77_777);
    // A closed month's usage is read over its statement's period.
    const octUsage = await api<{ from: number; to: number }>(
      c.ann.token,
      'GET',
      `${base}/usage?month=${OCT}`,
    );
    expect([octUsage.json.from, octUsage.json.to]).toEqual([octStart, novStart]);
  });

  it('a month before the group existed has no preview either', async () => {
    const c = await crew();
    const res = await api<ApiErrorBody>(
      c.ann.token,
      'GET',
      `/groups/${c.groupId}/statements/current?month=2025-01`,
    );
    expect(res).toMatchObject({ status: 409, json: { error: { message: /did not exist in 2025-01/ } } });
  });
});
