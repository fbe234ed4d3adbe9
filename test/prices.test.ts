// Prices: the table generated from @pydantic/genai-prices, matching that takes dated suffixes but
// never guesses a family, context tiers and scheduled prices, and operator overrides through the
// admin API changing what a relayed request is billed.
import { env } from 'cloudflare:test';
import { calcPrice } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { micros } from '../scripts/price-micros.mjs';
import { costOf } from '../worker/metering/cost';
import { SHIPPED_TABLE } from '../worker/metering/price-table';
import { findPrice, type PriceTable, type Rates, SHIPPED_PRICES } from '../worker/metering/prices';
import { emptyUsage, type Usage } from '../worker/metering/usage';
import { admin, anthropicClient, fakeLog, requestLogFor, seedCarpool } from './support/relay';

const NOW = Date.UTC(2026, 11, 1, 12); // after the table's asOf, at noon UTC

/** $/MTok → the five rates in micro-dollars, as literals read off the providers' price pages. */
function usd(input: number, output: number, write5m: number, write1h: number, read: number): Rates {
  return {
    inputMicros: input,
    outputMicros: output,
    cacheWrite5mMicros: write5m,
    cacheWrite1hMicros: write1h,
    cacheReadMicros: read,
  };
}

function rates(model: string, at = NOW): Rates | undefined {
  const found = findPrice(model, SHIPPED_PRICES, at);
  if (!found) return undefined;
  const { inputMicros, outputMicros, cacheWrite5mMicros, cacheWrite1hMicros, cacheReadMicros } = found.price;
  return { inputMicros, outputMicros, cacheWrite5mMicros, cacheWrite1hMicros, cacheReadMicros };
}

const usage = (u: Partial<Usage>): Usage => ({ ...emptyUsage(), ...u });

