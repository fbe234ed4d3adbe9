// Where each subscription kind signs in: its authorization and token endpoints, client id, redirect
// URI and scopes. The defaults live beside each adapter (worker/providers/<kind>/oauth-config.ts)
// and are what the provider's own CLI uses; every field can be overridden by an environment
// variable (`CLAUDE_OAUTH_TOKEN_URL`, `CODEX_OAUTH_CLIENT_ID`…) because providers move them.
import { CLAUDE_OAUTH } from '../providers/claude-oauth/oauth-config';
import { CODEX_OAUTH } from '../providers/codex-oauth/oauth-config';
import { GEMINI_OAUTH } from '../providers/gemini-oauth/oauth-config';
import type { OAuthCredential } from './credential';

export const OAUTH_KINDS = ['claude-oauth', 'codex-oauth', 'gemini-oauth'] as const;
export type OAuthKind = (typeof OAUTH_KINDS)[number];

export function isOAuthKind(kind: string): kind is OAuthKind {
  return (OAUTH_KINDS as readonly string[]).includes(kind);
}

export interface OAuthProviderConfig {
  authorizeUrl: string;
  tokenUrl: string;
  clientId: string;
  /**
   * Google's installed-app clients carry a secret that is public by design (it ships in the CLI);
   * sent in the token requests when set.
   */
  clientSecret?: string;
  redirectUri: string;
  /** Space-separated, as sent in the authorize URL. */
  scopes: string;
  /** Scopes asked again on refresh (Codex narrows them); absent: none sent. */
  refreshScopes?: string;
  /** Anthropic's token endpoint takes JSON; OpenAI's takes a form (RFC 6749's encoding). */
  tokenEncoding: 'json' | 'form';
  /** Anthropic also wants the state in the code exchange. */
  stateInExchange: boolean;
  /** Extra authorize parameters the provider's CLI sends. */
  authorizeParams: Record<string, string>;
  /** The provider's consumer terms, shown before the admin confirms. */
  termsUrl: string;
  /**
   * What the account needs beyond its tokens, found once at sign-in (Gemini: its Code Assist
   * project). A refusal is the admin's to fix (`invalid_request`), a failure the provider's.
   */
  completeSignIn?(env: Env, credential: OAuthCredential, baseUrl: string | null): Promise<SignInCompletion>;
}

export type SignInCompletion =
  | { ok: true; credential: OAuthCredential }
  | { ok: false; refused: boolean; message: string };

/**
 * Environment prefix per kind: `<PREFIX>_AUTHORIZE_URL`, `_TOKEN_URL`, `_CLIENT_ID`,
 * `_CLIENT_SECRET` (for clients that have one), `_REDIRECT_URI`, `_SCOPES`.
 */
const PREFIX: Record<OAuthKind, string> = {
  'claude-oauth': 'CLAUDE_OAUTH',
  'codex-oauth': 'CODEX_OAUTH',
  'gemini-oauth': 'GEMINI_OAUTH',
};
const DEFAULTS: Record<OAuthKind, OAuthProviderConfig> = {
  'claude-oauth': CLAUDE_OAUTH,
  'codex-oauth': CODEX_OAUTH,
  'gemini-oauth': GEMINI_OAUTH,
};

export function oauthConfig(env: Env, kind: OAuthKind): OAuthProviderConfig {
  const vars = env as unknown as Record<string, string | undefined>;
  const pick = (name: string, fallback: string) => vars[`${PREFIX[kind]}_${name}`] || fallback;
  const base = DEFAULTS[kind];
  return {
    ...base,
    authorizeUrl: pick('AUTHORIZE_URL', base.authorizeUrl),
    tokenUrl: pick('TOKEN_URL', base.tokenUrl),
    clientId: pick('CLIENT_ID', base.clientId),
    clientSecret: base.clientSecret === undefined ? undefined : pick('CLIENT_SECRET', base.clientSecret),
    redirectUri: pick('REDIRECT_URI', base.redirectUri),
    scopes: pick('SCOPES', base.scopes),
  };
}
