// /me and personal access tokens: who the caller is, their roles, and their own tokens. A system
// admin may also mint a token for another user (/users/{id}/tokens).

import { createSelectSchema } from 'drizzle-zod';
import { personalAccessTokens } from '../../db/schema';
import { memberships } from '../../domain/caller';
import { createToken, listTokens, revokeToken } from '../../domain/tokens';
import { renameUser } from '../../domain/users';
import { ApiError } from '../errors';
import { displayText, IdParam, jsonBody, jsonResponse, newRouter, route, z } from '../openapi';
import { requireCaller } from '../principal';
import { UserSchema } from './users';

const TokenSchema = createSelectSchema(personalAccessTokens)
  .omit({ tokenHash: true })
  .openapi('PersonalAccessToken');
const NewTokenSchema = TokenSchema.extend({
  token: z.string().openapi({ description: 'The token itself: shown once, never again.' }),
}).openapi('NewPersonalAccessToken');
const TokenInput = z
  .strictObject({
    name: displayText(),
    expiresAt: z.number().int().positive().nullable().optional(),
  })
  .openapi('TokenInput');

const SIGN_IN_AGAIN =
  'Takes a sign-in of the last 15 minutes (or the operator token): a session signed in earlier, or a personal access token, gets 403 with `details.status: sign_in_again`.';

const MeSchema = z
  .object({
    kind: z.enum(['operator', 'user']),
    userId: z.string().nullable(),
    systemRole: z.enum(['system_admin', 'user']),
    via: z.enum(['operator', 'session', 'token']),
    enterprises: z.array(z.object({ enterpriseId: z.string(), role: z.enum(['owner', 'admin', 'member']) })),
    groups: z.array(z.object({ groupId: z.string(), role: z.enum(['owner', 'member']) })),
  })
  .openapi('Me');

const TokenIdParam = z.object({
  tokenId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'tokenId', in: 'path' } }),
});

/** The calling person's id; the operator token is nobody's. */
export function selfId(c: Parameters<typeof requireCaller>[0]): string {
  const { principal } = requireCaller(c);
  if (principal.kind !== 'user') throw new ApiError('invalid_request', 'The operator token is no user.');
  return principal.userId;
}

export const meRoutes = newRouter()
  .openapi(
    route('signed-in', {
      method: 'get',
      path: '/me',
      summary: 'Who the caller is, and their roles',
      responses: { 200: jsonResponse(MeSchema, 'The caller.') },
    }),
    async (c) => {
      const caller = requireCaller(c);
      const m = await memberships(caller);
      const p = caller.principal;
      return c.json(
        {
          kind: p.kind,
          userId: p.kind === 'user' ? p.userId : null,
          systemRole: m.system ? ('system_admin' as const) : ('user' as const),
          via: p.kind === 'user' ? p.via : ('operator' as const),
          enterprises: [...m.enterprises].map(([enterpriseId, role]) => ({ enterpriseId, role })),
          groups: [...m.groups].map(([groupId, role]) => ({ groupId, role })),
        },
        200,
      );
    },
  )
  .openapi(
    route('profile.manage', {
      method: 'patch',
      path: '/me',
      summary: 'Change one’s own display name',
      request: {
        ...jsonBody(z.strictObject({ name: displayText() }).openapi('MyChanges')),
      },
      responses: { 200: jsonResponse(UserSchema, 'The person.') },
    }),
    async (c) => c.json(await renameUser(requireCaller(c), selfId(c), c.req.valid('json').name), 200),
  )
  .openapi(
    route('profile.manage', {
      method: 'get',
      path: '/me/tokens',
      summary: "The caller's personal access tokens",
      responses: { 200: jsonResponse(z.object({ data: z.array(TokenSchema) }), 'The tokens.') },
    }),
    async (c) => c.json({ data: await listTokens(requireCaller(c), selfId(c)) }, 200),
  )
  .openapi(
    route('profile.manage', {
      method: 'post',
      path: '/me/tokens',
      summary: 'Create a personal access token (shown once)',
      description: SIGN_IN_AGAIN,
      request: jsonBody(TokenInput),
      responses: { 201: jsonResponse(NewTokenSchema, 'The token, with its plaintext this once.') },
    }),
    async (c) => c.json(await createToken(requireCaller(c), selfId(c), c.req.valid('json')), 201),
  )
  .openapi(
    route('profile.manage', {
      method: 'delete',
      path: '/me/tokens/{tokenId}',
      summary: 'Revoke one of the caller’s tokens',
      request: { params: TokenIdParam },
      responses: { 200: jsonResponse(TokenSchema, 'The revoked token.') },
    }),
    async (c) => c.json(await revokeToken(requireCaller(c), selfId(c), c.req.valid('param').tokenId), 200),
  )
  .openapi(
    route('profile.manage', {
      method: 'post',
      path: '/users/{id}/tokens',
      summary: 'Create a token for a user (the user themself, or a system admin)',
      description: SIGN_IN_AGAIN,
      request: { params: IdParam, ...jsonBody(TokenInput) },
      responses: { 201: jsonResponse(NewTokenSchema, 'The token, with its plaintext this once.') },
    }),
    async (c) =>
      c.json(await createToken(requireCaller(c), c.req.valid('param').id, c.req.valid('json')), 201),
  );
