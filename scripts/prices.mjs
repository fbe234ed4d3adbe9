// `npm run prices:update`: rebuilds worker/metering/price-table.ts from @pydantic/genai-prices (a
// maintained price database, a dev dependency) so that the Worker ships a compact table of integer
// micro-dollars per million tokens, for the providers the relay serves and nothing else.
//
// Usage: node scripts/prices.mjs [--date YYYY-MM-DD] [--check]
//   --date   the day the table is built for (default: today, UTC); price changes dated on or
//            before it replace what came before, later ones are kept as scheduled changes
//   --check  exit 1 if the committed table differs from what would be generated (for the day it
//            was generated for, unless --date says otherwise)
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { findProvider } from '@pydantic/genai-prices';
import { micros } from './price-micros.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const OUT = 'worker/metering/price-table.ts';

/**
 * The genai-prices providers behind the relay's upstreams (anthropic, openai, gemini, bedrock,
 * azure-openai and the deepseek, kimi and glm presets; genai-prices has no Alibaba list, so qwen
 * models are left to operator overrides). A name two sources know takes the first one's price:
 * first-party APIs come before platforms that resell their models.
 */
const SOURCES = [
  { id: 'anthropic' },
  { id: 'openai' },
  // Google's list also prices Claude on Vertex, which the relay does not serve (Google AI only).
  { id: 'google', keepName: (name) => !name.includes('claude') },
  { id: 'deepseek' },
  // The kimi preset (api.moonshot.ai).
  { id: 'moonshotai' },
  // The glm preset is Zhipu's own endpoint (open.bigmodel.cn); Z.AI's USD list fills its gaps.
  { id: 'zhipuai' },
  { id: 'zai' },
  // Bedrock serves Anthropic's models under its own ids (`anthropic.claude-…-v1:0`), at its own
  // prices; its Claude entries also match bare `claude-…` names, which on Bedrock mean the same.
  { id: 'aws', mapName: bedrockName },
  // Azure lists OpenAI's models at OpenAI's prices (and falls back to OpenAI's list); only the
  // models OpenAI does not list are new here.
  { id: 'azure' },
];

/** genai-prices price keys → our five token kinds, most specific key first. */
const KEYS = {
  input: ['input_mtok'],
  output: ['output_mtok'],
  cacheWrite5m: ['cache_write_5m_mtok', 'cache_write_mtok', 'input_mtok'],
  cacheWrite1h: ['cache_write_1h_mtok', 'cache_write_mtok', 'input_mtok'],
  cacheRead: ['cache_read_mtok', 'input_mtok'],
};
const KINDS = Object.keys(KEYS);

function main() {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const path = `${root}${OUT}`;
  const dateArg = args.includes('--date') ? args[args.indexOf('--date') + 1] : undefined;
  const committedDay = check ? /asOf: '([\d-]+)'/.exec(readFileSync(path, 'utf8'))?.[1] : undefined;
  const day = dateArg ?? committedDay ?? new Date().toISOString().slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`--date wants YYYY-MM-DD, not ${day}`);
  const version = JSON.parse(
    readFileSync(`${root}node_modules/@pydantic/genai-prices/package.json`, 'utf8'),
  ).version;

  const { prices, names, skipped } = build(Date.parse(day));
  const text = render({ version, day, prices, names });
  if (check) {
    const formatted = execFileSync(`${root}node_modules/.bin/biome`, ['format', `--stdin-file-path=${OUT}`], {
      input: text,
      cwd: root,
    }).toString();
    if (formatted !== readFileSync(path, 'utf8')) {
      console.error(`${OUT} is out of date: run npm run prices:update`);
      process.exit(1);
    }
    return;
  }
  writeFileSync(path, text);
  execFileSync(`${root}node_modules/.bin/biome`, ['format', '--write', OUT], { cwd: root, stdio: 'inherit' });
  console.log(
    `${OUT}: ${prices.length} prices, ${Object.keys(names).length} names from @pydantic/genai-prices ${version} (as of ${day})`,
  );
  if (skipped.length > 0) console.log(`not priced per token, left out: ${skipped.join(', ')}`);
}

