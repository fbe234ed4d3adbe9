// Nothing of the member's or the account's leaks across the relay: headers cross by each
// provider's allow-list in both directions, a key in the URL is taken on the Gemini surface only
// and never forwarded, and over-long model names are refused before any upstream call.
import { env } from 'cloudflare:test';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { MODEL_NAME_MAX } from '../worker/limits';
import { allows } from '../worker/providers/headers';
import { allAdapters } from '../worker/providers/registry';
import { type UsageEvent, usageEvent, usageEventSchema } from '../worker/queue/usage-event';
import { PROJECT_NUMBER } from './fake-upstream/gemini';
import { type Kind, subscriptionCarpool } from './support/oauth';
import {
  admin,
  anthropicClient,
  type Carpool,
  fakeLog,
  RELAY,
  relayFetch,
  requestLogFor,
  seedCarpool,
  seedCarpoolWith,
  seedEnterprise,
  streamMessage,
  withRelayFetch,
} from './support/relay';

/** What a member's machine, its network and Cloudflare's edge put on a request. None may cross. */
const MEMBER_HEADERS: Record<string, string> = {
  'openai-organization': 'org-member0000000000000000',
  'openai-project': 'proj_member00000000000000000',
  forwarded: 'for=203.0.113.7;proto=https',
  cookie: 'session=member-secret',
  'x-forwarded-for': '203.0.113.7',
  'x-forwarded-proto': 'https',
  'x-real-ip': '203.0.113.7',
  'cf-connecting-ip': '203.0.113.7',
  'cf-ipcountry': 'FR',
  'true-client-ip': '203.0.113.7',
  'accept-encoding': 'gzip, deflate, br, zstd',
  'x-foo': 'bar',
  'x-stainless-os': 'Linux',
  'x-stainless-runtime-version': 'v20.19.0',
  'x-goog-user-project': 'member-billing-project',
  'x-goog-quota-user': 'ana@example.com',
  'x-goog-fieldmask': 'candidates',
  'anthropic-dangerous-direct-browser-access': 'true',
};

/** What upstreams answer about the account, besides what their documented headers say. */
const ACCOUNT_HEADERS = [
  'anthropic-organization-id',
  'openai-organization',
  'openai-project',
  'set-cookie',
  'x-ms-region',
  'x-ms-deployment-name',
  'azureml-model-session',
  'server',
  'cf-ray',
  'via',
];

const ANTHROPIC_RATE_LIMITS = ['requests', 'input-tokens', 'output-tokens', 'tokens'].flatMap((kind) =>
  ['limit', 'remaining', 'reset'].map((part) => `anthropic-ratelimit-${kind}-${part}`),
);
const OPENAI_RATE_LIMITS = ['limit', 'remaining', 'reset'].flatMap((part) =>
  ['requests', 'tokens'].map((kind) => `x-ratelimit-${part}-${kind}`),
);
const AZURE_RATE_LIMITS = ['limit', 'remaining'].flatMap((part) =>
  ['requests', 'tokens'].map((kind) => `x-ratelimit-${part}-${kind}`),
);

/** What the platform adds to every outbound request (workerd in tests, Cloudflare in production). */
const TRANSPORT = ['content-length', 'cf-worker'];

const anthropicBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    model: 'claude-sonnet-4-5',
    max_tokens: 32,
    messages: [{ role: 'user', content: 'hygiene' }],
    ...extra,
  });
const chatBody = JSON.stringify({ model: 'gpt-5', messages: [{ role: 'user', content: 'hygiene' }] });

const ANTHROPIC_CLIENT = {
  'anthropic-version': '2026-10-21',
  'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14',
  'x-app': 'cli',
  'x-claude-code-session-id': '0b5c1c7e-3f39-4d8a-9a52-4f3c2b1d0e9f',
  'idempotency-key': 'idem-0001',
  'user-agent': 'claude-cli/2.1.7 (external, cli)',
  accept: 'application/json',
  'content-type': 'application/json',
};
const OPENAI_CLIENT = {
  'openai-beta': 'responses=v1',
  'x-client-request-id': '4b7e3a62-0f0e-4a38-9c59-ef1c2a1e6d11',
  'idempotency-key': 'idem-0002',
  'user-agent': 'OpenAI/JS 6.30.1',
  accept: 'application/json',
  'content-type': 'application/json',
};

