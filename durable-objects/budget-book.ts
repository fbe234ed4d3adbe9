// A GroupGate's budget book: the strongly consistent counters that enforce the group's budgets.
//
// Budgets of the group itself, of its members and of its keys are counted here in full: spent in
// the current period, and reserved by the requests in flight. A request is admitted while
// `spent + reserved < limit`, so spending passes a hard limit by at most the actual cost of the
// requests already in flight when it was reached (each reserves an estimate; its actual cost
// replaces the estimate when it settles).
//
// Budgets wider than the group (its department, its enterprise) are counted by the enterprise's
// ledger (enterprise-ledger.ts), which hands each group slices of allowance. Here a wide budget
// is the allowance left: admissions reserve from it, settlements give back the reservation and
// take the actual cost, and a group that runs out asks the ledger for more (ahead of time when
// it runs low, so a warm request makes no extra call). A slice is money already counted against
// the limit, so slices never let spending pass it; the same in-flight bound applies.

import { periodEnd, periodKey } from '../worker/budgets/periods';
import type { Reservation } from '../worker/budgets/rules';
import { type BudgetRule, isWide, percentMoved, sliceOf } from '../worker/budgets/rules';

interface Counter {
  periodKey: string;
  spent: number;
  reserved: number;
}

interface Allowance {
  periodKey: string;
  /** Money granted by the ledger and not yet spent or reserved; negative after an overshoot. */
  remaining: number;
}

export type BudgetCheck =
  | { ok: true; reservations: Reservation[] }
  /** A hard budget is reached: by what is spent, or by what requests in flight reserved. */
  | { ok: false; exhausted: BudgetRule; spent: number; reserved: number; resetsAt: number | null }
  /** Some wide budgets have no allowance left here: ask the ledger, then check again. */
  | { ok: false; topUp: BudgetRule[] };

export interface BudgetView {
  budgetId: string;
  scope: BudgetRule['scope'];
  target: string;
  period: BudgetRule['period'];
  periodKey: string;
  mode: BudgetRule['mode'];
  limitMicros: number;
  /** Local budgets: spent and reserved in this period. Wide ones: this group's allowance left. */
  spentMicros: number | null;
  reservedMicros: number | null;
  allowanceMicros: number | null;
  resetsAt: number | null;
}

type Write = (query: string, ...bindings: (string | number | null)[]) => void;

export const BUDGET_SCHEMA = `CREATE TABLE budget_counters (budget_id TEXT PRIMARY KEY, period_key TEXT NOT NULL, spent INTEGER NOT NULL);
  CREATE TABLE budget_allowances (budget_id TEXT PRIMARY KEY, period_key TEXT NOT NULL, remaining INTEGER NOT NULL);
  CREATE TABLE budget_unreported (budget_id TEXT NOT NULL, period_key TEXT NOT NULL, micros INTEGER NOT NULL,
    PRIMARY KEY (budget_id, period_key));
  ALTER TABLE leases ADD COLUMN reservations TEXT;`;

/** Spending on a wide budget the ledger has not been told of yet, per budget and period. */
export interface Unreported {
  budgetId: string;
  periodKey: string;
  micros: number;
}

export class BudgetBook {
  private readonly counters = new Map<string, Counter>();
  private readonly allowances = new Map<string, Allowance>();
  /** `budgetId periodKey` → micros spent and not yet reported. */
  private readonly unreported = new Map<string, Unreported>();

  constructor(
    private readonly write: Write,
    /** Called when a local budget's spending moves by a whole percent of its limit. */
    private readonly onMoved: (rule: BudgetRule, periodKey: string, spentMicros: number) => void,
  ) {}

  load(sql: SqlStorage, inFlight: Iterable<Reservation[]>): void {
    for (const row of sql.exec<{ budget_id: string; period_key: string; spent: number }>(
      'SELECT * FROM budget_counters',
    )) {
      this.counters.set(row.budget_id, { periodKey: row.period_key, spent: row.spent, reserved: 0 });
    }
    for (const row of sql.exec<{ budget_id: string; period_key: string; remaining: number }>(
      'SELECT * FROM budget_allowances',
    )) {
      this.allowances.set(row.budget_id, { periodKey: row.period_key, remaining: row.remaining });
    }
    for (const row of sql.exec<{ budget_id: string; period_key: string; micros: number }>(
      'SELECT * FROM budget_unreported',
    )) {
      this.unreported.set(`${row.budget_id} ${row.period_key}`, {
        budgetId: row.budget_id,
        periodKey: row.period_key,
        micros: row.micros,
      });
    }
    // Reservations are kept with their leases: the reserved totals are what is in flight.
    for (const reservations of inFlight) {
      for (const r of reservations) {
        const counter = this.counters.get(r.budgetId);
        if (counter && counter.periodKey === r.periodKey) counter.reserved += r.micros;
      }
    }
  }

