// /users: people, as a system admin runs them (a person reads their own record too). Thin handlers
// over worker/domain/users.ts.

import { users } from '../../db/schema';
import { createUser, getUser, listUsers, updateUser } from '../../domain/users';
import { displayText, errorResponse, IdParam, jsonBody, jsonResponse, newRouter, route, z } from '../openapi';
import { requireCaller } from '../principal';

const systemRole = z.enum(users.systemRole.enumValues);

export const UserSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    systemRole,
    disabledAt: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'When a system admin disabled them; null: active.' }),
    createdAt: z.number().int(),
  })
  .openapi('User');

const UserInput = z
  .strictObject({
    email: z.email().max(254),
    name: displayText(),
    systemRole: systemRole.optional(),
  })
  .openapi('UserInput');

const UserChanges = z
  .strictObject({
    name: displayText(),
    systemRole,
    disabled: z.boolean().openapi({ description: 'true: no sign-in, tokens refused, keys revoked at once.' }),
  })
  .partial()
  .openapi('UserChanges');

const ListQuery = z.object({ email: z.string().max(254).optional() });

export const userRoutes = newRouter()
  .openapi(
    route('system.admin', {
      method: 'post',
      path: '/users',
      summary: 'Create a person (no password: they get in through a password link or OIDC)',
      request: jsonBody(UserInput),
      responses: {
        409: errorResponse('A person with this email exists.'),
        201: jsonResponse(UserSchema, 'The user.'),
      },
    }),
    async (c) => c.json(await createUser(requireCaller(c), c.req.valid('json')), 201),
  )
  .openapi(
    route('system.admin', {
      method: 'get',
      path: '/users',
      summary: 'Every person (optionally the one with `email`)',
      request: { query: ListQuery },
      responses: { 200: jsonResponse(z.object({ data: z.array(UserSchema) }), 'The users.') },
    }),
    async (c) => c.json({ data: await listUsers(requireCaller(c), c.req.valid('query')) }, 200),
  )
  .openapi(
    route('profile.manage', {
      method: 'get',
      path: '/users/{id}',
      summary: 'One person (themself, or anyone for a system admin)',
      request: { params: IdParam },
      responses: { 200: jsonResponse(UserSchema, 'The user.') },
    }),
    async (c) => c.json(await getUser(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('system.admin', {
      method: 'patch',
      path: '/users/{id}',
      summary: 'Rename, grant or revoke system admin, disable or re-enable (the last system admin stays)',
      request: { params: IdParam, ...jsonBody(UserChanges) },
      responses: {
        409: errorResponse('The last active system admin stays one: make someone else system admin first.'),
        200: jsonResponse(UserSchema, 'The user.'),
      },
    }),
    async (c) =>
      c.json(await updateUser(requireCaller(c), c.req.valid('param').id, c.req.valid('json')), 200),
  );
