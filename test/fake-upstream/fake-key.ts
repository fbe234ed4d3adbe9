// Reads the upstream credential tests give the relay: `sk-fake.<tag>.<scenario>[.<param>[.<chunks>]]`.
import { parseScenario, type Scenario } from './scenarios';

export interface FakeKey {
  /** Groups a test's requests so concurrent tests never see each other's traffic. */
  readonly tag: string;
  /** The scenario text after the tag, as written (for the log when it does not parse). */
  readonly scenarioText: string;
  /** Null when the scenario text names no known scenario. */
  readonly scenario: Scenario | null;
}

const prefix = 'sk-fake.';

/** Null when the credential is missing or is not a fake key, which the provider answers with a 401. */
export function readFakeKey(credential: string | null): FakeKey | null {
  if (credential === null || !credential.startsWith(prefix)) return null;
  const rest = credential.slice(prefix.length);
  const dot = rest.indexOf('.');
  const tag = dot === -1 ? rest : rest.slice(0, dot);
  const scenarioText = dot === -1 ? 'ok' : rest.slice(dot + 1);
  return { tag, scenarioText, scenario: parseScenario(scenarioText) };
}
