// ChatGPT (Plus/Pro) sign-in for Codex: the public OAuth client of the Codex CLI. Sources:
// router-for-me/CLIProxyAPI internal/auth/codex/openai_auth.go (endpoints, client id, redirect
// http://localhost:1455/auth/callback, the simplified-flow parameters, form-encoded token bodies,
// refresh with scope "openid profile email"); openai/codex codex-rs login (the same client).
import type { OAuthProviderConfig } from '../../oauth/config';

export const CODEX_OAUTH: OAuthProviderConfig = {
  authorizeUrl: 'https://auth.openai.com/oauth/authorize',
  tokenUrl: 'https://auth.openai.com/oauth/token',
  clientId: 'app_EMoamEEZ73f0CkXaXp7hrann',
  redirectUri: 'http://localhost:1455/auth/callback',
  scopes: 'openid profile email offline_access',
  refreshScopes: 'openid profile email',
  tokenEncoding: 'form',
  stateInExchange: false,
  authorizeParams: {
    id_token_add_organizations: 'true',
    codex_cli_simplified_flow: 'true',
    prompt: 'login',
  },
  termsUrl: 'https://openai.com/policies/terms-of-use',
};
