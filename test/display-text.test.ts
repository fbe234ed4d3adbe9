// Names people read are text, not bytes: control characters and names made only of zero-width or
// space characters are refused (400, naming the field); emoji sequences joined with zero-width
// joiners are names like any other.
import { describe, expect, it } from 'vitest';
import { api, newUser } from './support/relay';

describe('display names', () => {
  it('refuse control characters and invisible names, keep emoji', async () => {
    const person = await newUser('Plain');
    for (const name of ['\u0000', 'Olga\u0000', 'two\nlines', '\u200b', '\u200b\u200d\u00a0']) {
      const res = await api<{ error: { code: string; message: string } }>(person.token, 'PATCH', '/me', {
        name,
      });
      expect(res.status, JSON.stringify(name)).toBe(400);
      expect(res.json.error).toMatchObject({
        code: 'invalid_request',
        message: expect.stringMatching(/name/),
      });
    }
    const family = 'Olga 👩\u200d👩\u200d👧';
    const ok = await api<{ name: string }>(person.token, 'PATCH', '/me', { name: family });
    expect(ok).toMatchObject({ status: 200, json: { name: family } });
    const group = await api(person.token, 'POST', '/groups', { name: '\u200b', kind: 'carpool' });
    expect(group.status).toBe(400);
    const made = await api<{ id: string }>(person.token, 'POST', '/groups', {
      name: 'Crew',
      kind: 'carpool',
    });
    const key = await api(person.token, 'POST', `/groups/${made.json.id}/keys`, { name: 'lap\u0000top' });
    expect(key.status).toBe(400);
  });
});
