// Test helpers for subscription accounts: the sign-in as a person does it, against the fake
// authorization server (test/fake-oauth/), and its test control.
import { expect } from 'vitest';
import type { ApiErrorBody } from './groups';
import { api, newUser } from './relay';

export const OAUTH = 'https://oauth.test';

export interface Grant {
  revoked: boolean;
  refreshes: number;
  refreshesRefused: number;
  /** Refreshes the fake holds unanswered now (`holdRefreshes`). */
  refreshesHeld: number;
  exchanges: number;
  refreshToken: string | null;
  liveAccessTokens: number;
  codeAssist: 'onboarded' | 'new' | 'ineligible';
  project: string | null;
}

export interface OAuthAccount {
  id: string;
  provider: string;
  authKind: string;
  enabled: boolean;
  disabledReason: string | null;
  groupId: string | null;
}

export interface Window {
  name: string;
  windowMinutes: number | null;
  usedPercent: number;
  resetAt: number | null;
  exhausted: boolean;
}

export const newTag = () => `o${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;

/** Reads (and with a body, steers) the fake authorization server's grant for this person. */
export async function grant(tag: string, steer?: Record<string, unknown>): Promise<Grant> {
  const res = await fetch(`${OAUTH}/test/grants/${tag}`, {
    method: steer ? 'POST' : 'GET',
    body: steer ? JSON.stringify(steer) : undefined,
  });
  return (await res.json()) as Grant;
}

export type Kind = 'claude-oauth' | 'codex-oauth' | 'gemini-oauth';

/** The whole sign-in as a person does it: start, sign in at the provider, paste the callback URL. */
export async function signIn(
  token: string,
  kind: Kind,
  tag: string,
  target: Record<string, unknown>,
): Promise<{ status: number; json: OAuthAccount & ApiErrorBody }> {
  const start = await api<{ authorizeUrl: string; state: string }>(token, 'POST', '/accounts/oauth/start', {
    kind,
    acceptTerms: true,
    ...target,
  });
  expect(start.status, JSON.stringify(start.json)).toBe(200);
  const callbackUrl = await consent(start.json.authorizeUrl, tag);
  return api(token, 'POST', '/accounts/oauth/finish', { callbackUrl });
}

/** The provider's sign-in page: the fake signs in `tag` and redirects back with the code. */
export async function consent(authorizeUrl: string, tag: string): Promise<string> {
  const url = new URL(authorizeUrl);
  url.searchParams.set('login_hint', tag);
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status).toBe(302);
  return res.headers.get('location')!;
}

/** A person's carpool whose account is a subscription signed in as `tag`, and a key of theirs. */
export async function subscriptionCarpool(
  kind: Kind,
  options: { maxConcurrency?: number; prepare?: Record<string, unknown> } = {},
) {
  const owner = await newUser('Owner');
  const group = await api<{ id: string }>(owner.token, 'POST', '/groups', { name: 'plan', kind: 'carpool' });
  expect(group.status).toBe(201);
  const tag = newTag();
  if (options.prepare) await grant(tag, options.prepare);
  const account = await signIn(owner.token, kind, tag, {
    groupId: group.json.id,
    maxConcurrency: options.maxConcurrency ?? 5,
  });
  expect(account.status, JSON.stringify(account.json)).toBe(201);
  const key = await api<{ key: string }>(owner.token, 'POST', '/keys', { groupId: group.json.id });
  expect(key.status).toBe(201);
  // Tokens issued from now on (by refreshes) live an hour again.
  await grant(tag, { accessTtlSeconds: 3600 });
  return { owner, groupId: group.json.id, accountId: account.json.id, tag, key: key.json.key };
}