describe('the shipped table', () => {
  it('prices current models at their list prices, in integer micro-dollars', () => {
    // The issue's case: Opus 4.8 is $5/$25, not Opus 4's $15/$75.
    expect(rates('claude-opus-4-8')).toEqual(usd(5_000_000, 25_000_000, 6_250_000, 10_000_000, 500_000));
    expect(rates('claude-opus-4')).toEqual(usd(15_000_000, 75_000_000, 18_750_000, 30_000_000, 1_500_000));
    expect(rates('claude-haiku-4-5')).toEqual(usd(1_000_000, 5_000_000, 1_250_000, 2_000_000, 100_000));
    // The CLIs' defaults the hand table missed.
    expect(rates('gemini-3.5-flash-lite')).toEqual(usd(300_000, 2_500_000, 300_000, 300_000, 30_000));
    expect(rates('gemini-3.8-flash')).toEqual(usd(750_000, 3_750_000, 750_000, 750_000, 75_000));
    // Providers without a cache-write price bill writes as input.
    expect(rates('gpt-5')).toEqual(usd(1_250_000, 10_000_000, 1_250_000, 1_250_000, 125_000));
    expect(rates('kimi-k2.6')).toEqual(usd(950_000, 4_000_000, 950_000, 950_000, 160_000));
    // Names are matched in any case (Zhipu lists GLM-4.7).
    expect(rates('GLM-4.7')).toEqual(usd(276_000, 1_103_000, 276_000, 276_000, 55_000));
  });

  it('is built from decimal dollars converted exactly to integer micro-dollars', () => {
    // 0.0157 × 10⁶ is 15699.999999999998 in binary floating point: truncating it would lose one.
    expect(micros(0.0157)).toBe(15_700);
    expect(micros(0.0079)).toBe(7_900);
    expect(micros(3)).toBe(3_000_000);
    expect(micros(0.003625)).toBe(3_625);
    expect(micros(1e-6)).toBe(1);
    expect(micros(2e21)).toBe(2e27);
    // Below a micro-dollar (genai-prices has a float artifact like this): rounded once, half up, said.
    const warnings: string[] = [];
    expect(micros(0.18000000000000002, (w) => warnings.push(w))).toBe(180_000);
    expect(micros(0.0000005, (w) => warnings.push(w))).toBe(1);
    expect(micros(0.0000004, (w) => warnings.push(w))).toBe(0);
    expect(warnings).toHaveLength(3);
    expect(() => micros(-1)).toThrow();
    expect(rates('deepseek-v3.2')?.inputMicros).toBe(228_800); // $0.2288
    expect(rates('gemini-1.5-flash')?.cacheReadMicros).toBe(18_750); // $0.01875
    for (const entry of SHIPPED_TABLE.prices) {
      const rows = 'schedule' in entry ? entry.schedule : [entry];
      for (const row of rows) {
        for (const r of [row.rates, ...(row.tiers ?? []).map(([, t]) => t)]) {
          for (const m of r) expect(Number.isSafeInteger(m) && m >= 0).toBe(true);
        }
      }
    }
  });

  it('agrees with genai-prices itself on every name it ships, cache and tiers included', () => {
    const small = usage({
      inputTokens: 1_000,
      outputTokens: 500,
      cacheWrite5mTokens: 200,
      cacheWrite1hTokens: 100,
      cacheReadTokens: 3_000,
    });
    const long = usage({ ...small, cacheReadTokens: 300_000 }); // past every 200k/272k tier
    const peak = Date.UTC(2026, 11, 1, 2); // inside DeepSeek's peak hours
    const disagreements: string[] = [];
    let compared = 0;
    for (const [name, index] of Object.entries(SHIPPED_TABLE.names)) {
      const providerId = SHIPPED_TABLE.prices[index]!.provider;
      for (const u of [small, long]) {
        for (const at of [NOW, peak]) {
          const theirs = calcPrice(genaiUsage(u), name, { providerId, timestamp: new Date(at) });
          if (!theirs) continue; // a name genai-prices would not find this way round (junk prefixes)
          compared++;
          const ours = costOf(name, u, SHIPPED_PRICES, at).costMicros;
          if (Math.abs(ours - theirs.total_price * 1e6) > 1) {
            disagreements.push(`${name}: ours ${ours}, theirs ${theirs.total_price * 1e6}`);
          }
        }
      }
    }
    expect(disagreements).toEqual([]);
    // All but a handful of odd names genai-prices itself would not look up by that name.
    expect(compared).toBeGreaterThan(0.95 * 4 * Object.keys(SHIPPED_TABLE.names).length);
  });
});

/** genai-prices counts input tokens as the whole prompt, with cache tokens as parts of it. */
function genaiUsage(u: Usage) {
  return {
    input_tokens: u.inputTokens + u.cacheWrite5mTokens + u.cacheWrite1hTokens + u.cacheReadTokens,
    cache_write_tokens: u.cacheWrite5mTokens + u.cacheWrite1hTokens,
    cache_write_5m_tokens: u.cacheWrite5mTokens,
    cache_write_1h_tokens: u.cacheWrite1hTokens,
    cache_read_tokens: u.cacheReadTokens,
    output_tokens: u.outputTokens,
  };
}