function build(asOf) {
  const prices = [];
  const names = {};
  const seen = new Map(); // a price's JSON → its index, so identical prices are stored once
  const skipped = [];
  for (const source of SOURCES) {
    const provider = findProvider({ providerId: source.id });
    if (!provider || provider.id !== source.id) throw new Error(`genai-prices has no provider ${source.id}`);
    for (const model of provider.models) {
      const price = convert(model, asOf);
      if (!price) {
        skipped.push(`${source.id}:${model.id}`);
        continue;
      }
      const entry = { provider: source.id, ...price };
      const key = JSON.stringify(entry);
      let index = seen.get(key);
      for (let name of namesOf(model)) {
        if (source.mapName) name = source.mapName(name);
        if (!name || (source.keepName && !source.keepName(name))) continue;
        // The first source (and, within one, the first model, as genai-prices matches) wins.
        if (name in names) continue;
        if (index === undefined) {
          index = prices.push(entry) - 1;
          seen.set(key, index);
        }
        names[name] = index;
      }
    }
  }
  // The relay folds a Bedrock cross-region profile (`us.anthropic.…`) to its regional id when it
  // does not find it: a profile priced as its region need not be listed.
  for (const [name, index] of Object.entries(names)) {
    const regional = name.replace(/^(?!global\.)[a-z-]+\.(?=anthropic\.)/, '');
    if (regional !== name && names[regional] === index) delete names[name];
  }
  const sorted = Object.fromEntries(Object.entries(names).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { prices, names: sorted, skipped };
}

/**
 * The exact names a model answers to, lower-cased. A genai-prices `starts_with`/`contains` is read
 * as one name: the relay adds only dated suffixes to a name (worker/metering/prices.ts), never a
 * guessed family. A trailing separator or partial date in a prefix (`claude-sonnet-4-2025`,
 * `gpt-5-nano-`) is trimmed to the name it stands for. Regexes in the data only spell out dated
 * forms of names given beside them.
 */
function namesOf(model) {
  const out = new Set();
  const visit = (m) => {
    if ('or' in m) m.or.forEach(visit);
    else if ('and' in m) m.and.forEach(visit);
    else if ('equals' in m) out.add(m.equals.toLowerCase());
    else if ('starts_with' in m || 'contains' in m || 'ends_with' in m) {
      const trimmed = trim(m.starts_with ?? m.contains ?? m.ends_with);
      if (trimmed) out.add(trimmed);
    }
  };
  visit(model.match);
  if (matches(model.match, model.id)) out.add(trim(model.id));
  return out;
}

/** `claude-sonnet-4-2025` → `claude-sonnet-4`, `gpt-5-nano-` → `gpt-5-nano`; whole dates stay. */
function trim(prefix) {
  return prefix
    .toLowerCase()
    .replace(/-20\d{2}\d{0,3}-?$/, '')
    .replace(/[-@.:]+$/, '');
}

/** genai-prices' own match semantics, to keep a model's id only when it names the model. */
function matches(m, id) {
  const s = id.toLowerCase();
  if ('or' in m) return m.or.some((x) => matches(x, id));
  if ('and' in m) return m.and.every((x) => matches(x, id));
  if ('equals' in m) return s === m.equals.toLowerCase();
  if ('starts_with' in m) return s.startsWith(m.starts_with.toLowerCase());
  if ('ends_with' in m) return s.endsWith(m.ends_with.toLowerCase());
  if ('contains' in m) return s.includes(m.contains.toLowerCase());
  if ('regex' in m) return new RegExp(m.regex).test(id);
  return false;
}

/** Bedrock names: `anthropic.claude-…` and region profiles; a bare `claude-…` means `anthropic.claude-…`. */
function bedrockName(name) {
  // genai-prices' own ids for regional prices (`regional.anthropic.…`) are no name Bedrock uses.
  if (name.startsWith('regional.')) return null;
  // The relay strips the model version (`-v1:0`) before it looks a Bedrock id up.
  const bare = name.replace(/-v\d+(:\d+)?$/, '');
  if (bare.includes('anthropic.')) return bare;
  if (bare.startsWith('claude-')) return `anthropic.${bare}`;
  return null; // Bedrock's other vendors (Nova, Llama, …) are not served
}

/**
 * A model's price in our shape, or null when it is not priced per token. A list of conditional
 * prices becomes a schedule; entries superseded by a change dated on or before `asOf` are dropped,
 * since usage is priced when it happens (an override covers any correction).
 */
function convert(model, asOf) {
  if (!Array.isArray(model.prices)) return tokenPrice(model.prices);
  let rows = model.prices.map((row) => ({ constraint: row.constraint, price: tokenPrice(row.prices) }));
  if (rows.some((r) => !r.price)) return null;
  let last = -1;
  rows.forEach((r, i) => {
    if (r.constraint?.type === 'start_date' && Date.parse(r.constraint.start_date) <= asOf) last = i;
  });
  if (last > 0) rows = rows.slice(last);
  if (rows.length === 1) return rows[0].price;
  return {
    schedule: rows.map(({ constraint, price }, i) => {
      // genai-prices falls back to the first price when no constraint matches: same for us.
      if (!constraint || i === 0) return price;
      if (constraint.type === 'start_date') return { from: constraint.start_date, ...price };
      if (constraint.type === 'time_of_date') {
        return { utc: [secondsOfDay(constraint.start_time), secondsOfDay(constraint.end_time)], ...price };
      }
      throw new Error(`${model.id}: unknown price constraint ${JSON.stringify(constraint)}`);
    }),
  };
}

/** `{ rates, tiers? }` from a genai-prices price object, or null without token prices. */
function tokenPrice(p) {
  const free = Object.keys(p).length === 0; // genai-prices prices such a model at 0 (e.g. gemma)
  if (!free && p.input_mtok === undefined && p.output_mtok === undefined) return null;
  const thresholds = new Set();
  for (const kind of KINDS) {
    const value = pick(p, kind);
    if (typeof value === 'object') for (const t of value.tiers) thresholds.add(t.start);
  }
  const ratesAbove = (tokens) =>
    KINDS.map((kind) => {
      const value = pick(p, kind);
      if (value === undefined) return 0;
      if (typeof value === 'number') return micros(value);
      // A tier applies once the prompt exceeds its start (genai-prices: `tokens > start`).
      let price = value.base;
      for (const t of [...value.tiers].sort((a, b) => a.start - b.start))
        if (tokens > t.start) price = t.price;
      return micros(price);
    });
  const starts = [...thresholds].sort((a, b) => a - b);
  const price = { rates: ratesAbove(0) };
  if (starts.length > 0) price.tiers = starts.map((start) => [start, ratesAbove(start + 1)]);
  return price;
}

function pick(p, kind) {
  for (const key of KEYS[kind]) if (p[key] !== undefined) return p[key];
  return undefined;
}

function secondsOfDay(time) {
  const m = /^(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/.exec(time);
  if (!m) throw new Error(`unreadable time of day ${time}`);
  const offset = m[4] === 'Z' ? 0 : (m[5] === '+' ? 1 : -1) * (Number(m[6]) * 3600 + Number(m[7]) * 60);
  const local = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0);
  return (local - offset + 86_400) % 86_400;
}

function render({ version, day, prices, names }) {
  const lines = [
    `// Generated by scripts/prices.mjs (npm run prices:update) from @pydantic/genai-prices ${version}`,
    `// (MIT) as of ${day}. Do not edit: operators override prices through /admin/v1/prices.`,
    "import type { ShippedTable } from './prices';",
    '',
    'export const SHIPPED_TABLE: ShippedTable = {',
    `  source: '@pydantic/genai-prices@${version}',`,
    `  asOf: '${day}',`,
    '  // rates: [input, output, cacheWrite5m, cacheWrite1h, cacheRead] micro-dollars per million tokens;',
    '  // tiers: [prompt tokens above which they apply, rates]; schedule: rows tried last to first.',
    '  prices: [',
    ...prices.map((p) => `    ${JSON.stringify(p)},`),
    '  ],',
    '  names: {',
    ...Object.entries(names).map(([name, index]) => `    ${JSON.stringify(name)}: ${index},`),
    '  },',
    '};',
    '',
  ];
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
