// EnterpriseLedger: the money of budgets wider than one group — an enterprise's, its departments'.
// Their requests are admitted by many GroupGates; asking one object per request would put a second
// blocking round trip on the hot path. Instead the ledger hands each group slices of allowance
// (`grant`), counted against the limit the moment they are granted, and the groups report what
// they actually spent (`report`) off the critical path. A hard budget grants no more than its
// limit, so spending passes it only by the in-flight overshoot each group may run into
// (durable-objects/budget-book.ts). Allowance a group holds unspent is not lost: when a hard
// budget's ledger cannot grant a group what it asks, it asks the other groups that hold allowance
// of the period to give back what they hold unspent (`recallIdle`), so money idle in one group
// goes where requests need it; the group refused meanwhile got a 429 to retry.
import { DurableObject } from 'cloudflare:workers';
import { budgetAlert } from '../worker/budgets/alerts';
import { loadWideBudgets } from '../worker/budgets/config';
import { periodEnd, periodKey } from '../worker/budgets/periods';
import { type BudgetRule, isWide, percentMoved } from '../worker/budgets/rules';
import { metrics } from '../worker/metrics';
import { groupGate } from './address';
import { migrateSql } from './sql-schema';

interface Counter {
  periodKey: string;
  /** Allowance handed to groups in this period (deficits they covered included). */
  granted: number;
  /** What the groups reported they spent. */
  spent: number;
}

export interface GrantRequest {
  groupId: string;
  budgetId: string;
  periodKey: string;
  /** A slice. */
  want: number;
  /** Spending already past the group's allowance (an overshoot) to cover first. */
  deficit: number;
}

export interface LedgerView {
  budgetId: string;
  scope: BudgetRule['scope'];
  target: string;
  period: BudgetRule['period'];
  periodKey: string;
  mode: BudgetRule['mode'];
  limitMicros: number;
  grantedMicros: number;
  spentMicros: number;
  resetsAt: number | null;
}

const SCHEMA = [
  `CREATE TABLE config (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), json TEXT NOT NULL);
   CREATE TABLE counters (budget_id TEXT PRIMARY KEY, period_key TEXT NOT NULL, granted INTEGER NOT NULL,
     spent INTEGER NOT NULL);`,
  // Which groups were granted allowance in a budget's period: whom to ask to give idle money back.
  `CREATE TABLE holders (budget_id TEXT NOT NULL, group_id TEXT NOT NULL, period_key TEXT NOT NULL,
     PRIMARY KEY (budget_id, group_id));`,
] as const;

/** A budget's idle allowance is asked back at most this often (the 429 it answers says 5 s). */
export const RECALL_INTERVAL_MS = 5_000;

