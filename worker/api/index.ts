// The API for people and the dashboard, under /api/v1 (and, for automation written against it
// before people could sign in, /admin/v1: the same routes, reached with the operator token). One
// route file per resource under routes/, thin handlers over worker/domain/. The OpenAPI 3.1
// document is generated from the same zod schemas the routes validate with.

import { newRouter, requestIdHeader } from './openapi';
import { principalMiddleware } from './principal';
import { referencePage } from './reference';
import { accountRoutes } from './routes/accounts';
import { alertRoutes } from './routes/alerts';
import { auditRoutes } from './routes/audit';
import { authRoutes } from './routes/auth';
import { billingRoutes } from './routes/billing';
import { budgetRoutes } from './routes/budgets';
import { enterpriseMemberRoutes } from './routes/enterprise-members';
import { enterpriseRoutes } from './routes/enterprises';
import { groupRoutes } from './routes/groups';
import { inviteRoutes } from './routes/invites';
import { keyRoutes } from './routes/keys';
import { meRoutes } from './routes/me';
import { oauthRoutes } from './routes/oauth';
import { operatorRoutes } from './routes/operator';
import { passwordLinkRoutes } from './routes/password-links';
import { setupRoutes } from './routes/setup';
import { usageRoutes } from './routes/usage';
import { userRoutes } from './routes/users';

export const api = newRouter();

api.openAPIRegistry.registerComponent('headers', 'RequestId', requestIdHeader);
api.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
  type: 'http',
  scheme: 'bearer',
  description: 'A personal access token (`cpat_…`), or the operator token (ADMIN_TOKEN).',
});
api.openAPIRegistry.registerComponent('securitySchemes', 'session', {
  type: 'apiKey',
  in: 'cookie',
  name: 'carpool_session',
  description: 'The session cookie set by sign-in; writes also need a same-origin `Origin` header.',
});

api.use(principalMiddleware());
api.route('/', oauthRoutes);
api.route('/', accountRoutes);
api.route('/', enterpriseRoutes);
api.route('/', meRoutes);
api.route('/', budgetRoutes);
api.route('/', groupRoutes);
api.route('/', billingRoutes);
api.route('/', keyRoutes);
api.route('/', inviteRoutes);
api.route('/', alertRoutes);
api.route('/', enterpriseMemberRoutes);
api.route('/', userRoutes);
api.route('/', passwordLinkRoutes);
api.route('/', usageRoutes);
api.route('/', auditRoutes);
api.route('/', operatorRoutes);
api.route('/', authRoutes);
api.route('/', setupRoutes);

api.doc31('/openapi.json', {
  openapi: '3.1.0',
  info: {
    title: 'AiCarpool API',
    version: '1',
    description:
      'People, groups, accounts, keys, usage and money. Every error is `{"error":{"code","message","requestId"}}`.',
  },
  servers: [{ url: '/api/v1' }],
});

api.get('/docs', (c) => c.html(referencePage('/api/v1/openapi.json')));