  /** Whether a request reserving `micros` may go, under these rules, now. Takes nothing yet. */
  check(rules: readonly BudgetRule[], micros: number, now: number): BudgetCheck {
    const reservations: Reservation[] = [];
    const topUp: BudgetRule[] = [];
    for (const rule of rules) {
      const key = periodKey(rule.period, now, rule.timeZone);
      if (isWide(rule)) {
        const allowance = this.allowance(rule, key);
        if (rule.mode === 'hard' && allowance.remaining <= 0) topUp.push(rule);
      } else {
        const counter = this.counter(rule, key);
        if (rule.mode === 'hard' && counter.spent + counter.reserved >= rule.limitMicros) {
          return {
            ok: false,
            exhausted: rule,
            spent: counter.spent,
            reserved: counter.reserved,
            resetsAt: periodEnd(rule.period, now, rule.timeZone),
          };
        }
      }
      reservations.push({ budgetId: rule.id, periodKey: key, micros });
    }
    if (topUp.length > 0) return { ok: false, topUp };
    return { ok: true, reservations };
  }

  /** Holds the reservations of an admitted request (after a successful check, with no await between). */
  reserve(rules: readonly BudgetRule[], reservations: readonly Reservation[]): void {
    for (const r of reservations) {
      const rule = rules.find((x) => x.id === r.budgetId);
      if (!rule) continue;
      if (isWide(rule)) {
        if (rule.mode === 'hard') this.allowance(rule, r.periodKey).remaining -= r.micros;
      } else {
        this.counter(rule, r.periodKey).reserved += r.micros;
      }
    }
  }

  /**
   * A request ended: its reservations give way to its actual cost (null: unknown, the request is
   * gone without a word — its reservation is freed and nothing is spent here; the usage pipeline
   * records whatever it did cost, and the reconciliation reports the difference).
   */
  settle(rules: readonly BudgetRule[], reservations: readonly Reservation[], cost: number | null): void {
    for (const r of reservations) {
      const rule = rules.find((x) => x.id === r.budgetId);
      if (!rule) continue;
      const spent = cost ?? 0;
      if (isWide(rule)) {
        if (spent > 0) this.addUnreported(rule.id, r.periodKey, spent);
        const allowance = this.allowances.get(rule.id);
        if (rule.mode !== 'hard' || !allowance || allowance.periodKey !== r.periodKey) continue;
        allowance.remaining += r.micros - spent;
        this.saveAllowance(rule.id, allowance);
        continue;
      }
      const counter = this.counters.get(rule.id);
      // A request that began in a period already over is not counted in the new one.
      if (!counter || counter.periodKey !== r.periodKey) continue;
      counter.reserved = Math.max(0, counter.reserved - r.micros);
      if (spent === 0) continue;
      const before = counter.spent;
      counter.spent += spent;
      this.write(
        'INSERT OR REPLACE INTO budget_counters (budget_id, period_key, spent) VALUES (?, ?, ?)',
        rule.id,
        counter.periodKey,
        counter.spent,
      );
      if (percentMoved(rule.limitMicros, before, counter.spent))
        this.onMoved(rule, counter.periodKey, counter.spent);
    }
  }

  /**
   * The spend of a local budget's period as D1 recorded it, for a period this counter did not
   * count (its time zone changed, so its window moved): never lowers what was counted here.
   */
  seed(budgetId: string, key: string, spent: number): void {
    let counter = this.counters.get(budgetId);
    if (counter && counter.periodKey === key) {
      if (spent <= counter.spent) return;
      counter.spent = spent;
    } else {
      counter = { periodKey: key, spent, reserved: 0 };
      this.counters.set(budgetId, counter);
    }
    this.write(
      'INSERT OR REPLACE INTO budget_counters (budget_id, period_key, spent) VALUES (?, ?, ?)',
      budgetId,
      key,
      counter.spent,
    );
  }

  /** Allowance the ledger granted for a wide budget's period. */
  credit(rule: BudgetRule, key: string, micros: number): void {
    const allowance = this.allowance(rule, key);
    allowance.remaining += micros;
    this.saveAllowance(rule.id, allowance);
  }

