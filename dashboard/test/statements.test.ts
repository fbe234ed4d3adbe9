// The statements page's, request log's and subscription windows' pure logic (src/lib/statements.ts).
import { describe, expect, it } from 'vitest';
import type { Schemas } from '../src/api/client';
import {
  adjustmentInput,
  closableMonths,
  emptyRequestLogForm,
  linesAddUp,
  monthIn,
  oauthFinishInput,
  parseSignedDollars,
  requestLogCsvPath,
  requestLogQuery,
  splitChanges,
  splitFormOf,
  windowBar,
} from '../src/lib/statements';

const group = {
  splitMode: 'usage',
  prorateByDays: false,
  timeZone: 'UTC',
  feePayerUserId: null,
} as Schemas['Group'];

describe('split settings', () => {
  it('sends only what changed', () => {
    const form = splitFormOf(group);
    expect(splitChanges(group, form)).toEqual({});
    expect(splitChanges(group, { ...form, splitMode: 'even', timeZone: ' Asia/Shanghai ' })).toEqual({
      splitMode: 'even',
      timeZone: 'Asia/Shanghai',
    });
    expect(splitChanges(group, { ...form, feePayerUserId: 'u1', prorateByDays: true })).toEqual({
      feePayerUserId: 'u1',
      prorateByDays: true,
    });
    // Back to "the first owner" is an explicit null.
    expect(splitChanges({ ...group, feePayerUserId: 'u1' }, form)).toEqual({ feePayerUserId: null });
  });
});

describe('adjustments', () => {
  it('parses signed dollars into integer micro-dollars', () => {
    expect(parseSignedDollars('5')).toBe(5_000_000);
    expect(parseSignedDollars('-2.50')).toBe(-2_500_000);
    expect(parseSignedDollars('+$0.000001')).toBe(1);
    expect(parseSignedDollars('0.1234567')).toBeNull();
    expect(parseSignedDollars('five')).toBeNull();
    expect(parseSignedDollars('')).toBeNull();
  });

  it('names the wrong field', () => {
    expect(adjustmentInput({ userId: '', amount: '5', reason: 'x' })).toEqual({ ok: false, field: 'userId' });
    expect(adjustmentInput({ userId: 'u', amount: '0', reason: 'x' })).toEqual({
      ok: false,
      field: 'amount',
    });
    expect(adjustmentInput({ userId: 'u', amount: '5', reason: '  ' })).toEqual({
      ok: false,
      field: 'reason',
    });
    expect(adjustmentInput({ userId: 'u', amount: '-5', reason: ' beer ' })).toEqual({
      ok: true,
      input: { userId: 'u', amountMicros: -5_000_000, reason: 'beer' },
    });
  });
});

describe('months', () => {
  it('reads the month in the group’s zone', () => {
    const newYearUtc = Date.UTC(2026, 0, 1, 0, 30); // still 2025-12 in New York
    expect(monthIn(newYearUtc, 'UTC')).toBe('2026-01');
    expect(monthIn(newYearUtc, 'America/New_York')).toBe('2025-12');
  });

  it('offers the months that are over and not closed, newest first', () => {
    const created = Date.UTC(2025, 10, 20); // 2025-11
    const now = Date.UTC(2026, 1, 10); // 2026-02
    expect(closableMonths(created, 'UTC', [], now)).toEqual(['2026-01', '2025-12', '2025-11']);
    expect(closableMonths(created, 'UTC', ['2025-11', '2026-01'], now)).toEqual(['2025-12']);
    expect(closableMonths(now, 'UTC', [], now)).toEqual([]);
  });
});

describe('a statement adds up', () => {
  const statement = (amounts: number[], total: number) =>
    ({
      lines: amounts.map((amountMicros) => ({ amountMicros })),
      totals: { totalMicros: total },
    }) as unknown as Schemas['Statement'];
  it('when the lines sum to the total', () => {
    expect(linesAddUp(statement([33_333_334, 33_333_333, 33_333_333], 100_000_000))).toBe(true);
    expect(linesAddUp(statement([33_333_333, 33_333_333, 33_333_333], 100_000_000))).toBe(false);
  });
});

describe('request log filters', () => {
  it('leaves out empty fields and types the rest', () => {
    expect(requestLogQuery(emptyRequestLogForm)).toEqual({});
    const from = '2026-11-01T00:00';
    const q = requestLogQuery(
      { ...emptyRequestLogForm, model: ' claude-haiku-4-5 ', status: '429', from },
      'g1',
    );
    expect(q).toEqual({
      groupId: 'g1',
      model: 'claude-haiku-4-5',
      status: 429,
      from: new Date(from).getTime(),
    });
    expect(requestLogQuery({ ...emptyRequestLogForm, status: '42' })).toEqual({});
  });

  it('gives the CSV link the same filters', () => {
    expect(requestLogCsvPath({})).toBe('/api/v1/usage/requests.csv');
    expect(requestLogCsvPath({ groupId: 'g 1', status: 200 })).toBe(
      '/api/v1/usage/requests.csv?groupId=g+1&status=200',
    );
  });
});

describe('usage windows', () => {
  it('clamps the bar and counts down to the reset', () => {
    const w = { name: '5h', windowMinutes: 300, usedPercent: 130, resetAt: 10_000, exhausted: true };
    expect(windowBar(w, 4_000)).toEqual({ fill: 100, resetsInMs: 6_000 });
    expect(windowBar({ ...w, usedPercent: 42.5 }, 20_000)).toEqual({ fill: 42.5, resetsInMs: null });
    expect(windowBar({ ...w, resetAt: null }, 0).resetsInMs).toBeNull();
  });
});

describe('subscription sign-in', () => {
  it('sends a pasted callback URL as such, anything else as the code', () => {
    expect(
      oauthFinishInput('st', ' https://console.anthropic.com/oauth/code/callback?code=c&state=st '),
    ).toEqual({
      state: 'st',
      callbackUrl: 'https://console.anthropic.com/oauth/code/callback?code=c&state=st',
    });
    expect(oauthFinishInput('st', 'abc#st\n')).toEqual({ state: 'st', code: 'abc#st' });
  });
});
