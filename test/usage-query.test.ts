// The time range of a usage query: within the dates a clock can show (past them the answer was
// an empty report, as if nothing had been used), and an empty `from=` or `to=` is the default.
import { describe, expect, it } from 'vitest';
import { admin, requestLogFor, seedCarpool, streamMessage } from './support/relay';

describe('usage query range', () => {
  it('refuses instants past the last date, and reads an empty one as the default', async () => {
    const carpool = await seedCarpool();
    expect((await (await streamMessage(carpool.key)).text()).length).toBeGreaterThan(0);
    await requestLogFor(carpool.keyId, 1);
    const base = `/usage?groupId=${carpool.groupId}`;
    for (const range of ['&from=0&to=8640000000000001', '&from=-9007199254740991'])
      expect((await admin('GET', `${base}${range}`)).status, range).toBe(400);
    const plain = await admin<{ totals: { requests: number } }>('GET', base);
    const empty = await admin<{ totals: { requests: number } }>('GET', `${base}&from=&to=`);
    expect(plain.json.totals.requests).toBe(1);
    expect(empty).toMatchObject({ status: 200, json: { totals: { requests: 1 } } });
  });
});