interface Case {
  provider: string;
  account: Record<string, unknown>;
  path: string;
  body: string;
  /** How the member's client sends its key. */
  auth: (key: string) => Record<string, string>;
  /** Headers the provider reads: they must arrive upstream exactly as sent. */
  allowed: Record<string, string>;
  /** Headers the adapter itself sets (the account's credential, a signature). */
  own: string[];
  /** Every header name the client must see, and no other. */
  downstream: string[];
  /** A subscription account: signed in (test/support/oauth.ts) instead of seeded with a key. */
  signIn?: Kind;
}

const bedrockCredential = JSON.stringify({
  accessKeyId: 'sk-fake.{tag}.ok',
  secretAccessKey: 'test-secret-access-key',
  region: 'us-east-1',
});

const CASES: Case[] = [
  {
    provider: 'anthropic',
    account: { provider: 'anthropic' },
    path: '/v1/messages?beta=true',
    body: anthropicBody({ stream: true }),
    auth: (key) => ({ 'x-api-key': key }),
    allowed: ANTHROPIC_CLIENT,
    own: ['x-api-key'],
    downstream: ['content-type', 'cache-control', 'request-id', ...ANTHROPIC_RATE_LIMITS],
  },
  {
    provider: 'anthropic-compatible',
    // A custom endpoint serves only the models its account lists.
    account: {
      provider: 'anthropic-compatible',
      baseUrl: 'https://llm.vendor.example',
      supportedModels: ['claude-*'],
    },
    path: '/v1/messages',
    body: anthropicBody(),
    auth: (key) => ({ authorization: `Bearer ${key}` }),
    allowed: ANTHROPIC_CLIENT,
    own: ['x-api-key', 'authorization'],
    downstream: ['content-type', 'request-id', ...ANTHROPIC_RATE_LIMITS],
  },
  {
    provider: 'openai',
    account: { provider: 'openai' },
    path: '/v1/chat/completions',
    body: chatBody,
    auth: (key) => ({ authorization: `Bearer ${key}` }),
    allowed: OPENAI_CLIENT,
    own: ['authorization'],
    downstream: [
      'content-type',
      'x-request-id',
      'openai-version',
      'openai-processing-ms',
      ...OPENAI_RATE_LIMITS,
    ],
  },
  {
    provider: 'openai-compatible',
    account: { provider: 'openai-compatible', preset: 'kimi' },
    path: '/v1/chat/completions',
    // A model of the preset's family (Kimi serves kimi-*, not gpt-*).
    body: JSON.stringify({ model: 'kimi-k2-0905-preview', messages: [{ role: 'user', content: 'hygiene' }] }),
    auth: (key) => ({ authorization: `Bearer ${key}` }),
    allowed: OPENAI_CLIENT,
    own: ['authorization'],
    downstream: [
      'content-type',
      'x-request-id',
      'openai-version',
      'openai-processing-ms',
      ...OPENAI_RATE_LIMITS,
    ],
  },
  {
    provider: 'azure-openai',
    account: {
      provider: 'azure-openai',
      baseUrl: 'https://contoso.openai.azure.com?api-version=2024-10-21',
      modelMapping: { 'gpt-5': 'contoso-gpt5' },
    },
    path: '/v1/chat/completions',
    body: chatBody,
    auth: (key) => ({ authorization: `Bearer ${key}` }),
    allowed: {
      'x-ms-client-request-id': '9d0f6b0e-5a43-4e49-8f0c-1f1d3b6c2a77',
      'user-agent': 'AzureOpenAI/JS 6.30.1',
      accept: 'application/json',
      'content-type': 'application/json',
    },
    own: ['api-key'],
    downstream: [
      'content-type',
      'x-request-id',
      'apim-request-id',
      'x-ms-client-request-id',
      ...AZURE_RATE_LIMITS,
    ],
  },
  {
    provider: 'gemini',
    account: { provider: 'gemini' },
    path: '/v1beta/models/gemini-2.5-flash:generateContent',
    body: JSON.stringify({ contents: [{ parts: [{ text: 'hygiene' }] }] }),
    auth: (key) => ({ 'x-goog-api-key': key }),
    allowed: {
      'x-goog-api-client': 'google-genai-sdk/2.32.0 gl-node/v20.19.0',
      'user-agent': 'google-genai-sdk/2.32.0 gl-node/v20.19.0',
      accept: 'application/json',
      'content-type': 'application/json',
    },
    own: ['x-goog-api-key'],
    downstream: ['content-type'],
  },
  {
    provider: 'claude-oauth',
    signIn: 'claude-oauth',
    account: {},
    path: '/v1/messages?beta=true',
    body: anthropicBody({ stream: true }),
    auth: (key) => ({ 'x-api-key': key }),
    // `anthropic-beta` gains the OAuth beta: the adapter's own, with the client's betas after it.
    allowed: Object.fromEntries(
      Object.entries(ANTHROPIC_CLIENT).filter(([name]) => name !== 'anthropic-beta'),
    ),
    own: ['authorization', 'anthropic-beta'],
    downstream: ['content-type', 'cache-control', 'request-id', ...ANTHROPIC_RATE_LIMITS],
  },
  {
    provider: 'codex-oauth',
    signIn: 'codex-oauth',
    account: {},
    path: '/v1/responses',
    body: JSON.stringify({ model: 'gpt-5-codex', input: 'hygiene', instructions: 'Be brief.', store: false }),
    auth: (key) => ({ authorization: `Bearer ${key}` }),
    allowed: {
      'openai-beta': 'responses=experimental',
      originator: 'codex_cli_rs',
      session_id: '5a1e7c9e-0d3b-4c1f-9f0e-2b7d6a8c4e11',
      'x-client-request-id': '1c0f4a8e-7b5d-4e2a-9c3f-6d8b0a2e4f57',
      'user-agent': 'codex_cli_rs/0.58.0',
      accept: 'text/event-stream',
      'content-type': 'application/json',
    },
    own: ['authorization', 'chatgpt-account-id'],
    downstream: ['content-type', 'x-request-id'],
  },
  {
    provider: 'bedrock',
    account: {
      provider: 'bedrock',
      credential: bedrockCredential,
      modelMapping: { 'claude-sonnet-4-5': 'us.anthropic.claude-sonnet-4-5-20250929-v1:0' },
    },
    path: '/v1/messages',
    body: anthropicBody(),
    auth: (key) => ({ 'x-api-key': key }),
    // AWS reads no client header; `anthropic-beta` moves into the body.
    allowed: {},
    own: ['authorization', 'x-amz-date', 'content-type', 'accept'],
    downstream: [
      'content-type',
      'x-amzn-requestid',
      'x-amzn-bedrock-input-token-count',
      'x-amzn-bedrock-output-token-count',
      'x-amzn-bedrock-invocation-latency',
    ],
  },
];

