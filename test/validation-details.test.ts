// A refusal of the request's fields says each field and rule as data (`details`: ValidationIssue[]),
// beside the English message, so that the dashboard can say it in its reader's language.
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { ValidationIssue } from '../worker/api/errors';
import type { ApiErrorBody } from './support/groups';
import { ADMIN_TOKEN, admin, inIsolate, RELAY, seedCarpool } from './support/relay';

type Refusal = ApiErrorBody & { error: { details: ValidationIssue[] } };

const issueAt = (res: { json: Refusal }, path: string) => res.json.error.details.find((i) => i.path === path);

describe('validation refusals carry their issues', () => {
  it('bounds, allowed values, unknown fields and a missing field, each with its path and zod code', async () => {
    const res = await admin<Refusal>('POST', '/groups', {
      name: 'x'.repeat(101),
      kind: 'club',
      maxMembers: 0,
      colour: 'red',
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_request');
    // The English message is as before: it names each field and rule.
    expect(res.json.error.message).toMatch(/^Invalid json: .*name: /);
    expect(issueAt(res, 'name')).toEqual({
      path: 'name',
      code: 'too_big',
      message: expect.any(String),
      origin: 'string',
      maximum: 100,
      inclusive: true,
    });
    expect(issueAt(res, 'maxMembers')).toMatchObject({
      code: 'too_small',
      origin: 'number',
      minimum: 1,
      inclusive: true,
    });
    expect(issueAt(res, 'kind')).toMatchObject({ code: 'invalid_value', values: ['carpool', 'enterprise'] });
    expect(issueAt(res, '')).toMatchObject({ code: 'unrecognized_keys', keys: ['colour'] });

    const missing = await admin<Refusal>('POST', '/groups', { kind: 'carpool' });
    expect(issueAt(missing, 'name')).toMatchObject({
      code: 'invalid_type',
      expected: 'string',
      required: true,
    });
  });

  it('`required` is said from what the request held, not from zod’s English', async () => {
    // A field sent as null is there, of the wrong type: not `required`.
    const wrong = await admin<Refusal>('POST', '/groups', { name: null, kind: 'carpool' });
    expect(issueAt(wrong, 'name')).toEqual({
      path: 'name',
      code: 'invalid_type',
      expected: 'string',
      message: expect.any(String),
    });
    // A field missing inside an item of a list is required at its own path.
    const price = await admin<Refusal>('PUT', '/prices/some-model', {
      inputMicros: 1,
      outputMicros: 1,
      cacheWrite5mMicros: 1,
      cacheWrite1hMicros: 1,
      cacheReadMicros: 1,
      tiers: [{ inputMicros: 1, outputMicros: 1, cacheWrite5mMicros: 1, cacheWrite1hMicros: 1 }],
    });
    expect(price.status).toBe(400);
    expect(price.json.error.details).toEqual([
      expect.objectContaining({ path: 'tiers.0.cacheReadMicros', code: 'invalid_type', required: true }),
      expect.objectContaining({ path: 'tiers.0.aboveTokens', code: 'invalid_type', required: true }),
    ]);
    // zod in other words (the worker runs in this isolate, with this zod): still `required`.
    z.config(z.locales.de());
    try {
      const missing = await admin<Refusal>('POST', '/groups', { kind: 'carpool' });
      expect(issueAt(missing, 'name')?.message).not.toMatch(/received undefined/);
      expect(issueAt(missing, 'name')).toMatchObject({ code: 'invalid_type', required: true });
    } finally {
      z.config(z.locales.en());
    }
  });

  it('a rule of ours is `custom`, named by `rule`; a format by `format`', async () => {
    const res = await admin<Refusal>('POST', '/budgets', {
      scope: 'group',
      groupId: 'g',
      period: 'month',
      limitMicros: 1,
      timeZone: 'Mars/Olympus',
    });
    expect(res.status).toBe(400);
    expect(issueAt(res, 'timeZone')).toMatchObject({ code: 'custom', rule: 'time_zone' });

    const link = await admin<Refusal>('POST', '/accounts', {
      name: 'x',
      provider: 'openai-compatible',
      baseUrl: 'not a url',
      credential: 'sk-secret-never-echoed',
    });
    expect(link.status).toBe(400);
    expect(issueAt(link, 'baseUrl')).toMatchObject({ code: 'invalid_format', format: 'url' });
    // The input is never echoed into the details (a credential could be refused too).
    expect(JSON.stringify(link.json)).not.toContain('sk-secret');

    // A webhook URL's own rules, each named.
    const { groupId } = await seedCarpool();
    for (const [url, rule] of [
      ['http://hooks.example.com/x', 'https_only'],
      ['https://10.0.0.1/x', 'private_network'],
      ['https://user:pw@hooks.example.com/x', 'url_credentials'],
    ]) {
      const hook = await admin<Refusal>('POST', `/groups/${groupId}/alerts/endpoints`, {
        name: 'ops',
        url,
        format: 'json',
      });
      expect(hook.status, url).toBe(400);
      expect(issueAt(hook, 'url'), url).toMatchObject({ code: 'custom', rule });
      expect(JSON.stringify(hook.json), url).not.toContain(':pw@');
    }
  });

  it('each check of ours has its rule’s name: key rules, key bounds, prices, adjustments, members', async () => {
    const { groupId, userId } = await seedCarpool();
    const price = {
      inputMicros: 1,
      outputMicros: 1,
      cacheWrite5mMicros: 1,
      cacheWrite1hMicros: 1,
      cacheReadMicros: 1,
    };
    const enterprise = await admin<{ id: string }>('POST', '/enterprises', { name: 'Rules Inc' });
    expect(enterprise.status).toBe(201);
    const cases: [string, string, unknown, string, string][] = [
      [
        'POST',
        '/keys',
        { groupId, userId, allowedModels: ['claude-*-haiku'] },
        'allowedModels.0',
        'wildcard_at_end',
      ],
      ['POST', '/keys', { groupId, userId, allowedModels: ['*'] }, 'allowedModels.0', 'lone_wildcard'],
      [
        'POST',
        '/keys',
        { groupId, userId, allowedServices: ['openai', 'openai'] },
        'allowedServices',
        'each_once',
      ],
      [
        'POST',
        '/keys',
        { groupId, userId, allowedClients: ['claude-code', 'claude-code'] },
        'allowedClients',
        'each_once',
      ],
      [
        'POST',
        '/keys',
        { groupId, userId, allowedClients: [{ userAgent: '**' }] },
        'allowedClients.0.userAgent',
        'not_only_wildcards',
      ],
      [
        'PATCH',
        `/groups/${groupId}`,
        { keyBounds: { windowMinutes: 5 } },
        'keyBounds.windowMinutes',
        'window_needs_requests',
      ],
      [
        'PUT',
        '/prices/some-model',
        {
          ...price,
          tiers: [
            { ...price, aboveTokens: 200 },
            { ...price, aboveTokens: 100 },
          ],
        },
        'tiers',
        'ascending_tiers',
      ],
      ['PUT', '/prices/models%2Fgemini-x', price, 'model', 'models_prefix'],
      [
        'POST',
        `/groups/${groupId}/adjustments`,
        { userId, amountMicros: 0, reason: 'none' },
        'amountMicros',
        'not_zero',
      ],
      ['POST', `/enterprises/${enterprise.json.id}/members`, { role: 'member' }, 'userId', 'user_or_email'],
      [
        'POST',
        '/accounts',
        {
          name: 'x',
          provider: 'openai-compatible',
          preset: 'deepseek',
          baseUrl: 'https://a.test',
          credential: 'k',
        },
        'preset',
        'not_both',
      ],
      [
        'POST',
        '/accounts',
        { name: 'x', provider: 'anthropic', preset: 'deepseek', credential: 'k' },
        'preset',
        'not_for_kind',
      ],
      [
        'POST',
        '/accounts',
        { name: 'x', provider: 'claude-oauth', credential: 'k' },
        'provider',
        'sign_in_instead',
      ],
      [
        'POST',
        '/accounts',
        { name: 'x', provider: 'bedrock', credential: 'not json' },
        'credential',
        'bedrock_credential',
      ],
      [
        'POST',
        '/accounts',
        {
          name: 'x',
          provider: 'azure-openai',
          baseUrl: 'https://a.openai.azure.com/openai/deployments/d?api-version=2024-06-01',
          credential: 'k',
        },
        'baseUrl',
        'api_version',
      ],
    ];
    for (const [method, path, body, field, rule] of cases) {
      const res = await admin<Refusal>(method, path, body);
      expect(res.status, `${path} ${rule}: ${JSON.stringify(res.json)}`).toBe(400);
      expect(issueAt(res, field), `${path} ${rule}: ${JSON.stringify(res.json)}`).toMatchObject({
        code: 'custom',
        rule,
      });
    }
    // An account's base URL moved to another host without its credential.
    const { accountId } = await seedCarpool();
    const moved = await admin<Refusal>('PATCH', `/accounts/${accountId}`, {
      baseUrl: 'https://elsewhere.test',
    });
    expect(moved.status).toBe(400);
    expect(issueAt(moved, 'baseUrl')).toMatchObject({ code: 'custom', rule: 'credential_again' });
    // A provider that needs a base URL, without one: that field is required.
    const noBase = await admin<Refusal>('POST', '/accounts', {
      name: 'x',
      provider: 'openai-compatible',
      credential: 'k',
    });
    expect(issueAt(noBase, 'baseUrl')).toMatchObject({ code: 'invalid_type', required: true });
  });

  it('a key outside its group’s bounds: one issue per violation, with the bound', async () => {
    const { groupId, userId } = await seedCarpool();
    const bounds = await admin('PATCH', `/groups/${groupId}`, {
      keyBounds: {
        allowedModels: ['claude-haiku-*'],
        allowedServices: ['anthropic'],
        maxConcurrency: 2,
        maxLifetimeMs: 86_400_000,
      },
    });
    expect(bounds.status).toBe(200);
    const res = await admin<Refusal>('POST', '/keys', {
      groupId,
      userId,
      allowedModels: ['claude-haiku-4-5', 'claude-sonnet-4-5'],
      allowedServices: ['openai'],
      maxConcurrency: 3,
      activeForMs: 172_800_000,
    });
    expect(res.status).toBe(400);
    // The English message as before, naming each bound.
    expect(res.json.error.message).toBe(
      "Outside the group's key bounds: allowedModels: claude-sonnet-4-5 is outside keyBounds.allowedModels (claude-haiku-*); allowedServices: openai is outside keyBounds.allowedServices (anthropic); maxConcurrency: 3 is above keyBounds.maxConcurrency (2); activeForMs: the key would be valid longer than keyBounds.maxLifetimeMs (86400000 ms from its creation).",
    );
    const rule = { code: 'custom', rule: 'outside_key_bounds', message: expect.any(String) };
    expect(res.json.error.details).toEqual([
      { ...rule, path: 'allowedModels.1', values: ['claude-haiku-*'] },
      { ...rule, path: 'allowedServices.0', values: ['anthropic'] },
      { ...rule, path: 'maxConcurrency', maximum: 2 },
      { ...rule, path: 'activeForMs', maximum: 86_400_000 },
    ]);
  });

  it('a field refused by a domain rule past validation carries the same shape', async () => {
    const res = await admin<Refusal>('POST', '/budgets', { scope: 'group', period: 'month', limitMicros: 1 });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe('groupId is required for this scope.');
    expect(res.json.error.details).toEqual([
      { path: 'groupId', code: 'invalid_type', required: true, message: 'is required for this scope.' },
    ]);

    const carpool = await admin<Refusal>('POST', '/groups', {
      name: 'Carpool',
      kind: 'carpool',
      departmentId: 'd1',
    });
    expect(carpool.status).toBe(400);
    expect(carpool.json.error.details).toEqual([
      expect.objectContaining({ path: 'departmentId', code: 'custom', rule: 'not_for_kind' }),
    ]);
  });

  it('an unknown query parameter is refused like an unknown field, on both prefixes', async () => {
    // `actor` reads as a filter; accepted and ignored, the whole log would look like one person's.
    for (const prefix of ['/api/v1', '/admin/v1']) {
      const res = await inIsolate(`${RELAY}${prefix}/audit?limit=5&actor=u1&actions=user.update`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      const json = (await res.json()) as Refusal;
      expect(res.status, prefix).toBe(400);
      expect(json.error.code).toBe('invalid_request');
      expect(json.error.message).toMatch(/^Invalid query: /);
      expect(json.error.details).toEqual([
        { path: '', code: 'unrecognized_keys', keys: ['actor', 'actions'], message: expect.any(String) },
      ]);
    }
    const known = await admin('GET', '/audit?limit=5&action=user.update');
    expect(known.status).toBe(200);
  });

  it('the OIDC callback still takes the parameters a provider adds to its redirect', async () => {
    const res = await inIsolate(
      `${RELAY}/api/v1/auth/oidc/callback?code=c&state=s&iss=https%3A%2F%2Fidp.test&session_state=x&scope=openid&authuser=0`,
      { redirect: 'manual' },
    );
    const text = await res.text();
    expect(text).not.toContain('unrecognized_keys');
    expect(text).not.toContain('Invalid query');
  });
});
