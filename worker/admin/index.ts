// The operator API under /admin/v1: JSON in and out, zod-validated, one error envelope.
import { Hono } from 'hono';
import type { AppEnv } from '../context';
import { metrics } from '../metrics';
import { groupRoutes } from './groups';
import { keyRoutes } from './keys';
import { operatorAuth } from './operator-auth';
import { priceRoutes } from './prices';
import { usageRoutes } from './usage';
import { userRoutes } from './users';

export const adminApi = new Hono<AppEnv>();

adminApi.use(operatorAuth());
adminApi.route('/users', userRoutes);
adminApi.route('/groups', groupRoutes);
adminApi.route('/keys', keyRoutes);
adminApi.route('/usage', usageRoutes);
adminApi.route('/prices', priceRoutes);

/** This isolate's counters of Durable Object calls, storage writes, queue sends and D1 statements (the bench reads them). */
adminApi.get('/metrics', (c) => c.json(metrics));
