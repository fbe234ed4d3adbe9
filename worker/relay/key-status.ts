// `GET /v1/key`: what a key holder may know of their own key without signing in — its rules,
// and each budget it answers to with what is spent, what remains and when it resets. Scripts and
// status bars call it with the key itself (OpenRouter has the same call).
import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { enterpriseLedger, groupGate } from '../../durable-objects/address';
import { authenticate } from '../auth/client-key';
import type { AppEnv } from '../context';
import { db } from '../db/client';
import { apiKeys } from '../db/schema';

export const keyStatus = new Hono<AppEnv>();

keyStatus.get('/v1/key', async (c) => {
  const key = await authenticate(c.env, c.req.raw);
  const [row] = await db(c.env)
    .select({ name: apiKeys.name, prefix: apiKeys.prefix, createdAt: apiKeys.createdAt })
    .from(apiKeys)
    .where(eq(apiKeys.id, key.id));
  const gate = groupGate(c.env, key.groupId);
  const views = await gate.keyBudgets(key.groupId, key.id, key.userId);
  const { config } = await gate.state();
  // Wide budgets are counted by the enterprise's ledger; the gate only knows its own allowance.
  const ledger =
    config?.enterpriseId && views.some((v) => v.spentMicros === null)
      ? await enterpriseLedger(c.env, config.enterpriseId).state(config.enterpriseId)
      : [];
  const budgets = views.map((v) => {
    const wide = ledger.find((l) => l.budgetId === v.budgetId);
    const spent = wide ? wide.spentMicros : (v.spentMicros ?? 0);
    const reserved = wide ? null : (v.reservedMicros ?? 0);
    return {
      scope: v.scope,
      period: v.period,
      periodKey: v.periodKey,
      mode: v.mode,
      limitMicros: v.limitMicros,
      spentMicros: spent,
      reservedMicros: reserved,
      remainingMicros: Math.max(0, v.limitMicros - spent - (reserved ?? 0)),
      resetsAt: v.resetsAt,
    };
  });
  return c.json({
    key: {
      id: key.id,
      name: row?.name ?? '',
      prefix: row?.prefix ?? '',
      groupId: key.groupId,
      expiresAt: key.expiresAt,
      activeForMs: key.activeForMs,
      activatedAt: key.activatedAt,
      rules: {
        allowedModels: key.allowedModels,
        allowedServices: key.allowedServices,
        allowedClients: key.allowedClients,
        maxConcurrency: key.maxConcurrency,
        requestsPerWindow: key.requestsPerWindow,
        windowMinutes: key.windowMinutes,
      },
    },
    budgets,
  });
});
