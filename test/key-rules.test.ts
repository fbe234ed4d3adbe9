// A key's own rules, enforced on every surface with the official SDKs as clients: the models it may
// use (exact ids and prefixes), the services (client surfaces) and the clients (by User-Agent)
// it may be used from, and a validity counted from its first request. A refusal is a 403 in the
// client's dialect that names the rule and tells the client not to retry; nothing reaches the
// upstream. Fields the relay stores but does not enforce yet are refused by the operator API.
import { env } from 'cloudflare:test';
import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import {
  admin,
  anthropicClient,
  type Carpool,
  fakeLog,
  RELAY,
  relayFetch,
  seedCarpoolWith,
  withRelayFetch,
} from './support/relay';

// What the real CLIs send (CLIENTS.md, and the CLIs' sources for Codex and Gemini CLI).
const CLAUDE_CODE_UA = 'claude-cli/2.1.3 (external, cli)';
const CODEX_EXEC_UA = 'codex_exec/0.169.0 (Ubuntu 24.4.0; x86_64) xterm-256color (codex_exec; 0.169.0)';
const CODEX_TUI_UA = 'codex_cli_rs/0.169.0 (Mac OS 15.7.3; arm64) ghostty/1.3.1';
const GEMINI_CLI_UA = 'GeminiCLI/0.61.0/gemini-2.5-flash (linux; x64)';
const CHERRY_STUDIO_UA =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) CherryStudio/1.5.7 Chrome/134.0.6998.205 Electron/35.6.0 Safari/537.36';

interface ApiErrorBody {
  error: { code: string; message: string };
}

function anthropicAs(key: string, userAgent?: string): Anthropic {
  return new Anthropic({
    baseURL: RELAY,
    apiKey: key,
    fetch: relayFetch,
    maxRetries: 0,
    defaultHeaders: userAgent ? { 'user-agent': userAgent } : {},
  });
}

function openaiAs(key: string, userAgent?: string): OpenAI {
  return new OpenAI({
    apiKey: key,
    baseURL: `${RELAY}/v1`,
    fetch: relayFetch,
    maxRetries: 0,
    defaultHeaders: userAgent ? { 'user-agent': userAgent } : {},
  });
}

function geminiAs(key: string, userAgent?: string): GoogleGenAI {
  return new GoogleGenAI({
    apiKey: key,
    httpOptions: { baseUrl: RELAY, ...(userAgent ? { headers: { 'User-Agent': userAgent } } : {}) },
  });
}

