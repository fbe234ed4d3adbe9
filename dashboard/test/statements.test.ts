// The statements page's, request log's and subscription windows' pure logic (src/lib/statements.ts).
import { describe, expect, it } from 'vitest';
import type { Schemas } from '../src/api/client';
import { translate } from '../src/i18n';
import { formatMicrosAt } from '../src/lib/format';
import {
  adjustmentInput,
  closableMonths,
  emptyRequestLogForm,
  linesAddUp,
  monthIn,
  oauthFinishInput,
  parseSignedDollars,
  priceChanges,
  priceFormOf,
  REFUSAL_REASONS,
  refusalReasonKey,
  requestLogCsvPath,
  requestLogQuery,
  splitChanges,
  splitFormOf,
  statementPrecision,
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

describe('a statement’s money is shown so that it adds up', () => {
  type Line = Partial<Schemas['StatementLine']> & { userId: string; amountMicros: number };
  const zero = { costMicros: 0, adjustmentsMicros: 0, owesPayerMicros: 0 };
  const statement = (lines: Line[], fee = 0, payer: string | null = null) => {
    const full = lines.map((l) => ({ ...zero, ...l }));
    const sum = (f: (l: (typeof full)[number]) => number) => full.reduce((s, l) => s + f(l), 0);
    const adjustments = sum((l) => l.adjustmentsMicros);
    const total = sum((l) => l.amountMicros);
    return {
      lines: full,
      feePayer: payer
        ? {
            userId: payer,
            owedMicros: sum((l) => (l.userId === payer ? 0 : l.owesPayerMicros)),
          }
        : null,
      totals: {
        totalMicros: total,
        costMicros: sum((l) => l.costMicros),
        adjustmentsMicros: adjustments,
        fixedFeeMicros: fee,
        meteredMicros: total - adjustments - fee,
        lateMeteredMicros: 0,
        billMicros: total - adjustments,
      },
    } as unknown as Schemas['Statement'];
  };
  /** What a person reads: each line and the total at the statement's precision. */
  const shown = (s: Schemas['Statement'], pick: (l: Schemas['StatementLine']) => number, whole: number) => {
    const d = statementPrecision(s).money;
    const text = (m: number) => formatMicrosAt(m, d);
    const cents = (t: string) => Math.round(Number(t.replace(/[$,]/g, '')) * 1_000_000);
    const lines = s.lines.map(pick).map(text);
    return {
      lines,
      total: text(whole),
      adds: lines.map(cents).reduce((a, b) => a + b, 0) === cents(text(whole)),
    };
  };

  it('an even split of $0.07 among four: $0.0175 each, not four $0.02 under $0.07', () => {
    const s = statement(
      ['a', 'b', 'c', 'd'].map((userId) => ({
        userId,
        amountMicros: 17_500,
        owesPayerMicros: userId === 'a' ? 0 : 17_500,
      })),
      0,
      'a',
    );
    const amounts = shown(s, (l) => l.amountMicros, s.totals.totalMicros);
    expect(amounts).toEqual({
      lines: ['$0.0175', '$0.0175', '$0.0175', '$0.0175'],
      total: '$0.0700',
      adds: true,
    });
    // "Owed by the others" is three of those lines.
    expect(formatMicrosAt(s.feePayer!.owedMicros, statementPrecision(s).money)).toBe('$0.0525');
  });

  it('a usage split shows every line with one precision, usage too', () => {
    const s = statement([
      { userId: 'a', amountMicros: 600, costMicros: 600 },
      { userId: 'b', amountMicros: 4_400, costMicros: 4_400 },
      { userId: 'c', amountMicros: 42_000, costMicros: 42_000 },
      { userId: 'd', amountMicros: 23_000, costMicros: 23_000 },
    ]);
    expect(shown(s, (l) => l.amountMicros, s.totals.totalMicros)).toEqual({
      lines: ['$0.0006', '$0.0044', '$0.0420', '$0.0230'],
      total: '$0.0700',
      adds: true,
    });
    expect(statementPrecision(s).usage).toBe(4);
  });

  it('a $200 plan shared by four is plain cents; $100 among three is shown to the micro-dollar', () => {
    const four = statement(
      ['a', 'b', 'c', 'd'].map((userId) => ({ userId, amountMicros: 50_000_000 })),
      200_000_000,
    );
    expect(statementPrecision(four)).toEqual({ money: 2, usage: 2 });
    const three = statement(
      [
        { userId: 'a', amountMicros: 33_333_334 },
        { userId: 'b', amountMicros: 33_333_333 },
        { userId: 'c', amountMicros: 33_333_333 },
      ],
      100_000_000,
    );
    expect(shown(three, (l) => l.amountMicros, three.totals.totalMicros)).toEqual({
      lines: ['$33.333334', '$33.333333', '$33.333333'],
      total: '$100.000000',
      adds: true,
    });
  });

  it('a tiny metered cost on top of a fee needs no more than cents when the cents add up', () => {
    const s = statement(
      [
        { userId: 'a', amountMicros: 100_000_198, costMicros: 396 },
        { userId: 'b', amountMicros: 100_000_198 },
      ],
      200_000_000,
    );
    // The bill reads "fee $200.00 + metered $0.00"; usage at API price keeps its tiny line visible.
    expect(statementPrecision(s)).toEqual({ money: 2, usage: 4 });
    expect(shown(s, (l) => l.amountMicros, s.totals.totalMicros)).toEqual({
      lines: ['$100.00', '$100.00'],
      total: '$200.00',
      adds: true,
    });
  });

  it('negative adjustments round away from zero and still add up', () => {
    const s = statement([
      { userId: 'a', amountMicros: 5_015_000, adjustmentsMicros: -1_005_000 },
      { userId: 'b', amountMicros: 5_005_000, adjustmentsMicros: 1_005_000 },
    ]);
    const d = statementPrecision(s).money;
    expect(d).toBe(4);
    expect(formatMicrosAt(-1_005_000, d)).toBe('-$1.0050');
  });
});

describe('the account’s price', () => {
  const account = { monthlyFeeMicros: 0, meteredBilling: true };
  it('sends only what changed, the fee in integer micro-dollars', () => {
    expect(priceFormOf(account)).toEqual({ fee: '0.00', meteredBilling: true });
    expect(priceChanges(account, priceFormOf(account))).toEqual({ ok: true, changes: {} });
    expect(priceChanges(account, { fee: '$200', meteredBilling: false })).toEqual({
      ok: true,
      changes: { monthlyFeeMicros: 200_000_000, meteredBilling: false },
    });
    const odd = { monthlyFeeMicros: 19_990_001, meteredBilling: false };
    expect(priceFormOf(odd).fee).toBe('19.990001');
    expect(priceChanges(odd, priceFormOf(odd))).toEqual({ ok: true, changes: {} });
  });
  it('refuses what is not an amount the API takes', () => {
    for (const fee of ['', '-5', 'abc', '1.0000001', '1000000.01'])
      expect(priceChanges(account, { fee, meteredBilling: true })).toEqual({ ok: false });
    expect(priceChanges(account, { fee: '1000000', meteredBilling: true })).toEqual({
      ok: true,
      changes: { monthlyFeeMicros: 1_000_000_000_000 },
    });
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
    expect(requestLogQuery({ ...emptyRequestLogForm, outcome: 'refused' })).toEqual({ outcome: 'refused' });
    expect(requestLogQuery({ ...emptyRequestLogForm, outcome: 'nonsense' })).toEqual({});
  });

  it('names a refusal’s reason in both languages, and leaves an unknown code as it is', () => {
    expect(refusalReasonKey('key_rate_limit')).toBe('log.reason.key_rate_limit');
    expect(refusalReasonKey('something_new')).toBeNull();
    expect(refusalReasonKey(null)).toBeNull();
    const budget = refusalReasonKey('budget_exhausted')!;
    expect(translate('en', 'log.refused', { reason: translate('en', budget) })).toBe('refused: budget spent');
    expect(translate('zh-CN', 'log.refused', { reason: translate('zh-CN', budget) })).toBe(
      '已拒绝：预算已用完',
    );
    for (const reason of REFUSAL_REASONS) {
      const key = refusalReasonKey(reason)!;
      expect(translate('zh-CN', key), reason).not.toBe(translate('en', key));
    }
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
