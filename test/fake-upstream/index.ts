// Fake AI provider for the relay's tests and benchmarks: every outbound fetch lands here, whatever its URL.
import { anthropic } from './anthropic';
import { control } from './control';
import type { Provider } from './provider';
import { play } from './upstream';

export type { LogEntry, Stats } from './control';

const controlHost = 'fake.control';
const providers: readonly Provider[] = [anthropic];
// Paths no provider claims get this provider's not-found envelope.
const fallback = anthropic;

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.hostname === controlHost) return control(request, url);
    const provider = providers.find((candidate) => candidate.claims(request.method, url)) ?? fallback;
    return play(provider, request, url);
  },
};
