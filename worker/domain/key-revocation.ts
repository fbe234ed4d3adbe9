// Keys revoked as a consequence of another change (a member leaving an enterprise, a user
// disabled): D1 says `revoked` in the change's own batch; this tells the gates at once, so the key
// is refused everywhere even where an isolate still caches it as active.
import { and, eq, type SQL } from 'drizzle-orm';
import { groupGate } from '../../durable-objects/address';
import { forgetKey } from '../auth/client-key';
import type { Db } from '../db/client';
import { apiKeys } from '../db/schema';

/** The UPDATE that revokes a person's active keys where `where` holds; run it in the change's batch. */
export function revokeKeysWhere(db: Db, userId: string, where: SQL) {
  return db
    .update(apiKeys)
    .set({ status: 'revoked', revokedAt: Date.now() })
    .where(and(eq(apiKeys.userId, userId), eq(apiKeys.status, 'active'), where))
    .returning({ id: apiKeys.id, groupId: apiKeys.groupId, keyHash: apiKeys.keyHash });
}

export async function tellGates(env: Env, revoked: { id: string; groupId: string; keyHash: string }[]) {
  await Promise.all(
    revoked.map(async (key) => {
      await groupGate(env, key.groupId).revokeKey(key.id);
      forgetKey(key.keyHash);
    }),
  );
}
