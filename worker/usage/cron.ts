// The usage side of the cron: trim the request log past its retention, and reconcile budgets'
// counters with D1 (RECONCILE_LIMIT a run, in turn). One failing does not stop the other; both log
// why.
import { reconcileBudgets } from '../budgets/reconcile';
import { trimRequestLog } from '../domain/request-log';

export async function usageMaintenance(env: Env, now = Date.now()): Promise<void> {
  const [trim, reconcile] = await Promise.allSettled([trimRequestLog(env, now), reconcileBudgets(env, now)]);
  if (trim.status === 'rejected') console.error('request log trim failed', String(trim.reason));
  if (reconcile.status === 'rejected')
    console.error('budget reconciliation failed', String(reconcile.reason));
}
