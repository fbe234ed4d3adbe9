// The operator's routes (system.admin): model prices (/prices…), this isolate's counters
// (/metrics, read by the bench) and the cron's work run now (/maintenance). Thin handlers over
// worker/domain/prices.ts and worker/maintenance.ts.
import type { RouteConfig } from '@hono/zod-openapi';
import { deletePrice, effectivePrice, isolateMetrics, listPrices, setPrice } from '../../domain/prices';
import { runMaintenanceNow } from '../../maintenance';
import { modelNameSchema, priceInputSchema } from '../../metering/price-overrides';
import { epochMs, jsonBody, jsonResponse, newRouter, orNull, route, z } from '../openapi';
import { requireCaller } from '../principal';

const AtQuery = z.object({
  at: epochMs('ms since the epoch; default now'),
});

/** A model name may hold `/`, `.` and `:` (Bedrock's `us.anthropic.claude-…-v1:0`). */
const modelParam = (schema: z.ZodType<string>) =>
  z.object({ model: schema.openapi({ param: { name: 'model', in: 'path' } }) });
/** A look-up takes any name the relay might record, `models/…` included. */
const AnyModelParam = modelParam(z.string().min(1).max(200));
const OverrideModelParam = modelParam(modelNameSchema);

const RatesSchema = z.object({
  inputMicros: z.number().int(),
  outputMicros: z.number().int(),
  cacheWrite5mMicros: z.number().int(),
  cacheWrite1hMicros: z.number().int(),
  cacheReadMicros: z.number().int(),
});
const PriceSchema = RatesSchema.extend({
  tiers: z.array(RatesSchema.extend({ aboveTokens: z.number().int() })).readonly(),
}).openapi('ModelPrice');
const ShippedPriceSchema = PriceSchema.extend({
  names: z.array(z.string()),
  provider: z.string(),
  scheduled: z.boolean().openapi({ description: 'The price changes on a known date.' }),
}).openapi('ShippedPrice');
const OverrideSchema = PriceSchema.extend({ model: z.string(), updatedAt: z.number().int() }).openapi(
  'PriceOverride',
);
const EffectivePriceSchema = z
  .object({
    model: z.string(),
    unpriced: z.boolean(),
    matched: z.string().nullable(),
    source: z.string().nullable(),
    price: orNull(PriceSchema),
  })
  .openapi('EffectivePrice');
const PriceTableSchema = z
  .object({
    source: z.string(),
    asOf: z.string(),
    overrides: z.array(OverrideSchema),
    shipped: z.array(ShippedPriceSchema),
  })
  .openapi('PriceTable');
const MetricsSchema = z.record(z.string(), z.number()).openapi('IsolateMetrics');
const MaintenanceSchema = z
  .object({
    alertDeliveriesRequeued: z.number().int(),
    requestLogRowsDeleted: z.number().int(),
    budgetsChecked: z.number().int(),
    monthsClosed: z.number().int(),
    failed: z.array(z.enum(['alerts', 'requestLog', 'budgets', 'statements'])),
  })
  .openapi('MaintenanceReport');

/**
 * `{model}` takes the rest of the path (names hold `/`): the document shows `/prices/{model}`, the
 * router matches `/prices/:model{.+}`.
 */
function wholeRestRoute<const R extends RouteConfig>(config: R): R {
  router.openAPIRegistry.registerPath(config);
  return { ...config, hide: true, path: config.path.replace('{model}', '{model{.+}}') };
}

const router = newRouter();

export const operatorRoutes = router
  .openapi(
    route('system.admin', {
      method: 'get',
      path: '/prices',
      summary: 'Every price override, and every shipped price as in force at `at`',
      request: { query: AtQuery },
      responses: { 200: jsonResponse(PriceTableSchema, 'The price table.') },
    }),
    async (c) => c.json(await listPrices(requireCaller(c), c.req.valid('query').at ?? Date.now()), 200),
  )
  .openapi(
    wholeRestRoute(
      route('system.admin', {
        method: 'get',
        path: '/prices/{model}',
        summary: 'What usage of a model is billed at, and which name matched',
        request: { params: AnyModelParam, query: AtQuery },
        responses: { 200: jsonResponse(EffectivePriceSchema, 'The effective price.') },
      }),
    ),
    async (c) =>
      c.json(
        await effectivePrice(
          requireCaller(c),
          c.req.valid('param').model,
          c.req.valid('query').at ?? Date.now(),
        ),
        200,
      ),
  )
  .openapi(
    wholeRestRoute(
      route('system.admin', {
        method: 'put',
        path: '/prices/{model}',
        summary: "Override a model's price (all five rates; tiers optional)",
        request: { params: OverrideModelParam, ...jsonBody(priceInputSchema) },
        responses: { 200: jsonResponse(OverrideSchema, 'The override.') },
      }),
    ),
    async (c) =>
      c.json(await setPrice(requireCaller(c), c.req.valid('param').model, c.req.valid('json')), 200),
  )
  .openapi(
    wholeRestRoute(
      route('system.admin', {
        method: 'delete',
        path: '/prices/{model}',
        summary: 'Remove an override; answers what the model is billed at now',
        request: { params: OverrideModelParam },
        responses: { 200: jsonResponse(EffectivePriceSchema, 'The effective price.') },
      }),
    ),
    async (c) => c.json(await deletePrice(requireCaller(c), c.req.valid('param').model), 200),
  )
  .openapi(
    route('system.admin', {
      method: 'get',
      path: '/metrics',
      summary: "This isolate's counters: Durable Object calls, storage writes, queue sends, D1 statements",
      responses: { 200: jsonResponse(MetricsSchema, 'The counters.') },
    }),
    async (c) => c.json(await isolateMetrics(requireCaller(c)), 200),
  )
  .openapi(
    route('system.admin', {
      method: 'post',
      path: '/maintenance',
      summary: 'Run the cron’s work now, and say what it did',
      description:
        'What the 10-minute cron does, at once: lost alert deliveries queued again, the request log trimmed to its retention, budgets’ counters checked against D1, last months closed. Each part is bounded per run; a part that fails is named in `failed` (and logged), the others still run. `npm run dev` calls this on the cron’s schedule, since a local cron never fires.',
      responses: { 200: jsonResponse(MaintenanceSchema, 'What this run did.') },
    }),
    async (c) => c.json(await runMaintenanceNow(requireCaller(c)), 200),
  );
