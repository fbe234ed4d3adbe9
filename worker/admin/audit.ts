// Who changed what, appended alongside the change itself.
import type { Db } from '../db/client';
import { auditLog } from '../db/schema';

export function audit(
  d: Db,
  action: string,
  targetType: string,
  targetId: string,
  detail?: Record<string, unknown>,
) {
  return d
    .insert(auditLog)
    .values({ at: Date.now(), actor: 'operator', action, targetType, targetId, detail });
}