describe('headers cross by allow-list, both ways, for every provider', () => {
  it.each(CASES)('$provider', async (test) => {
    const carpool = test.signIn
      ? await subscriptionCarpool(test.signIn)
      : await seedCarpoolWith(test.account);
    const sent = { ...MEMBER_HEADERS, ...ANTHROPIC_CLIENT, ...OPENAI_CLIENT, ...test.allowed };
    const res = await relayFetch(`${RELAY}${test.path}`, {
      method: 'POST',
      headers: { ...sent, ...test.auth(carpool.key) },
      body: test.body,
    });
    expect(res.status).toBe(200);
    await res.text();

    const [upstream] = await fakeLog(carpool.tag);
    const expectedUp = [...Object.keys(test.allowed), ...test.own, ...TRANSPORT];
    expect(Object.keys(upstream!.headers).sort()).toEqual([...new Set(expectedUp)].sort());
    for (const [name, value] of Object.entries(test.allowed)) expect(upstream!.headers[name]).toBe(value);
    expect(JSON.stringify(upstream)).not.toContain(carpool.key);
    if (test.provider === 'bedrock') {
      expect(JSON.parse(upstream!.body).anthropic_beta).toEqual(
        ANTHROPIC_CLIENT['anthropic-beta'].split(','),
      );
    }

    const seen = [...res.headers.keys()];
    expect(seen.sort()).toEqual([...test.downstream, 'x-carpool-request-id'].sort());
    for (const name of ACCOUNT_HEADERS) expect(res.headers.has(name)).toBe(false);
  });

  it('an upstream error passes its retry and rate-limit headers, not the account', async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai', credential: 'sk-fake.{tag}.429' });
    const res = await relayFetch(`${RELAY}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${carpool.key}`, 'content-type': 'application/json' },
      body: chatBody,
    });
    expect(res.status).toBe(429);
    // The message stays, the organisation it names does not.
    const text = await res.text();
    expect(text).toContain('Rate limit reached in organization org-… on requests per min');
    expect(text).not.toContain('Fake0Aicarpool0Org');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    for (const name of ACCOUNT_HEADERS) expect(res.headers.has(name)).toBe(false);
  });

  it('a Gemini quota error names no Google Cloud project, in its message or its details', async () => {
    const carpool = await seedCarpoolWith({ provider: 'gemini', credential: 'sk-fake.{tag}.429' });
    const res = await relayFetch(`${RELAY}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': carpool.key, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
    });
    expect(res.status).toBe(429);
    const text = await res.text();
    expect(text).toContain("for consumer 'project_number:…'");
    expect(text).toContain('"consumer":"projects/…"');
    expect(text).not.toContain(PROJECT_NUMBER);
    // The retry delay the client reads is still there.
    expect(text).toContain('google.rpc.RetryInfo');
  });

  it('an Anthropic error names no organisation, and an account out of credit fails over', async () => {
    const limited = await seedCarpool({ scenario: '429.60' });
    const res = await streamMessage(limited.key);
    expect(res.status).toBe(429);
    const text = await res.text();
    expect(text).toContain('would exceed the rate limit for your organization (…) of 4,000 requests');
    expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);

    // "Your credit balance is too low" is Anthropic's 400 for an account, not for the request.
    const pool = await seedEnterprise([{ scenario: '400', priority: 1 }, { priority: 2 }]);
    const served = await streamMessage(pool.key);
    expect(served.status).toBe(200);
    expect(served.headers.get('x-carpool-attempts')).toBe('2');
    await served.text();
    const gate = env.ACCOUNT_GATE.get(env.ACCOUNT_GATE.idFromName(`account:${pool.accounts[0]!.id}`));
    expect((await gate.state()).cooldownUntil).toBeGreaterThan(Date.now());
  });

  it('no adapter allows a credential, an identity or an address header', () => {
    const never = {
      upstream: [
        'authorization',
        'x-api-key',
        'api-key',
        'x-goog-api-key',
        'cookie',
        'host',
        'content-length',
        'accept-encoding',
        'x-amz-security-token',
        ...Object.keys(MEMBER_HEADERS),
      ],
      downstream: [
        'content-length',
        'content-encoding',
        'transfer-encoding',
        'connection',
        ...ACCOUNT_HEADERS,
      ],
    };
    for (const adapter of allAdapters()) {
      for (const direction of ['upstream', 'downstream'] as const) {
        for (const name of adapter.headers[direction]) expect(name).toBe(name.toLowerCase());
        const leaked = never[direction].filter((name) => allows(adapter.headers[direction], name));
        expect({ adapter: adapter.kind, direction, leaked }).toEqual({
          adapter: adapter.kind,
          direction,
          leaked: [],
        });
      }
    }
  });
});

function openaiClient(key: string): OpenAI {
  return new OpenAI({ apiKey: key, baseURL: `${RELAY}/v1`, fetch: relayFetch, maxRetries: 0 });
}

async function noUpstreamCall(carpool: Carpool): Promise<void> {
  expect(await fakeLog(carpool.tag)).toEqual([]);
}

describe('?key= is a credential on the Gemini surface only, and never forwarded', () => {
  it("Gemini: taken from the URL; upstream gets its own key, only alt=sse and a list's paging", async () => {
    const carpool = await seedCarpoolWith({ provider: 'gemini' });
    const query = `key=${carpool.key}&%24fields=candidates&quotaUser=ana&prettyPrint=false`;
    const streamed = await relayFetch(
      `${RELAY}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&${query}`,
      { method: 'POST', body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }) },
    );
    expect(streamed.status).toBe(200);
    await streamed.text();
    const listed = await relayFetch(`${RELAY}/v1beta/models?${query}&pageSize=5&pageToken=p2`);
    expect(listed.status).toBe(200);
    await listed.text();
    // A stream asked without alt=sse (Google's JSON array) is refused, in Google's shape.
    const arrayed = await relayFetch(
      `${RELAY}/v1beta/models/gemini-2.5-flash:streamGenerateContent?${query}`,
      {
        method: 'POST',
        body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }),
      },
    );
    expect(arrayed.status).toBe(400);
    const keyless = await relayFetch(`${RELAY}/v1beta/models`);
    expect(((await keyless.json()) as { error: { message: string } }).error.message).toContain(
      'x-goog-api-key',
    );
    expect(((await arrayed.json()) as { error: { message: string } }).error.message).toContain('?alt=sse');
    const log = await fakeLog(carpool.tag);
    expect(log.map((entry) => entry.search)).toEqual(['?alt=sse', '?pageSize=5&pageToken=p2']);
    expect(log[0]!.headers['x-goog-api-key']).toBe(`sk-fake.${carpool.tag}.ok`);
    expect(JSON.stringify(log)).not.toContain(carpool.key);
  });

  it('Anthropic: a URL key is no key (401 in its dialect), and the query keeps only beta', async () => {
    const carpool = await seedCarpoolWith({ provider: 'anthropic' });
    const refused = await relayFetch(`${RELAY}/v1/messages?beta=true&key=${carpool.key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: anthropicBody(),
    });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    await noUpstreamCall(carpool);

    const headers = { 'x-api-key': carpool.key, 'content-type': 'application/json' };
    const message = await relayFetch(`${RELAY}/v1/messages?beta=true&key=${carpool.key}&foo=1`, {
      method: 'POST',
      headers,
      body: anthropicBody(),
    });
    const counted = await relayFetch(`${RELAY}/v1/messages/count_tokens?key=cp-elsewhere&beta=true`, {
      method: 'POST',
      headers,
      body: anthropicBody(),
    });
    const models = await relayFetch(`${RELAY}/v1/models?limit=2&key=${carpool.key}&after_id=x`, {
      headers: { 'x-api-key': carpool.key, 'anthropic-version': '2023-06-01' },
    });
    for (const res of [message, counted, models]) {
      expect(res.status).toBe(200);
      await res.text();
    }
    const log = await fakeLog(carpool.tag);
    expect(log.map((entry) => entry.search)).toEqual(['?beta=true', '?beta=true', '?limit=2&after_id=x']);
    expect(JSON.stringify(log)).not.toContain(carpool.key);
    expect(JSON.stringify(log)).not.toContain('cp-elsewhere');
  });

  it('OpenAI: a URL key is no key (401 in its dialect) on every route, and is never forwarded', async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai' });
    for (const [method, path, body] of [
      ['POST', '/v1/chat/completions', chatBody],
      ['POST', '/v1/responses', JSON.stringify({ model: 'gpt-5', input: 'hi' })],
      ['GET', '/v1/models', undefined],
    ] as const) {
      const res = await relayFetch(`${RELAY}${path}?key=${carpool.key}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    }
    await noUpstreamCall(carpool);
    // A key the relay does not know carries OpenAI's own code for it.
    const unknown = await relayFetch(`${RELAY}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${carpool.key.slice(0, -4)}0000`,
        'content-type': 'application/json',
      },
      body: chatBody,
    });
    expect(await unknown.json()).toMatchObject({ error: { code: 'invalid_api_key' } });

    const ok = await relayFetch(`${RELAY}/v1/chat/completions?key=${carpool.key}&api-version=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${carpool.key}`, 'content-type': 'application/json' },
      body: chatBody,
    });
    expect(ok.status).toBe(200);
    await ok.text();
    const [upstream] = await fakeLog(carpool.tag);
    expect(upstream!.search).toBe('');
    expect(JSON.stringify(upstream)).not.toContain(carpool.key);
  });
});

describe('model names are bounded', () => {
  const tooLong = 'm'.repeat(MODEL_NAME_MAX + 1);
  // The size that was once served and then never metered: its usage event outgrew a Queue message.
  const huge = 'm'.repeat(140 * 1024);

  it('Anthropic: 400 in its dialect, before any upstream call', async () => {
    const carpool = await seedCarpoolWith({ provider: 'anthropic' });
    for (const model of [tooLong, huge]) {
      const error = await anthropicClient(carpool.key)
        .messages.create({ model, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
        .catch((err: unknown) => err);
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({
        status: 400,
        error: { type: 'error', error: { type: 'invalid_request_error' } },
      });
      expect((error as Error).message).toContain(`at most ${MODEL_NAME_MAX} characters`);
    }
    await noUpstreamCall(carpool);
  });

  it('OpenAI chat and Responses: 400 in its dialect, before any upstream call', async () => {
    const carpool = await seedCarpoolWith({ provider: 'openai' });
    const client = openaiClient(carpool.key);
    const attempts = [
      client.chat.completions.create({ model: tooLong, messages: [{ role: 'user', content: 'hi' }] }),
      client.responses.create({ model: huge, input: 'hi' }),
    ];
    for (const attempt of attempts) {
      const error = await attempt.catch((err: unknown) => err);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({
        type: 'invalid_request_error',
        message: expect.stringContaining(`at most ${MODEL_NAME_MAX} characters`),
      });
    }
    await noUpstreamCall(carpool);
  });

  it('Gemini: a model in the path is bounded too, 400 in the Google shape', async () => {
    const carpool = await seedCarpoolWith({ provider: 'gemini' });
    const ai = new GoogleGenAI({ apiKey: carpool.key, httpOptions: { baseUrl: RELAY } });
    const error = await withRelayFetch(() =>
      ai.models.generateContent({ model: tooLong, contents: 'hi' }),
    ).catch((err: unknown) => err);
    expect(error).toMatchObject({ status: 400 });
    const res = await relayFetch(`${RELAY}/v1beta/models/${tooLong}:countTokens`, {
      method: 'POST',
      headers: { 'x-goog-api-key': carpool.key },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringContaining(`${MODEL_NAME_MAX}`) },
    });
    await noUpstreamCall(carpool);
  });

  it('a name at the bound is served and metered whole', async () => {
    const carpool = await seedCarpoolWith({ provider: 'anthropic' });
    const model = `claude-${'x'.repeat(MODEL_NAME_MAX - 'claude-'.length)}`;
    await anthropicClient(carpool.key).messages.create({
      model,
      max_tokens: 8,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const [row] = await requestLogFor(carpool.keyId);
    expect(row!.model).toBe(model);
  });

  it('an account cannot map to or list a name longer than a client may send', async () => {
    for (const fields of [{ modelMapping: { 'gpt-5': tooLong } }, { supportedModels: [tooLong] }]) {
      const created = await admin('POST', '/accounts', {
        name: 'too long',
        provider: 'openai',
        credential: 'sk-fake.x.ok',
        ...fields,
      });
      expect(created.status).toBe(400);
    }
  });
});

describe('a usage event is bounded by construction', () => {
  const fields: UsageEvent = {
    requestId: crypto.randomUUID(),
    at: 1_764_000_000_000,
    keyId: crypto.randomUUID(),
    userId: crypto.randomUUID(),
    groupId: crypto.randomUUID(),
    accountId: crypto.randomUUID(),
    provider: 'openai-compatible',
    surface: 'openai-chat',
    estimated: false,
    model: 'gpt-5',
    stream: true,
    status: 200,
    outcome: 'upstream_error',
    upstreamRequestId: 'req_0123',
    usage: {
      inputTokens: 1,
      outputTokens: 2,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      cacheReadTokens: 0,
    },
    ttfbMs: 12,
    durationMs: 34,
    errorType: 'overloaded_error',
  };

  it('keeps ordinary values as they are', () => {
    expect(usageEvent(fields)).toEqual(fields);
  });

  it('cuts what an upstream chose, so the event always fits a Queue message', () => {
    const big = 'x'.repeat(200 * 1024);
    const event = usageEvent({ ...fields, model: big, upstreamRequestId: big, errorType: big });
    expect(usageEventSchema.safeParse(event).success).toBe(true);
    expect(new TextEncoder().encode(JSON.stringify(event)).length).toBeLessThan(2048);
    expect(event.upstreamRequestId!.startsWith('xxxx')).toBe(true);
  });

  it('the contract refuses an over-long string', () => {
    for (const key of ['model', 'upstreamRequestId', 'errorType', 'keyId', 'provider'] as const) {
      expect(usageEventSchema.safeParse({ ...fields, [key]: 'x'.repeat(1000) }).success).toBe(false);
    }
  });
});
