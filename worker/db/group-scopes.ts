// The groups a wide scope covers, as subqueries of group ids: an enterprise's, and a department's.
// Departments are a tree one level deep, and a department stands for its own groups and its
// sub-departments': its usage and its budgets cover both. Each is found by an index (groups by
// enterprise and by department, departments by id and by parent), never by a scan.
import { type SQL, sql } from 'drizzle-orm';
import { departments, groups } from './schema';

/** The ids of an enterprise's groups. */
export function enterpriseGroupIds(enterpriseId: string): SQL {
  return sql`(select ${groups.id} from ${groups} where ${groups.enterpriseId} = ${enterpriseId})`;
}

/** The ids of a department's groups and its sub-departments'. */
export function departmentGroupIds(departmentId: string): SQL {
  return sql`(select ${groups.id} from ${groups} where ${groups.departmentId} in (select ${departments.id} from ${departments} where ${departments.id} = ${departmentId} or ${departments.parentId} = ${departmentId}))`;
}

/** A department and the one above it (if any): the departments whose budgets hold its groups. */
export function departmentAndParent(departmentId: string): SQL {
  return sql`(select ${departments.id} from ${departments} where ${departments.id} = ${departmentId} union select ${departments.parentId} from ${departments} where ${departments.id} = ${departmentId} and ${departments.parentId} is not null)`;
}
