// Subscription accounts (claude-oauth, codex-oauth, gemini-oauth) are added by signing in at the
// provider with PKCE (RFC 7636, S256): start makes the authorization URL and remembers the sign-in (its state
// hashed, bound to whoever started it, single use, ten minutes); the person signs in at the
// provider and pastes back the code or the whole callback URL; finish exchanges the code at the
// token endpoint and creates the account with the tokens encrypted like every credential. Who may
// start is who may create that account: ai.manage in the enterprise for a pool account, the
// carpool's owner (group.manage) for a carpool's account, a system admin for an account of no one;
// with `accountId`, whoever may change that account signs it in again (new tokens, enabled again).
// The terms of consumer plans must be confirmed (acceptTerms) at the start. A kind that needs more
// than tokens (Gemini: its Code Assist project) completes the sign-in before the account is made.
import { and, eq, lt } from 'drizzle-orm';
import { ApiError } from '../api/errors';
import { sha256Hex } from '../auth/api-key';
import { decryptCredential, encryptCredential } from '../auth/credentials';
import { oauthFlows } from '../db/schema';
import { OAUTH_KINDS, type OAuthKind, oauthConfig } from '../oauth/config';
import { randomToken, s256 } from '../oauth/pkce';
import { exchangeCode } from '../oauth/token-endpoint';
import {
  type AccountSettings,
  accountToManage,
  bindCarpoolAccount,
  carpoolFor,
  createAccount,
  type PublicAccount,
  reauthorizeAccount,
  requireEnterprise,
} from './accounts';
import { authorize, type Caller, memberships } from './caller';

const FLOW_TTL_MS = 10 * 60_000;

const LABEL: Record<OAuthKind, string> = {
  'claude-oauth': 'Claude subscription',
  'codex-oauth': 'ChatGPT subscription',
  'gemini-oauth': 'Gemini Code Assist',
};

/**
 * The subscription kinds a deployment offers, with their terms: a kind that is switched off
 * (gemini-oauth without GEMINI_OAUTH_ENABLED) is listed as such, so the dashboard does not offer it.
 */
export function oauthKinds(
  env: Env,
): { kind: OAuthKind; label: string; termsUrl: string; enabled: boolean }[] {
  return OAUTH_KINDS.map((kind) => ({
    kind,
    label: LABEL[kind],
    termsUrl: oauthConfig(env, kind).termsUrl,
    enabled: kindEnabled(env, kind),
  }));
}

function kindEnabled(env: Env, kind: OAuthKind): boolean {
  return kind !== 'gemini-oauth' || env.GEMINI_OAUTH_ENABLED === 'true';
}

export type OAuthStartInput = Partial<AccountSettings> & {
  kind: OAuthKind;
  enterpriseId?: string;
  groupId?: string;
  /** Sign an existing subscription account in again (its grant was revoked, or another login). */
  accountId?: string;
  baseUrl?: string | null;
  acceptTerms: boolean;
};

export interface OAuthStarted {
  authorizeUrl: string;
  state: string;
  expiresAt: number;
  /** Where the provider sends the person back; its page shows the code to paste. */
  redirectUri: string;
  termsUrl: string;
}

export interface OAuthFinishInput {
  state?: string;
  code?: string;
  callbackUrl?: string;
}

/** Whoever started a sign-in is the only one who can finish it. */
function principalKey(caller: Caller): string {
  return caller.principal.kind === 'operator' ? 'operator' : `user:${caller.principal.userId}`;
}

/** The flow's verifier is sealed with its own context: a ciphertext of one flow opens no other. */
const verifierContext = (stateHash: string) => `oauth-flow:${stateHash}`;

export async function startOAuth(caller: Caller, input: OAuthStartInput): Promise<OAuthStarted> {
  if (input.acceptTerms !== true)
    throw new ApiError(
      'invalid_request',
      'Invalid json: acceptTerms: confirm the provider’s terms for subscription accounts (acceptTerms: true).',
      [{ path: 'acceptTerms', message: 'must be true' }],
    );
  if ([input.enterpriseId, input.groupId, input.accountId].filter(Boolean).length > 1)
    throw new ApiError(
      'invalid_request',
      'Invalid json: send one of enterpriseId (a pool account), groupId (a carpool’s) or accountId (sign in again).',
    );
  if (input.accountId) {
    const account = await accountToManage(caller, input.accountId);
    if (account.provider !== input.kind)
      throw new ApiError(
        'invalid_request',
        `Invalid json: kind: account ${account.id} is a ${account.provider} account.`,
      );
  } else if (input.enterpriseId) {
    const what = `enterprise ${input.enterpriseId}`;
    await authorize(caller, 'ai.manage', { type: 'enterprise', enterpriseId: input.enterpriseId }, what);
    await requireEnterprise(caller, input.enterpriseId);
  } else if (input.groupId) {
    const group = await carpoolFor(caller, input.groupId, 'group.manage');
    if (group.kind !== 'carpool')
      throw new ApiError(
        'invalid_request',
        `Group ${group.id} is an enterprise group: it has no account of its own.`,
      );
    if (group.boundAccountId)
      throw new ApiError('conflict', `Group ${group.id} already has an account: unbind it (DELETE) first.`);
  } else if (!(await memberships(caller)).system) {
    throw new ApiError(
      'invalid_request',
      'Name the enterprise whose pool the account joins (enterpriseId) or the carpool it serves (groupId).',
    );
  }
  if (!kindEnabled(caller.env, input.kind))
    throw new ApiError(
      'forbidden',
      "Gemini sign-in accounts are off in this deployment: Google's Gemini CLI terms forbid using its sign-in from other tools and may suspend the Google account. Use a Gemini API-key account, or have the operator set GEMINI_OAUTH_ENABLED=true.",
    );
  const config = oauthConfig(caller.env, input.kind);
  const state = randomToken();
  const verifier = randomToken();
  const stateHash = await sha256Hex(state);
  const now = Date.now();
  const { acceptTerms: _accepted, kind, ...target } = input;
  await caller.db.batch([
    // Housekeeping: abandoned sign-ins go when the next one starts.
    caller.db.delete(oauthFlows).where(lt(oauthFlows.expiresAt, now)),
    caller.db.insert(oauthFlows).values({
      stateHash,
      kind,
      principal: principalKey(caller),
      verifierEnc: await encryptCredential(caller.env.CREDENTIALS_KEY, verifierContext(stateHash), verifier),
      target,
      expiresAt: now + FLOW_TTL_MS,
    }),
  ]);
  const params = new URLSearchParams({
    ...config.authorizeParams,
    client_id: config.clientId,
    response_type: 'code',
    redirect_uri: config.redirectUri,
    scope: config.scopes,
    code_challenge: await s256(verifier),
    code_challenge_method: 'S256',
    state,
  });
  return {
    authorizeUrl: `${config.authorizeUrl}?${params}`,
    state,
    expiresAt: now + FLOW_TTL_MS,
    redirectUri: config.redirectUri,
    termsUrl: config.termsUrl,
  };
}

