// Gemini Code Assist sign-in: the Gemini CLI's installed-app OAuth client at Google. Source:
// google-gemini/gemini-cli packages/core/src/code_assist/oauth2.ts (client id and its public
// secret, scopes, the user-code flow whose redirect page shows the code to paste, PKCE S256,
// `access_type=offline`). `prompt=consent` is ours: Google issues a refresh token only on a
// consent, and an account signed in again would otherwise get none. Google's token endpoint takes
// a form with the client secret and, on refresh, usually returns no new refresh token (the old one
// stays valid). The Code Assist project is found after the code exchange (./code-assist.ts).
import type { OAuthProviderConfig } from '../../oauth/config';
import { setUpCodeAssist } from './code-assist';

export const GEMINI_OAUTH: OAuthProviderConfig = {
  authorizeUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
  tokenUrl: 'https://oauth2.googleapis.com/token',
  clientId: '681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com',
  // Public by design: "the client secret is obviously not treated as a secret" for installed
  // apps (https://developers.google.com/identity/protocols/oauth2#installed), as gemini-cli notes.
  clientSecret: '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',
  redirectUri: 'https://codeassist.google.com/authcode',
  scopes: [
    'https://www.googleapis.com/auth/cloud-platform',
    'https://www.googleapis.com/auth/userinfo.email',
    'https://www.googleapis.com/auth/userinfo.profile',
  ].join(' '),
  tokenEncoding: 'form',
  stateInExchange: false,
  authorizeParams: { access_type: 'offline', prompt: 'consent' },
  // Gemini CLI's terms page: which Google terms apply to a Code Assist sign-in, and Google's
  // statement on reaching Code Assist through third-party software with the CLI's sign-in.
  termsUrl: 'https://github.com/google-gemini/gemini-cli/blob/main/docs/resources/tos-privacy.md',
  completeSignIn: setUpCodeAssist,
};