function hello(client: Anthropic, model: string) {
  return client.messages.create({ model, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
}

function chat(client: OpenAI, model: string) {
  return client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
}

function generate(ai: GoogleGenAI, model: string) {
  return withRelayFetch(() => ai.models.generateContent({ model, contents: 'hi' }));
}

/** The Anthropic SDK's refusal: 403 permission_error, not to be retried, with the message. */
async function anthropicRefusal(call: Promise<unknown>): Promise<string> {
  const err = await call.then(
    () => expect.fail('expected a refusal'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
  const refusal = err as InstanceType<typeof Anthropic.PermissionDeniedError>;
  expect(refusal.headers.get('x-should-retry')).toBe('false');
  const body = refusal.error as { type: string; error: { type: string; message: string } };
  expect(body).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
  return body.error.message;
}

async function openaiRefusal(call: Promise<unknown>, code: string): Promise<string> {
  const err = await call.then(
    () => expect.fail('expected a refusal'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
  const refusal = err as InstanceType<typeof OpenAI.PermissionDeniedError>;
  expect(refusal.headers.get('x-should-retry')).toBe('false');
  expect(refusal.code).toBe(code);
  return refusal.message;
}

async function geminiRefusal(call: Promise<unknown>): Promise<string> {
  const err = await call.then(
    () => expect.fail('expected a refusal'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  expect((err as ApiError).status).toBe(403);
  expect((err as ApiError).message).toContain('PERMISSION_DENIED');
  return (err as ApiError).message;
}

function seed(
  provider: 'anthropic' | 'openai' | 'gemini',
  keyLimits: Record<string, unknown>,
): Promise<Carpool> {
  return seedCarpoolWith({ provider }, { keyLimits });
}

async function upstreamPaths(carpool: Carpool): Promise<string[]> {
  return (await fakeLog(carpool.tag)).map((e) => `${e.method} ${e.path}`);
}

describe('allowedModels', () => {
  const allowedModels = ['claude-haiku-4-5', 'claude-sonnet-*'];

  it('Anthropic surface: exact ids and prefixes pass, anything else is refused naming the rule', async () => {
    const carpool = await seed('anthropic', { allowedModels });
    const client = anthropicClient(carpool.key);
    expect((await hello(client, 'claude-haiku-4-5')).model).toBe('claude-haiku-4-5');
    expect((await hello(client, 'claude-sonnet-4-5-20250929')).type).toBe('message');
    expect(await anthropicRefusal(hello(client, 'claude-opus-4-8'))).toContain(
      'This key may only use models claude-haiku-4-5, claude-sonnet-* (allowedModels); it was asked for claude-opus-4-8.',
    );
    // An exact id is exact: a dated snapshot of it is another model.
    await anthropicRefusal(hello(client, 'claude-haiku-4-5-20251001'));
    await anthropicRefusal(
      client.messages.countTokens({ model: 'claude-opus-4-8', messages: [{ role: 'user', content: 'hi' }] }),
    );
    const stream = client.messages.stream({
      model: 'claude-opus-4-1',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'hi' }],
    });
    await anthropicRefusal(stream.finalMessage());
    expect(await upstreamPaths(carpool)).toEqual(['POST /v1/messages', 'POST /v1/messages']);
  });

  it('OpenAI surface: Chat Completions (converted to an Anthropic account) and Responses', async () => {
    const carpool = await seed('anthropic', { allowedModels });
    const client = openaiAs(carpool.key);
    expect((await chat(client, 'claude-sonnet-4-5')).object).toBe('chat.completion');
    expect(await openaiRefusal(chat(client, 'claude-opus-4-8'), 'model_not_allowed')).toContain(
      'it was asked for claude-opus-4-8',
    );
    const openaiCarpool = await seed('openai', { allowedModels: ['gpt-5-mini'] });
    const codex = openaiAs(openaiCarpool.key);
    expect((await codex.responses.create({ model: 'gpt-5-mini', input: 'hi' })).status).toBe('completed');
    await openaiRefusal(codex.responses.create({ model: 'gpt-5', input: 'hi' }), 'model_not_allowed');
    expect(await upstreamPaths(carpool)).toEqual(['POST /v1/messages']);
    expect(await upstreamPaths(openaiCarpool)).toEqual(['POST /v1/responses']);
  });

  it('Gemini surface: the model in the path is checked', async () => {
    const carpool = await seed('gemini', { allowedModels: ['gemini-2.5-flash*'] });
    const ai = geminiAs(carpool.key);
    expect((await generate(ai, 'gemini-2.5-flash-lite')).text).toBeTruthy();
    expect(await geminiRefusal(generate(ai, 'gemini-2.5-pro'))).toContain(
      'This key may only use models gemini-2.5-flash* (allowedModels); it was asked for gemini-2.5-pro.',
    );
    const res = await relayFetch(`${RELAY}/v1beta/models/gemini-2.5-pro:countTokens`, {
      method: 'POST',
      headers: { 'x-goog-api-key': carpool.key },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'count me' }] }] }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(await res.json()).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } });
    expect(await upstreamPaths(carpool)).toEqual([
      'POST /v1beta/models/gemini-2.5-flash-lite:generateContent',
    ]);
  });

  it('model lists show only the allowed models, in every dialect', async () => {
    const anthropicPool = await seed('anthropic', { allowedModels });
    const anthropicIds = (await anthropicClient(anthropicPool.key).models.list()).data.map((m) => m.id);
    // The fake lists dated ids: the exact `claude-haiku-4-5` matches none of them, the prefix one.
    expect(anthropicIds).toEqual(['claude-sonnet-4-5-20250929']);
    const converted = await openaiAs(anthropicPool.key).models.list();
    expect(converted.data.map((m) => m.id)).toEqual(['claude-sonnet-4-5-20250929']);

    const openaiPool = await seed('openai', { allowedModels: ['gpt-5-mini', 'gpt-5.*'] });
    expect((await openaiAs(openaiPool.key).models.list()).data.map((m) => m.id)).toEqual([
      'gpt-5-mini',
      'gpt-5.1',
    ]);

    const geminiPool = await seed('gemini', { allowedModels: ['gemini-2.5-flash*'] });
    const listed = await withRelayFetch(async () => {
      const names: string[] = [];
      for await (const m of await geminiAs(geminiPool.key).models.list()) names.push(m.name ?? '');
      return names;
    });
    expect(listed).toEqual(['models/gemini-2.5-flash', 'models/gemini-2.5-flash-lite']);

    // A key without the rule sees the account's whole list.
    const open = await seed('openai', {});
    expect((await openaiAs(open.key).models.list()).data).toHaveLength(6);
  });
});