/** The code and state from what the person pasted: a callback URL, `code#state` (Claude's page), or the code. */
function pasted(input: OAuthFinishInput): { code: string; state: string } {
  let code = input.code?.trim() ?? null;
  let state = input.state?.trim() ?? null;
  if (input.callbackUrl) {
    let url: URL;
    try {
      url = new URL(input.callbackUrl.trim());
    } catch {
      throw new ApiError('invalid_request', 'Invalid json: callbackUrl: not a URL.');
    }
    const error = url.searchParams.get('error');
    if (error)
      throw new ApiError('invalid_request', `The provider refused the sign-in: ${error.slice(0, 100)}.`);
    code = url.searchParams.get('code') ?? code;
    state = url.searchParams.get('state') ?? state;
  }
  if (code?.includes('#')) {
    const [before, after] = code.split('#', 2) as [string, string];
    code = before;
    state ??= after;
  }
  if (!code) throw new ApiError('invalid_request', 'Invalid json: code: send the code or the callback URL.');
  if (!state)
    throw new ApiError('invalid_request', 'Invalid json: state: send the state the sign-in started with.');
  return { code, state };
}

export async function finishOAuth(caller: Caller, input: OAuthFinishInput): Promise<PublicAccount> {
  const { code, state } = pasted(input);
  const stateHash = await sha256Hex(state);
  // Taking the row is the single use: a replayed or concurrent finish finds nothing.
  const [flow] = await caller.db
    .delete(oauthFlows)
    .where(and(eq(oauthFlows.stateHash, stateHash), eq(oauthFlows.principal, principalKey(caller))))
    .returning();
  if (!flow)
    throw new ApiError(
      'not_found',
      'No sign-in in progress with this state: it finished already, or was never yours.',
    );
  if (flow.expiresAt <= Date.now())
    throw new ApiError('invalid_request', 'This sign-in expired (they last ten minutes): start again.');
  const kind = flow.kind;
  const verifier = await decryptCredential(
    caller.env.CREDENTIALS_KEY,
    verifierContext(stateHash),
    flow.verifierEnc,
  );
  const config = oauthConfig(caller.env, kind);
  const result = await exchangeCode(kind, config, { code, verifier, state });
  if (!result.ok) {
    if (result.permanent)
      throw new ApiError(
        'invalid_request',
        `The provider refused the code (${result.message}): start again.`,
      );
    throw new ApiError(
      'bad_gateway',
      `The provider's token endpoint failed (${result.message}): start again.`,
    );
  }
  const target = flow.target as Partial<AccountSettings> & {
    enterpriseId?: string;
    groupId?: string;
    accountId?: string;
    baseUrl?: string | null;
  };
  const { enterpriseId, groupId, accountId, ...settings } = target;
  let tokens = result.credential;
  if (config.completeSignIn) {
    const baseUrl = accountId ? (await accountToManage(caller, accountId)).baseUrl : settings.baseUrl;
    const completed = await config.completeSignIn(caller.env, tokens, baseUrl ?? null);
    // A refusal says what to do; a failure of the provider is worth another try.
    if (!completed.ok)
      throw new ApiError(
        completed.refused ? 'invalid_request' : 'bad_gateway',
        completed.refused ? completed.message : `${completed.message} Start again.`,
      );
    tokens = completed.credential;
  }
  const credential = JSON.stringify(tokens);
  if (accountId) return reauthorizeAccount(caller, accountId, credential);
  const endpoint = {
    ...settings,
    provider: kind,
    authKind: 'oauth' as const,
    credential,
  };
  if (groupId) return bindCarpoolAccount(caller, groupId, endpoint, { viaOAuth: true });
  return createAccount(
    caller,
    { ...endpoint, name: settings.name ?? LABEL[kind], enterpriseId: enterpriseId ?? null },
    { viaOAuth: true },
  );
}
