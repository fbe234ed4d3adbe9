// The client surfaces answer browsers: any origin, no credentials (a key is sent, never a cookie).
// Requests without an Origin (CLIs, SDKs outside a browser) get no CORS header at all.
import { describe, expect, it } from 'vitest';
import { fakeLog, RELAY, relayFetch, seedCarpool, streamMessage } from './support/relay';

const ORIGIN = 'https://chat.example.org';

describe('CORS on the client surfaces', () => {
  it('answers a preflight with the headers the browser asked for', async () => {
    const res = await relayFetch(`${RELAY}/v1/messages`, {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-api-key,anthropic-version,content-type',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('x-api-key,anthropic-version,content-type');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('marks a streamed answer, and an error, as readable by any origin', async () => {
    const carpool = await seedCarpool();
    const streamed = await streamMessage(carpool.key, { headers: { origin: ORIGIN } });
    expect(streamed.status).toBe(200);
    expect(streamed.headers.get('access-control-allow-origin')).toBe('*');
    expect(streamed.headers.get('access-control-expose-headers')).toBe('*');
    expect(await streamed.text()).toContain('event: message_stop');
    const [upstream] = await fakeLog(carpool.tag);
    expect(upstream!.headers.origin).toBeUndefined();

    const refused = await relayFetch(`${RELAY}/v1/messages`, {
      method: 'POST',
      headers: { origin: ORIGIN, 'x-api-key': 'cp-wrong', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe('*');
    expect(await refused.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });

  it('adds nothing to a request without an Origin', async () => {
    const carpool = await seedCarpool();
    const res = await streamMessage(carpool.key);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    await res.text();
  });
});
