// Routing that understands models: in a group mixing providers, each model goes to an account of
// its own family (native wire first, conversion second), `supportedModels` and `modelMapping`
// change what an account serves, a model nobody serves is refused with every account's reason,
// and each account is scheduled under its own pool's policy.
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import {
  admin,
  anthropicClient,
  countsByAccount,
  eventually,
  fakeLog,
  RELAY,
  relayFetch,
  seedCarpool,
  seedEnterprise,
  withRelayFetch,
} from './support/relay';

function openaiClient(key: string): OpenAI {
  return new OpenAI({ apiKey: key, baseURL: `${RELAY}/v1`, fetch: relayFetch, maxRetries: 0 });
}

/** The model each request an account's fake received asked for, and the path it used. */
async function received(tag: string): Promise<string[]> {
  return (await fakeLog(tag)).map((entry) => {
    const model = entry.body ? (JSON.parse(entry.body) as { model?: string }).model : undefined;
    return `${entry.path} ${model ?? ''}`.trim();
  });
}

function anthropicMessage(key: string, model: string): Promise<Response> {
  return relayFetch(`${RELAY}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

describe('routing by model family', () => {
  it('sends each SDK’s model to the account of its family in a mixed group', async () => {
    const group = await seedEnterprise([
      { provider: 'anthropic' },
      { provider: 'openai' },
      { provider: 'gemini' },
    ]);
    const [claude, gpt, gemini] = group.accounts;
    const openai = openaiClient(group.key);
    const anthropic = anthropicClient(group.key);
    for (let i = 0; i < 2; i++) {
      const chat = await openai.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: `openai ${i}` }],
      });
      expect(chat.choices[0]!.message.content).toBeTruthy();
      const message = await anthropic.messages.create({
        model: 'claude-opus-4-8',
        max_tokens: 20,
        messages: [{ role: 'user', content: `claude ${i}` }],
      });
      expect(message.content[0]!.type).toBe('text');
    }
    // Across wires, the model still decides: an OpenAI client asking for Claude (Cherry Studio,
    // Cursor) reaches the Anthropic account, an Anthropic client asking for GPT the OpenAI one.
    const crossed = await openai.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'claude through chat completions' }],
    });
    expect(crossed.choices[0]!.message.content).toBeTruthy();
    await anthropic.messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'gpt through messages' }],
    });
    const codex = await openai.responses.create({ model: 'gpt-5-codex', input: 'codex', store: false });
    expect(codex.output_text).toBeTruthy();
    const ai = new GoogleGenAI({ apiKey: group.key, httpOptions: { baseUrl: RELAY } });
    const answer = await withRelayFetch(() =>
      ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'gemini' }),
    );
    expect(answer.text).toBeTruthy();

    expect(await received(claude!.tag)).toEqual([
      '/v1/messages claude-opus-4-8',
      '/v1/messages claude-opus-4-8',
      '/v1/messages claude-sonnet-4-5',
    ]);
    expect(await received(gpt!.tag)).toEqual([
      '/v1/chat/completions gpt-4o',
      '/v1/chat/completions gpt-4o',
      '/v1/chat/completions gpt-4o-mini',
      '/v1/responses gpt-5-codex',
    ]);
    expect(await received(gemini!.tag)).toEqual(['/v1beta/models/gemini-2.5-flash:generateContent']);
  });

  it('prefers an account that speaks the client’s wire over one that needs a conversion, whatever the priority', async () => {
    // The Anthropic account is told it serves gpt-4o too, and is preferred by priority.
    const group = await seedEnterprise([
      { provider: 'anthropic', supportedModels: ['claude-*', 'gpt-4o'], priority: 1 },
      { provider: 'openai', priority: 50 },
    ]);
    const [claude, gpt] = group.accounts;
    const openai = openaiClient(group.key);
    for (let i = 0; i < 3; i++) {
      await openai.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: `n${i}` }],
      });
    }
    expect(await countsByAccount(group.accounts)).toEqual([0, 3]);

    // With the native account gone, the conversion serves.
    await admin('POST', `/accounts/${gpt!.id}/disable`, { reason: 'maintenance' });
    const converted = await openai.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'converted' }],
    });
    expect(converted.choices[0]!.message.content).toBeTruthy();
    expect(await received(claude!.tag)).toEqual(['/v1/messages gpt-4o']);
  });

  it('serves through modelMapping on purpose: Claude Code on an OpenAI-compatible vendor', async () => {
    const group = await seedEnterprise([
      { provider: 'anthropic', supportedModels: ['claude-opus-*'] },
      {
        provider: 'openai-compatible',
        preset: 'deepseek',
        modelMapping: { 'claude-haiku-4-5': 'deepseek-chat' },
      },
    ]);
    const [claude, deepseek] = group.accounts;
    const anthropic = anthropicClient(group.key);
    for (const model of ['claude-haiku-4-5', 'claude-opus-4-8', 'claude-haiku-4-5']) {
      await anthropic.messages.create({
        model,
        max_tokens: 20,
        messages: [{ role: 'user', content: model }],
      });
    }
    // The vendor's own family (its preset's) needs no mapping.
    await openaiClient(group.key).chat.completions.create({
      model: 'deepseek-reasoner',
      messages: [{ role: 'user', content: 'native' }],
    });
    expect(await received(claude!.tag)).toEqual(['/v1/messages claude-opus-4-8']);
    expect(await received(deepseek!.tag)).toEqual([
      '/v1/chat/completions deepseek-chat',
      '/v1/chat/completions deepseek-chat',
      '/v1/chat/completions deepseek-reasoner',
    ]);

    // Outside every account's models: refused, with each account's reason.
    const res = await relayFetch(`${RELAY}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${group.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'no one' }] }),
    });
    expect(res.status).toBe(404);
    const { error } = (await res.json()) as { error: { message: string; code: string } };
    expect(error.code).toBe('model_not_found');
    expect(error.message).toContain('account 1 (anthropic) serves only claude-opus-* (its supportedModels)');
    expect(error.message).toContain(
      'account 2 (openai-compatible, deepseek) serves deepseek-*, and claude-haiku-4-5 through its modelMapping',
    );
    expect(await countsByAccount(group.accounts)).toEqual([1, 3]);
  });

  it('refuses a model no account serves, in the client’s dialect, naming each account and why', async () => {
    const group = await seedEnterprise([
      { provider: 'openai' },
      { provider: 'gemini' },
      { provider: 'openai-compatible', baseUrl: 'https://llm.internal.example/v1' },
    ]);
    const res = await anthropicMessage(group.key, 'claude-opus-4-8');
    expect(res.status).toBe(404);
    // A retry cannot fix it.
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(res.headers.get('retry-after')).toBeNull();
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('not_found_error');
    expect(body.error.message).toBe(
      'No account in this group serves claude-opus-4-8: ' +
        'account 1 (openai) serves gpt-*, o[0-9]*, codex-*, chatgpt-*; ' +
        'account 2 (gemini) cannot serve this API; ' +
        'account 3 (openai-compatible, custom endpoint) serves only what its supportedModels or modelMapping list, and lists nothing. ' +
        'Add the model to an account’s supportedModels or modelMapping.',
    );

    const openai = openaiClient(group.key);
    const refused = await openai.chat.completions
      .create({ model: 'claude-opus-4-8', messages: [{ role: 'user', content: 'x' }] })
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.NotFoundError);
    expect((refused as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');

    const google = await relayFetch(`${RELAY}/v1beta/models/claude-opus-4-8:generateContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': group.key, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'x' }] }] }),
    });
    expect(google.status).toBe(404);
    expect(((await google.json()) as { error: { status: string } }).error.status).toBe('NOT_FOUND');
    expect(await countsByAccount(group.accounts)).toEqual([0, 0, 0]);
  });

  it('refuses an API no account of the group speaks for good: a 400, no retry invited', async () => {
    const group = await seedEnterprise([{ provider: 'anthropic' }]);
    const google = await relayFetch(`${RELAY}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': group.key, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'x' }] }] }),
    });
    expect(google.status).toBe(400);
    expect(google.headers.get('retry-after')).toBeNull();
    const body = (await google.json()) as { error: { status: string; message: string } };
    expect(body.error.status).toBe('INVALID_ARGUMENT');
    expect(body.error.message).toBe(
      "No account in this group serves this API: account 1 (anthropic). Call it through its own provider's API.",
    );
    // An Anthropic client's token count on an OpenAI-compatible account: the SDK does not retry.
    const vendor = await seedEnterprise([
      { provider: 'openai-compatible', baseUrl: 'https://llm.internal.example/v1' },
    ]);
    const counted = await anthropicClient(vendor.key)
      .messages.countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] })
      .catch((err: unknown) => err);
    expect(counted).toBeInstanceOf(Anthropic.BadRequestError);
    // A carpool's one account, on the direct path, the same.
    const carpool = await seedCarpool();
    const chat = await openaiClient(carpool.key)
      .responses.create({ model: 'gpt-5', input: 'x' })
      .catch((err: unknown) => err);
    expect(chat).toBeInstanceOf(OpenAI.BadRequestError);
    expect(await countsByAccount([...group.accounts, ...vendor.accounts])).toEqual([0, 0]);
  });
});

