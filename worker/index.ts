// Worker entry: HTTP (client surfaces and operator API), the usage queue consumer, and the
// Durable Object classes.
import { newApp } from './app';
import { consumeUsageBatch } from './queue/consumer';

export { AccountGate } from '../durable-objects/account-gate';
export { EnterpriseLedger } from '../durable-objects/enterprise-ledger';
export { GroupGate } from '../durable-objects/group-gate';

const app = newApp();

export default {
  fetch: app.fetch,
  queue: consumeUsageBatch,
} satisfies ExportedHandler<Env>;