describe('matching', () => {
  it('takes dated, versioned and -latest forms of a known name', () => {
    const sonnet = rates('claude-sonnet-4-5');
    expect(rates('claude-sonnet-4-5-20250929')).toEqual(sonnet);
    expect(rates('claude-sonnet-4-5@20250929')).toEqual(sonnet);
    expect(rates('claude-haiku-4-5-latest')).toEqual(rates('claude-haiku-4-5'));
    expect(rates('gpt-5-mini-2025-08-07')).toEqual(rates('gpt-5-mini'));
    expect(rates('gpt-6-sol-2026-11-01')).toEqual(rates('gpt-6-sol'));
    expect(rates('gpt-4-0613')).toEqual(rates('gpt-4'));
    expect(rates('gemini-2.0-flash-001')).toEqual(rates('gemini-2.0-flash'));
    expect(rates('models/gemini-2.5-pro')).toEqual(rates('gemini-2.5-pro'));
    expect(findPrice('claude-sonnet-4-5-20250929', SHIPPED_PRICES, NOW)?.matched).toBe('claude-sonnet-4-5');
  });

  it('never prices a model at a guessed family price', () => {
    for (const model of [
      'claude-opus-4-9',
      'claude-opus-4-8-fast',
      'gpt-6.1-sol',
      'gpt-50',
      'gemini-3.8-flash-lite',
      'qwen3-max',
      'mystery-model-9',
    ]) {
      expect(findPrice(model, SHIPPED_PRICES, NOW), model).toBeUndefined();
      expect(costOf(model, usage({ inputTokens: 99 }), SHIPPED_PRICES, NOW)).toEqual({
        costMicros: 0,
        unpriced: true,
      });
    }
    expect(rates('claude-opus-4-8')).not.toEqual(rates('claude-opus-4'));
  });

  it('prices Bedrock ids from the Bedrock list, cross-region profiles as their region', () => {
    // Bedrock's in-region (and geographic profile) price is 10% above its global profile's.
    const regional = findPrice('us.anthropic.claude-sonnet-4-5-20250929-v1:0', SHIPPED_PRICES, NOW);
    expect(regional).toMatchObject({ source: 'aws', price: { inputMicros: 3_300_000 } });
    const global = findPrice('global.anthropic.claude-sonnet-4-5-20250929-v1:0', SHIPPED_PRICES, NOW);
    expect(global).toMatchObject({ source: 'aws', price: { inputMicros: 3_000_000 } });
    expect(findPrice('anthropic.claude-opus-4-8-v1:0', SHIPPED_PRICES, NOW)?.price.outputMicros).toBe(
      27_500_000,
    );
    // A region prefix the list does not spell out folds to the regional id.
    expect(findPrice('ca.anthropic.claude-opus-4-8-v1:0', SHIPPED_PRICES, NOW)?.matched).toBe(
      'anthropic.claude-opus-4-8',
    );
    expect(findPrice('anthropic.claude-opus-4-9-v1:0', SHIPPED_PRICES, NOW)).toBeUndefined();
    // Profiles the generator leaves out because their region prices them: as genai-prices says.
    const u = usage({
      inputTokens: 1_000,
      outputTokens: 1_000,
      cacheWrite5mTokens: 1_000,
      cacheReadTokens: 1_000,
    });
    for (const id of [
      'us.anthropic.claude-opus-4-8-v1:0',
      'eu.anthropic.claude-sonnet-4-6-v1:0',
      'apac.anthropic.claude-haiku-4-5-20251001-v1:0',
      'us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0',
    ]) {
      const theirs = calcPrice(genaiUsage(u), id, { providerId: 'aws', timestamp: new Date(NOW) });
      expect(costOf(id, u, SHIPPED_PRICES, NOW).costMicros, id).toBe(Math.round(theirs!.total_price * 1e6));
    }
  });
});

