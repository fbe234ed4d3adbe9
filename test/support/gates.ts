// The Durable Objects behind the relay, as tests reach them (their typed RPC), and what tests
// read from them and from D1 about budgets.
import { env } from 'cloudflare:test';
import type { BudgetView } from '../../durable-objects/budget-book';

export function accountStub(accountId: string) {
  return env.ACCOUNT_GATE.get(env.ACCOUNT_GATE.idFromName(`account:${accountId}`));
}

export function groupStub(groupId: string) {
  return env.GROUP_GATE.get(env.GROUP_GATE.idFromName(`group:${groupId}`));
}

export function ledgerStub(enterpriseId: string) {
  return env.ENTERPRISE_LEDGER.get(env.ENTERPRISE_LEDGER.idFromName(`ledger:${enterpriseId}`));
}

/** A budget's counters as its group's gate holds them. */
export async function budgetView(groupId: string, budgetId: string): Promise<BudgetView> {
  const view = (await groupStub(groupId).state()).budgets.find((b) => b.budgetId === budgetId);
  if (!view) throw new Error(`no budget ${budgetId} at the gate`);
  return view;
}

/**
 * How many request-log rows of requests that reached an upstream match, and what they cost
 * (refusals are rows too, of no cost: test/refusal-log.test.ts counts them).
 */
export async function loggedCost(where: string, ...bind: string[]): Promise<{ n: number; cost: number }> {
  const row = await env.DB.prepare(
    `SELECT count(*) AS n, coalesce(sum(cost_micros), 0) AS cost FROM request_log WHERE (${where}) AND outcome <> 'refused'`,
  )
    .bind(...bind)
    .first<{ n: number; cost: number }>();
  return row!;
}
