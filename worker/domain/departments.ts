// Departments: how an enterprise arranges its groups, a tree one level deep (a department may sit
// under a top-level one, and then counts in its usage and budgets: worker/db/group-scopes.ts).
// Seen by the enterprise's members, changed by its owners (`enterprise.manage`). Groups name their
// department (groups.department_id). The depth rule is a trigger in D1 (a 409 when requests race);
// the checks here only word it first.
import { and, asc, eq, notExists } from 'drizzle-orm';
import { enterpriseLedger } from '../../durable-objects/address';
import { ApiError } from '../api/errors';
import { loadWideBudgets } from '../budgets/config';
import { departments, enterprises, groups } from '../db/schema';
import { audit } from './audit';
import { authorize, type Caller } from './caller';
import { pushGroup } from './push';

export type Department = typeof departments.$inferSelect;

export interface DepartmentInput {
  name: string;
  /** A top-level department of the same enterprise; none: top-level. */
  parentId?: string | null;
}

const resource = (enterpriseId: string) => ({ type: 'enterprise' as const, enterpriseId });

export async function listDepartments(caller: Caller, enterpriseId: string): Promise<Department[]> {
  await authorize(caller, 'enterprise.view', resource(enterpriseId), `enterprise ${enterpriseId}`);
  return caller.db
    .select()
    .from(departments)
    .where(eq(departments.enterpriseId, enterpriseId))
    .orderBy(asc(departments.createdAt));
}

export async function createDepartment(
  caller: Caller,
  enterpriseId: string,
  input: DepartmentInput,
): Promise<Department> {
  await authorize(caller, 'enterprise.manage', resource(enterpriseId), `enterprise ${enterpriseId}`);
  const [enterprise] = await caller.db
    .select({ id: enterprises.id })
    .from(enterprises)
    .where(eq(enterprises.id, enterpriseId));
  if (!enterprise) throw new ApiError('not_found', `No enterprise ${enterpriseId}.`);
  if (input.parentId) await checkParent(caller, enterpriseId, input.parentId, null);
  const id = crypto.randomUUID();
  const [row] = await caller.db
    .insert(departments)
    .values({ id, enterpriseId, name: input.name, parentId: input.parentId ?? null })
    .returning();
  await audit(caller, {
    action: 'department.create',
    target: { type: 'department', id },
    enterpriseId,
    detail: { name: input.name, parentId: input.parentId ?? null },
  });
  return row!;
}

export async function updateDepartment(
  caller: Caller,
  id: string,
  changes: Partial<DepartmentInput>,
): Promise<Department> {
  const before = await departmentFor(caller, id);
  if (Object.keys(changes).length === 0) return before;
  if (changes.parentId) await checkParent(caller, before.enterpriseId, changes.parentId, id);
  const [row] = await caller.db.update(departments).set(changes).where(eq(departments.id, id)).returning();
  await audit(caller, {
    action: 'department.update',
    target: { type: 'department', id },
    enterpriseId: before.enterpriseId,
    detail: {
      fields: Object.keys(changes),
      before: { name: before.name, parentId: before.parentId },
      after: { name: row!.name, parentId: row!.parentId },
    },
  });
  // Moved under another department (or out from under one): its groups answer to other budgets.
  if (changes.parentId !== undefined && (changes.parentId ?? null) !== before.parentId) {
    const moved = await caller.db.select({ id: groups.id }).from(groups).where(eq(groups.departmentId, id));
    await Promise.all(moved.map((g) => pushGroup(caller.env, g.id)));
  }
  return row!;
}

/**
 * Only an empty department goes: no sub-departments, no groups (move them first). Its budgets go
 * with it.
 */
export async function deleteDepartment(caller: Caller, id: string): Promise<Department> {
  const before = await departmentFor(caller, id);
  const d = caller.db;
  const [row] = await d
    .delete(departments)
    .where(
      and(
        eq(departments.id, id),
        notExists(d.select({ id: groups.id }).from(groups).where(eq(groups.departmentId, id))),
        notExists(d.select({ id: departments.id }).from(departments).where(eq(departments.parentId, id))),
      ),
    )
    .returning();
  if (!row)
    throw new ApiError(
      'conflict',
      `Department ${id} still has groups or sub-departments: move or delete them first.`,
    );
  await audit(caller, {
    action: 'department.delete',
    target: { type: 'department', id },
    enterpriseId: before.enterpriseId,
    detail: { name: before.name, parentId: before.parentId },
  });
  // Its budgets went with it (a trigger, migration 0018): the ledger stops counting them.
  await enterpriseLedger(caller.env, before.enterpriseId).configure(
    await loadWideBudgets(caller.env, before.enterpriseId),
  );
  return row;
}

/** The department, if the caller may change it: 404 outside their enterprises, 403 for non-owners. */
async function departmentFor(caller: Caller, id: string): Promise<Department> {
  const [row] = await caller.db.select().from(departments).where(eq(departments.id, id));
  if (!row) throw new ApiError('not_found', `No department ${id}.`);
  await authorize(caller, 'enterprise.manage', resource(row.enterpriseId), `department ${id}`);
  return row;
}

async function checkParent(caller: Caller, enterpriseId: string, parentId: string, self: string | null) {
  const [parent] = await caller.db
    .select()
    .from(departments)
    .where(and(eq(departments.id, parentId), eq(departments.enterpriseId, enterpriseId)));
  if (!parent) throw new ApiError('not_found', `No department ${parentId} in enterprise ${enterpriseId}.`);
  if (parent.id === self || parent.parentId !== null)
    throw new ApiError(
      'invalid_request',
      'Invalid json: parentId: departments are one level deep: the parent must be a top-level department.',
    );
  if (self) {
    const [child] = await caller.db
      .select({ id: departments.id })
      .from(departments)
      .where(eq(departments.parentId, self))
      .limit(1);
    if (child)
      throw new ApiError(
        'invalid_request',
        'Invalid json: parentId: this department has sub-departments, so it stays top-level (one level deep).',
      );
  }
}
