// What a GroupGate needs to schedule: the group, its scheduling policy and the accounts it may
// use (its one bound account for a carpool, its enterprise pool otherwise), each with the models
// it serves. Read from D1 when a gate starts cold and pushed by the admin API after every change,
// so admission needs no D1.
import { and, eq, or } from 'drizzle-orm';
import type { KeyBounds } from '../auth/key-bounds';
import { loadGroupBudgets } from '../budgets/config';
import type { BudgetRule } from '../budgets/rules';
import { db } from '../db/client';
import { type Account, accounts, enterprises, type Group, groups } from '../db/schema';
import type { Preset } from '../providers/compatible';
import { modelFamily } from '../providers/registry';
import type { PolicyOverrides, PoolPolicies } from './policy';

export type PoolAccount = Pick<
  Account,
  'id' | 'name' | 'provider' | 'priority' | 'weight' | 'maxConcurrency' | 'supportedModels' | 'enabled'
> & {
  /** The models its provider serves (`ProviderAdapter.models`; a compatible vendor's by preset). */
  family: readonly string[];
  /** The vendor preset a compatible account's endpoint belongs to; null otherwise. */
  preset: Preset | null;
  /** The model names its `modelMapping` translates: served whatever the family. */
  mapped: string[];
};

export interface GroupConfig {
  id: string;
  kind: Group['kind'];
  enterpriseId: string | null;
  /** Every budget the group's requests answer to: its own, its members', its keys', and wider ones. */
  budgets?: BudgetRule[];
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
  baseUrl: accounts.baseUrl,
  modelMapping: accounts.modelMapping,
};

type PoolRow = Pick<Account, keyof typeof poolColumns>;

function poolAccount({ baseUrl, modelMapping, ...row }: PoolRow): PoolAccount {
  const { models, preset } = modelFamily(row.provider, baseUrl);
  return { ...row, family: models, preset, mapped: Object.keys(modelMapping ?? {}) };
}

export async function loadGroupConfig(env: Env, groupId: string): Promise<GroupConfig | null> {
  const d = db(env);
  const [group] = await d.select().from(groups).where(eq(groups.id, groupId));
  if (!group) return null;
  let pools: PoolPolicies | null = null;
  let pool: PoolRow[] = [];
  if (group.kind === 'carpool') {
    if (group.boundAccountId)
      pool = await d.select(poolColumns).from(accounts).where(eq(accounts.id, group.boundAccountId));
  } else if (group.enterpriseId) {
    const [enterprise] = await d
      .select({ pools: enterprises.pools })
      .from(enterprises)
      .where(eq(enterprises.id, group.enterpriseId));
    pools = enterprise?.pools ?? null;
    // By name: a stable order for ties in ranking and for the accounts a refusal lists.
    pool = await d
      .select(poolColumns)
      .from(accounts)
      .where(eq(accounts.enterpriseId, group.enterpriseId))
      .orderBy(accounts.name, accounts.id);
  }
  return {
    id: group.id,
    kind: group.kind,
    enterpriseId: group.enterpriseId,
    budgets: await loadGroupBudgets(env, group),
    scheduling: group.scheduling,
    keyBounds: group.keyBounds,
    pools,
    accounts: pool.map(poolAccount),
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
