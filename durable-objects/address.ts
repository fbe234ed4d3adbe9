// Addresses of the Durable Objects, by name. Ids are cached per isolate: hashing a name is cheap
// but not free, and the hot path asks for the same few groups again and again.
const ids = new Map<string, DurableObjectId>();

function idFor(ns: { idFromName(name: string): DurableObjectId }, name: string): DurableObjectId {
  let id = ids.get(name);
  if (!id) {
    id = ns.idFromName(name);
    if (ids.size > 10_000) ids.clear();
    ids.set(name, id);
  }
  return id;
}

export function groupGate(env: Env, groupId: string) {
  return env.GROUP_GATE.get(idFor(env.GROUP_GATE, `group:${groupId}`));
}

export function accountGate(env: Env, accountId: string) {
  return env.ACCOUNT_GATE.get(idFor(env.ACCOUNT_GATE, `account:${accountId}`));
}

export function enterpriseLedger(env: Env, enterpriseId: string) {
  return env.ENTERPRISE_LEDGER.get(idFor(env.ENTERPRISE_LEDGER, `ledger:${enterpriseId}`));
}
