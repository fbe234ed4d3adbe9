// /enterprises: thin handlers over worker/domain/enterprises.ts.
import { createSelectSchema } from 'drizzle-zod';
import { enterprises } from '../../db/schema';
import { createEnterprise, getEnterprise, listEnterprises, updateEnterprise } from '../../domain/enterprises';
import { poolPoliciesSchema } from '../../scheduling/policy';
import { displayText, IdParam, jsonBody, jsonResponse, newRouter, route, z } from '../openapi';
import { requireCaller } from '../principal';

export const EnterpriseSchema = createSelectSchema(enterprises, {
  pools: poolPoliciesSchema.nullable(),
}).openapi('Enterprise');

const EnterpriseInput = z
  .strictObject({
    name: displayText(),
    /** Per provider pool, e.g. `{ "anthropic": { "strategy": "weighted", "maxAttempts": 3 } }`. */
    pools: poolPoliciesSchema.nullable().optional(),
    ownerId: z.string().min(1).max(64).optional(),
  })
  .openapi('EnterpriseInput');

const EnterpriseChanges = EnterpriseInput.pick({ name: true, pools: true })
  .partial()
  .openapi('EnterpriseChanges');

export const enterpriseRoutes = newRouter()
  .openapi(
    route('system.admin', {
      method: 'post',
      path: '/enterprises',
      summary: 'Create an enterprise (system admin), optionally with its owner',
      request: jsonBody(EnterpriseInput),
      responses: { 201: jsonResponse(EnterpriseSchema, 'The enterprise.') },
    }),
    async (c) => c.json(await createEnterprise(requireCaller(c), c.req.valid('json')), 201),
  )
  .openapi(
    route('signed-in', {
      method: 'get',
      path: '/enterprises',
      summary: 'The enterprises the caller belongs to (all, for a system admin)',
      responses: { 200: jsonResponse(z.object({ data: z.array(EnterpriseSchema) }), 'The enterprises.') },
    }),
    async (c) => c.json({ data: await listEnterprises(requireCaller(c)) }, 200),
  )
  .openapi(
    route('enterprise.view', {
      method: 'get',
      path: '/enterprises/{id}',
      summary: 'One enterprise',
      request: { params: IdParam },
      responses: { 200: jsonResponse(EnterpriseSchema, 'The enterprise.') },
    }),
    async (c) => c.json(await getEnterprise(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('enterprise.manage', {
      method: 'patch',
      path: '/enterprises/{id}',
      summary: 'Rename an enterprise (enterprise.manage) or change its pool policies (ai.manage)',
      request: { params: IdParam, ...jsonBody(EnterpriseChanges) },
      responses: { 200: jsonResponse(EnterpriseSchema, 'The enterprise.') },
    }),
    async (c) =>
      c.json(await updateEnterprise(requireCaller(c), c.req.valid('param').id, c.req.valid('json')), 200),
  );