  /**
   * Gives up the allowance held unspent for a wide budget's current period (its limit was
   * lowered): answers how much, for the ledger to take back. An overshoot (negative) stays to be
   * covered, and reservations of requests in flight stay with them: they settle as usual.
   */
  recall(rule: BudgetRule, now: number): Unreported | null {
    const key = periodKey(rule.period, now, rule.timeZone);
    const micros = this.yieldAllowance(rule.id, key);
    return micros > 0 ? { budgetId: rule.id, periodKey: key, micros } : null;
  }

  /** Gives up what is held unspent of a wide budget's allowance for the period named: how much. */
  yieldAllowance(budgetId: string, key: string): number {
    const allowance = this.allowances.get(budgetId);
    if (!allowance || allowance.periodKey !== key || allowance.remaining <= 0) return 0;
    const micros = allowance.remaining;
    allowance.remaining = 0;
    this.saveAllowance(budgetId, allowance);
    return micros;
  }

  /** What the ledger should be asked for: a slice, plus any overshoot to cover. */
  wanted(rule: BudgetRule, key: string): { want: number; deficit: number } {
    const remaining = this.allowance(rule, key).remaining;
    return { want: sliceOf(rule), deficit: Math.max(0, -remaining) };
  }

  /** Wide budgets whose allowance is running low: worth a top-up before anyone waits for it. */
  runningLow(rules: readonly BudgetRule[], now: number): BudgetRule[] {
    return rules.filter((rule) => {
      if (!isWide(rule) || rule.mode !== 'hard') return false;
      const allowance = this.allowances.get(rule.id);
      const key = periodKey(rule.period, now, rule.timeZone);
      return !allowance || allowance.periodKey !== key || allowance.remaining < sliceOf(rule) / 4;
    });
  }

  /** Spending not yet reported to the ledger; taken (the caller reports it, or puts it back). */
  takeUnreported(): Unreported[] {
    const out = [...this.unreported.values()];
    this.unreported.clear();
    if (out.length > 0) this.write('DELETE FROM budget_unreported');
    return out;
  }

  /** Puts back spending whose report to the ledger failed. */
  addUnreported(budgetId: string, key: string, micros: number): void {
    const id = `${budgetId} ${key}`;
    const entry = this.unreported.get(id) ?? { budgetId, periodKey: key, micros: 0 };
    entry.micros += micros;
    this.unreported.set(id, entry);
    this.write(
      'INSERT OR REPLACE INTO budget_unreported (budget_id, period_key, micros) VALUES (?, ?, ?)',
      budgetId,
      key,
      entry.micros,
    );
  }

  /** Spent on a wide budget here in this period and not yet reported to the ledger. */
  unreportedOf(budgetId: string, key: string): number {
    return this.unreported.get(`${budgetId} ${key}`)?.micros ?? 0;
  }

  hasUnreported(): boolean {
    return this.unreported.size > 0;
  }

  view(rules: readonly BudgetRule[], now: number): BudgetView[] {
    return rules.map((rule) => {
      const key = periodKey(rule.period, now, rule.timeZone);
      const base = {
        budgetId: rule.id,
        scope: rule.scope,
        target: rule.target,
        period: rule.period,
        periodKey: key,
        mode: rule.mode,
        limitMicros: rule.limitMicros,
        resetsAt: periodEnd(rule.period, now, rule.timeZone),
      };
      if (isWide(rule)) {
        const a = this.allowances.get(rule.id);
        const remaining = a && a.periodKey === key ? a.remaining : 0;
        return { ...base, spentMicros: null, reservedMicros: null, allowanceMicros: remaining };
      }
      const c = this.counters.get(rule.id);
      const current = c && c.periodKey === key ? c : { spent: 0, reserved: 0 };
      return { ...base, spentMicros: current.spent, reservedMicros: current.reserved, allowanceMicros: null };
    });
  }

  private counter(rule: BudgetRule, key: string): Counter {
    let counter = this.counters.get(rule.id);
    if (!counter || counter.periodKey !== key) {
      // A new period: the old one's in-flight reservations settle against nothing here.
      counter = { periodKey: key, spent: 0, reserved: 0 };
      this.counters.set(rule.id, counter);
    }
    return counter;
  }

  private allowance(rule: BudgetRule, key: string): Allowance {
    let allowance = this.allowances.get(rule.id);
    if (!allowance || allowance.periodKey !== key) {
      // Unspent allowance of a period that has ended is worth nothing in the next one.
      allowance = { periodKey: key, remaining: 0 };
      this.allowances.set(rule.id, allowance);
    }
    return allowance;
  }

  private saveAllowance(budgetId: string, a: Allowance): void {
    this.write(
      'INSERT OR REPLACE INTO budget_allowances (budget_id, period_key, remaining) VALUES (?, ?, ?)',
      budgetId,
      a.periodKey,
      a.remaining,
    );
  }
}
