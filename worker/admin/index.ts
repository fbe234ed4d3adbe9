// What is left of the old operator router under /admin/v1: the routes not yet moved onto the API
// (worker/api), behind it. The API's principal middleware has already resolved the caller; these
// routes stay system-admin only until they move.
import { Hono } from 'hono';
import { ApiError } from '../api/errors';
import { requireCaller } from '../api/principal';
import type { AppEnv } from '../context';
import { memberships } from '../domain/caller';
import { groupRoutes } from './groups';
import { keyRoutes } from './keys';

export const adminApi = new Hono<AppEnv>();

adminApi.use(async function systemAdminOnly(c, next) {
  if (!(await memberships(requireCaller(c))).system)
    throw new ApiError('not_found', `No route ${c.req.method} ${c.req.path}.`);
  await next();
});
adminApi.route('/groups', groupRoutes);
adminApi.route('/keys', keyRoutes);
