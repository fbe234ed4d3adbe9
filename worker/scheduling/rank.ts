// Orders an enterprise pool's accounts for one request: priority tiers first (lower number
// first), then the pool's strategy within a tier. Accounts known to be cooling down or disabled
// go last: they are still asked (they answer at once, with the reason), but only after the rest.
import type { AccountLoad } from '../../durable-objects/account-gate';
import type { PoolAccount } from './group-config';
import type { Strategy } from './policy';

export class Ranker {
  private sequence = 0;
  private readonly lastPicked = new Map<string, number>();
  private readonly smoothWeights = new Map<string, number>();

  order(
    accounts: PoolAccount[],
    strategy: Strategy,
    loads: Map<string, AccountLoad>,
    now: number,
  ): PoolAccount[] {
    const available: PoolAccount[] = [];
    const unavailable: PoolAccount[] = [];
    for (const account of accounts) {
      const until = loads.get(account.id)?.unavailableUntil;
      (until != null && until > now ? unavailable : available).push(account);
    }
    const tiers = new Map<number, PoolAccount[]>();
    for (const account of available) {
      const tier = tiers.get(account.priority) ?? [];
      tier.push(account);
      tiers.set(account.priority, tier);
    }
    const ordered = [...tiers.entries()]
      .sort(([a], [b]) => a - b)
      .flatMap(([, tier]) => this.orderTier(tier, strategy, loads));
    return [...ordered, ...unavailable];
  }

  /** Records the account that took the request, which moves round robin and weighted on. */
  picked(account: PoolAccount, tierMates: PoolAccount[]): void {
    this.lastPicked.set(account.id, ++this.sequence);
    const tier = tierMates.filter((a) => a.priority === account.priority);
    // Smooth weighted round robin (as in nginx): exact proportions, evenly interleaved.
    let total = 0;
    for (const a of tier) {
      total += a.weight;
      this.smoothWeights.set(a.id, (this.smoothWeights.get(a.id) ?? 0) + a.weight);
    }
    this.smoothWeights.set(account.id, (this.smoothWeights.get(account.id) ?? 0) - total);
  }

  private orderTier(tier: PoolAccount[], strategy: Strategy, loads: Map<string, AccountLoad>): PoolAccount[] {
    const recency = (a: PoolAccount) => this.lastPicked.get(a.id) ?? 0;
    const inUse = (a: PoolAccount) => loads.get(a.id)?.inUse ?? 0;
    switch (strategy) {
      case 'least_connections':
        return [...tier].sort((a, b) => inUse(a) - inUse(b) || recency(a) - recency(b));
      case 'headroom': {
        const score = (a: PoolAccount) => {
          const load = loads.get(a.id);
          return (a.maxConcurrency - inUse(a)) * (load?.health ?? 1);
        };
        return [...tier].sort((a, b) => score(b) - score(a) || recency(a) - recency(b));
      }
      case 'round_robin':
        // Least recently picked first: a strict rotation over the accounts that are up.
        return [...tier].sort((a, b) => recency(a) - recency(b));
      case 'weighted': {
        const next = (a: PoolAccount) => (this.smoothWeights.get(a.id) ?? 0) + a.weight;
        return [...tier].sort((a, b) => next(b) - next(a) || recency(a) - recency(b));
      }
    }
  }
}

/** Whether an account serves a model: no list means any; entries match exactly or as a prefix. */
export function supportsModel(account: PoolAccount, model: string): boolean {
  const list = account.supportedModels;
  return (
    !list ||
    list.length === 0 ||
    list.some((m) => model === m || (m.endsWith('*') && model.startsWith(m.slice(0, -1))))
  );
}
