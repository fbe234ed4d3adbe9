// Claude (Pro/Max) sign-in: the public OAuth client of Claude Code. Sources, as of 2026:
// Wei-Shaw/claude-relay-service src/utils/oauthHelper.js (authorize, token and redirect on
// platform.claude.com, JSON token body with the state, `code=true`), router-for-me/CLIProxyAPI
// internal/auth/claude/anthropic_auth.go. The token endpoint moved from
// console.anthropic.com/v1/oauth/token to platform.claude.com: override with CLAUDE_OAUTH_TOKEN_URL.
import type { OAuthProviderConfig } from '../../oauth/config';

export const CLAUDE_OAUTH: OAuthProviderConfig = {
  authorizeUrl: 'https://claude.ai/oauth/authorize',
  tokenUrl: 'https://platform.claude.com/v1/oauth/token',
  clientId: '9d1c250a-e61b-44d9-88ed-5944d1962f5e',
  redirectUri: 'https://platform.claude.com/oauth/code/callback',
  scopes: 'org:create_api_key user:profile user:inference user:sessions:claude_code',
  tokenEncoding: 'json',
  stateInExchange: true,
  // Asks the callback page to show the code for pasting, as Claude Code's manual flow does.
  authorizeParams: { code: 'true' },
  termsUrl: 'https://www.anthropic.com/legal/consumer-terms',
};
