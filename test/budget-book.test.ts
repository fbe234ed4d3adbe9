// The budget book's arithmetic, at chosen moments: a period turns at local midnight and at the
// local month end; a request reserved before the turn settles into the period it began in.
import { describe, expect, it } from 'vitest';
import { BudgetBook } from '../durable-objects/budget-book';
import type { BudgetRule } from '../worker/budgets/rules';

const at = (iso: string) => Date.parse(iso);

function book() {
  const crossings: { budgetId: string; periodKey: string; percent: number }[] = [];
  const b = new BudgetBook(
    () => {},
    (rule, periodKey, spent) =>
      crossings.push({ budgetId: rule.id, periodKey, percent: Math.floor((spent * 100) / rule.limitMicros) }),
  );
  return { b, crossings };
}

const daily: BudgetRule = {
  id: 'daily',
  scope: 'key',
  target: 'k',
  period: 'day',
  limitMicros: 1000,
  mode: 'hard',
  timeZone: 'Asia/Shanghai',
};
const monthly: BudgetRule = { ...daily, id: 'monthly', period: 'month', limitMicros: 5000 };

describe('the budget book', () => {
  it('refuses once a day is spent, and starts afresh at local midnight (not UTC midnight)', () => {
    const { b } = book();
    const beforeMidnight = at('2026-11-30T15:59:00Z'); // 23:59 in Shanghai
    const first = b.check([daily], 400, beforeMidnight);
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    b.reserve([daily], first.reservations);
    b.settle([daily], first.reservations, 1000);
    expect(b.check([daily], 400, beforeMidnight)).toMatchObject({ ok: false, exhausted: { id: 'daily' } });
    // Still 30 November in Shanghai one minute before UTC's; 1 December a minute after local midnight.
    expect(b.check([daily], 400, at('2026-11-30T15:59:59Z')).ok).toBe(false);
    expect(b.check([daily], 400, at('2026-11-30T16:00:01Z')).ok).toBe(true);
  });

  it('settles a request that began before the turn into its own period, not the new one', () => {
    const { b } = book();
    const started = b.check([daily], 300, at('2026-11-30T15:59:30Z'));
    if (!started.ok) throw new Error('refused');
    b.reserve([daily], started.reservations);
    // After midnight: a new request reserves in the new period...
    const next = b.check([daily], 300, at('2026-11-30T16:00:30Z'));
    if (!next.ok) throw new Error('refused');
    b.reserve([daily], next.reservations);
    // ...and the late settlement of the first does not touch it.
    b.settle([daily], started.reservations, 900);
    const [view] = b.view([daily], at('2026-11-30T16:01:00Z'));
    expect(view).toMatchObject({ periodKey: 'day:2026-12-01', spentMicros: 0, reservedMicros: 300 });
  });

  it('turns a month at the local month end', () => {
    const { b } = book();
    const r = b.check([monthly], 0, at('2026-11-30T15:00:00Z'));
    if (!r.ok) throw new Error('refused');
    b.settle([monthly], r.reservations, 5000);
    expect(b.check([monthly], 0, at('2026-11-30T15:59:59Z')).ok).toBe(false);
    const december = b.check([monthly], 0, at('2026-11-30T16:00:00Z'));
    expect(december).toMatchObject({ ok: true, reservations: [{ periodKey: 'month:2026-12' }] });
  });

  it('admits while spent and reserved are below the limit: passing it only by what is in flight', () => {
    const { b, crossings } = book();
    const now = at('2026-11-28T08:00:00Z');
    const held = [];
    for (let i = 0; i < 5; i++) {
      const r = b.check([daily], 300, now);
      if (!r.ok) break;
      b.reserve([daily], r.reservations);
      held.push(r.reservations);
    }
    // 0, 300, 600, 900 < 1000: four in flight; the fifth sees 1200.
    expect(held.length).toBe(4);
    for (const r of held) b.settle([daily], r, 350);
    const [view] = b.view([daily], now);
    expect(view).toMatchObject({ spentMicros: 1400, reservedMicros: 0 });
    // The alert rules hear of every whole percent moved: 35 %, 70 %, 105 %, 140 %.
    expect(crossings.map((c) => c.percent)).toEqual([35, 70, 105, 140]);
  });

  it('a request that ends with no known cost frees its reservation and spends nothing', () => {
    const { b } = book();
    const now = at('2026-11-28T08:00:00Z');
    const r = b.check([daily], 600, now);
    if (!r.ok) throw new Error('refused');
    b.reserve([daily], r.reservations);
    b.settle([daily], r.reservations, null);
    expect(b.view([daily], now)[0]).toMatchObject({ spentMicros: 0, reservedMicros: 0 });
  });
});