describe('scheduling across provider pools', () => {
  it('each account follows its own pool: failover attempts come from the failed account’s pool', async () => {
    const group = await seedEnterprise(
      [
        { provider: 'anthropic', priority: 1 },
        { provider: 'openai', scenario: '500', priority: 1 },
        { provider: 'openai', priority: 2 },
      ],
      { pools: { anthropic: { maxAttempts: 1 }, openai: { maxAttempts: 3 } } },
    );
    const res = await relayFetch(`${RELAY}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${group.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'fail over' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-carpool-attempts')).toBe('2');
    await res.text();
    expect(await countsByAccount(group.accounts)).toEqual([0, 1, 1]);
  });

  it('cools an account down by its pool’s health policy, under the group’s own', async () => {
    const cooldownAfter529 = async (options: Parameters<typeof seedEnterprise>[1]) => {
      const group = await seedEnterprise([{ scenario: '529' }], options);
      const res = await anthropicMessage(group.key, 'claude-sonnet-4-5');
      expect(res.status).toBe(529);
      await res.text();
      // The final settlement releases in waitUntil, after the response.
      const state = await eventually(async () => {
        const { json } = await admin<{ inUse: number; cooldownUntil: number | null }>(
          'GET',
          `/accounts/${group.accounts[0]!.id}/state`,
        );
        return json.inUse === 0 ? json : undefined;
      });
      return (state.cooldownUntil ?? 0) - Date.now();
    };
    // Recorded through a failover attempt (the default maxAttempts) and through the final settlement.
    for (const maxAttempts of [3, 1]) {
      const pooled = await cooldownAfter529({
        pools: { anthropic: { overloadedCooldownMs: 1000, maxAttempts } },
      });
      expect(pooled).toBeGreaterThan(0);
      expect(pooled).toBeLessThanOrEqual(1000);
    }
    const grouped = await cooldownAfter529({
      pools: { anthropic: { overloadedCooldownMs: 1000 } },
      scheduling: { overloadedCooldownMs: 3000 },
    });
    expect(grouped).toBeGreaterThan(2000);
    expect(grouped).toBeLessThanOrEqual(3000);
  });
});
