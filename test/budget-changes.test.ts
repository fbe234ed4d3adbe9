// Budgets as their owners change them, and refusals that say what is true: a lowered wide limit
// binds at once (the allowance groups hold is recalled); money reserved by requests in flight is
// a 429 to retry, not a "spent" 402; a new time zone keeps what was spent in the new period's
// window; amounts under a cent are shown as they are; time zones are IANA names, not offsets.
import { describe, expect, it } from 'vitest';
import type { LedgerView } from '../durable-objects/enterprise-ledger';
import { formatMicros } from '../worker/budgets/refusal';
import { budgetView, ledgerStub, loggedCost } from './support/gates';
import {
  addEnterpriseGroup,
  admin,
  eventually,
  RELAY,
  relayFetch,
  requestLogFor,
  seedCarpool,
  seedEnterprise,
  streamMessage,
} from './support/relay';

async function ledgerView(enterpriseId: string, budgetId: string): Promise<LedgerView> {
  const view = (await ledgerStub(enterpriseId).state(enterpriseId)).find((b) => b.budgetId === budgetId);
  if (!view) throw new Error(`no budget ${budgetId} at the ledger`);
  return view;
}

type ErrorBody = { error: { type?: string; status?: string; code?: unknown; message: string } };

async function served(key: string, model?: string): Promise<number> {
  const res = await streamMessage(key, { model });
  await res.text();
  return res.status;
}

describe('lowering a wide hard budget', () => {
  for (const scope of ['enterprise', 'department'] as const) {
    it(`binds at once for ${scope === 'enterprise' ? 'an enterprise' : 'a department'}: the allowance groups hold is recalled`, async () => {
      const pool = await seedEnterprise([{}]);
      let target: Record<string, string> = { enterpriseId: pool.enterpriseId };
      if (scope === 'department') {
        const dept = await admin<{ id: string }>('POST', `/enterprises/${pool.enterpriseId}/departments`, {
          name: 'Sales',
        });
        expect((await admin('PATCH', `/groups/${pool.groupId}`, { departmentId: dept.json.id })).status).toBe(
          200,
        );
        target = { departmentId: dept.json.id };
      }
      const budget = await admin<{ id: string }>('POST', '/budgets', {
        scope,
        ...target,
        period: 'month',
        limitMicros: 1_000_000,
      });
      expect(budget.status).toBe(201);
      expect(await served(pool.key)).toBe(200);
      const [first] = await requestLogFor(pool.keyId);
      await eventually(async () =>
        (await ledgerView(pool.enterpriseId, budget.json.id)).spentMicros === first!.cost_micros
          ? true
          : undefined,
      );
      expect((await ledgerView(pool.enterpriseId, budget.json.id)).grantedMicros).toBeGreaterThan(10_000);

      expect((await admin('PATCH', `/budgets/${budget.json.id}`, { limitMicros: 100 })).status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push(await served(pool.key));
      expect(statuses).toEqual([402, 402, 402, 402, 402]);
      // What the group held unspent went back: granted is what was spent, nothing idle.
      const view = await ledgerView(pool.enterpriseId, budget.json.id);
      expect(view).toMatchObject({ limitMicros: 100, spentMicros: first!.cost_micros });
      expect(view.grantedMicros).toBe(first!.cost_micros);

      // Raised again: the money is there to grant once more.
      expect((await admin('PATCH', `/budgets/${budget.json.id}`, { limitMicros: 1_000_000 })).status).toBe(
        200,
      );
      expect(await served(pool.key)).toBe(200);
    });
  }
});

describe('allowance idle in one group', () => {
  it('goes where requests need it: a group refused by the ledger gets what another holds unspent', async () => {
    const pool = await seedEnterprise([{}]);
    // A second group of the enterprise: it takes the whole limit as its slice.
    const other = await addEnterpriseGroup(pool.enterpriseId);
    // A slice is a twentieth of the limit but never under $0.001: here, the whole limit.
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'enterprise',
      enterpriseId: pool.enterpriseId,
      period: 'month',
      limitMicros: 1_000,
    });
    expect(await served(other.key, 'claude-haiku-4-5')).toBe(200);
    const [spentByOther] = await requestLogFor(other.keyId);
    await eventually(async () =>
      (await ledgerView(pool.enterpriseId, budget.json.id)).spentMicros === spentByOther!.cost_micros
        ? true
        : undefined,
    );
    expect((await ledgerView(pool.enterpriseId, budget.json.id)).grantedMicros).toBe(1_000);

    // The first group finds nothing left to grant: a 429 to retry, and the idle allowance is asked back.
    expect(await served(pool.key, 'claude-haiku-4-5')).toBe(429);
    await eventually(async () =>
      (await ledgerView(pool.enterpriseId, budget.json.id)).grantedMicros === spentByOther!.cost_micros
        ? true
        : undefined,
    );
    expect(await served(pool.key, 'claude-haiku-4-5')).toBe(200);
    // Never more granted than the limit, and what was spent is all accounted.
    const [spentByFirst] = await requestLogFor(pool.keyId);
    const view = await eventually(async () => {
      const v = await ledgerView(pool.enterpriseId, budget.json.id);
      return v.spentMicros === spentByOther!.cost_micros + spentByFirst!.cost_micros ? v : undefined;
    });
    expect(view.grantedMicros).toBeLessThanOrEqual(1_000);
  });
});