describe('tiers and schedules', () => {
  it('bills the whole request at the tier its prompt (input and cache tokens) falls in', () => {
    // GPT-6 Sol: $2/$10, and $4/$15 once the prompt passes 272k tokens.
    const at = (prompt: Partial<Usage>) =>
      costOf('gpt-6-sol', usage({ ...prompt, outputTokens: 1_000 }), SHIPPED_PRICES, NOW).costMicros;
    expect(at({ inputTokens: 272_000 })).toBe(272_000 * 2 + 1_000 * 10);
    expect(at({ inputTokens: 272_001 })).toBe(272_001 * 4 + 1_000 * 15);
    // Cache reads count towards the prompt: 1 uncached + 272 000 read passes the threshold.
    // 4 + 108 800 ($0.40/MTok) + 15 000.
    expect(at({ inputTokens: 1, cacheReadTokens: 272_000 })).toBe(123_804);
    // 2 + 54 399.8 ($0.20/MTok) + 10 000, rounded once.
    expect(at({ inputTokens: 1, cacheReadTokens: 271_999 })).toBe(64_402);
  });

  it('switches to a scheduled price on its date', () => {
    // Gemini 3.8 Flash's introductory price ends on 2027-01-01.
    const million = usage({ outputTokens: 1_000_000 });
    expect(costOf('gemini-3.8-flash', million, SHIPPED_PRICES, Date.UTC(2026, 11, 31, 23)).costMicros).toBe(
      3_750_000,
    );
    expect(costOf('gemini-3.8-flash', million, SHIPPED_PRICES, Date.UTC(2027, 0, 1)).costMicros).toBe(
      7_500_000,
    );
  });

  it('applies time-of-day prices', () => {
    // DeepSeek V4 Flash costs twice as much from 01:00 to 04:00 UTC.
    const million = usage({ inputTokens: 1_000_000 });
    expect(
      costOf('deepseek-v4-flash', million, SHIPPED_PRICES, Date.UTC(2026, 11, 1, 0, 59)).costMicros,
    ).toBe(220_000);
    expect(costOf('deepseek-v4-flash', million, SHIPPED_PRICES, Date.UTC(2026, 11, 1, 1)).costMicros).toBe(
      440_000,
    );
  });

  it('lets an override win over the shipped price for the name and its dated forms', () => {
    const table: PriceTable = {
      ...SHIPPED_PRICES,
      overrides: {
        'gpt-5': { ...usd(1_000_000, 2_000_000, 1_000_000, 1_000_000, 100_000), tiers: [] },
      },
    };
    const u = usage({ inputTokens: 1_000, outputTokens: 1_000 });
    expect(costOf('gpt-5', u, table, NOW).costMicros).toBe(3_000);
    // gpt-5-2025-08-07 is listed in the shipped table too; the operator's word is the last one.
    expect(costOf('gpt-5-2025-08-07', u, table, NOW).costMicros).toBe(3_000);
    expect(costOf('gpt-5-mini', u, table, NOW).costMicros).toBe(
      costOf('gpt-5-mini', u, SHIPPED_PRICES).costMicros,
    );
  });
});

