// Budgets as their owners change them: time zones are IANA names, not offsets.
import { describe, expect, it } from 'vitest';
import { admin, seedCarpool } from './support/relay';

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
