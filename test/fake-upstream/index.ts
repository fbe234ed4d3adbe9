// Fake AI provider for the relay's tests and benchmarks: every outbound fetch lands here, whatever its URL.
// It also receives the relay's alert webhooks (./hooks.ts).
// Host idp.test is the fake OpenID Connect provider (test/fake-idp/); oauth.test the fake
// authorization server of the subscription accounts (test/fake-oauth/), whose access tokens are
// checked here: a live one plays as its person's fake key, with their plan's usage headers.
// cloudcode-pa.googleapis.com (or any host, by its /v1internal paths) is Gemini Code Assist
// (./code-assist.ts), reached with those tokens.
import { IDP_HOST, idp } from '../fake-idp';
import { OAUTH_HOST, oauth, resolveAccessToken } from '../fake-oauth';
import { anthropic } from './anthropic';
import { azure } from './azure';
import { bedrock } from './bedrock';
import { codeAssist } from './code-assist';
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
const providers: readonly Provider[] = [bedrock, azure, codeAssist, gemini, anthropic, openai];
// Paths no provider claims (Claude Code's `HEAD /` probe among them) get Anthropic's envelope.
const fallback = anthropic;

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.hostname === controlHost) return (await hookControl(request, url)) ?? control(request, url);
    // Alert webhooks (a path no provider uses).
    if (claimsHook(url)) return receiveHook(request, url);
    if (url.hostname === IDP_HOST) return idp(request, url);
    if (url.hostname === OAUTH_HOST) return oauth(request, url);
    const provider = providers.find((candidate) => candidate.claims(request, url)) ?? fallback;
    const bearer = request.headers.get('authorization')?.replace(/^Bearer\s+/i, '') ?? '';
    if (!bearer.startsWith('oat.')) return play(provider, request, url);
    const person = resolveAccessToken(bearer);
    const headers = new Headers(request.headers);
    // Not a live token: no key at all, which every provider answers with its 401.
    headers.set('authorization', person ? `Bearer ${person.key}` : 'Bearer expired');
    const res = await play(provider, new Request(request, { headers }), url);
    if (!person || Object.keys(person.headers).length === 0) return res;
    const withWindows = new Headers(res.headers);
    for (const [name, value] of Object.entries(person.headers)) withWindows.set(name, value);
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: withWindows });
  },
};
