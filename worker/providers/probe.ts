// Does a credential work? Asked the way a person would check: list the upstream's models with it,
// or, where the upstream lists none (Codex subscriptions), the adapter's smallest request.
// Shared by an account's probe (durable-objects/account-gate.ts) and the test-connection route,
// which checks a credential before anything is stored.
import { adapterFor } from './registry';
import type { UpstreamAccount } from './types';

const PROBE_TIMEOUT_MS = 10_000;

/** The upstream's status for the probe (null: no answer, or no adapter for the provider). */
export async function probeUpstream(account: UpstreamAccount, credential: string): Promise<number | null> {
  const adapter = adapterFor(account.provider);
  if (!adapter) return null;
  try {
    const request = adapter.probeRequest
      ? await adapter.probeRequest(account, credential)
      : await adapter.buildRequest({
          account,
          credential,
          operation: { wire: adapter.wires[0]!, kind: 'models', model: '', stream: false, search: '' },
          method: 'GET',
          clientHeaders: new Headers(),
          body: null,
        });
    const res = await fetch(request, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    // The status is the answer: a probe that generates stops reading at once.
    await res.body?.cancel();
    return res.status;
  } catch {
    return null;
  }
}