export class EnterpriseLedger extends DurableObject<Env> {
  private rules: BudgetRule[] | null = null;
  private readonly counters = new Map<string, Counter>();
  private loading: Promise<BudgetRule[]> | null = null;
  /** budget → group → the period it was last granted allowance in. */
  private readonly holders = new Map<string, Map<string, string>>();
  private readonly recalledAt = new Map<string, number>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const sql = ctx.storage.sql;
      migrateSql(sql, SCHEMA);
      const stored = sql.exec<{ json: string }>('SELECT json FROM config').toArray()[0];
      if (stored) this.rules = JSON.parse(stored.json) as BudgetRule[];
      for (const row of sql.exec<{ budget_id: string; period_key: string; granted: number; spent: number }>(
        'SELECT * FROM counters',
      )) {
        this.counters.set(row.budget_id, {
          periodKey: row.period_key,
          granted: row.granted,
          spent: row.spent,
        });
      }
      for (const row of sql.exec<{ budget_id: string; group_id: string; period_key: string }>(
        'SELECT * FROM holders',
      )) {
        this.holdersOf(row.budget_id).set(row.group_id, row.period_key);
      }
    });
  }

  /** The enterprise's wide budgets, pushed on every change. */
  configure(rules: BudgetRule[]): void {
    this.rules = rules.filter(isWide);
    this.write('INSERT OR REPLACE INTO config (singleton, json) VALUES (1, ?)', JSON.stringify(this.rules));
  }

  /**
   * Hands a group allowance: the deficit it must cover, then a slice, as far as the limit allows.
   * Answers what the groups have reported spent too, so that a group refused allowance can tell a
   * spent budget (402) from one committed to requests in flight and other groups' slices (429).
   */
  async grant(request: GrantRequest, enterpriseId: string): Promise<{ granted: number; spent: number }> {
    const rule = (await this.load(enterpriseId)).find((r) => r.id === request.budgetId);
    if (!rule) return { granted: 0, spent: 0 };
    const counter = this.counter(rule, request.periodKey);
    if (counter.periodKey !== request.periodKey) return { granted: 0, spent: 0 };
    const asked = request.want + request.deficit;
    // Spent may run ahead of granted for a budget that was soft until lately (soft grants nothing).
    const committed = Math.max(counter.granted, counter.spent);
    const granted = rule.mode === 'hard' ? Math.max(0, Math.min(asked, rule.limitMicros - committed)) : asked;
    if (granted > 0) {
      counter.granted += granted;
      this.save(rule.id, counter);
      this.hold(rule.id, request.groupId, request.periodKey);
    }
    if (rule.mode === 'hard' && granted < asked) this.recallIdle(rule.id, request.periodKey, request.groupId);
    return { granted, spent: counter.spent };
  }

  /**
   * Asks the other groups holding allowance of this period to give back what they hold unspent,
   * in the background (the group refused now retries). Not more often than RECALL_INTERVAL_MS per
   * budget: a group that gave its allowance back and needs it again asks for a slice like anyone.
   */
  private recallIdle(budgetId: string, key: string, asking: string): void {
    const now = Date.now();
    if ((this.recalledAt.get(budgetId) ?? 0) > now - RECALL_INTERVAL_MS) return;
    const others = [...this.holdersOf(budgetId)].filter(([group, held]) => group !== asking && held === key);
    if (others.length === 0) return;
    this.recalledAt.set(budgetId, now);
    const asked = others.map(async ([group]) => {
      try {
        metrics.gateCalls++;
        const micros = await groupGate(this.env, group).yieldAllowance(budgetId, key);
        this.takeBack(budgetId, key, micros);
        this.holdersOf(budgetId).delete(group);
        this.write('DELETE FROM holders WHERE budget_id = ? AND group_id = ?', budgetId, group);
      } catch (err) {
        // Then it stays counted as granted: a group is refused early, never late.
        console.warn('budget recall failed', { budgetId, group, error: String(err) });
      }
    });
    this.ctx.waitUntil(Promise.all(asked));
  }

  private takeBack(budgetId: string, key: string, micros: number): void {
    const counter = this.counters.get(budgetId);
    if (micros <= 0 || counter?.periodKey !== key) return;
    counter.granted = Math.max(0, counter.granted - micros);
    this.save(budgetId, counter);
  }

  private holdersOf(budgetId: string): Map<string, string> {
    let holders = this.holders.get(budgetId);
    if (!holders) {
      holders = new Map();
      this.holders.set(budgetId, holders);
    }
    return holders;
  }

  private hold(budgetId: string, groupId: string, key: string): void {
    const holders = this.holdersOf(budgetId);
    if (holders.get(groupId) === key) return;
    holders.set(groupId, key);
    this.write(
      'INSERT OR REPLACE INTO holders (budget_id, group_id, period_key) VALUES (?, ?, ?)',
      budgetId,
      groupId,
      key,
    );
  }

  /**
   * Allowance a group gave back unspent (the budget's limit was lowered): no longer counted as
   * granted, so the new limit is measured against what is spent and in flight, not held idle.
   */
  async giveBack(entries: { budgetId: string; periodKey: string; micros: number }[], enterpriseId: string) {
    const rules = await this.load(enterpriseId);
    for (const entry of entries) {
      if (rules.some((r) => r.id === entry.budgetId))
        this.takeBack(entry.budgetId, entry.periodKey, entry.micros);
    }
  }

  /**
   * A budget's period as D1 recorded it, after its time zone changed: what was spent in the new
   * window counts as spent (and granted), so the limit is not available a second time. Never
   * lowers what was counted here.
   */
  async seed(budgetId: string, key: string, spentMicros: number, enterpriseId: string): Promise<void> {
    const rule = (await this.load(enterpriseId)).find((r) => r.id === budgetId);
    if (!rule) return;
    const counter = this.counter(rule, key);
    if (counter.periodKey !== key) return;
    const more = Math.max(0, spentMicros - counter.spent);
    if (more === 0) return;
    counter.spent += more;
    counter.granted += more;
    this.save(rule.id, counter);
  }

  /** What groups spent, by budget and period. */
  async report(entries: { budgetId: string; periodKey: string; micros: number }[], enterpriseId: string) {
    const rules = await this.load(enterpriseId);
    for (const entry of entries) {
      const rule = rules.find((r) => r.id === entry.budgetId);
      if (!rule) continue;
      const counter = this.counter(rule, entry.periodKey);
      if (counter.periodKey !== entry.periodKey) continue;
      const before = counter.spent;
      counter.spent += entry.micros;
      this.save(rule.id, counter);
      if (percentMoved(rule.limitMicros, before, counter.spent)) {
        const scope = { enterpriseId, groupId: null };
        this.ctx.waitUntil(budgetAlert(this.env, rule, scope, counter.periodKey, counter.spent));
      }
    }
  }

  async state(enterpriseId: string, now = Date.now()): Promise<LedgerView[]> {
    return (await this.load(enterpriseId)).map((rule) => {
      const key = periodKey(rule.period, now, rule.timeZone);
      const c = this.counters.get(rule.id);
      const current = c && c.periodKey === key ? c : { granted: 0, spent: 0 };
      return {
        budgetId: rule.id,
        scope: rule.scope,
        target: rule.target,
        period: rule.period,
        periodKey: key,
        mode: rule.mode,
        limitMicros: rule.limitMicros,
        grantedMicros: current.granted,
        spentMicros: current.spent,
        resetsAt: periodEnd(rule.period, now, rule.timeZone),
      };
    });
  }

  /**
   * The counter of the period a request names. A request from a period that has ended finds the
   * counter moved on (its key differs) and is told so; a request of the current period (in the
   * budget's zone now) starts it. Not "a later key": after a change of time zone the current
   * period's key may sort before the last one's.
   */
  private counter(rule: BudgetRule, key: string): Counter {
    let counter = this.counters.get(rule.id);
    if (counter?.periodKey === key) return counter;
    if (!counter || key === periodKey(rule.period, Date.now(), rule.timeZone)) {
      counter = { periodKey: key, granted: 0, spent: 0 };
      this.counters.set(rule.id, counter);
    }
    return counter;
  }

  private save(budgetId: string, c: Counter): void {
    this.write(
      'INSERT OR REPLACE INTO counters (budget_id, period_key, granted, spent) VALUES (?, ?, ?, ?)',
      budgetId,
      c.periodKey,
      c.granted,
      c.spent,
    );
  }

  private write(query: string, ...bindings: (string | number | null)[]): void {
    metrics.storageWrites++;
    this.ctx.storage.sql.exec(query, ...bindings);
  }

  // Single flight: a ledger that starts cold reads D1 once.
  private load(enterpriseId: string): Promise<BudgetRule[]> {
    if (this.rules) return Promise.resolve(this.rules);
    this.loading ??= loadWideBudgets(this.env, enterpriseId)
      .then((rules) => {
        if (!this.rules) this.configure(rules);
        return this.rules ?? rules;
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }
}