describe('allowedServices', () => {
  it('a key for the Anthropic API only: its SDK and model list pass, OpenAI and Gemini clients are refused', async () => {
    const carpool = await seed('anthropic', { allowedServices: ['anthropic'] });
    expect((await hello(anthropicClient(carpool.key), 'claude-sonnet-4-5')).type).toBe('message');
    expect((await anthropicClient(carpool.key).models.list()).data.length).toBeGreaterThan(0);
    expect(
      await openaiRefusal(chat(openaiAs(carpool.key), 'claude-sonnet-4-5'), 'service_not_allowed'),
    ).toContain(
      'This key may only be used with the Anthropic API (allowedServices); this request is to the OpenAI API.',
    );
    // `GET /v1/models` in OpenAI's dialect is the OpenAI service.
    await openaiRefusal(openaiAs(carpool.key).models.list(), 'service_not_allowed');
    expect(await geminiRefusal(generate(geminiAs(carpool.key), 'gemini-2.5-flash'))).toContain(
      'this request is to the Gemini API',
    );
    expect(await upstreamPaths(carpool)).toEqual(['POST /v1/messages', 'GET /v1/models']);
  });

  it('a key for the OpenAI API only: Chat, Responses and its model list pass, the Anthropic SDK is refused', async () => {
    const carpool = await seed('openai', { allowedServices: ['openai'] });
    const client = openaiAs(carpool.key);
    expect((await chat(client, 'gpt-5-mini')).object).toBe('chat.completion');
    expect((await client.responses.create({ model: 'gpt-5-mini', input: 'hi' })).status).toBe('completed');
    expect((await client.models.list()).data.length).toBeGreaterThan(0);
    expect(await anthropicRefusal(hello(anthropicClient(carpool.key), 'gpt-5-mini'))).toContain(
      'this request is to the Anthropic API',
    );
    await anthropicRefusal(anthropicClient(carpool.key).models.list());
  });

  it('a key for the Gemini API only: @google/genai passes, the others are refused', async () => {
    const carpool = await seed('gemini', { allowedServices: ['gemini'] });
    const ai = geminiAs(carpool.key);
    expect((await generate(ai, 'gemini-2.5-flash')).text).toBeTruthy();
    const models = await withRelayFetch(async () => (await ai.models.list()).page.length);
    expect(models).toBeGreaterThan(0);
    await anthropicRefusal(hello(anthropicClient(carpool.key), 'gemini-2.5-flash'));
    await openaiRefusal(chat(openaiAs(carpool.key), 'gemini-2.5-flash'), 'service_not_allowed');
  });
});

