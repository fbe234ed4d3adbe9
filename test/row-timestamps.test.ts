// A new row's createdAt and updatedAt are one instant of one clock. They used to come from two: the
// created_at column's SQL default (D1's clock, when the statement ran) and the Worker's Date.now()
// (taken before the statement was sent), so a row could read as changed before it was made.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, admin, api } from './support/relay';

interface Stamped {
  id: string;
  createdAt: number;
  updatedAt: number;
}

/** The response's stamps, and the row's in D1: the same pair, equal on create. */
async function expectOneInstant(table: string, created: { status: number; json: Stamped }) {
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  const { createdAt, updatedAt } = created.json;
  expect(updatedAt).toBe(createdAt);
  const row = await env.DB.prepare(`SELECT created_at, updated_at FROM ${table} WHERE id = ?`)
    .bind(created.json.id)
    .first<{ created_at: number; updated_at: number }>();
  expect(row).toEqual({ created_at: createdAt, updated_at: updatedAt });
}

// Several of each: with two clocks, equality within one millisecond could happen by chance.
const TIMES = 5;

describe("a new row's createdAt and updatedAt", () => {
  it('are equal for an account, made on its own or bound to a carpool', async () => {
    for (let i = 0; i < TIMES; i++) {
      const tag = crypto.randomUUID().replaceAll('-', '');
      const account = await admin<Stamped>('POST', '/accounts', {
        name: `stamped ${tag}`,
        provider: 'anthropic',
        credential: `sk-fake.${tag}.ok`,
      });
      await expectOneInstant('accounts', account);
      const group = await admin<{ id: string }>('POST', '/groups', {
        name: `carpool ${tag}`,
        kind: 'carpool',
      });
      expect(group.status).toBe(201);
      const bound = await api<Stamped>(ADMIN_TOKEN, 'POST', `/groups/${group.json.id}/account`, {
        name: `bound ${tag}`,
        provider: 'anthropic',
        credential: `sk-fake.${tag}.ok`,
      });
      await expectOneInstant('accounts', bound);
    }
  });

  it('are equal for an alert endpoint and an alert rule', async () => {
    const group = await admin<{ id: string }>('POST', '/groups', { name: 'alerted', kind: 'carpool' });
    expect(group.status).toBe(201);
    for (let i = 0; i < TIMES; i++) {
      const endpoint = await admin<Stamped>('POST', `/groups/${group.json.id}/alerts/endpoints`, {
        name: `ops ${i}`,
        url: `https://hooks.test/hooks/stamped-${i}`,
        format: 'json',
      });
      await expectOneInstant('alert_endpoints', endpoint);
      const rule = await admin<Stamped>('POST', `/groups/${group.json.id}/alerts/rules`, {
        name: `rule ${i}`,
        kind: 'account.cooldowns',
        count: 3,
        windowMinutes: 60,
        endpointIds: [endpoint.json.id],
      });
      await expectOneInstant('alert_rules', rule);
    }
  });
});
