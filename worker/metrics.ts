// Counters of the work requests cause, per isolate: Durable Object calls, Durable Object storage
// writes, Queue sends and D1 statements. The benchmark reads them through the operator API to
// print, beside its throughput figures, what each relayed request cost in round trips and writes.
// Plain number increments: cheap enough to leave on in production.
export const metrics = {
  /** Requests that reached a client surface and were admitted or refused. */
  relayRequests: 0,
  /** Durable Object calls a worker awaited before it could fetch the upstream. */
  blockingGateCalls: 0,
  /** Every Durable Object call, from the worker or from one gate to another. */
  gateCalls: 0,
  /** Leases a worker took straight at the account's gate (worker/relay/direct.ts). */
  directLeases: 0,
  /** Write statements run on a Durable Object's SQLite storage. */
  storageWrites: 0,
  /** Queue send or sendBatch calls. */
  queueSends: 0,
  /** Usage events sent. */
  usageEvents: 0,
  /** D1 statements (key lookups on a cold cache, the consumer's writes). */
  d1Statements: 0,
};

export type Metrics = typeof metrics;
