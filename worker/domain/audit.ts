// The audit log: every change a domain function makes is written here, by whom and from where,
// in the scope (enterprise, group) whose managers may read it. Never a secret: callers pass a
// summary of what changed, not the row.
import { type SQL, sql } from 'drizzle-orm';
import { auditLog } from '../db/schema';
import { actorId, type Caller } from './caller';

export interface AuditEntry {
  action: string;
  target: { type: string; id: string };
  enterpriseId?: string | null;
  groupId?: string | null;
  detail?: Record<string, unknown>;
}

/** The insert for one entry; run it in the same D1 batch as the change when there is one. */
export function auditInsert(caller: Caller, entry: AuditEntry) {
  const id = actorId(caller);
  return caller.db.insert(auditLog).values({
    at: Date.now(),
    actor: id ? `user:${id}` : 'operator',
    actorId: id,
    action: entry.action,
    targetType: entry.target.type,
    targetId: entry.target.id,
    enterpriseId: entry.enterpriseId ?? null,
    groupId: entry.groupId ?? null,
    detail: entry.detail,
    ip: caller.ip,
  });
}

export async function audit(caller: Caller, entry: AuditEntry): Promise<void> {
  await auditInsert(caller, entry);
}

/**
 * The insert for one entry that is written only when `condition` holds when it runs, for a change
 * that a batch makes conditionally (e.g. `changes() = 1` right after a conditional insert).
 */
export function auditInsertIf(caller: Caller, entry: AuditEntry, condition: SQL) {
  const id = actorId(caller);
  // Every column of audit_log, in order (the id is assigned).
  return caller.db.insert(auditLog).select(
    sql`SELECT NULL, ${Date.now()}, ${id ? `user:${id}` : 'operator'}, ${id}, ${entry.action}, ${entry.target.type},
      ${entry.target.id}, ${entry.enterpriseId ?? null}, ${entry.groupId ?? null},
      ${entry.detail === undefined ? null : JSON.stringify(entry.detail)}, ${caller.ip}
    WHERE ${condition}`,
  );
}
