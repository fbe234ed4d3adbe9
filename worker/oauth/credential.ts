// What an OAuth account's credential holds once decrypted: the provider's tokens and when the
// access token expires. Stored like every credential, AES-GCM under CREDENTIALS_KEY
// (worker/auth/credentials.ts), as JSON. `obtainedAt` orders two copies: the gate keeps the newer.
import { z } from 'zod';

export const OAuthCredentialSchema = z.object({
  accessToken: z.string().min(1),
  refreshToken: z.string().min(1),
  /** Epoch ms when the access token stops working. */
  expiresAt: z.number().int(),
  /** Epoch ms when these tokens were issued (by a sign-in or a refresh). */
  obtainedAt: z.number().int(),
  /** Codex: the ChatGPT account (workspace) the tokens act for, sent as `chatgpt-account-id`. */
  chatgptAccountId: z.string().nullable().optional(),
  /** Gemini: the Code Assist project the account's requests name, found at sign-in (loadCodeAssist). */
  project: z.string().nullable().optional(),
});

export type OAuthCredential = z.infer<typeof OAuthCredentialSchema>;

export function parseOAuthCredential(text: string): OAuthCredential | null {
  try {
    const parsed = OAuthCredentialSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The access token of a decrypted credential; throws when it is not an OAuth credential. */
export function accessTokenOf(credential: string): OAuthCredential {
  const parsed = parseOAuthCredential(credential);
  if (!parsed) throw new Error('not an OAuth credential');
  return parsed;
}
