// The scenarios the fake upstream can play, and what each asks of a provider whatever its wire format.

export const scenarioNames = [
  'ok',
  'burst',
  'slow',
  'slow_first_byte',
  'slow_first_content',
  'hang',
  'stall',
  'overloaded_after_start',
  'midstream_error',
  'drop',
  '400',
  '402',
  '401',
  '403',
  '429',
  '500',
  '529',
  'tool_call',
] as const;

export type ScenarioName = (typeof scenarioNames)[number];

export interface Scenario {
  readonly name: ScenarioName;
  /** Meaning depends on the scenario: a delay in ms, retry-after seconds, or a delta count. */
  readonly param?: number;
  /** How many text deltas the reply is split into. */
  readonly chunks?: number;
}

/** Error categories every provider has, each rendered in its own dialect. */
export type ErrorKind =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'rate_limit'
  | 'server'
  | 'overloaded'
  /** The account is out of prepaid credit: each provider says so its own way (DeepSeek with a 402). */
  | 'billing';

export interface Failure {
  readonly kind: ErrorKind;
  readonly message?: string;
  readonly retryAfterSeconds?: number;
}

/** How a stream stops early: after N text deltas (0 = right after the start event). */
export type Interruption =
  | { readonly afterDeltas: number; readonly ending: 'error_event' }
  | { readonly afterDeltas: number; readonly ending: 'drop' }
  | { readonly afterDeltas: number; readonly ending: 'stall'; readonly forMs: number };

/** What the model says: text, or a call of the first tool the request offers. */
export type Content = 'text' | 'tool_call';

export interface Answer {
  readonly kind: 'answer';
  readonly content: Content;
  readonly firstByteDelayMs: number;
  /** For a stream: its headers and start event at once, the rest (the first content on) this much later. */
  readonly firstContentDelayMs: number;
  readonly chunkDelayMs: number;
  readonly chunks: number;
  readonly interruption: Interruption | null;
  /**
   * A stream sent whole without waiting for its reader, as a provider's bytes cross TCP: the rest
   * of the answer is in the relay's hands before its client has read it.
   */
  readonly eager?: boolean;
}

export type Behaviour = { readonly kind: 'fail'; readonly failure: Failure } | Answer;

const defaultChunks = 4;
const defaultSlowDelayMs = 20;
const defaultFirstByteDelayMs = 5000;
const defaultRetryAfterSeconds = 7;
const defaultInterruptedDeltas = 2;
// A hung stream must end some day, or a forgotten reader under Node would keep the process alive.
const defaultHangMs = 600_000;

const failures: Partial<Record<ScenarioName, ErrorKind>> = {
  '400': 'invalid_request',
  '402': 'billing',
  '401': 'authentication',
  '403': 'permission',
  '429': 'rate_limit',
  '500': 'server',
  '529': 'overloaded',
};

export function behaviourOf(scenario: Scenario): Behaviour {
  const { name, param } = scenario;
  const failure = failures[name];
  if (failure !== undefined) {
    return failure === 'rate_limit'
      ? { kind: 'fail', failure: { kind: failure, retryAfterSeconds: param ?? defaultRetryAfterSeconds } }
      : { kind: 'fail', failure: { kind: failure } };
  }
  const answer: Answer = {
    kind: 'answer',
    content: name === 'tool_call' ? 'tool_call' : 'text',
    firstByteDelayMs: 0,
    firstContentDelayMs: 0,
    chunkDelayMs: 0,
    chunks: scenario.chunks ?? defaultChunks,
    interruption: null,
  };
  switch (name) {
    case 'ok':
    case 'tool_call':
      return { ...answer, chunkDelayMs: param ?? 0 };
    case 'burst':
      return { ...answer, eager: true };
    case 'slow':
      return { ...answer, chunkDelayMs: param ?? defaultSlowDelayMs };
    case 'slow_first_byte':
      return { ...answer, firstByteDelayMs: param ?? defaultFirstByteDelayMs };
    // An upstream that answers at once and then takes its time to say anything.
    case 'slow_first_content':
      return { ...answer, firstContentDelayMs: param ?? defaultFirstByteDelayMs };
    case 'hang':
      return { ...answer, interruption: { afterDeltas: 0, ending: 'stall', forMs: param ?? defaultHangMs } };
    // Content flows, then the upstream goes quiet without closing: `stall.<deltas before it>`.
    case 'stall':
      return {
        ...answer,
        interruption: {
          afterDeltas: param ?? defaultInterruptedDeltas,
          ending: 'stall',
          forMs: defaultHangMs,
        },
      };
    case 'overloaded_after_start':
      return { ...answer, interruption: { afterDeltas: 0, ending: 'error_event' } };
    case 'midstream_error':
      return {
        ...answer,
        interruption: { afterDeltas: param ?? defaultInterruptedDeltas, ending: 'error_event' },
      };
    case 'drop':
      return { ...answer, interruption: { afterDeltas: param ?? defaultInterruptedDeltas, ending: 'drop' } };
    default:
      return answer;
  }
}

function isScenarioName(name: string): name is ScenarioName {
  return (scenarioNames as readonly string[]).includes(name);
}

// An empty field (`slow..12`) keeps the default param while still giving a chunk count.
function count(text: string | undefined): number | undefined | null {
  if (text === undefined || text === '') return undefined;
  return /^\d+$/.test(text) ? Number(text) : null;
}

/** Parses `name[.param[.chunks]]`, e.g. `529`, `slow.50`, `slow.50.12`, `ok..8`; null when malformed. */
export function parseScenario(text: string): Scenario | null {
  const [name = '', paramText, chunksText, ...rest] = text.split('.');
  const param = count(paramText);
  const chunks = count(chunksText);
  const valid =
    isScenarioName(name) && param !== null && chunks !== null && chunks !== 0 && rest.length === 0;
  if (!valid) return null;
  return { name, ...(param === undefined ? {} : { param }), ...(chunks === undefined ? {} : { chunks }) };
}

/** Accepts a script entry: a scenario string or `{ name, param?, chunks? }`. */
export function scenarioFrom(entry: unknown): Scenario | null {
  if (typeof entry === 'string') return parseScenario(entry);
  if (typeof entry !== 'object' || entry === null) return null;
  const { name, param, chunks } = entry as Record<string, unknown>;
  const isCount = (value: unknown) =>
    value === undefined || (Number.isSafeInteger(value) && Number(value) >= 0);
  if (
    typeof name !== 'string' ||
    !isScenarioName(name) ||
    !isCount(param) ||
    !isCount(chunks) ||
    chunks === 0
  ) {
    return null;
  }
  return {
    name,
    ...(typeof param === 'number' ? { param } : {}),
    ...(typeof chunks === 'number' ? { chunks } : {}),
  };
}

/** The scenario as the log shows it, in the same `name[.param[.chunks]]` form a key or script uses. */
export function scenarioLabel(scenario: Scenario): string {
  const { name, param, chunks } = scenario;
  if (chunks !== undefined) return `${name}.${param ?? ''}.${chunks}`;
  return param === undefined ? name : `${name}.${param}`;
}
