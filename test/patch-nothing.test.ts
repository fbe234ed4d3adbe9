// A PATCH that names no field changes nothing and answers the resource as it is, for every
// resource (it used to be a 500: the ORM refuses an UPDATE with nothing to set).
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, seedCarpool } from './support/relay';

describe('PATCH with nothing to change', () => {
  it('answers 200 and the resource unchanged', async () => {
    const carpool = await seedCarpool();
    const enterprise = await api<{ id: string; name: string }>(ADMIN_TOKEN, 'POST', '/enterprises', {
      name: 'Unchanged',
    });
    const department = await api<{ id: string }>(
      ADMIN_TOKEN,
      'POST',
      `/enterprises/${enterprise.json.id}/departments`,
      { name: 'Ops' },
    );
    const budget = await api<{ id: string }>(ADMIN_TOKEN, 'POST', '/budgets', {
      scope: 'group',
      groupId: carpool.groupId,
      period: 'month',
      limitMicros: 5_000_000,
    });
    for (const [path, field, value] of [
      [`/groups/${carpool.groupId}`, 'id', carpool.groupId],
      [`/enterprises/${enterprise.json.id}`, 'name', 'Unchanged'],
      [`/departments/${department.json.id}`, 'name', 'Ops'],
      [`/budgets/${budget.json.id}`, 'limitMicros', 5_000_000],
    ] as const) {
      const res = await api<Record<string, unknown>>(ADMIN_TOKEN, 'PATCH', path, {});
      expect(res.status, `${path}: ${JSON.stringify(res.json)}`).toBe(200);
      expect(res.json[field]).toBe(value);
    }
  });
});
