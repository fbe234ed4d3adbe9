// D1 is the source of truth; the gates keep a copy of what they need on the hot path. Every admin
// change is pushed to the gates it concerns, so admission never runs on stale settings.
import type { AccountConfig } from '../../durable-objects/account-gate';
import { accountGate, groupGate } from '../../durable-objects/address';
import type { Account } from '../db/schema';
import { groupsUsingAccount, loadGroupConfig } from '../scheduling/group-config';

export async function pushAccount(env: Env, account: Account): Promise<void> {
  const config: AccountConfig = {
    id: account.id,
    provider: account.provider,
    authKind: account.authKind,
    baseUrl: account.baseUrl,
    credentialsEnc: account.credentialsEnc,
    credentialGeneration: account.credentialGeneration,
    modelMapping: account.modelMapping,
    maxConcurrency: account.maxConcurrency,
    enabled: account.enabled,
    disabledReason: account.disabledReason,
  };
  await accountGate(env, account.id).configure(config);
  // Pools list their accounts' priority, weight and models: every group that schedules over this
  // account needs the new values.
  await Promise.all((await groupsUsingAccount(env, account)).map((groupId) => pushGroup(env, groupId)));
}

export async function pushGroup(env: Env, groupId: string): Promise<void> {
  const config = await loadGroupConfig(env, groupId);
  if (config) await groupGate(env, groupId).configure(config);
}
