// Compressed request bodies: Codex sends its Responses bodies as zstd (level 3) when it thinks it
// talks to OpenAI's own backend, and a proxy may gzip. The relay decodes them within
// MAX_BODY_BYTES decoded, forwards plain JSON, and refuses what it cannot decode in the client's
// dialect, before any upstream call.

import { env } from 'cloudflare:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { largestZstdWindow } from '../worker/relay/content-coding';
import {
  type Carpool,
  fakeLog,
  RELAY,
  relayFetch,
  requestLogFor,
  seedCarpool,
  seedCarpoolWith,
} from './support/relay';

const bytes = (base64: string) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));

/** A Codex Responses body (developer prompt, store false, prompt_cache_key), `zstd -3` of 1,806 bytes. */
const CODEX_ZSTD = bytes(
  'KLUv/WQOBs0GABKPLCBgaZsDmOjrt5KYlbXDjQiTkm7AGuAQSwiGcQPmhWEKDs2BsO9jcrkfFC5xqOppRPLZ0pbDRPVqUAQCAU5mjoB8sdRC9imYz+hLbrKintemEslPXDU6mqM5CmbisFUFXVBzNFaHybozHK6jAEziJorveb7Yk4CtocE5NM6w4DzVWfDAycjb+CLu63AZOf+wnXHWMI18hVK94uQ/Zr2ASN7lucTIjTNchgHDPoWT2xkqXggLAAWbyQ3afEVMax3NQ+/EbGIWs61JNKQ+VAkT4QqmumAUzD1VsL73',
);
/**
 * 2 MiB of JSON (twice the tests' MAX_BODY_BYTES) in 126 bytes: `zstd -3 --no-content-size
 * --zstd=wlog=19`, so its frame declares a 512 KiB window and no size: only decoding finds out.
 */
const ZSTD_BOMB = bytes(
  'KLUv/QRIVAEAFAJ7Im1vZGVsIjoiZ3B0LTUtY29kZXgiLCJpbnB1dCI6IiABAOH+z8ETAgAQIAIAECACABAgAgAQIAIAECACABAgAgAQIAIAECACABAgAgAQIAIAECACABAgAgAQIAIAECACABAgRQAAECJ9AQDFCxBSvv8y',
);
/** A frame that declares a 1 GiB window (and holds one empty block): refused before any allocation. */
const ZSTD_HUGE_WINDOW = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3, 0x01, 0x00, 0x00]);