describe('money reserved by requests in flight', () => {
  it('is a 429 to retry in every dialect, not a spent budget; once spent, a 402 with sub-cent amounts', async () => {
    const carpool = await seedCarpool({ scenario: 'slow_first_byte.1500' });
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'key',
      keyId: carpool.keyId,
      period: 'day',
      limitMicros: 1,
    });
    const first = streamMessage(carpool.key);
    await eventually(
      async () => ((await budgetView(carpool.groupId, budget.json.id)).reservedMicros ?? 0) > 0 || undefined,
    );

    const body = { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
    const anthropic = await relayFetch(`${RELAY}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': carpool.key, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const openai = await relayFetch(`${RELAY}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${carpool.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const google = await relayFetch(`${RELAY}/v1beta/models/claude-sonnet-4-5:generateContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': carpool.key, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
    });
    for (const res of [anthropic, openai, google]) {
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.headers.get('x-should-retry')).toBeNull();
    }
    const a = (await anthropic.json()) as ErrorBody & { type: string };
    expect(a).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(a.error.message).toMatch(
      /^This key's daily budget of \$0\.000001 is committed to requests in flight/,
    );
    expect(a.error.message).not.toMatch(/spent/);
    expect(await openai.json()).toMatchObject({
      error: { type: 'rate_limit_error', code: 'budget_committed' },
    });
    expect(await google.json()).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED' } });

    expect((await first).status).toBe(200);
    await (await first).text();
    const [row] = await requestLogFor(carpool.keyId);
    const refused = await eventually(async () => {
      const res = await streamMessage(carpool.key);
      if (res.status !== 402) {
        await res.text();
        return undefined;
      }
      return res;
    });
    expect(refused.headers.get('x-should-retry')).toBe('false');
    const spent = (await refused.json()) as ErrorBody;
    expect(spent.error.message).toContain(
      `This key's daily budget of $0.000001 is spent (${formatMicros(row!.cost_micros)} used).`,
    );
    expect(formatMicros(row!.cost_micros)).toMatch(/^\$0\.00\d*[1-9]$/);
  });

  it('of a wide budget is a 429 too while the ledger has heard of less than the limit spent', async () => {
    const pool = await seedEnterprise([{ scenario: 'slow_first_byte.1500' }]);
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'enterprise',
      enterpriseId: pool.enterpriseId,
      period: 'month',
      limitMicros: 1,
    });
    const first = streamMessage(pool.key);
    await eventually(async () =>
      (await ledgerView(pool.enterpriseId, budget.json.id)).grantedMicros > 0 ? true : undefined,
    );
    const second = await streamMessage(pool.key);
    expect(second.status).toBe(429);
    expect(((await second.json()) as ErrorBody).error.message).toMatch(
      /^The enterprise's monthly budget of \$0\.000001 is committed/,
    );
    await (await first).text();
    const refused = await eventually(async () => {
      const res = await streamMessage(pool.key);
      await res.text();
      return res.status === 402 ? res : undefined;
    });
    expect(refused.status).toBe(402);
  });
});

