// Fake AI provider for the relay's tests and benchmarks: every outbound fetch lands here, whatever its URL.
// It also receives the relay's alert webhooks (./hooks.ts).
import { anthropic } from './anthropic';
import { azure } from './azure';
import { bedrock } from './bedrock';
import { control } from './control';
import { gemini } from './gemini';
import { claimsHook, hookControl, receiveHook } from './hooks';
import { openai } from './openai';
import type { Provider } from './provider';
import { play } from './upstream';

export type { LogEntry, Stats } from './control';
export type { HookEntry } from './hooks';

const controlHost = 'fake.control';
// First claim wins. Hosts decide where they are known; OpenAI comes last because it matches only a path
// suffix (`/chat/completions`, `/responses`, `/models`) under any host and base path.
const providers: readonly Provider[] = [bedrock, azure, gemini, anthropic, openai];
// Paths no provider claims (Claude Code's `HEAD /` probe among them) get Anthropic's envelope.
const fallback = anthropic;

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.hostname === controlHost) return (await hookControl(request, url)) ?? control(request, url);
    // Alert webhooks (a path no provider uses).
    if (claimsHook(url)) return receiveHook(request, url);
    const provider = providers.find((candidate) => candidate.claims(request, url)) ?? fallback;
    return play(provider, request, url);
  },
};