function post(path: string, key: string, body: BodyInit, headers: Record<string, string>): Promise<Response> {
  return relayFetch(`${RELAY}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body,
  });
}

/** The official SDK's requests, compressed on their way out, as a compressing proxy sends them. */
function compressing(coding: 'gzip' | 'deflate'): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const body = await new Response(request.body!.pipeThrough(new CompressionStream(coding))).arrayBuffer();
    const headers = new Headers(request.headers);
    headers.set('content-encoding', coding);
    headers.delete('content-length');
    return relayFetch(request.url, { method: request.method, headers, body, signal: request.signal });
  };
}

async function refusedBeforeUpstream(carpool: Carpool, status: number): Promise<void> {
  const [row] = await requestLogFor(carpool.keyId, 1, { refused: true });
  expect(row).toMatchObject({ outcome: 'refused', status, input_tokens: 0, cost_micros: 0 });
  expect(await fakeLog(carpool.tag)).toEqual([]);
}

describe('a compressed request body', () => {
  it('zstd from Codex: decoded, streamed, metered, and forwarded as the plain JSON', async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai' });
    const res = await post('/v1/responses', carpool.key, CODEX_ZSTD, {
      'content-encoding': 'zstd',
      originator: 'codex_exec',
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('event: response.completed');
    const [upstream] = await fakeLog(carpool.tag);
    expect(upstream!.headers['content-encoding']).toBeUndefined();
    const forwarded = JSON.parse(upstream!.body) as {
      model: string;
      input: { content: { text: string }[] }[];
    };
    expect(forwarded.model).toBe('gpt-5-codex');
    expect(forwarded.input[1]!.content[0]!.text).toBe('zstd from codex');
    const [row] = await requestLogFor(carpool.keyId);
    expect(row).toMatchObject({ outcome: 'complete', status: 200, model: 'gpt-5-codex' });
    expect(row!.input_tokens).toBeGreaterThan(0);
  });

  it('gzip from the Anthropic SDK behind a compressing proxy: answered as if it were plain', async () => {
    const carpool = await seedCarpool();
    const client = new Anthropic({
      apiKey: carpool.key,
      baseURL: RELAY,
      fetch: compressing('gzip'),
      maxRetries: 0,
    });
    const message = await client.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'gzipped hello' }],
    });
    expect(message.content[0]).toMatchObject({ type: 'text' });
    const [upstream] = await fakeLog(carpool.tag);
    expect(JSON.parse(upstream!.body)).toMatchObject({ messages: [{ content: 'gzipped hello' }] });
    expect(upstream!.headers['content-encoding']).toBeUndefined();
  });

  it('deflate (zlib) from the OpenAI SDK: answered', async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai' });
    const client = new OpenAI({
      apiKey: carpool.key,
      baseURL: `${RELAY}/v1`,
      fetch: compressing('deflate'),
      maxRetries: 0,
    });
    const chat = await client.chat.completions.create({
      model: 'gpt-5',
      messages: [{ role: 'user', content: 'deflated' }],
    });
    expect(chat.choices[0]!.message.content).toBeTruthy();
    expect(JSON.parse((await fakeLog(carpool.tag))[0]!.body)).toMatchObject({
      messages: [{ content: 'deflated' }],
    });
  });

  it('that decodes to more than the body limit: 413 in the dialect, nothing sent', async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai' });
    const res = await post('/v1/responses', carpool.key, ZSTD_BOMB, { 'content-encoding': 'zstd' });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain(`${env.MAX_BODY_BYTES} bytes once decoded`);
    await refusedBeforeUpstream(carpool, 413);
  });

  it('whose zstd frame declares a window above the body limit: 413 before decoding', async () => {
    expect(largestZstdWindow(ZSTD_HUGE_WINDOW)).toBe(2 ** 30);
    const carpool = await seedCarpool();
    const res = await post('/v1/messages', carpool.key, ZSTD_HUGE_WINDOW, { 'content-encoding': 'zstd' });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
    await refusedBeforeUpstream(carpool, 413);
  });

  it('that is not what its coding says: 400 naming the coding', async () => {
    const carpool = await seedCarpool();
    const truncated = CODEX_ZSTD.slice(0, CODEX_ZSTD.length - 12);
    expect(largestZstdWindow(truncated)).toBeNull();
    const zstd = await post('/v1/messages', carpool.key, truncated, { 'content-encoding': 'zstd' });
    expect(zstd.status).toBe(400);
    expect(await zstd.json()).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringContaining('not valid zstd data') },
    });
    const gzip = await post('/v1/messages', carpool.key, '{"model":"claude-sonnet-4-5"}', {
      'content-encoding': 'gzip',
    });
    expect(gzip.status).toBe(400);
    expect(((await gzip.json()) as { error: { message: string } }).error.message).toContain(
      'not valid gzip data',
    );
    expect(await fakeLog(carpool.tag)).toEqual([]);
  });

  it('in a coding the relay does not decode: 415 in each dialect, before any upstream call', async () => {
    const carpool = await seedCarpool();
    const anthropic = await post('/v1/messages', carpool.key, 'x', { 'content-encoding': 'br' });
    expect(anthropic.status).toBe(415);
    expect(await anthropic.json()).toMatchObject({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message: expect.stringContaining('gzip, deflate, zstd or none'),
      },
    });
    const stacked = await post('/v1/chat/completions', carpool.key, 'x', {
      'content-encoding': 'gzip, zstd',
    });
    expect(stacked.status).toBe(415);
    expect(await stacked.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    const google = await relayFetch(`${RELAY}/v1beta/models/gemini-2.5-pro:generateContent`, {
      method: 'POST',
      headers: {
        'x-goog-api-key': carpool.key,
        'content-type': 'application/json',
        'content-encoding': 'br',
      },
      body: 'x',
    });
    expect(google.status).toBe(415);
    expect(await google.json()).toMatchObject({ error: { code: 415, status: 'INVALID_ARGUMENT' } });
    const [row] = await requestLogFor(carpool.keyId, 1, { refused: true });
    expect(row).toMatchObject({ outcome: 'refused', status: 415, error_type: 'unsupported_encoding' });
    expect(await fakeLog(carpool.tag)).toEqual([]);
  });
});
