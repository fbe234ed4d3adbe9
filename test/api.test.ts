// The API for people: one contract (OpenAPI 3.1 from the route schemas), principals from the
// operator token or a personal access token, and the permission table deciding what each sees.
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, inIsolate, newUser, RELAY } from './support/relay';

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { 'x-permission'?: string; responses: Record<string, unknown> }>>;
}

describe('the contract', () => {
  it('is an OpenAPI 3.1 document in which every operation names the permission it needs', async () => {
    const { status, json } = await api<OpenApiDocument>(null, 'GET', '/openapi.json');
    expect(status).toBe(200);
    expect(json.openapi).toBe('3.1.0');
    const operations = Object.entries(json.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({ path, method, op })),
    );
    expect(operations.length).toBeGreaterThan(4);
    for (const { path, method, op } of operations) {
      expect(op['x-permission'], `${method} ${path}`).toBeTruthy();
      expect(Object.keys(op.responses), `${method} ${path}`).toContain('400');
    }
  });
});

describe('principals', () => {
  it('anonymous is 401; a personal access token acts as its user; a revoked one is 401', async () => {
    expect((await api(null, 'GET', '/me')).status).toBe(401);
    expect((await api('cpat_0000000000000000000000000000000000000000', 'GET', '/me')).status).toBe(401);
    const ana = await newUser('Ana');
    const me = await api<{ userId: string; via: string }>(ana.token, 'GET', '/me');
    expect(me).toMatchObject({ status: 200, json: { userId: ana.id, via: 'token' } });
    // A token cannot make another (that takes a sign-in: auth.test.ts); the operator makes one.
    const minted = await api<{ error: { details: unknown } }>(ana.token, 'POST', '/me/tokens', {
      name: 'ci',
    });
    expect(minted).toMatchObject({ status: 403, json: { error: { details: { status: 'sign_in_again' } } } });
    const second = await api<{ id: string; token: string }>(ADMIN_TOKEN, 'POST', `/users/${ana.id}/tokens`, {
      name: 'ci',
    });
    expect(second.status).toBe(201);
    const listed = await api<{ data: { id: string; prefix: string }[] }>(ana.token, 'GET', '/me/tokens');
    expect(listed.json.data.map((t) => t.id)).toContain(second.json.id);
    expect(JSON.stringify(listed.json)).not.toContain(second.json.token);
    expect((await api(ana.token, 'DELETE', `/me/tokens/${second.json.id}`)).status).toBe(200);
    expect((await api(second.json.token, 'GET', '/me')).status).toBe(401);
  });

  it('a person cannot mint tokens for someone else; the operator can', async () => {
    const ana = await newUser('Ana');
    const bob = await newUser('Bob');
    expect((await api(ana.token, 'POST', `/users/${bob.id}/tokens`, { name: 'x' })).status).toBe(404);
    expect((await api(ADMIN_TOKEN, 'POST', `/users/${bob.id}/tokens`, { name: 'x' })).status).toBe(201);
  });
});

describe('enterprises', () => {
  it('are created by a system admin, seen by members, changed by owners, invisible to others', async () => {
    const owner = await newUser('Owner');
    const stranger = await newUser('Stranger');
    const created = await api<{ id: string }>(ADMIN_TOKEN, 'POST', '/enterprises', {
      name: 'Acme',
      ownerId: owner.id,
    });
    expect(created.status).toBe(201);
    const id = created.json.id;
    expect((await api(owner.token, 'POST', '/enterprises', { name: 'Mine' })).status).toBe(404);
    expect((await api(owner.token, 'GET', `/enterprises/${id}`)).status).toBe(200);
    const listed = await api<{ data: { id: string }[] }>(owner.token, 'GET', '/enterprises');
    expect(listed.json.data.map((e) => e.id)).toEqual([id]);
    expect((await api(stranger.token, 'GET', `/enterprises/${id}`)).status).toBe(404);
    expect((await api<{ data: unknown[] }>(stranger.token, 'GET', '/enterprises')).json.data).toEqual([]);
    expect((await api(stranger.token, 'PATCH', `/enterprises/${id}`, { name: 'Mine now' })).status).toBe(404);
    const renamed = await api<{ name: string }>(owner.token, 'PATCH', `/enterprises/${id}`, {
      name: 'Acme Inc',
    });
    expect(renamed).toMatchObject({ status: 200, json: { name: 'Acme Inc' } });
  });

  it('refuses unknown fields by name', async () => {
    const res = await api<{ error: { message: string } }>(ADMIN_TOKEN, 'POST', '/enterprises', {
      name: 'Acme',
      colour: 'red',
    });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain('colour');
  });

  it('answers a body that is not JSON with 415 in the one envelope', async () => {
    const res = await inIsolate(`${RELAY}/api/v1/enterprises`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/plain' },
      body: JSON.stringify({ name: 'Plain text Ltd' }),
    });
    expect(res.status).toBe(415);
    const body = (await res.json()) as { error: { code: string; message: string; requestId: string } };
    expect(body.error).toMatchObject({ code: 'unsupported_media_type', requestId: expect.any(String) });
    expect(body.error.message).toContain('text/plain');
    const listed = await api<{ data: { name: string }[] }>(ADMIN_TOKEN, 'GET', '/enterprises');
    expect(listed.json.data.map((e) => e.name)).not.toContain('Plain text Ltd');
  });
});
