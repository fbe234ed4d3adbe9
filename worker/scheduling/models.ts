// Which models an account serves. By default its provider's family (data on each adapter; a
// compatible vendor's from its preset); a non-empty `supportedModels` replaces that list (to
// narrow it, or to widen it: list the family too); the names in `modelMapping` are always served,
// that being how an operator sends a model to an account of another family on purpose.
//
// A model pattern is an exact id, or a glob: `*` stands for any run of characters, `[0-9]` for
// one character of a range. `claude-*`, `o[0-9]*`, `*.anthropic.claude-*`; `*` alone is any model.
import type { PoolAccount } from './group-config';

const compiled = new Map<string, RegExp>();
/** A character class as globs write it: `[0-9]`, `[abc]`. */
const CLASS = /^\[(?:[a-z0-9]-[a-z0-9]|[a-z0-9]+)\]/i;

function compile(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const range = c === '[' ? CLASS.exec(pattern.slice(i))?.[0] : undefined;
    if (c === '*') source += '.*';
    else if (range) {
      source += range;
      i += range.length - 1;
    } else source += c.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export function matchesModel(pattern: string, model: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('[')) return pattern === model;
  let re = compiled.get(pattern);
  if (!re) {
    if (compiled.size > 1000) compiled.clear();
    re = compile(pattern);
    compiled.set(pattern, re);
  }
  return re.test(model);
}

/** The patterns an account serves by itself: its `supportedModels` when set, else its family. */
function ownModels(account: PoolAccount): readonly string[] {
  return account.supportedModels && account.supportedModels.length > 0
    ? account.supportedModels
    : account.family;
}

/** Whether an account serves a model. A request without a model (a model list) is served by any. */
export function servesModel(account: PoolAccount, model: string): boolean {
  if (model === '' || account.mapped.includes(model)) return true;
  return ownModels(account).some((pattern) => matchesModel(pattern, model));
}

/** The account as a refusal names it: `pool-1 (openai-compatible, deepseek)`. */
export function describeAccount(account: PoolAccount, index: number): string {
  const vendor = account.preset ?? (account.family.length === 0 ? 'custom endpoint' : null);
  // By its place in the group, not its name: a refusal goes to whoever holds a key, and nothing
  // of an account's identity crosses the relay (the group's managers see the names in order).
  return `account ${index + 1} (${account.provider}${vendor ? `, ${vendor}` : ''})`;
}

/** What an account serves, in words, for a refusal: `serves gpt-*, o[0-9]*, …`. */
export function describeModels(account: PoolAccount): string {
  const mapped = account.mapped.length > 0 ? `${account.mapped.join(', ')} through its modelMapping` : null;
  if (account.supportedModels && account.supportedModels.length > 0) {
    const own = `${account.supportedModels.join(', ')} (its supportedModels)`;
    return `serves only ${own}${mapped ? `, and ${mapped}` : ''}`;
  }
  if (account.family.length === 0) {
    return mapped
      ? `serves only ${mapped}`
      : 'serves only what its supportedModels or modelMapping list, and lists nothing';
  }
  return `serves ${account.family.join(', ')}${mapped ? `, and ${mapped}` : ''}`;
}
