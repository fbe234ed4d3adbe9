// Worker entry: HTTP (client surfaces and the API), the queue consumers (usage events, alert
// deliveries), the cron (alert deliveries swept; request log trimmed, budgets reconciled; last
// month's bills closed), and the Durable Object classes.

import { ALERT_QUEUE_NAME, consumeAlertBatch, sweepAlertDeliveries } from './alerts/deliver';
import { isApiUrl, newApp } from './app';
import { closeLastMonths } from './domain/billing';
import { consumeUsageBatch } from './queue/consumer';
import { usageMaintenance } from './usage/cron';

export { AccountGate } from '../durable-objects/account-gate';
export { EnterpriseLedger } from '../durable-objects/enterprise-ledger';
export { GroupGate } from '../durable-objects/group-gate';

const apiApp = newApp('api');
const relayApp = newApp('relay');

export default {
  fetch: (request, env, ctx) =>
    isApiUrl(request.url) ? apiApp.fetch(request, env, ctx) : relayApp.fetch(request, env, ctx),
  queue: (batch, env) =>
    batch.queue === ALERT_QUEUE_NAME ? consumeAlertBatch(batch, env) : consumeUsageBatch(batch, env),
  scheduled: (_controller, env, ctx) => {
    ctx.waitUntil(sweepAlertDeliveries(env));
    ctx.waitUntil(usageMaintenance(env));
    ctx.waitUntil(closeLastMonths(env));
  },
} satisfies ExportedHandler<Env>;
