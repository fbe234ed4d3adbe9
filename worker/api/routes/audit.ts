// /audit: who changed what, for those who manage the scope (worker/domain/audit.ts).
import { createSelectSchema } from 'drizzle-zod';
import { auditLog } from '../../db/schema';
import { readAudit } from '../../domain/audit';
import { epochMs, jsonResponse, newRouter, route, z } from '../openapi';
import { requireCaller } from '../principal';

const AuditQuery = z.object({
  enterpriseId: z.string().min(1).max(64).optional(),
  groupId: z.string().min(1).max(64).optional(),
  action: z.string().min(1).max(100).optional().openapi({ description: 'one action, e.g. `user.update`' }),
  from: epochMs('ms since the epoch, inclusive'),
  to: epochMs('ms since the epoch, exclusive'),
  limit: z.coerce.number().int().min(1).max(1000).optional().openapi({ description: 'default 100' }),
  cursor: z.string().max(512).optional().openapi({ description: '`nextCursor` of the previous page' }),
});

const AuditEntrySchema = createSelectSchema(auditLog, {
  detail: z.record(z.string(), z.unknown()).nullable(),
}).openapi('AuditEntry');

export const auditRoutes = newRouter().openapi(
  route('signed-in', {
    method: 'get',
    path: '/audit',
    summary:
      "The audit log, newest first: an enterprise's (owners, admins), a group's (its owner and the enterprise's), all (system admin)",
    request: { query: AuditQuery },
    responses: {
      200: jsonResponse(
        z.object({ data: z.array(AuditEntrySchema), nextCursor: z.string().nullable() }).openapi('AuditPage'),
        'A page, newest first; pass nextCursor for the next one (null: the last page).',
      ),
    },
  }),
  async (c) => c.json(await readAudit(requireCaller(c), c.req.valid('query')), 200),
);
