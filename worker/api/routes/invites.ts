// Invites: thin handlers over worker/domain/invites.ts. Made, listed and revoked on their group;
// looked at by anyone holding the token (no credential), accepted by a signed-in person, or used
// to sign up by a newcomer (who then holds a session cookie, as after sign-in).
import { createSelectSchema } from 'drizzle-zod';
import { NewPasswordSchema } from '../../auth/password';
import { setSessionCookie } from '../../auth/session-cookie';
import { db } from '../../db/client';
import { invites } from '../../db/schema';
import {
  acceptInvite,
  createInvite,
  INVITE_STATUSES,
  listInvites,
  previewInvite,
  revokeInvite,
  signUpWithInvite,
} from '../../domain/invites';
import {
  displayText,
  ErrorSchema,
  errorResponse,
  IdParam,
  jsonBody,
  jsonResponse,
  newRouter,
  rateLimitedResponse,
  route,
  TokenParam,
  z,
} from '../openapi';
import { requireCaller, signInContext } from '../principal';
import { SessionSchema, UserSchema } from './auth';
import { GroupSchema, MembershipSchema } from './groups';

const InviteSchema = createSelectSchema(invites)
  .omit({ tokenHash: true })
  .extend({ status: z.enum(['active', 'revoked', 'expired', 'used_up']) })
  .openapi('Invite');

const NewInviteSchema = InviteSchema.extend({
  token: z.string().openapi({ description: 'The invite token (`cpinv_…`): shown once, never again.' }),
}).openapi('NewInvite');

const InviteInput = z
  .strictObject({
    /** From now: 1 minute to 90 days; default 7 days. */
    expiresInMs: z
      .number()
      .int()
      .min(60_000)
      .max(90 * 86_400_000)
      .optional(),
    /** Default 1. */
    maxUses: z.number().int().min(1).max(1000).optional(),
    /** Only the person with this email may accept it. */
    email: z.email().nullable().optional(),
  })
  .openapi('InviteInput');

const InvitePreviewSchema = z
  .object({
    status: z.enum(INVITE_STATUSES),
    group: z.object({
      name: z.string(),
      kind: z.enum(['carpool', 'enterprise']),
      members: z.number().int(),
      maxMembers: z.number().int(),
    }),
    invitedBy: z.string().nullable(),
    expiresAt: z.number().int(),
    usesLeft: z.number().int(),
    emailRestricted: z.boolean(),
  })
  .openapi('InvitePreview');

const SignUpInput = z
  .strictObject({
    email: z.email().max(254),
    name: displayText(),
    password: NewPasswordSchema,
  })
  .openapi('InviteSignUpInput');

const SignedUpSchema = z
  .object({ user: UserSchema, session: SessionSchema, group: GroupSchema, member: MembershipSchema })
  .openapi('SignedUp', { description: 'The session cookie is set with this answer.' });

const InviteParams = IdParam.extend({
  inviteId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'inviteId', in: 'path' } }),
});

const notFound = jsonResponse(ErrorSchema, 'No such invite.');

export const inviteRoutes = newRouter()
  .openapi(
    route('user.invite', {
      method: 'post',
      path: '/groups/{id}/invites',
      summary: 'Create an invite link into a group (the token is shown once)',
      request: { params: IdParam, ...jsonBody(InviteInput) },
      responses: { 201: jsonResponse(NewInviteSchema, 'The invite, with its token this once.') },
    }),
    async (c) =>
      c.json(await createInvite(requireCaller(c), c.req.valid('param').id, c.req.valid('json')), 201),
  )
  .openapi(
    route('user.invite', {
      method: 'get',
      path: '/groups/{id}/invites',
      summary: 'A group’s invites, with their state (never their tokens)',
      request: { params: IdParam },
      responses: { 200: jsonResponse(z.object({ data: z.array(InviteSchema) }), 'The invites.') },
    }),
    async (c) => c.json({ data: await listInvites(requireCaller(c), c.req.valid('param').id) }, 200),
  )
  .openapi(
    route('user.invite', {
      method: 'delete',
      path: '/groups/{id}/invites/{inviteId}',
      summary: 'Revoke an invite',
      request: { params: InviteParams },
      responses: { 200: jsonResponse(InviteSchema, 'The revoked invite.') },
    }),
    async (c) => {
      const { id, inviteId } = c.req.valid('param');
      return c.json(await revokeInvite(requireCaller(c), id, inviteId), 200);
    },
  )
  .openapi(
    route('public', {
      method: 'get',
      path: '/invites/{token}',
      summary:
        'What an invite link leads to: the group, who invited, and whether it can still be used (status)',
      request: { params: TokenParam },
      responses: { 200: jsonResponse(InvitePreviewSchema, 'The invite.'), 404: notFound },
    }),
    async (c) => c.json(await previewInvite({ db: db(c.env) }, c.req.valid('param').token), 200),
  )
  .openapi(
    route('signed-in', {
      method: 'post',
      path: '/invites/{token}/accept',
      summary:
        'Join the invite’s group as a member. 409 with details.status `revoked`, `expired`, `used_up`, `group_full` or `already_member`; 403 `wrong_email`',
      request: { params: TokenParam },
      responses: {
        409: errorResponse(
          'details.status says why: revoked, expired, used_up, group_full or already_member.',
        ),
        200: jsonResponse(z.object({ group: GroupSchema, member: MembershipSchema }), 'The group joined.'),
      },
    }),
    async (c) => c.json(await acceptInvite(requireCaller(c), c.req.valid('param').token), 200),
  )
  .openapi(
    route('public', {
      method: 'post',
      path: '/invites/{token}/sign-up',
      summary: 'Sign up through an invite: create an account, join the group, and get a session cookie',
      description:
        'Atomic: the account is created only if the join happens. 409 with details.status `account_exists` (sign in, then accept), `revoked`, `expired`, `used_up` or `group_full`; 403 `wrong_email`. An `account_exists` answer counts as a failed sign-in (for the email and the address); past those limits, 429 `rate_limited`.',
      request: { params: TokenParam, ...jsonBody(SignUpInput) },
      responses: {
        201: jsonResponse(SignedUpSchema, 'Signed up and joined; `set-cookie: carpool_session=…`.'),
        403: jsonResponse(ErrorSchema, 'The invite is for another email address.'),
        404: notFound,
        409: jsonResponse(
          ErrorSchema,
          'The email has an account, or the invite or group cannot take anyone.',
        ),
        429: rateLimitedResponse('Too many failed attempts; retry-after says when to try again.'),
      },
    }),
    async (c) => {
      const { group, member, ...issued } = await signUpWithInvite(
        signInContext(c),
        c.req.valid('param').token,
        c.req.valid('json'),
      );
      setSessionCookie(c, issued);
      return c.json({ user: issued.user, session: issued.session, group, member }, 201);
    },
  );
