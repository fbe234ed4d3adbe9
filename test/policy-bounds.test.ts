// What an owner or an upstream can put into an account's health is bounded: scheduling overrides
// refuse cooldowns over a day and pools of no provider kind, a base URL carries no user or
// password, and no cooldown (from a policy stored earlier, or an upstream's retry-after) runs past
// a week. Found by a hostile pass: a cooldown of 2^53 ms put the account's "cooling down until"
// past the last date JavaScript can show, and every request through the account was a 500.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, admin, api, seedCarpool, streamMessage } from './support/relay';

const WEEK = 7 * 86_400_000;

describe('bounded health', () => {
  it('refuses cooldowns over a day, pools of no provider kind, and a base URL with credentials', async () => {
    const carpool = await seedCarpool();
    const huge = { serverErrorCooldownMs: 2 ** 53 - 1, maxCooldownMs: 2 ** 53 - 1 };
    const group = await admin('PATCH', `/groups/${carpool.groupId}`, { scheduling: huge });
    expect(group).toMatchObject({ status: 400, json: { error: { code: 'invalid_request' } } });
    expect(
      (await admin('PATCH', `/groups/${carpool.groupId}`, { scheduling: { maxCooldownMs: 86_400_000 } }))
        .status,
    ).toBe(200);

    const enterprise = await api<{ id: string }>(ADMIN_TOKEN, 'POST', '/enterprises', { name: 'Pools' });
    const path = `/enterprises/${enterprise.json.id}`;
    for (const pools of [{ antropic: { maxAttempts: 1 } }, { anthropic: { overloadedCooldownMs: 2 ** 40 } }])
      expect((await admin('PATCH', path, { pools })).status, JSON.stringify(pools)).toBe(400);
    expect((await admin('PATCH', path, { pools: { anthropic: { maxAttempts: 1 } } })).status).toBe(200);

    const withUser = await admin('PATCH', `/accounts/${carpool.accountId}`, {
      baseUrl: 'http://proxyuser:proxypass@127.0.0.1:9',
    });
    expect(withUser).toMatchObject({ status: 400, json: { error: { message: /no user or password/ } } });
    const account = await admin<{ baseUrl: string | null }>('GET', `/accounts/${carpool.accountId}`);
    expect(JSON.stringify(account.json)).not.toContain('proxypass');
  });

  it('an upstream asking to wait years cools its account down for a week at most', async () => {
    // The fake answers 429 with retry-after of about three years.
    const carpool = await seedCarpool({ scenario: '429.99999999' });
    const first = await streamMessage(carpool.key);
    expect(first.status).toBe(429);
    expect((await admin('GET', `/accounts/${carpool.accountId}/state`)).status).toBe(200);
    const gate = env.ACCOUNT_GATE.get(env.ACCOUNT_GATE.idFromName(`account:${carpool.accountId}`));
    const { cooldownUntil } = await gate.state();
    expect(cooldownUntil).toBeGreaterThan(Date.now() + WEEK - 60_000);
    expect(cooldownUntil).toBeLessThanOrEqual(Date.now() + WEEK);
    // Refused in the client's dialect while it cools down, never a 500.
    const next = await streamMessage(carpool.key);
    expect([429, 503]).toContain(next.status);
    expect(((await next.json()) as { type: string }).type).toBe('error');
  });
});
