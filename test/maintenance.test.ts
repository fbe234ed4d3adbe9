// The cron's work (worker/maintenance.ts), run by the scheduled handler and on demand through
// POST /admin/v1/maintenance: it closes a month that is over, says what it did, and does nothing
// twice. (Each task's own rules are in cron.test.ts, alerts.test.ts and request-log.test.ts.)
import {
  createExecutionContext,
  createScheduledController,
  env,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../worker/index';
import { admin, api, newUser } from './support/relay';

const DAY = 86_400_000;

/** A bare group (no members, no account: a zero bill) created long enough ago for last month to be due. */
async function oldGroup(id: string): Promise<void> {
  await env.DB.prepare('INSERT INTO groups (id, name, kind, time_zone, created_at) VALUES (?, ?, ?, ?, ?)')
    .bind(id, id, 'carpool', 'UTC', Date.now() - 90 * DAY)
    .run();
}

async function statementsOf(groupId: string): Promise<{ month: string; closed_by: string }[]> {
  const { results } = await env.DB.prepare('SELECT month, closed_by FROM statements WHERE group_id = ?')
    .bind(groupId)
    .all<{ month: string; closed_by: string }>();
  return results;
}

describe('maintenance', () => {
  it('runs the cron’s work for a system admin, and says what it did', async () => {
    await oldGroup('maint-now');
    const first = await admin<{ monthsClosed: number; failed: string[] }>('POST', '/maintenance');
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({
      alertDeliveriesRequeued: expect.any(Number),
      requestLogRowsDeleted: expect.any(Number),
      budgetsChecked: expect.any(Number),
      failed: [],
    });
    expect(first.json.monthsClosed).toBeGreaterThanOrEqual(1);
    expect(await statementsOf('maint-now')).toEqual([{ month: expect.any(String), closed_by: 'cron' }]);
    // Nothing is due twice.
    await admin('POST', '/maintenance');
    expect(await statementsOf('maint-now')).toHaveLength(1);
    // Nobody else may run it.
    const person = await newUser('Pat');
    expect((await api(person.token, 'POST', '/maintenance')).status).toBe(404);
  });

  it('is what the scheduled handler runs', async () => {
    await oldGroup('maint-cron');
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '*/10 * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await statementsOf('maint-cron')).toEqual([{ month: expect.any(String), closed_by: 'cron' }]);
  });
});
