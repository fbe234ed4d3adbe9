// Password links: made by a system admin for a person, looked at and used by whoever holds the
// link (no credential). Thin handlers over worker/domain/password-links.ts.
import { NewPasswordSchema } from '../../auth/password';
import { setSessionCookie } from '../../auth/session-cookie';
import { db } from '../../db/client';
import { issuePasswordLink, previewPasswordLink, usePasswordLink } from '../../domain/password-links';
import {
  ErrorSchema,
  errorResponse,
  IdParam,
  jsonBody,
  jsonResponse,
  newRouter,
  route,
  TokenParam,
  z,
} from '../openapi';
import { requireCaller, signInContext } from '../principal';
import { SignedInSchema } from './auth';

const PasswordLinkSchema = z
  .object({
    token: z.string().openapi({
      description:
        'The link’s token (`cppwd_…`), shown this once; the dashboard’s page is `/password/<token>`.',
    }),
    userId: z.string(),
    expiresAt: z.number().int(),
  })
  .openapi('PasswordLink');

const PasswordLinkPreviewSchema = z
  .object({ email: z.string(), name: z.string(), expiresAt: z.number().int() })
  .openapi('PasswordLinkPreview');

const gone = jsonResponse(ErrorSchema, 'The link is unknown, used, voided by a newer one, or expired.');

export const passwordLinkRoutes = newRouter()
  .openapi(
    route('system.admin', {
      method: 'post',
      path: '/users/{id}/password-link',
      summary: 'Make a one-time link that sets a person’s password (their older links stop working)',
      description:
        'For a person who forgot their password or never chose one. Valid for 24 hours, used once; using it ends every session the person had. 409 for a disabled person.',
      request: { params: IdParam },
      responses: {
        409: errorResponse('The person is disabled.'),
        201: jsonResponse(PasswordLinkSchema, 'The link’s token, this once.'),
      },
    }),
    async (c) => c.json(await issuePasswordLink(requireCaller(c), c.req.valid('param').id), 201),
  )
  .openapi(
    route('public', {
      method: 'get',
      path: '/password-links/{token}',
      summary: 'Whose password a link sets, while it can still be used',
      request: { params: TokenParam },
      responses: { 200: jsonResponse(PasswordLinkPreviewSchema, 'The person.'), 404: gone },
    }),
    async (c) => c.json(await previewPasswordLink({ db: db(c.env) }, c.req.valid('param').token), 200),
  )
  .openapi(
    route('public', {
      method: 'post',
      path: '/password-links/{token}',
      summary: 'Set a new password through a link, and sign in (sets the session cookie)',
      description: 'Ends every other session of the person. The link works once.',
      request: {
        params: TokenParam,
        ...jsonBody(z.strictObject({ password: NewPasswordSchema }).openapi('PasswordLinkUse')),
      },
      responses: {
        200: jsonResponse(SignedInSchema, 'Password set and signed in; `set-cookie: carpool_session=…`.'),
        403: jsonResponse(ErrorSchema, 'The person has been disabled.'),
        404: gone,
      },
    }),
    async (c) => {
      const issued = await usePasswordLink(
        signInContext(c),
        c.req.valid('param').token,
        c.req.valid('json').password,
      );
      setSessionCookie(c, issued);
      return c.json({ user: issued.user, session: issued.session }, 200);
    },
  );
