// First run: whether setup is still open, and creating the first user (a system admin) with the
// SETUP_TOKEN, which signs them in. See worker/domain/setup.ts.

import { NewPasswordSchema } from '../../auth/password';
import { setSessionCookie } from '../../auth/session-cookie';
import { completeSetup, setupState } from '../../domain/setup';
import { displayText, ErrorSchema, jsonBody, jsonResponse, newRouter, route, z } from '../openapi';
import { signInContext } from '../principal';
import { SignedInSchema } from './auth';

const SetupStateSchema = z
  .object({
    open: z.boolean().openapi({ description: 'True while no user exists.' }),
    message: z.string(),
  })
  .openapi('SetupState');

const SetupInput = z
  .strictObject({
    token: z.string().min(1).max(512).openapi({ description: 'The SETUP_TOKEN secret.' }),
    email: z.email().max(254),
    name: displayText(),
    password: NewPasswordSchema,
  })
  .openapi('SetupInput');

export const setupRoutes = newRouter()
  .openapi(
    route('public', {
      method: 'get',
      path: '/setup',
      summary: 'Whether first-run setup is still open',
      responses: { 200: jsonResponse(SetupStateSchema, 'Open while no user exists.') },
    }),
    async (c) => {
      const ctx = signInContext(c);
      return c.json(await setupState(ctx.db, c.env), 200);
    },
  )
  .openapi(
    route('public', {
      method: 'post',
      path: '/setup',
      summary: 'Create the first user, a system admin, and sign them in',
      request: jsonBody(SetupInput),
      responses: {
        201: jsonResponse(SignedInSchema, 'The first user, signed in (`set-cookie: carpool_session=…`).'),
        403: jsonResponse(ErrorSchema, 'The setup token is wrong, or none is configured.'),
        409: jsonResponse(ErrorSchema, 'Setup is done: a user exists.'),
      },
    }),
    async (c) => {
      const issued = await completeSetup(signInContext(c), c.req.valid('json'));
      setSessionCookie(c, issued);
      return c.json({ user: issued.user, session: issued.session }, 201);
    },
  );
