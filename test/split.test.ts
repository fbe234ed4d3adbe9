// The bill's split (worker/billing/split.ts) and billing months (worker/billing/months.ts):
// worked examples, then property cases from a seeded generator — hundreds of random groups,
// usage, fees and proration — asserting the invariants: parts add up exactly to the bill, no
// part is negative, the same input gives the same output, and the order of members is irrelevant.
import { describe, expect, it } from 'vitest';
import { daysOf, daysPresent, monthBounds, monthOf, previousMonth } from '../worker/billing/months';
import {
  apportion,
  SPLIT_MODES,
  type SplitInput,
  type SplitMember,
  splitBill,
  splitFallsBack,
} from '../worker/billing/split';
import { planWindow, type UsageWindow, type WindowMark, windowShare } from '../worker/oauth/windows';

/** mulberry32: a small deterministic generator, so a failing case can be replayed by its seed. */
function generator(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (max: number) => Math.floor(next() * (max + 1)) };
}

function randomInput(seed: number): SplitInput {
  const r = generator(seed);
  const count = 1 + r.int(11);
  const members: SplitMember[] = [];
  for (let i = 0; i < count; i++) {
    // Often zero usage, sometimes huge, so fallbacks and big products are both exercised.
    const cost = r.next() < 0.3 ? 0 : r.next() < 0.1 ? r.int(9_000_000_000_000) : r.int(50_000_000);
    members.push({
      userId: `u${r.int(1_000_000).toString(36)}-${i}`,
      daysPresent: r.next() < 0.15 ? 0 : r.int(31),
      costMicros: cost,
      meteredMicros: r.next() < 0.5 ? cost : r.int(cost),
      // Window shares: often none (an API-key account), sometimes past a whole window per week.
      windowPpm: r.next() < 0.3 ? 0 : r.int(5_000_000),
    });
  }
  return {
    mode: SPLIT_MODES[r.int(SPLIT_MODES.length - 1)]!,
    prorateByDays: r.next() < 0.5,
    fixedFeeMicros: r.next() < 0.2 ? 0 : r.int(1_000_000_000),
    meteredMicros: r.next() < 0.3 ? 0 : r.int(2_000_000_000),
    members,
  };
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const r = generator(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('apportion', () => {
  it('gives the leftover to the largest remainders, ties by id', () => {
    // 100 over three equal weights: 33 each, the one leftover to the smallest id.
    expect(
      Object.fromEntries(
        apportion(
          100,
          new Map([
            ['b', 1],
            ['a', 1],
            ['c', 1],
          ]),
        ),
      ),
    ).toEqual({
      a: 34,
      b: 33,
      c: 33,
    });
    // 10 by 1:2:3 → exact 1.67, 3.33, 5: floors 1, 3, 5; the leftover goes to the .67.
    expect(
      Object.fromEntries(
        apportion(
          10,
          new Map([
            ['x', 1],
            ['y', 2],
            ['z', 3],
          ]),
        ),
      ),
    ).toEqual({ x: 2, y: 3, z: 5 });
  });

  it('refuses weights that are all zero for a non-zero amount, and negative input', () => {
    expect(() => apportion(5, new Map([['a', 0]]))).toThrow(RangeError);
    expect(() => apportion(-1, new Map([['a', 1]]))).toThrow(RangeError);
    expect(apportion(0, new Map([['a', 0]])).get('a')).toBe(0);
  });
});

describe('splitBill', () => {
  const four = (costs: number[], days = [30, 30, 30, 30]): SplitMember[] =>
    costs.map((c, i) => ({
      userId: `m${i + 1}`,
      daysPresent: days[i]!,
      costMicros: c,
      meteredMicros: c,
      windowPpm: 0,
    }));

  it('even: a $200 fee among four friends is $50 each', () => {
    const parts = splitBill({
      mode: 'even',
      prorateByDays: false,
      fixedFeeMicros: 200_000_000,
      meteredMicros: 0,
      members: four([10, 0, 0, 5]),
    });
    expect(parts.map((p) => p.totalMicros)).toEqual([50_000_000, 50_000_000, 50_000_000, 50_000_000]);
  });

  it('usage: the fee by API-equivalent cost; nobody used anything → even', () => {
    const parts = splitBill({
      mode: 'usage',
      prorateByDays: false,
      fixedFeeMicros: 200_000_000,
      meteredMicros: 0,
      members: four([600, 300, 100, 0]),
    });
    expect(parts.map((p) => p.totalMicros)).toEqual([120_000_000, 60_000_000, 20_000_000, 0]);
    const idle = splitBill({
      mode: 'usage',
      prorateByDays: false,
      fixedFeeMicros: 3,
      meteredMicros: 0,
      members: four([0, 0, 0, 0]),
    });
    expect(idle.map((p) => p.totalMicros)).toEqual([1, 1, 1, 0]);
  });

  it('base_usage: the fee evenly, the metered cost by metered usage', () => {
    const parts = splitBill({
      mode: 'base_usage',
      prorateByDays: false,
      fixedFeeMicros: 200_000_000,
      meteredMicros: 10_000_000,
      members: four([7_000_000, 3_000_000, 0, 0]),
    });
    expect(parts.map((p) => [p.feePartMicros, p.usagePartMicros])).toEqual([
      [50_000_000, 7_000_000],
      [50_000_000, 3_000_000],
      [50_000_000, 0],
      [50_000_000, 0],
    ]);
  });

  it('window: the fee and the metered cost by window share, exactly; no share at all → presence', () => {
    const members = four([9_000_000, 1_000_000, 0, 0]).map((m, i) => ({
      ...m,
      windowPpm: [40_000, 80_000, 0, 0][i]!,
    }));
    const input: SplitInput = {
      mode: 'window',
      prorateByDays: false,
      fixedFeeMicros: 200_000_000,
      meteredMicros: 10,
      members,
    };
    // A third and two thirds (cost is no weight here); each odd unit to the largest remainder.
    expect(splitBill(input).map((p) => [p.feePartMicros, p.usagePartMicros])).toEqual([
      [66_666_667, 3],
      [133_333_333, 7],
      [0, 0],
      [0, 0],
    ]);
    expect(splitFallsBack(input)).toBe(false);
    // An API-key account reports no window: like usage with no usage, one share each, said so.
    const none = { ...input, members: four([9_000_000, 1_000_000, 0, 0]) };
    expect(splitBill(none).map((p) => p.feePartMicros)).toEqual([
      50_000_000, 50_000_000, 50_000_000, 50_000_000,
    ]);
    expect(splitFallsBack(none)).toBe(true);
    // Nothing to split falls back to nothing.
    expect(splitFallsBack({ ...none, fixedFeeMicros: 0, meteredMicros: 0 })).toBe(false);
    expect(splitFallsBack({ ...none, mode: 'usage', members: four([0, 0, 0, 0]) })).toBe(true);
    expect(splitFallsBack({ ...none, mode: 'even' })).toBe(false);
  });

  it('prorates by days present: one who joined for the last 10 of 30 days pays a third of a share', () => {
    const parts = splitBill({
      mode: 'even',
      prorateByDays: true,
      fixedFeeMicros: 100_000_000,
      meteredMicros: 0,
      members: four([0, 0, 0, 0], [30, 30, 30, 10]),
    });
    expect(parts.map((p) => p.totalMicros)).toEqual([30_000_000, 30_000_000, 30_000_000, 10_000_000]);
    // Without proration, everyone present at all pays a full share; someone absent, none.
    const flat = splitBill({
      mode: 'even',
      prorateByDays: false,
      fixedFeeMicros: 90,
      meteredMicros: 0,
      members: four([0, 0, 0, 0], [30, 30, 10, 0]),
    });
    expect(flat.map((p) => p.totalMicros)).toEqual([30, 30, 30, 0]);
  });

  it('gives the worked example of docs/billing.md', () => {
    const $ = 1_000_000;
    const friends = (metered: boolean): SplitMember[] =>
      [
        ['ann', 30, 60],
        ['bob', 30, 30],
        ['cat', 30, 10],
        ['dan', 10, 0],
      ].map(([userId, days, usd]) => ({
        userId: userId as string,
        daysPresent: days as number,
        costMicros: (usd as number) * $,
        meteredMicros: metered ? (usd as number) * $ : 0,
        windowPpm: 0,
      }));
    const amounts = (input: SplitInput) => splitBill(input).map((p) => p.totalMicros / $);
    const fee = 200 * $;
    expect(
      amounts({
        mode: 'usage',
        prorateByDays: false,
        fixedFeeMicros: fee,
        meteredMicros: 0,
        members: friends(false),
      }),
    ).toEqual([120, 60, 20, 0]);
    expect(
      amounts({
        mode: 'even',
        prorateByDays: false,
        fixedFeeMicros: fee,
        meteredMicros: 0,
        members: friends(false),
      }),
    ).toEqual([50, 50, 50, 50]);
    expect(
      amounts({
        mode: 'even',
        prorateByDays: true,
        fixedFeeMicros: fee,
        meteredMicros: 0,
        members: friends(false),
      }),
    ).toEqual([60, 60, 60, 20]);
    expect(
      amounts({
        mode: 'base_usage',
        prorateByDays: true,
        fixedFeeMicros: fee,
        meteredMicros: 100 * $,
        members: friends(true),
      }),
    ).toEqual([120, 90, 70, 20]);
  });

  it('refuses a member listed twice and a bill with nobody to pay it', () => {
    const m = { userId: 'a', daysPresent: 1, costMicros: 0, meteredMicros: 0, windowPpm: 0 };
    expect(() =>
      splitBill({ mode: 'even', prorateByDays: false, fixedFeeMicros: 1, meteredMicros: 0, members: [m, m] }),
    ).toThrow(/twice/);
    expect(() =>
      splitBill({ mode: 'even', prorateByDays: false, fixedFeeMicros: 1, meteredMicros: 0, members: [] }),
    ).toThrow();
  });

  it('holds its invariants over 600 random cases', () => {
    for (let seed = 1; seed <= 600; seed++) {
      const input = randomInput(seed);
      const parts = splitBill(input);
      const context = `seed ${seed}: ${JSON.stringify(input)}`;
      expect(parts.length, context).toBe(input.members.length);
      let fee = 0;
      let usage = 0;
      for (const p of parts) {
        expect(p.feePartMicros, context).toBeGreaterThanOrEqual(0);
        expect(p.usagePartMicros, context).toBeGreaterThanOrEqual(0);
        expect(Number.isSafeInteger(p.totalMicros), context).toBe(true);
        expect(p.totalMicros, context).toBe(p.feePartMicros + p.usagePartMicros);
        fee += p.feePartMicros;
        usage += p.usagePartMicros;
      }
      expect(fee, context).toBe(input.fixedFeeMicros);
      expect(usage, context).toBe(input.meteredMicros);
      // Same input, same output; members in another order, same output.
      expect(splitBill(input), context).toEqual(parts);
      expect(splitBill({ ...input, members: shuffled(input.members, seed * 7) }), context).toEqual(parts);
      // Each part is within a micro-dollar or two of its exact share (fee and metered cost are
      // apportioned apart, each to within one).
      if (input.mode === 'usage' && input.members.some((m) => m.costMicros > 0)) {
        const total = input.members.reduce((s, m) => s + BigInt(m.costMicros), 0n);
        for (const p of parts) {
          const m = input.members.find((x) => x.userId === p.userId)!;
          const exact = (BigInt(input.fixedFeeMicros + input.meteredMicros) * BigInt(m.costMicros)) / total;
          expect(BigInt(p.totalMicros) - exact, context).toBeLessThanOrEqual(2n);
          expect(exact - BigInt(p.totalMicros), context).toBeLessThanOrEqual(1n);
        }
      }
    }
  });
});

describe('window shares', () => {
  const reading = (
    name: string,
    fraction: number,
    resetAt: number | null,
    minutes?: number,
  ): UsageWindow => ({
    name,
    windowMinutes: minutes ?? null,
    usedPercent: Math.round(fraction * 1000) / 10,
    usedPpm: Math.round(fraction * 1_000_000),
    resetAt,
    exhausted: false,
  });

  it('follows the longest window, the plain one of its length', () => {
    const five = reading('5h', 0.5, 1, 300);
    const week = reading('7d', 0.1, 2, 10080);
    const opus = reading('7d_oi', 0.9, 2, 10080);
    expect(planWindow([five, opus, week])).toBe(week);
    expect(planWindow([five, opus])).toBe(opus);
    expect(planWindow([five])).toBe(five);
    expect(planWindow([reading('primary', 0.2, 1)])).toBeNull();
    // Codex names windows by length too; a reading without usedPpm is measured from its percent.
    expect(planWindow([{ ...reading('10080m', 0.3, 1), windowMinutes: 10080 }])?.name).toBe('10080m');
  });

  it('measures each rise once: never negative, a reset starts from 0, late readings add nothing', () => {
    const T = 1_800_000_000_000;
    let mark: WindowMark | null = null;
    const step = (fraction: number, resetAt: number | null) => {
      const out = windowShare(mark, reading('7d', fraction, resetAt));
      mark = out.mark;
      return out.ppm;
    };
    expect(step(0.1, T)).toBe(0); // nothing to measure from
    expect(step(0.12, T)).toBe(20_000);
    expect(step(0.11, T)).toBe(0); // concurrent, older: never negative…
    expect(step(0.13, T + 30_000)).toBe(10_000); // …and not counted twice (a jittered reset is the same)
    expect(step(0.02, T + 7 * 86_400_000)).toBe(20_000); // a new period from 0
    expect(step(0.5, T)).toBe(0); // a straggler of the old period
    expect(step(0.03, T + 7 * 86_400_000)).toBe(10_000);
    // Without reset times a drop reads as a reset.
    expect(step(0.05, null)).toBe(20_000);
    expect(step(0.01, null)).toBe(0);
    expect(step(0.02, null)).toBe(10_000);
    // Another window becoming the plan's starts over.
    expect(windowShare(mark, reading('30d', 0.9, T)).ppm).toBe(0);
    // Fractions finer than a percent are kept.
    expect(windowShare({ name: '7d', resetAt: T, ppm: 100_000 }, reading('7d', 0.100_123, T)).ppm).toBe(123);
  });

  it('adds up to the window’s rise over a period, whatever the order of reports', () => {
    const r = generator(7);
    for (let run = 0; run < 50; run++) {
      const readings = Array.from({ length: 20 }, () => r.int(1_000_000)).sort((a, b) => a - b);
      const shuffledReadings = shuffled(readings, run);
      let mark: WindowMark | null = null;
      let total = 0;
      for (const ppm of shuffledReadings) {
        const out = windowShare(mark, reading('7d', ppm / 1_000_000, 1));
        expect(out.ppm).toBeGreaterThanOrEqual(0);
        total += out.ppm;
        mark = out.mark;
      }
      expect(total).toBe(Math.max(...readings) - shuffledReadings[0]!);
    }
  });
});

describe('billing months', () => {
  it('bounds a month in its time zone', () => {
    expect(monthBounds('2026-11', 'UTC')).toEqual({
      month: '2026-11',
      start: Date.UTC(2026, 10, 1),
      end: Date.UTC(2026, 11, 1),
    });
    // Tokyo is UTC+9: its November starts at 15:00 UTC on 31 October.
    expect(monthBounds('2026-11', 'Asia/Tokyo').start).toBe(Date.UTC(2026, 9, 31, 15));
    expect(monthOf(Date.UTC(2026, 9, 31, 16), 'Asia/Tokyo')).toBe('2026-11');
    expect(monthOf(Date.UTC(2026, 9, 31, 16), 'UTC')).toBe('2026-10');
    expect(previousMonth('2026-01')).toBe('2025-12');
    expect(previousMonth('2026-11')).toBe('2026-10');
  });

  it('counts local days, across a DST change, and the days a person was in', () => {
    const march = monthBounds('2026-03', 'Europe/Berlin');
    const days = daysOf(march, 'Europe/Berlin');
    expect(days).toHaveLength(31);
    // The day clocks go forward (29 March) has 23 hours.
    expect(days[28]![1] - days[28]![0]).toBe(23 * 3_600_000);
    const joined = days[20]![0] + 5 * 3_600_000; // during the 21st
    expect(daysPresent([{ joinedAt: joined, leftAt: null }], days)).toBe(11);
    expect(daysPresent([{ joinedAt: 0, leftAt: days[1]![0] + 1 }], days)).toBe(2);
    expect(daysPresent([{ joinedAt: 0, leftAt: march.start }], days)).toBe(0);
  });
});