describe('allowedClients', () => {
  it('claude-code: the real Claude Code User-Agent passes, the bare SDK or no User-Agent is refused', async () => {
    const carpool = await seed('anthropic', { allowedClients: ['claude-code'] });
    expect((await hello(anthropicAs(carpool.key, CLAUDE_CODE_UA), 'claude-sonnet-4-5')).type).toBe('message');
    const [upstream] = await fakeLog(carpool.tag);
    expect(upstream!.headers['user-agent']).toBe(CLAUDE_CODE_UA);
    expect(await anthropicRefusal(hello(anthropicAs(carpool.key), 'claude-sonnet-4-5'))).toMatch(
      /^This key may only be used from Claude Code \(allowedClients\); its User-Agent is Anthropic\/JS /,
    );
    const bare = await relayFetch(`${RELAY}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': carpool.key, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 5, messages: [] }),
    });
    expect(bare.status).toBe(403);
    expect(bare.headers.get('x-should-retry')).toBe('false');
    expect(((await bare.json()) as { error: { message: string } }).error.message).toContain(
      'it sent no User-Agent',
    );
    expect(await fakeLog(carpool.tag)).toHaveLength(1);
  });

  it('codex-cli: codex exec and the interactive CLI pass, Claude Code on the same key is refused', async () => {
    const carpool = await seed('openai', { allowedClients: ['codex-cli'] });
    for (const ua of [CODEX_EXEC_UA, CODEX_TUI_UA]) {
      const reply = await openaiAs(carpool.key, ua).responses.create(
        { model: 'gpt-5-codex', input: 'hi', stream: false },
        { headers: { originator: ua.slice(0, ua.indexOf('/')) } },
      );
      expect(reply.status).toBe('completed');
    }
    expect((await fakeLog(carpool.tag)).map((e) => e.headers['user-agent'])).toEqual([
      CODEX_EXEC_UA,
      CODEX_TUI_UA,
    ]);
    expect(
      await openaiRefusal(
        openaiAs(carpool.key, CLAUDE_CODE_UA).responses.create({ model: 'gpt-5-codex', input: 'hi' }),
        'client_not_allowed',
      ),
    ).toContain(
      `This key may only be used from Codex CLI (allowedClients); its User-Agent is ${CLAUDE_CODE_UA}.`,
    );
  });

  it('gemini-cli: the Gemini CLI User-Agent passes (the SDK appends its own), plain @google/genai is refused', async () => {
    const carpool = await seed('gemini', { allowedClients: ['gemini-cli'] });
    expect((await generate(geminiAs(carpool.key, GEMINI_CLI_UA), 'gemini-2.5-flash')).text).toBeTruthy();
    const [upstream] = await fakeLog(carpool.tag);
    expect(upstream!.headers['user-agent']).toMatch(/^GeminiCLI\/0\.61\.0\/gemini-2\.5-flash \(linux; x64\)/);
    expect(await geminiRefusal(generate(geminiAs(carpool.key), 'gemini-2.5-flash'))).toContain(
      'This key may only be used from Gemini CLI (allowedClients); its User-Agent is google-genai-sdk/',
    );
  });

  it('a custom User-Agent pattern next to a preset; matching ignores case and is anchored', async () => {
    const carpool = await seed('anthropic', {
      allowedClients: ['claude-code', { userAgent: '*CherryStudio/*' }],
    });
    const client = (ua: string) => openaiAs(carpool.key, ua);
    expect((await chat(client(CHERRY_STUDIO_UA), 'claude-sonnet-4-5')).object).toBe('chat.completion');
    expect((await chat(client('cherrystudio/1.0'), 'claude-sonnet-4-5')).object).toBe('chat.completion');
    expect((await hello(anthropicAs(carpool.key, CLAUDE_CODE_UA), 'claude-sonnet-4-5')).type).toBe('message');
    expect(
      await openaiRefusal(chat(client('Mozilla/5.0 Chrome/134.0 Safari/537.36'), 'x'), 'client_not_allowed'),
    ).toContain('This key may only be used from Claude Code, User-Agent *CherryStudio/* (allowedClients)');
    // `claude-cli/*` is a prefix: the same text later in the header does not count.
    await anthropicRefusal(hello(anthropicAs(carpool.key, `evil ${CLAUDE_CODE_UA}`), 'claude-sonnet-4-5'));
    // Without `*` at its end a pattern must match the whole header.
    await openaiRefusal(chat(client('CherryStudio'), 'x'), 'client_not_allowed');
    expect(await fakeLog(carpool.tag)).toHaveLength(3);
  });
});

describe('activation on first use', () => {
  const activeForMs = 1500;

  async function activatedAt(keyId: string): Promise<number | null> {
    return (await admin<{ activatedAt: number | null }>('GET', `/keys/${keyId}`)).json.activatedAt;
  }

  it('counts the validity from the first request, however long the key lay unused', async () => {
    const carpool = await seed('anthropic', { activeForMs, allowedModels: ['claude-sonnet-*'] });
    const client = anthropicClient(carpool.key);
    // Unused for longer than its validity: still good.
    await new Promise((r) => setTimeout(r, activeForMs + 200));
    // A refused request is not a use.
    await anthropicRefusal(hello(client, 'claude-opus-4-8'));
    expect(await activatedAt(carpool.keyId)).toBeNull();
    const before = Date.now();
    expect((await hello(client, 'claude-sonnet-4-5')).type).toBe('message');
    const first = await activatedAt(carpool.keyId);
    expect(first).toBeGreaterThanOrEqual(before);
    expect(first).toBeLessThanOrEqual(Date.now());
    // Later requests do not move it.
    expect((await hello(client, 'claude-sonnet-4-5')).type).toBe('message');
    expect(await activatedAt(carpool.keyId)).toBe(first);
    await new Promise((r) => setTimeout(r, first! + activeForMs + 50 - Date.now()));
    expect(await anthropicRefusal(hello(client, 'claude-sonnet-4-5'))).toContain(
      `This API key has expired: it was valid for 1500 ms from its first use at ${new Date(first!).toISOString()}.`,
    );
    expect(await fakeLog(carpool.tag)).toHaveLength(2);
  });

  it('an isolate that cached the key before another activated it takes the stored time, not its own', async () => {
    const carpool = await seed('anthropic', { activeForMs: 60_000, allowedModels: ['claude-sonnet-*'] });
    // A refused request puts the key, not yet activated, in this isolate's cache.
    await anthropicRefusal(hello(anthropicClient(carpool.key), 'claude-opus-4-8'));
    // Another isolate activated it a while ago (the write this isolate has not seen).
    const earlier = Date.now() - 120_000;
    await env.DB.prepare('UPDATE api_keys SET activated_at = ? WHERE id = ?')
      .bind(earlier, carpool.keyId)
      .run();
    expect(await anthropicRefusal(hello(anthropicClient(carpool.key), 'claude-sonnet-4-5'))).toContain(
      'This API key has expired',
    );
    expect(await activatedAt(carpool.keyId)).toBe(earlier);
  });

  it('concurrent first requests all pass and store one activation time', async () => {
    const carpool = await seed('anthropic', { activeForMs: 60_000 });
    const client = anthropicClient(carpool.key);
    const before = Date.now();
    const replies = await Promise.all(Array.from({ length: 5 }, () => hello(client, 'claude-sonnet-4-5')));
    expect(replies.every((r) => r.type === 'message')).toBe(true);
    const stored = await activatedAt(carpool.keyId);
    expect(stored).toBeGreaterThanOrEqual(before);
    expect(stored).toBeLessThanOrEqual(Date.now());
  });

  it('with a fixed expiresAt too, whichever comes first ends the key, used or not', async () => {
    const carpool = await seed('anthropic', { activeForMs: 3_600_000, expiresAt: Date.now() + 300 });
    await new Promise((r) => setTimeout(r, 400));
    expect(await anthropicRefusal(hello(anthropicClient(carpool.key), 'claude-sonnet-4-5'))).toBe(
      'This API key has expired.',
    );
    expect(await activatedAt(carpool.keyId)).toBeNull();
  });
});

describe('operator API for key rules and unused fields', () => {
  async function createKey(carpool: Carpool, fields: Record<string, unknown>) {
    return admin<ApiErrorBody & Record<string, unknown>>('POST', '/keys', {
      groupId: carpool.groupId,
      userId: carpool.userId,
      ...fields,
    });
  }

  it('stores the rules and shows them on the key', async () => {
    const carpool = await seed('anthropic', {
      allowedModels: ['claude-haiku-4-5', 'claude-sonnet-*'],
      allowedServices: ['anthropic', 'openai'],
      allowedClients: ['claude-code', { userAgent: '*CherryStudio/*' }],
      activeForMs: 86_400_000,
    });
    const read = await admin('GET', `/keys/${carpool.keyId}`);
    expect(read.json).toMatchObject({
      allowedModels: ['claude-haiku-4-5', 'claude-sonnet-*'],
      allowedServices: ['anthropic', 'openai'],
      allowedClients: ['claude-code', { userAgent: '*CherryStudio/*' }],
      activeForMs: 86_400_000,
      activatedAt: null,
    });
  });

  it('refuses rules that cannot mean what they say, naming the field', async () => {
    const carpool = await seed('anthropic', {});
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ allowedModels: [] }, /allowedModels: an empty list allows no model/],
      [{ allowedModels: ['claude-*-haiku'] }, /allowedModels\.0: .*only at the end/],
      [{ allowedModels: ['*'] }, /allowedModels\.0: a lone \*/],
      [{ allowedServices: ['bedrock'] }, /allowedServices\.0/],
      [{ allowedServices: ['openai', 'openai'] }, /allowedServices: each service once/],
      [
        { allowedClients: ['claude_code'] },
        /allowedClients\.0: a client is a preset \(claude-code, codex-cli, gemini-cli\)/,
      ],
      [{ allowedClients: [{ userAgent: '**' }] }, /allowedClients\.0/],
      [{ allowedClients: [{ regex: '.*' }] }, /allowedClients\.0/],
      [{ activeForMs: 10 }, /activeForMs/],
      [{ allowedModel: ['claude-haiku-4-5'] }, /allowedModel/],
    ];
    for (const [fields, message] of cases) {
      const res = await createKey(carpool, fields);
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(res.json.error.code).toBe('invalid_request');
      expect(res.json.error.message).toMatch(message);
    }
  });

  it('refuses the old budget columns on keys, pointing to key budgets (null is fine)', async () => {
    const carpool = await seed('anthropic', {});
    for (const field of ['dailyBudgetMicros', 'monthlyBudgetMicros']) {
      const res = await createKey(carpool, { [field]: 5_000_000 });
      expect(res.status).toBe(400);
      expect(res.json.error.message).toMatch(
        new RegExp(`${field}: a key's budget is a budget with scope \`key\``),
      );
      expect((await createKey(carpool, { [field]: null })).status).toBe(201);
    }
  });

  it('refuses an unknown splitMode, and a department on a carpool', async () => {
    const account = await admin<{ id: string }>('POST', '/accounts', {
      name: 'split',
      provider: 'anthropic',
      credential: 'k',
    });
    const group = (fields: Record<string, unknown>) =>
      admin<ApiErrorBody>('POST', '/groups', {
        name: 'g',
        kind: 'carpool',
        accountId: account.json.id,
        ...fields,
      });
    const halves = await group({ splitMode: 'halves' });
    expect(halves.status).toBe(400);
    expect(halves.json.error.message).toMatch(/splitMode/);
    const department = await group({ departmentId: 'd1' });
    expect(department.status).toBe(400);
    expect(department.json.error.message).toMatch(/departmentId: departments are an enterprise’s/);
    expect(await group({ splitMode: 'even' })).toMatchObject({ status: 201, json: { splitMode: 'even' } });
  });
});