describe('money in messages', () => {
  it('shows amounts under a cent as they are, trailing zeros trimmed, never fewer than two decimals', () => {
    expect(formatMicros(0)).toBe('$0.00');
    expect(formatMicros(100)).toBe('$0.0001');
    expect(formatMicros(1_227)).toBe('$0.001227');
    expect(formatMicros(12_345)).toBe('$0.012345');
    expect(formatMicros(20_000)).toBe('$0.02');
    expect(formatMicros(5_000_000)).toBe('$5.00');
    expect(formatMicros(5_010_000)).toBe('$5.01');
    expect(formatMicros(1_234_567_890)).toBe('$1234.56789');
  });
});

describe('changing a budget’s time zone', () => {
  it('keeps what was spent in the new period’s window (a group budget at its gate)', async () => {
    const carpool = await seedCarpool();
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'group',
      groupId: carpool.groupId,
      period: 'day',
      limitMicros: 1_000_000,
    });
    for (let i = 0; i < 2; i++) expect(await served(carpool.key)).toBe(200);
    const logged = await eventually(async () => {
      const row = await loggedCost('group_id = ?', carpool.groupId);
      return row.n === 2 ? row : undefined;
    });
    await eventually(async () =>
      (await budgetView(carpool.groupId, budget.json.id)).spentMicros === logged.cost ? true : undefined,
    );
    // UTC−12 and UTC+14 are never on the same date: at least one change moves to another day's key.
    const keys: string[] = [];
    for (const timeZone of ['Etc/GMT+12', 'Pacific/Kiritimati', 'UTC']) {
      expect((await admin('PATCH', `/budgets/${budget.json.id}`, { timeZone })).status).toBe(200);
      const view = await budgetView(carpool.groupId, budget.json.id);
      // Both requests fell in today's window in every zone (they were made seconds ago).
      expect(view.spentMicros, timeZone).toBe(logged.cost);
      keys.push(view.periodKey);
    }
    expect(keys[0]).not.toBe(keys[1]);
  });

  it('keeps what was spent for an enterprise budget at its ledger', async () => {
    const pool = await seedEnterprise([{}]);
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'enterprise',
      enterpriseId: pool.enterpriseId,
      period: 'day',
      limitMicros: 1_000_000,
    });
    expect(await served(pool.key)).toBe(200);
    const [row] = await requestLogFor(pool.keyId);
    expect((await admin('PATCH', `/budgets/${budget.json.id}`, { timeZone: 'Etc/GMT+12' })).status).toBe(200);
    const view = await ledgerView(pool.enterpriseId, budget.json.id);
    expect(view.spentMicros).toBe(row!.cost_micros);
    expect(view.grantedMicros).toBeGreaterThanOrEqual(row!.cost_micros);
    // The new period is granted from (the old period's unspent allowance lapsed).
    expect(await served(pool.key)).toBe(200);
  });
});

describe('time zones', () => {
  it('are IANA names for budgets and groups alike, not UTC offsets', async () => {
    const carpool = await seedCarpool();
    const base = { scope: 'group', groupId: carpool.groupId, period: 'day', limitMicros: 1_000 };
    for (const timeZone of ['+05:00', '-12:00', '+0530', 'Mars/Olympus'])
      expect((await admin('POST', '/budgets', { ...base, timeZone })).status, timeZone).toBe(400);
    const made = await admin<{ id: string }>('POST', '/budgets', { ...base, timeZone: 'Etc/GMT+12' });
    expect(made.status).toBe(201);
    expect((await admin('PATCH', `/budgets/${made.json.id}`, { timeZone: '-12:00' })).status).toBe(400);
    expect((await admin('PATCH', `/groups/${carpool.groupId}`, { timeZone: '+05:00' })).status).toBe(400);
    expect((await admin('PATCH', `/groups/${carpool.groupId}`, { timeZone: 'Asia/Kolkata' })).status).toBe(
      200,
    );
  });
});
