// Worker entry: HTTP (client surfaces and the API), the queue consumers (usage events, alert
// deliveries), the cron (worker/maintenance.ts), and the Durable Object classes.

import { ALERT_QUEUE_NAME, consumeAlertBatch } from './alerts/deliver';
import { isApiUrl, newApp } from './app';
import { runMaintenance } from './maintenance';
import { consumeUsageBatch } from './queue/consumer';

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
    ctx.waitUntil(runMaintenance(env));
  },
} satisfies ExportedHandler<Env>;
