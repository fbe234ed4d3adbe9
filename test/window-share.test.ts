// Splitting a subscription by window share, in workerd: two members of a claude-oauth carpool,
// the fake upstream reporting the plan's weekly window rising (and resetting) with each answer.
// The account's gate measures each answer's share of the window, the usage event carries it to
// request_log and its hourly aggregate (through the real Queue), and the `window` split mode
// apportions the month's bill by it, exactly. An API-key carpool has no windows: the bill falls
// back to presence and the statement says so.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { monthBounds, monthOf, previousMonth } from '../worker/billing/months';
import { memberOf, ownedCarpool } from './support/groups';
import { grant, subscriptionCarpool } from './support/oauth';
import { anthropicClient, api, eventually, inIsolate, RELAY } from './support/relay';
import { backdate, deliverUsage, usageEventFor } from './support/usage';

const FEE = 200_000_000;
const DAY = 86_400_000;

interface Line {
  userId: string;
  windowPpm: number;
  lateWindowPpm: number;
  windowSharePpm: number;
  feePartMicros: number;
  usagePartMicros: number;
  amountMicros: number;
}

interface Statement {
  status: 'open' | 'closed';
  splitMode: string;
  splitFallback: boolean;
  totals: { billMicros: number; fixedFeeMicros: number; meteredMicros: number; windowPpm: number };
  lines: Line[];
  lateUsage: { fromMonth: string; userId: string; windowPpm: number }[];
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** The fake's rate-limit headers: the weekly window at `fraction`, resetting at `reset` (epoch s). */
function window7d(fraction: string, reset: number): Record<string, string> {
  return {
    'anthropic-ratelimit-unified-status': 'allowed',
    // The 5-hour window moves too, much faster: the share follows the weekly one only.
    'anthropic-ratelimit-unified-5h-utilization': String(Math.min(1, Number(fraction) * 4)),
    'anthropic-ratelimit-unified-5h-reset': String(reset - 6 * 86_400),
    'anthropic-ratelimit-unified-5h-status': 'allowed',
    'anthropic-ratelimit-unified-7d-utilization': fraction,
    'anthropic-ratelimit-unified-7d-reset': String(reset),
    'anthropic-ratelimit-unified-7d-status': 'allowed',
  };
}

/** The window shares of a person's requests, in order, once `count` of them are in. */
async function windowPpmOf(userId: string, count: number): Promise<(number | null)[]> {
  const rows = await eventually(async () => {
    const { results } = await env.DB.prepare(
      'SELECT window_ppm FROM request_log WHERE user_id = ? ORDER BY created_at, rowid',
    )
      .bind(userId)
      .all<{ window_ppm: number | null }>();
    return results.length >= count ? results : null;
  });
  return rows.map((r) => r.window_ppm);
}

/** A Claude subscription carpool of two: its owner and Bob, a key each, split by window share. */
async function claudeCrew() {
  const reset = Math.floor(Date.now() / 1000) + 3 * 86_400;
  const carpool = await subscriptionCarpool('claude-oauth', { prepare: { headers: window7d('0.1', reset) } });
  const bob = await memberOf(carpool.groupId);
  const bobKey = await api<{ key: string }>(bob.token, 'POST', '/keys', { groupId: carpool.groupId });
  expect(bobKey.status).toBe(201);
  const owner = carpool.owner;
  const fee = await api(owner.token, 'PATCH', `/groups/${carpool.groupId}/account`, {
    monthlyFeeMicros: FEE,
    meteredBilling: false,
  });
  expect(fee.status).toBe(200);
  const mode = await api(owner.token, 'PATCH', `/groups/${carpool.groupId}`, { splitMode: 'window' });
  expect(mode).toMatchObject({ status: 200, json: { splitMode: 'window' } });
  const keys = { owner: carpool.key, bob: bobKey.json.key };
  const users = { owner: owner.id, bob: bob.id };
  const sent = { owner: 0, bob: 0 };
  /** One request by `who`, answered with the weekly window at `fraction`; settled before the next. */
  const ask = async (who: 'owner' | 'bob', fraction: string, resetAt = reset) => {
    await grant(carpool.tag, { headers: window7d(fraction, resetAt) });
    const reply = await anthropicClient(keys[who]).messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(reply.content[0]).toMatchObject({ type: 'text' });
    sent[who]++;
    // Its share rides on its usage event: once the row is in, the gate has seen the report.
    await windowPpmOf(users[who], sent[who]);
  };
  return { ...carpool, bob, reset, ask };
}

function lineOf(s: Statement, userId: string): Line {
  return s.lines.find((l) => l.userId === userId)!;
}

function expectBalanced(s: Statement) {
  expect(sum(s.lines.map((l) => l.amountMicros))).toBe(s.totals.billMicros);
  expect(sum(s.lines.map((l) => l.feePartMicros))).toBe(s.totals.fixedFeeMicros);
  for (const l of s.lines) expect(l.amountMicros).toBeGreaterThanOrEqual(0);
}

describe('window share', () => {
  it('attributes each answer its rise of the weekly window, and splits the plan by it exactly', async () => {
    const c = await claudeCrew();
    await c.ask('owner', '0.1'); // the first reading: nothing to measure from
    await c.ask('bob', '0.12'); // +2 %
    await c.ask('owner', '0.15'); // +3 %
    await c.ask('bob', '0.14'); // a reading older than one already seen: +0, never negative
    await c.ask('bob', '0.19'); // +4 % over the highest seen (0.15)
    // The window resets: the next period starts from 0, so 1 % is 1 %, not −18 % nor +1 %-of-old.
    const next = c.reset + 7 * 86_400;
    await c.ask('owner', '0.01', next);
    await c.ask('bob', '0.03', next); // +2 %
    // A straggler of the old period, answered before the reset but reported after: +0.
    await c.ask('owner', '0.25');

    expect(await windowPpmOf(c.owner.id, 4)).toEqual([0, 30_000, 10_000, 0]);
    expect(await windowPpmOf(c.bob.id, 4)).toEqual([20_000, 0, 40_000, 20_000]);
    // Aggregated per member and hour by the trigger, so a bill never reads the request log.
    const { results } = await env.DB.prepare(
      'SELECT user_id, sum(window_ppm) AS ppm FROM window_share_hourly WHERE group_id = ? GROUP BY user_id',
    )
      .bind(c.groupId)
      .all<{ user_id: string; ppm: number }>();
    expect(Object.fromEntries(results.map((r) => [r.user_id, r.ppm]))).toEqual({
      [c.owner.id]: 40_000,
      [c.bob.id]: 80_000,
    });

    // 40 000 : 80 000 of $200: a third and two thirds, the odd micro-dollar to the larger remainder.
    const preview = (await api<Statement>(c.owner.token, 'GET', `/groups/${c.groupId}/statements/current`))
      .json;
    expect(preview).toMatchObject({ status: 'open', splitMode: 'window', splitFallback: false });
    expect(preview.totals).toMatchObject({ billMicros: FEE, meteredMicros: 0, windowPpm: 120_000 });
    expect(lineOf(preview, c.owner.id)).toMatchObject({
      windowPpm: 40_000,
      windowSharePpm: 333_333,
      amountMicros: 66_666_667,
    });
    expect(lineOf(preview, c.bob.id)).toMatchObject({
      windowPpm: 80_000,
      windowSharePpm: 666_666,
      amountMicros: 133_333_333,
    });
    expectBalanced(preview);
  });

  it('freezes the window shares in a closed statement, and carries late ones into the next month', async () => {
    const c = await claudeCrew();
    await c.ask('owner', '0.1');
    await c.ask('owner', '0.11'); // +1 %
    await c.ask('bob', '0.14'); // +3 %
    // Move the crew and its usage into last month, and close it.
    const month = previousMonth(monthOf(Date.now(), 'UTC'));
    const last = monthBounds(month, 'UTC');
    const usageAt = last.start + 5 * DAY;
    await backdate(c.groupId, last.start - DAY, usageAt);
    const base = `/groups/${c.groupId}/statements`;
    const closed = await api<Statement>(c.owner.token, 'POST', base, { month });
    expect(closed.status, JSON.stringify(closed.json)).toBe(201);
    const read = (await api<Statement>(c.owner.token, 'GET', `${base}/${month}`)).json;
    expect(read).toMatchObject({ status: 'closed', splitMode: 'window', splitFallback: false });
    expect(lineOf(read, c.owner.id)).toMatchObject({
      windowPpm: 10_000,
      windowSharePpm: 250_000,
      amountMicros: 50_000_000,
    });
    expect(lineOf(read, c.bob.id)).toMatchObject({
      windowPpm: 30_000,
      windowSharePpm: 750_000,
      amountMicros: 150_000_000,
    });
    expectBalanced(read);
    // The CSV carries the same shares.
    const csv = await inIsolate(`${RELAY}/api/v1${base}/${month}.csv`, {
      headers: { authorization: `Bearer ${c.owner.token}` },
    });
    const [header, ...rows] = (await csv.text())
      .trimEnd()
      .split('\r\n')
      .map((r) => r.split(','));
    const cell = (userId: string, column: string) =>
      rows.find((r) => r[header!.indexOf('user_id')] === userId)?.[header!.indexOf(column)];
    expect([cell(c.owner.id, 'window_ppm'), cell(c.owner.id, 'window_share_ppm')]).toEqual([
      '10000',
      '250000',
    ]);
    expect([cell(c.bob.id, 'window_ppm'), cell(c.bob.id, 'window_share_ppm')]).toEqual(['30000', '750000']);
    expect(cell('TOTAL', 'window_ppm')).toBe('40000');

    // A share of last month that reaches D1 after the close is carried into this month's weights.
    await deliverUsage([
      usageEventFor(
        { keyId: 'a-key-of-the-owner', userId: c.owner.id, groupId: c.groupId, accountId: c.accountId },
        usageAt + 3_600_000,
        {
          provider: 'claude-oauth',
          usage: { inputTokens: 10, outputTokens: 10 },
          costMicros: 180,
          windowPpm: 50_000,
        },
      ),
    ]);
    const now = (await api<Statement>(c.owner.token, 'GET', `${base}/current`)).json;
    expect(now.lateUsage).toEqual([
      expect.objectContaining({ fromMonth: month, userId: c.owner.id, windowPpm: 50_000 }),
    ]);
    expect(lineOf(now, c.owner.id)).toMatchObject({
      windowPpm: 0,
      lateWindowPpm: 50_000,
      windowSharePpm: 1_000_000,
    });
    expect(lineOf(now, c.owner.id).amountMicros).toBe(FEE);
    expectBalanced(now);
  });

  it('counts a redelivered event once', async () => {
    const c = await claudeCrew();
    const event = usageEventFor(
      { keyId: 'a-key-of-bob', userId: c.bob.id, groupId: c.groupId, accountId: c.accountId },
      Date.now(),
      { provider: 'claude-oauth', windowPpm: 7_000 },
    );
    await deliverUsage([event]);
    await deliverUsage([event]);
    const row = await env.DB.prepare(
      'SELECT sum(window_ppm) AS ppm FROM window_share_hourly WHERE group_id = ?',
    )
      .bind(c.groupId)
      .first<{ ppm: number }>();
    expect(row!.ppm).toBe(7_000);
  });

  it('an API-key carpool has no window share: the bill falls back to presence, and says so', async () => {
    const carpool = await ownedCarpool();
    const bob = await memberOf(carpool.groupId);
    const owner = carpool.owner;
    await api(owner.token, 'PATCH', `/groups/${carpool.groupId}/account`, { monthlyFeeMicros: FEE });
    await api(owner.token, 'PATCH', `/groups/${carpool.groupId}`, { splitMode: 'window' });
    await anthropicClient(carpool.key).messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(await windowPpmOf(owner.id, 1)).toEqual([null]);
    const s = (await api<Statement>(owner.token, 'GET', `/groups/${carpool.groupId}/statements/current`))
      .json;
    expect(s).toMatchObject({ splitMode: 'window', splitFallback: true });
    // The fee by presence (one share each); the metered cost too, though only the owner used it.
    const metered = s.totals.billMicros - FEE;
    expect(metered).toBeGreaterThan(0);
    expect(lineOf(s, owner.id)).toMatchObject({ windowPpm: 0, windowSharePpm: 0, feePartMicros: FEE / 2 });
    expect(lineOf(s, bob.id)).toMatchObject({ windowPpm: 0, windowSharePpm: 0, feePartMicros: FEE / 2 });
    expect(
      Math.abs(lineOf(s, owner.id).usagePartMicros - lineOf(s, bob.id).usagePartMicros),
    ).toBeLessThanOrEqual(1);
    expectBalanced(s);
  });
});
