// The audit log: every change a domain function makes is written here, by whom and from where,
// in the scope (enterprise, group) whose managers may read it (readAudit). Never a secret: callers
// pass a summary of what changed, not the row.
import { and, desc, eq, gte, inArray, lt, lte, or, type SQL, sql } from 'drizzle-orm';
import { ApiError } from '../api/errors';
import { auditLog, groups } from '../db/schema';
import { actorId, authorize, type Caller, memberships } from './caller';
import { decodeCursor, encodeCursor } from './cursor';
import { can } from './permissions';

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

export interface AuditQuery {
  enterpriseId?: string;
  groupId?: string;
  /** One action only (`user.update`). */
  action?: string;
  /** Milliseconds since the epoch, inclusive. */
  from?: number;
  /** Exclusive; default now. */
  to?: number;
  /** Newest first, at most this many (default 100). */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export type AuditRecord = typeof auditLog.$inferSelect;

/**
 * The entries whose scope the caller manages, newest first: a system admin reads all of them; an
 * enterprise's owners and admins its entries and its groups'; a group's owner the group's. Naming
 * a scope the caller cannot see is a 404; one they see but do not manage (a plain member), a 403.
 */
export async function readAudit(
  caller: Caller,
  q: AuditQuery,
): Promise<{ data: AuditRecord[]; nextCursor: string | null }> {
  const d = caller.db;
  const filters: SQL[] = [];
  if (q.cursor) {
    const after = decodeCursor(q.cursor, 'number');
    // The first bound is what the (scope, at) indexes can seek to.
    filters.push(lte(auditLog.at, after.at), or(lt(auditLog.at, after.at), lt(auditLog.id, after.id))!);
  }
  if (q.from !== undefined) filters.push(gte(auditLog.at, q.from));
  if (q.to !== undefined) filters.push(lt(auditLog.at, q.to));
  if (q.action) filters.push(eq(auditLog.action, q.action));
  const groupsOf = (enterpriseIds: string[]) =>
    d.select({ id: groups.id }).from(groups).where(inArray(groups.enterpriseId, enterpriseIds));
  if (q.enterpriseId) {
    await authorize(
      caller,
      'group.manage',
      { type: 'enterprise', enterpriseId: q.enterpriseId },
      `enterprise ${q.enterpriseId}`,
    );
    filters.push(
      or(eq(auditLog.enterpriseId, q.enterpriseId), inArray(auditLog.groupId, groupsOf([q.enterpriseId])))!,
    );
  }
  if (q.groupId) {
    const [group] = await d
      .select({ enterpriseId: groups.enterpriseId })
      .from(groups)
      .where(eq(groups.id, q.groupId));
    if (!group) throw new ApiError('not_found', `No group ${q.groupId}.`);
    await authorize(
      caller,
      'group.manage',
      { type: 'group', groupId: q.groupId, enterpriseId: group.enterpriseId },
      `group ${q.groupId}`,
    );
    filters.push(eq(auditLog.groupId, q.groupId));
  }
  const m = await memberships(caller);
  if (!m.system && !q.enterpriseId && !q.groupId) {
    const owned = [...m.groups.keys()].filter((groupId) =>
      can(m, 'group.manage', { type: 'group', groupId, enterpriseId: null }),
    );
    const run = [...m.enterprises.keys()].filter((enterpriseId) =>
      can(m, 'group.manage', { type: 'enterprise', enterpriseId }),
    );
    if (owned.length === 0 && run.length === 0) return { data: [], nextCursor: null };
    filters.push(
      or(
        run.length ? inArray(auditLog.enterpriseId, run) : undefined,
        run.length ? inArray(auditLog.groupId, groupsOf(run)) : undefined,
        owned.length ? inArray(auditLog.groupId, owned) : undefined,
      )!,
    );
  }
  const limit = q.limit ?? 100;
  // One more row than asked: whether there is a next page.
  const rows = await d
    .select()
    .from(auditLog)
    .where(and(...filters))
    .orderBy(desc(auditLog.at), desc(auditLog.id))
    .limit(limit + 1);
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return { data, nextCursor: rows.length > limit && last ? encodeCursor(last.at, last.id) : null };
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
