// D1 is the source of truth; the gates keep a copy of what they need on the hot path. Every admin
// change is pushed to the gate it concerns, so admission never runs on stale settings.
import type { AccountConfig } from '../../durable-objects/account-gate';
import type { GroupConfig } from '../../durable-objects/group-gate';
import type { Account, Group } from '../db/schema';
import { accountGate, groupGate } from '../relay/gates';

export function pushAccount(env: Env, account: Account): Promise<void> {
  const config: AccountConfig = {
    id: account.id,
    provider: account.provider,
    authKind: account.authKind,
    baseUrl: account.baseUrl,
    credentialsEnc: account.credentialsEnc,
    modelMapping: account.modelMapping,
    maxConcurrency: account.maxConcurrency,
    enabled: account.enabled,
    disabledReason: account.disabledReason,
  };
  return accountGate(env, account.id).configure(config);
}

export function pushGroup(env: Env, group: Group): Promise<void> {
  const config: GroupConfig = { id: group.id, kind: group.kind, boundAccountId: group.boundAccountId };
  return groupGate(env, group.id).configure(config);
}
