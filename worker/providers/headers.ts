// Header hygiene shared by every adapter. Headers cross the relay by allow-list only, in both
// directions: each adapter declares (as data, `ProviderAdapter.headers`) the client headers its
// provider reads and the response headers a member may see. Everything else stays on its side:
// credentials, cookies, addresses and edge headers, organisation and project ids, anything new.
//
// Adding a header: put its lower-case name (or a `prefix-*`) in the adapter's policy, then extend
// the table of its provider in test/hygiene.test.ts.

/** Lower-case header names; a trailing `*` allows every name with that prefix (`x-ratelimit-*`). */
export type HeaderList = readonly string[];

export interface HeaderPolicy {
  /** Client request headers the provider documents as meaningful, forwarded as the client sent them. */
  readonly upstream: HeaderList;
  /** Upstream response headers a member's client may see. */
  readonly downstream: HeaderList;
}

/**
 * What every HTTP provider shares. `user-agent` names the client software (Claude Code, Codex,
 * an SDK), never a person, and providers recognise and support their own clients by it.
 * `accept-encoding` is absent on purpose: workerd negotiates compression with the upstream and
 * hands back decoded bytes, which the tap must read anyway.
 */
export const BASE_HEADERS: HeaderPolicy = {
  upstream: ['content-type', 'accept', 'user-agent'],
  // `content-encoding` and `content-length` never: the body reaching the client is decoded by
  // workerd and, when converted, of another length.
  downstream: ['content-type', 'cache-control', 'retry-after'],
};

/** The base policy plus a provider's own names. */
export function withBase(own: HeaderPolicy): HeaderPolicy {
  return {
    upstream: [...BASE_HEADERS.upstream, ...own.upstream],
    downstream: [...BASE_HEADERS.downstream, ...own.downstream],
  };
}

interface Matcher {
  exact: string[];
  prefixes: string[];
}

const matchers = new WeakMap<HeaderList, Matcher>();

function matcherOf(list: HeaderList): Matcher {
  let matcher = matchers.get(list);
  if (!matcher) {
    matcher = { exact: [], prefixes: [] };
    for (const name of list) {
      if (name.endsWith('*')) matcher.prefixes.push(name.slice(0, -1));
      else matcher.exact.push(name);
    }
    matchers.set(list, matcher);
  }
  return matcher;
}

export function allows(list: HeaderList, name: string): boolean {
  const { exact, prefixes } = matcherOf(list);
  const lower = name.toLowerCase();
  return exact.includes(lower) || prefixes.some((prefix) => lower.startsWith(prefix));
}

/**
 * The headers of `from` that `list` allows. Named headers are looked up, not searched for: a
 * client sends twenty headers and a provider reads a handful. Only a list with prefixes walks
 * the headers (whose names the runtime yields in lower case).
 */
export function pickHeaders(from: Headers, list: HeaderList): Headers {
  const { exact, prefixes } = matcherOf(list);
  const out = new Headers();
  for (const name of exact) {
    const value = from.get(name);
    if (value !== null) out.set(name, value);
  }
  if (prefixes.length > 0) {
    for (const [name, value] of from) {
      for (const prefix of prefixes) {
        if (name.startsWith(prefix)) {
          out.append(name, value);
          break;
        }
      }
    }
  }
  return out;
}

/** The client's headers the provider reads; the adapter then adds its own (auth, version). */
export function upstreamHeaders(client: Headers, policy: HeaderPolicy): Headers {
  return pickHeaders(client, policy.upstream);
}

/** The upstream's response headers a member may see. */
export function downstreamHeaders(upstream: Headers, policy: HeaderPolicy): Headers {
  return pickHeaders(upstream, policy.downstream);
}

/** `retry-after` (seconds or HTTP date) or `retry-after-ms`, in milliseconds. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | null {
  const ms = headers.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get('retry-after');
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
