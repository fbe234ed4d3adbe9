// What a GroupGate needs to schedule: the group, its scheduling policy and the accounts it may
// use (its one bound account for a carpool, its enterprise pool otherwise). Read from D1 when a
// gate starts cold and pushed by the admin API after every change.
import { and, eq, or } from 'drizzle-orm';
import type { KeyBounds } from '../auth/key-bounds';
import { db } from '../db/client';
import { type Account, accounts, enterprises, type Group, groups } from '../db/schema';
import type { PolicyOverrides, PoolPolicies } from './policy';

export type PoolAccount = Pick<
  Account,
  'id' | 'name' | 'provider' | 'priority' | 'weight' | 'maxConcurrency' | 'supportedModels' | 'enabled'
>;

export interface GroupConfig {
  id: string;
  kind: Group['kind'];
  enterpriseId: string | null;
  scheduling: PolicyOverrides | null;
  /** What any key of the group may allow at most, applied at admission. */
  keyBounds: KeyBounds | null;
  pools: PoolPolicies | null;
  accounts: PoolAccount[];
}

const poolColumns = {
  id: accounts.id,
  name: accounts.name,
  provider: accounts.provider,
  priority: accounts.priority,
  weight: accounts.weight,
  maxConcurrency: accounts.maxConcurrency,
  supportedModels: accounts.supportedModels,
  enabled: accounts.enabled,
};

export async function loadGroupConfig(env: Env, groupId: string): Promise<GroupConfig | null> {
  const d = db(env);
  const [group] = await d.select().from(groups).where(eq(groups.id, groupId));
  if (!group) return null;
  let pools: PoolPolicies | null = null;
  let pool: PoolAccount[] = [];
  if (group.kind === 'carpool') {
    if (group.boundAccountId)
      pool = await d.select(poolColumns).from(accounts).where(eq(accounts.id, group.boundAccountId));
  } else if (group.enterpriseId) {
    const [enterprise] = await d
      .select({ pools: enterprises.pools })
      .from(enterprises)
      .where(eq(enterprises.id, group.enterpriseId));
    pools = enterprise?.pools ?? null;
    pool = await d.select(poolColumns).from(accounts).where(eq(accounts.enterpriseId, group.enterpriseId));
  }
  return {
    id: group.id,
    kind: group.kind,
    enterpriseId: group.enterpriseId,
    scheduling: group.scheduling,
    keyBounds: group.keyBounds,
    pools,
    accounts: pool,
  };
}

/** The groups whose schedule an account change affects. */
export async function groupsUsingAccount(
  env: Env,
  account: Pick<Account, 'id' | 'enterpriseId'>,
): Promise<string[]> {
  const clauses = [eq(groups.boundAccountId, account.id)];
  if (account.enterpriseId)
    clauses.push(and(eq(groups.kind, 'enterprise'), eq(groups.enterpriseId, account.enterpriseId))!);
  const rows = await db(env)
    .select({ id: groups.id })
    .from(groups)
    .where(or(...clauses));
  return rows.map((r) => r.id);
}