describe('operator overrides', () => {
  const sonnetLike = {
    inputMicros: 2_000_000,
    outputMicros: 8_000_000,
    cacheWrite5mMicros: 2_500_000,
    cacheWrite1hMicros: 4_000_000,
    cacheReadMicros: 200_000,
  };

  it('change what a relayed request is billed, and come off again', async () => {
    const carpool = await seedCarpool();
    const set = await admin('PUT', '/prices/Claude-Opus-4-8', {
      ...sonnetLike,
      tiers: [{ aboveTokens: 200_000, ...sonnetLike, inputMicros: 4_000_000 }],
    });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({ model: 'claude-opus-4-8', inputMicros: 2_000_000 });

    const client = anthropicClient(carpool.key);
    await client.messages.create({
      model: 'claude-opus-4-8-20261101',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'price me' }],
    });
    const [upstream] = await fakeLog(carpool.tag);
    const [row] = await requestLogFor(carpool.keyId);
    expect(row).toMatchObject({
      model: 'claude-opus-4-8-20261101',
      unpriced: 0,
      input_tokens: (upstream!.usage as { input_tokens: number }).input_tokens,
    });
    // $2 and $8 per MTok are 2 and 8 micro-dollars a token; cache tokens, if any, at their rates.
    expect(row!.cost_micros).toBe(
      Math.floor(
        (row!.input_tokens * 20 +
          row!.output_tokens * 80 +
          row!.cache_write_5m_tokens * 25 +
          row!.cache_write_1h_tokens * 40 +
          row!.cache_read_tokens * 2 +
          5) /
          10,
      ),
    );
    expect(row!.output_tokens).toBeGreaterThan(0);

    const effective = await admin('GET', '/prices/claude-opus-4-8-20261101');
    expect(effective.json).toMatchObject({ matched: 'claude-opus-4-8', source: 'override', unpriced: false });
    expect((await admin('GET', '/prices/models/gemini-2.5-pro')).json).toMatchObject({
      matched: 'gemini-2.5-pro',
      source: 'google',
    });

    const removed = await admin('DELETE', '/prices/claude-opus-4-8');
    expect(removed.status).toBe(200);
    expect(removed.json).toMatchObject({ source: 'anthropic', price: { inputMicros: 5_000_000 } });
    await client.messages.create({
      model: 'claude-opus-4-8',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'price me again' }],
    });
    const rows = await requestLogFor(carpool.keyId, 2);
    const again = rows[1]!;
    expect(again.cost_micros).toBe(
      Math.floor(
        (again.input_tokens * 50 +
          again.output_tokens * 250 +
          again.cache_write_5m_tokens * 62.5 +
          again.cache_write_1h_tokens * 100 +
          again.cache_read_tokens * 5 +
          5) /
          10,
      ),
    );

    const { results } = await env.DB.prepare(
      "SELECT action, target_id FROM audit_log WHERE target_type = 'model_price' ORDER BY id",
    ).all();
    expect(results).toEqual([
      { action: 'price.set', target_id: 'claude-opus-4-8' },
      { action: 'price.delete', target_id: 'claude-opus-4-8' },
    ]);
  });

  it('price a model nobody ships, Bedrock ids included', async () => {
    const model = 'us.anthropic.claude-opus-9-v1:0';
    expect((await admin('GET', `/prices/${model}`)).json).toMatchObject({ unpriced: true, price: null });
    expect((await admin('PUT', `/prices/${model}`, { ...sonnetLike })).status).toBe(200);
    expect((await admin('GET', `/prices/${model}`)).json).toMatchObject({
      unpriced: false,
      source: 'override',
      price: { ...sonnetLike, tiers: [] },
    });
    const listed = await admin<{
      overrides: { model: string }[];
      shipped: { names: string[] }[];
      source: string;
    }>('GET', '/prices');
    expect(listed.json.source).toBe(SHIPPED_TABLE.source);
    expect(listed.json.overrides.map((o) => o.model)).toContain(model);
    expect(listed.json.shipped.some((p) => p.names.includes('claude-opus-4-8'))).toBe(true);
    expect((await admin('DELETE', `/prices/${model}`)).status).toBe(200);
    expect((await admin('DELETE', `/prices/${model}`)).status).toBe(404);
  });

  it('refuse prices that are not whole micro-dollars or tiers out of order', async () => {
    const fraction = await admin<{ error: { code: string; message: string } }>('PUT', '/prices/x-model', {
      ...sonnetLike,
      inputMicros: 2.5,
    });
    expect(fraction.status).toBe(400);
    expect(fraction.json.error.message).toMatch(/inputMicros/);
    const missing = await admin('PUT', '/prices/x-model', { inputMicros: 1, outputMicros: 2 });
    expect(missing.status).toBe(400);
    const unordered = await admin<{ error: { message: string } }>('PUT', '/prices/x-model', {
      ...sonnetLike,
      tiers: [
        { aboveTokens: 200_000, ...sonnetLike },
        { aboveTokens: 100_000, ...sonnetLike },
      ],
    });
    expect(unordered.status).toBe(400);
    expect(unordered.json.error.message).toMatch(/ascending/);
    // An override under Gemini's resource name would never match: the relay looks names up without it.
    expect((await admin('PUT', '/prices/models/gemini-x', sonnetLike)).status).toBe(400);
    expect((await admin('GET', '/prices/x-model')).json).toMatchObject({ unpriced: true });
  });
});
