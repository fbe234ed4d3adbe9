// Budget periods in a time zone: the key of the period holding a moment, and when it starts and
// ends, across local midnight, month ends, ISO weeks and daylight-saving changes.
import { describe, expect, it } from 'vitest';
import { periodEnd, periodKey, periodStart } from '../worker/budgets/periods';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe('periods', () => {
  it('turn at local midnight and at the local month end', () => {
    // Shanghai is UTC+8: 15:59:59Z on 30 November is 23:59:59 local; 16:00Z is 1 December.
    expect(periodKey('day', at('2026-11-30T15:59:59Z'), 'Asia/Shanghai')).toBe('day:2026-11-30');
    expect(periodKey('day', at('2026-11-30T16:00:00Z'), 'Asia/Shanghai')).toBe('day:2026-12-01');
    expect(periodKey('month', at('2026-11-30T15:59:59Z'), 'Asia/Shanghai')).toBe('month:2026-11');
    expect(periodKey('month', at('2026-11-30T16:00:00Z'), 'Asia/Shanghai')).toBe('month:2026-12');
    expect(periodKey('month', at('2026-11-30T16:00:00Z'), 'UTC')).toBe('month:2026-11');
    expect(iso(periodEnd('month', at('2026-11-30T15:59:59Z'), 'Asia/Shanghai'))).toBe(
      '2026-11-30T16:00:00.000Z',
    );
    expect(iso(periodStart('month', at('2026-11-30T16:00:00Z'), 'Asia/Shanghai'))).toBe(
      '2026-11-30T16:00:00.000Z',
    );
  });

  it('count ISO weeks from Monday, across a year end', () => {
    expect(periodKey('week', at('2026-11-28T12:00:00Z'), 'UTC')).toBe('week:2026-W48');
    expect(periodKey('week', at('2027-01-01T12:00:00Z'), 'UTC')).toBe('week:2026-W53');
    expect(periodKey('week', at('2027-01-04T00:00:00Z'), 'UTC')).toBe('week:2027-W01');
    expect(iso(periodStart('week', at('2026-11-28T12:00:00Z'), 'UTC'))).toBe('2026-11-23T00:00:00.000Z');
    expect(iso(periodEnd('week', at('2026-11-28T12:00:00Z'), 'UTC'))).toBe('2026-11-30T00:00:00.000Z');
  });

  it('follow daylight-saving changes: a 23-hour day', () => {
    const start = periodStart('day', at('2026-03-08T09:00:00Z'), 'America/New_York');
    const end = periodEnd('day', at('2026-03-08T09:00:00Z'), 'America/New_York');
    expect(iso(start)).toBe('2026-03-08T05:00:00.000Z');
    expect(iso(end)).toBe('2026-03-09T04:00:00.000Z');
    expect(end! - start).toBe(23 * 3_600_000);
  });

  it('total never turns', () => {
    expect(periodKey('total', 0, 'UTC')).toBe('total');
    expect(periodEnd('total', Date.now(), 'Asia/Tokyo')).toBeNull();
  });
});
