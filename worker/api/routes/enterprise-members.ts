// /enterprises/{id}/members and /enterprises/{id}/departments, /departments/{id}: the people and
// the shape of an enterprise. Thin handlers over worker/domain/{enterprise-members,departments}.ts.
import { createSelectSchema } from 'drizzle-zod';
import { departments, enterpriseMembers } from '../../db/schema';
import {
  createDepartment,
  deleteDepartment,
  listDepartments,
  updateDepartment,
} from '../../domain/departments';
import {
  addMember,
  leaveEnterprise,
  listMembers,
  removeMember,
  setMemberRole,
} from '../../domain/enterprise-members';
import { displayText, errorResponse, IdParam, jsonBody, jsonResponse, newRouter, route, z } from '../openapi';
import { requireCaller } from '../principal';

const role = z.enum(enterpriseMembers.role.enumValues);

const MemberSchema = z
  .object({ userId: z.string(), email: z.string(), name: z.string(), role, createdAt: z.number().int() })
  .openapi('EnterpriseMember');

const MemberInput = z
  .strictObject({ userId: z.string().min(1).max(64).optional(), email: z.email().max(254).optional(), role })
  .refine((m) => (m.userId === undefined) !== (m.email === undefined), {
    message: 'send userId or email (one of them)',
    path: ['userId'],
    params: { rule: 'user_or_email' },
  })
  .openapi('EnterpriseMemberInput', { description: 'A user by id, or a person by email (created if new).' });

const RemovedSchema = z
  .object({
    userId: z.string(),
    role,
    groupsLeft: z
      .array(z.string())
      .openapi({ description: "The enterprise's groups they were removed from." }),
    keysRevoked: z.number().int(),
  })
  .openapi('EnterpriseMemberRemoved');

const MemberParams = IdParam.extend({
  userId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'userId', in: 'path' } }),
});

export const DepartmentSchema = createSelectSchema(departments).openapi('Department');

const DepartmentInput = z
  .strictObject({
    name: displayText(),
    parentId: z
      .string()
      .min(1)
      .max(64)
      .nullable()
      .optional()
      .openapi({ description: 'A top-level department of the same enterprise (one level deep).' }),
  })
  .openapi('DepartmentInput');

const DepartmentChanges = DepartmentInput.partial().openapi('DepartmentChanges');

export const enterpriseMemberRoutes = newRouter()
  .openapi(
    route('enterprise.view', {
      method: 'get',
      path: '/enterprises/{id}/members',
      summary: "The enterprise's people and their roles",
      request: { params: IdParam },
      responses: { 200: jsonResponse(z.object({ data: z.array(MemberSchema) }), 'The members.') },
    }),
    async (c) => c.json({ data: await listMembers(requireCaller(c), c.req.valid('param').id) }, 200),
  )
  .openapi(
    route('enterprise.manage', {
      method: 'post',
      path: '/enterprises/{id}/members',
      summary: 'Add a person with a role (owner, admin, member)',
      request: { params: IdParam, ...jsonBody(MemberInput) },
      responses: {
        409: errorResponse('The person is a member already.'),
        201: jsonResponse(MemberSchema, 'The member.'),
      },
    }),
    async (c) => c.json(await addMember(requireCaller(c), c.req.valid('param').id, c.req.valid('json')), 201),
  )
  .openapi(
    route('enterprise.manage', {
      method: 'patch',
      path: '/enterprises/{id}/members/{userId}',
      summary: "Change a member's role (the last owner stays owner)",
      request: {
        params: MemberParams,
        ...jsonBody(z.strictObject({ role }).openapi('EnterpriseMemberChanges')),
      },
      responses: {
        409: errorResponse('An enterprise keeps at least one owner.'),
        200: jsonResponse(MemberSchema, 'The member.'),
      },
    }),
    async (c) => {
      const { id, userId } = c.req.valid('param');
      return c.json(await setMemberRole(requireCaller(c), id, userId, c.req.valid('json').role), 200);
    },
  )
  .openapi(
    route('enterprise.manage', {
      method: 'delete',
      path: '/enterprises/{id}/members/{userId}',
      summary: "Remove a person: they leave the enterprise's groups and their keys there are revoked",
      request: { params: MemberParams },
      responses: {
        409: errorResponse('An enterprise keeps at least one owner.'),
        200: jsonResponse(RemovedSchema, 'What the removal did.'),
      },
    }),
    async (c) => {
      const { id, userId } = c.req.valid('param');
      return c.json(await removeMember(requireCaller(c), id, userId), 200);
    },
  )
  .openapi(
    route('enterprise.view', {
      method: 'post',
      path: '/enterprises/{id}/leave',
      summary:
        "Leave the enterprise (its last owner hands it over first): one leaves its groups and one's keys there are revoked",
      request: { params: IdParam },
      responses: {
        409: errorResponse('An enterprise keeps at least one owner.'),
        200: jsonResponse(RemovedSchema, 'What leaving did.'),
      },
    }),
    async (c) => c.json(await leaveEnterprise(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('enterprise.view', {
      method: 'get',
      path: '/enterprises/{id}/departments',
      summary: "The enterprise's departments (a tree one level deep: parentId)",
      request: { params: IdParam },
      responses: { 200: jsonResponse(z.object({ data: z.array(DepartmentSchema) }), 'The departments.') },
    }),
    async (c) => c.json({ data: await listDepartments(requireCaller(c), c.req.valid('param').id) }, 200),
  )
  .openapi(
    route('enterprise.manage', {
      method: 'post',
      path: '/enterprises/{id}/departments',
      summary: 'Create a department, top-level or under a top-level one',
      request: { params: IdParam, ...jsonBody(DepartmentInput) },
      responses: {
        409: errorResponse('A department nests one level only.'),
        201: jsonResponse(DepartmentSchema, 'The department.'),
      },
    }),
    async (c) =>
      c.json(await createDepartment(requireCaller(c), c.req.valid('param').id, c.req.valid('json')), 201),
  )
  .openapi(
    route('enterprise.manage', {
      method: 'patch',
      path: '/departments/{id}',
      summary: 'Rename a department or move it (one level deep)',
      request: { params: IdParam, ...jsonBody(DepartmentChanges) },
      responses: {
        409: errorResponse('A department nests one level only.'),
        200: jsonResponse(DepartmentSchema, 'The department.'),
      },
    }),
    async (c) =>
      c.json(await updateDepartment(requireCaller(c), c.req.valid('param').id, c.req.valid('json')), 200),
  )
  .openapi(
    route('enterprise.manage', {
      method: 'delete',
      path: '/departments/{id}',
      summary: 'Delete an empty department (no groups, no sub-departments)',
      request: { params: IdParam },
      responses: {
        409: errorResponse('The department still has groups or sub-departments.'),
        200: jsonResponse(DepartmentSchema, 'The department as it was.'),
      },
    }),
    async (c) => c.json(await deleteDepartment(requireCaller(c), c.req.valid('param').id), 200),
  );
