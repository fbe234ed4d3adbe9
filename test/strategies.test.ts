// Rotation strategies over a few hundred requests each. Kept apart from scheduler.test.ts because
// the test pool's SELF.fetch slows down with every call made in one file (a harness effect,
// measured: 200 plain calls 0.9 s, the next 200 5 s); production has no such cost.
import { describe, expect, it } from 'vitest';
import { countsByAccount, seedEnterprise, streamMessage } from './support/relay';

/** Sends `total` requests, `parallel` at a time, each in its own session. */
async function spread(key: string, total: number, prefix: string, parallel = 10): Promise<void> {
  for (let i = 0; i < total; i += parallel) {
    await Promise.all(
      Array.from({ length: Math.min(parallel, total - i) }, async (_, j) => {
        const res = await streamMessage(key, { session: `${prefix}-${i + j}` });
        expect(res.status).toBe(200);
        await res.text();
      }),
    );
  }
}

// Long by nature (hundreds of requests in a row): a generous timeout, so a busy machine does not fail them.
describe('strategies', { timeout: 90_000 }, () => {
  it('round_robin rotates evenly over 240 requests', async () => {
    const pool = await seedEnterprise([{}, {}, {}], { pools: { anthropic: { strategy: 'round_robin' } } });
    await spread(pool.key, 240, 'rr');
    expect(await countsByAccount(pool.accounts)).toEqual([80, 80, 80]);
  });

  it('weighted splits 240 requests 1:2:3 exactly', async () => {
    const pool = await seedEnterprise([{ weight: 1 }, { weight: 2 }, { weight: 3 }], {
      pools: { anthropic: { strategy: 'weighted' } },
    });
    await spread(pool.key, 240, 'w');
    expect(await countsByAccount(pool.accounts)).toEqual([40, 80, 120]);
  });
});
