// Scheduling policy layers: an enterprise's pool policy, then a group's override. An override
// names only the fields it changes, so the pool's other fields still hold for the group.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_POLICY,
  type PolicyOverrides,
  policyOverridesSchema,
  resolvePolicy,
  schedulingPolicySchema,
} from '../worker/scheduling/policy';
import { ADMIN_TOKEN, api, newUser } from './support/relay';

describe('policy overrides', () => {
  it('parse to only the fields given; a whole policy fills in the defaults', () => {
    expect(policyOverridesSchema.parse({ strategy: 'weighted' })).toEqual({ strategy: 'weighted' });
    expect(schedulingPolicySchema.parse({ maxAttempts: 1 })).toEqual({ ...DEFAULT_POLICY, maxAttempts: 1 });
    expect(policyOverridesSchema.safeParse({ strategy: 'weighted', stratgy: 'x' }).success).toBe(false);
  });

  it('a group overriding one field leaves the pool’s other fields in force', async () => {
    const owner = await newUser('Owner');
    const enterprise = await api<{ id: string; pools: Record<string, PolicyOverrides> }>(
      ADMIN_TOKEN,
      'POST',
      '/enterprises',
      { name: 'Layers', ownerId: owner.id, pools: { anthropic: { maxAttempts: 1, queueWaitMs: 500 } } },
    );
    expect(enterprise.status).toBe(201);
    expect(enterprise.json.pools).toEqual({ anthropic: { maxAttempts: 1, queueWaitMs: 500 } });

    const group = await api<{ id: string; scheduling: PolicyOverrides }>(owner.token, 'POST', '/groups', {
      name: 'Team',
      kind: 'enterprise',
      enterpriseId: enterprise.json.id,
      scheduling: { strategy: 'round_robin' },
    });
    expect(group.status).toBe(201);
    expect(group.json.scheduling).toEqual({ strategy: 'round_robin' });
    const changed = await api<{ scheduling: PolicyOverrides }>(
      owner.token,
      'PATCH',
      `/groups/${group.json.id}`,
      {
        scheduling: { sessionTtlMs: 60_000 },
      },
    );
    expect(changed.json.scheduling).toEqual({ sessionTtlMs: 60_000 });

    // What the group's gate was told, resolved as the gate resolves it for an anthropic request.
    const state = await api<{
      config: { pools: Record<string, PolicyOverrides>; scheduling: PolicyOverrides };
    }>(ADMIN_TOKEN, 'GET', `/groups/${group.json.id}/state`);
    expect(state.status).toBe(200);
    const policy = resolvePolicy(state.json.config.pools.anthropic, state.json.config.scheduling);
    expect(policy).toEqual({ ...DEFAULT_POLICY, maxAttempts: 1, queueWaitMs: 500, sessionTtlMs: 60_000 });
  });

  it('refuses an unknown field in an override, naming it', async () => {
    const owner = await newUser('Owner');
    const res = await api<{ error: { message: string } }>(owner.token, 'POST', '/groups', {
      name: 'Typo',
      kind: 'carpool',
      scheduling: { maxAtempts: 2 },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain('maxAtempts');
  });
});
