// The cron's work (every 10 minutes, wrangler.jsonc `triggers`), also run on demand by a system
// admin (`POST /admin/v1/maintenance`) and by `npm run dev` on the same schedule: Miniflare never
// fires a cron by itself, and its `/cdn-cgi/handler/scheduled` answers `exception` without calling
// the Worker when the Worker serves static assets (workers-sdk#9882, fixed in a wrangler newer than
// the last one that runs on Node 20). Each task is bounded per run, and one failing does not stop
// the others.
import { sweepAlertDeliveries } from './alerts/deliver';
import { reconcileBudgets } from './budgets/reconcile';
import { closeLastMonths } from './domain/billing';
import { authorize, type Caller } from './domain/caller';
import { trimRequestLog } from './domain/request-log';

export interface MaintenanceReport {
  /** Alert deliveries whose queue message was lost, queued again. */
  alertDeliveriesRequeued: number;
  /** Request log rows past REQUEST_LOG_RETENTION_DAYS, deleted. */
  requestLogRowsDeleted: number;
  /** Budgets whose gate counter was compared with D1 this run. */
  budgetsChecked: number;
  /** Last months closed (statements written) this run. */
  monthsClosed: number;
  /** The tasks that failed this run (each logged with its reason); the next run tries again. */
  failed: ('alerts' | 'requestLog' | 'budgets' | 'statements')[];
}

export async function runMaintenance(env: Env, now = Date.now()): Promise<MaintenanceReport> {
  const [alerts, requestLog, budgets, statements] = await Promise.allSettled([
    sweepAlertDeliveries(env, now),
    trimRequestLog(env, now),
    reconcileBudgets(env, now),
    closeLastMonths(env, now),
  ]);
  const failed: MaintenanceReport['failed'] = [];
  const outcome = <T>(name: MaintenanceReport['failed'][number], r: PromiseSettledResult<T>, none: T): T => {
    if (r.status === 'fulfilled') return r.value;
    failed.push(name);
    console.error(`maintenance: ${name} failed`, String(r.reason));
    return none;
  };
  return {
    alertDeliveriesRequeued: outcome('alerts', alerts, 0),
    requestLogRowsDeleted: outcome('requestLog', requestLog, { deleted: 0 }).deleted,
    budgetsChecked: outcome('budgets', budgets, []).length,
    monthsClosed: outcome('statements', statements, 0),
    failed,
  };
}

/** The same run, now, for a system admin. */
export async function runMaintenanceNow(caller: Caller): Promise<MaintenanceReport> {
  await authorize(caller, 'system.admin', { type: 'system' }, 'such route');
  return runMaintenance(caller.env);
}
