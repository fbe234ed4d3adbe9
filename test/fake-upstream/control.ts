// Per-tag record of what the fake upstream received and answered, and the control API tests read and steer it with.
import type { Json } from './reply';
import { type Scenario, scenarioFrom } from './scenarios';

export interface LogEntry {
  /**
   * The id the response carried: `request-id` (Anthropic), `x-request-id` (OpenAI, Azure),
   * `x-amzn-RequestId` (Bedrock), the body's `responseId` (Gemini).
   */
  id: string;
  method: string;
  /** The host the request was sent to: which endpoint an account's base URL or preset reached. */
  host: string;
  path: string;
  search: string;
  headers: Record<string, string>;
  body: string;
  bodySha256: string;
  scenario: string | null;
  /** Null until the response headers are decided (e.g. during a slow first byte). */
  status: number | null;
  /**
   * The provider's raw usage object as the client last saw it (Anthropic `usage`, OpenAI `usage`, Gemini
   * `usageMetadata`), or null when none was sent (an OpenAI chat stream without `include_usage`).
   */
  usage: Json | null;
  /** The reply text sent so far (a tool call's arguments JSON), or null when the response carries none. */
  text: string | null;
  startedAt: number;
  endedAt: number | null;
  /** The reader cancelled the response body before it ended. */
  cancelled: boolean;
}

export interface Stats {
  count: number;
  inFlight: number;
  highWater: number;
}

interface TagState {
  readonly log: LogEntry[];
  readonly stats: Stats;
  readonly script: Scenario[];
}

// One isolate serves every test, so module state is the whole store.
const tags = new Map<string, TagState>();

function stateOf(tag: string): TagState {
  let state = tags.get(tag);
  if (state === undefined) {
    state = { log: [], stats: { count: 0, inFlight: 0, highWater: 0 }, script: [] };
    tags.set(tag, state);
  }
  return state;
}

/** The next scripted scenario for this tag, which takes precedence over the one in the key. */
export function takeScripted(tag: string): Scenario | undefined {
  return tags.get(tag)?.script.shift();
}

export type ExchangeEnd = 'completed' | 'failed' | 'cancelled';

/** One request from arrival until its response body ends; it is in flight all that time. */
export class Exchange {
  // Held directly so a request still running across a reset settles the old counters, not the new ones.
  readonly #stats: Stats;
  readonly #entry: LogEntry;
  #ended = false;

  constructor(stats: Stats, entry: LogEntry) {
    this.#stats = stats;
    this.#entry = entry;
  }

  get id(): string {
    return this.#entry.id;
  }

  answered(status: number): void {
    this.#entry.status = status;
  }

  reported(usage: Json | undefined, text: string | undefined): void {
    if (usage !== undefined) this.#entry.usage = usage;
    if (text !== undefined) this.#entry.text = text;
  }

  ended(how: ExchangeEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#entry.endedAt = Date.now();
    this.#entry.cancelled = how === 'cancelled';
    this.#stats.inFlight -= 1;
  }
}

export type Arrival = Pick<
  LogEntry,
  'id' | 'method' | 'host' | 'path' | 'search' | 'headers' | 'body' | 'bodySha256' | 'scenario'
>;

export function openExchange(tag: string, arrival: Arrival): Exchange {
  const { log, stats } = stateOf(tag);
  const entry: LogEntry = {
    ...arrival,
    status: null,
    usage: null,
    text: null,
    startedAt: Date.now(),
    endedAt: null,
    cancelled: false,
  };
  log.push(entry);
  stats.count += 1;
  stats.inFlight += 1;
  stats.highWater = Math.max(stats.highWater, stats.inFlight);
  return new Exchange(stats, entry);
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

async function queueScript(request: Request): Promise<Response> {
  let input: unknown;
  try {
    input = await request.json();
  } catch {
    return json({ error: 'body must be JSON: {"tag": "...", "scenarios": [...]}' }, 400);
  }
  const { tag, scenarios } = (typeof input === 'object' && input !== null ? input : {}) as Record<
    string,
    unknown
  >;
  if (typeof tag !== 'string' || !Array.isArray(scenarios)) {
    return json({ error: 'body must be {"tag": "...", "scenarios": [...]}' }, 400);
  }
  const parsed: Scenario[] = [];
  for (const entry of scenarios) {
    const scenario = scenarioFrom(entry);
    if (scenario === null) return json({ error: `unknown scenario: ${JSON.stringify(entry)}` }, 400);
    parsed.push(scenario);
  }
  const { script } = stateOf(tag);
  script.push(...parsed);
  return json({ queued: script.length });
}

/** The control API on host `fake.control`. */
export async function control(request: Request, url: URL): Promise<Response> {
  const route = `${request.method} ${url.pathname}`;
  if (route === 'POST /script') return queueScript(request);
  const tag = url.searchParams.get('tag');
  if (tag === null) return json({ error: 'tag query parameter required' }, 400);
  switch (route) {
    case 'GET /log':
      return json(tags.get(tag)?.log ?? []);
    case 'GET /stats':
      return json(tags.get(tag)?.stats ?? { count: 0, inFlight: 0, highWater: 0 });
    case 'POST /reset':
      tags.delete(tag);
      return json({ reset: tag });
    default:
      return json({ error: `no control route ${route}` }, 404);
  }
}
