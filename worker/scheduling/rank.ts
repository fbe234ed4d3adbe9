// Orders an enterprise pool's accounts for one request, in tiers: accounts that speak the
// client's wire before those that need a conversion, then by priority (lower number first); within
// a tier, the strategy of its accounts' pool. Accounts known to be cooling down or disabled go
// last: they are still asked (they answer at once, with the reason), but only after the rest.
// Subscription accounts near the end of a usage window (headroom: WINDOW_HEADROOM_PERCENT, see
// worker/oauth/windows.ts) go after those with room left, until that window resets.
import type { AccountLoad } from '../../durable-objects/account-gate';
import type { PoolAccount } from './group-config';
import { DEFAULT_POLICY, type Strategy } from './policy';

/** How one request's candidates are tiered, and the strategy each account's own policy names. */
export interface Tiering {
  tierOf(account: PoolAccount): number;
  strategyOf(account: PoolAccount): Strategy;
}

/**
 * A tier mixing pools whose strategies differ (possible only when the group sets none) is ordered
 * by the default strategy: no one pool's rule can speak for the others' accounts.
 */
export function tierStrategy(tier: PoolAccount[], tiering: Tiering): Strategy {
  const first = tiering.strategyOf(tier[0]!);
  return tier.every((a) => tiering.strategyOf(a) === first) ? first : DEFAULT_POLICY.strategy;
}

export class Ranker {
  private sequence = 0;
  private readonly lastPicked = new Map<string, number>();
  private readonly smoothWeights = new Map<string, number>();

  order(
    accounts: PoolAccount[],
    tiering: Tiering,
    loads: Map<string, AccountLoad>,
    now: number,
  ): PoolAccount[] {
    const available: PoolAccount[] = [];
    const nearLimit: PoolAccount[] = [];
    const unavailable: PoolAccount[] = [];
    for (const account of accounts) {
      const load = loads.get(account.id);
      const until = load?.unavailableUntil;
      if (until != null && until > now) unavailable.push(account);
      else if (load?.nearLimitUntil != null && load.nearLimitUntil > now) nearLimit.push(account);
      else available.push(account);
    }
    // Unavailable accounts keep the native-before-converted order among themselves.
    const byClass = unavailable.sort((a, b) => tiering.tierOf(a) - tiering.tierOf(b));
    return [...this.tiered(available, tiering, loads), ...this.tiered(nearLimit, tiering, loads), ...byClass];
  }

  private tiered(accounts: PoolAccount[], tiering: Tiering, loads: Map<string, AccountLoad>): PoolAccount[] {
    const tiers = new Map<number, PoolAccount[]>();
    for (const account of accounts) {
      const key = tiering.tierOf(account);
      const tier = tiers.get(key) ?? [];
      tier.push(account);
      tiers.set(key, tier);
    }
    return [...tiers.entries()]
      .sort(([a], [b]) => a - b)
      .flatMap(([, tier]) => this.orderTier(tier, tierStrategy(tier, tiering), loads));
  }

  /** Records the account that took the request, which moves round robin and weighted on. */
  picked(account: PoolAccount, candidates: PoolAccount[], tiering: Tiering): void {
    this.lastPicked.set(account.id, ++this.sequence);
    const tierOf = tiering.tierOf(account);
    const tier = candidates.filter((a) => tiering.tierOf(a) === tierOf);
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
