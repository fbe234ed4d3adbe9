// The operator API under /admin/v1: JSON in and out, zod-validated, one error envelope.
import { Hono } from 'hono';
import type { AppEnv } from '../context';
import { metrics } from '../metrics';
import { accountRoutes } from './accounts';
import { operatorAuth } from './operator-auth';
import { priceRoutes } from './prices';
import { usageRoutes } from './usage';
import { userRoutes } from './users';

export const adminApi = new Hono<AppEnv>();

adminApi.use(operatorAuth());
adminApi.route('/accounts', accountRoutes);
adminApi.route('/users', userRoutes);
adminApi.route('/usage', usageRoutes);
adminApi.route('/prices', priceRoutes);

/** This isolate's counters of Durable Object calls, storage writes, queue sends and D1 statements (the bench reads them). */
adminApi.get('/metrics', (c) => c.json(metrics));
