// The API contract, read where the dashboard reads it: /api/v1/openapi.json as the Worker serves
// it must be a valid OpenAPI 3.1 document (checked against the specification's own JSON schema),
// and dashboard/src/api/schema.d.ts must be what `npm run api:types` generates from it today.
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { beforeAll, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { fetchDocument, renderTypes, schemaPath } from '../../scripts/api-types.mjs';

let document: Record<string, unknown>;
beforeAll(async () => {
  document = await fetchDocument();
}, 120_000);

it('the OpenAPI document validates against the OpenAPI 3.1 schema', async () => {
  const validator = new Validator();
  const result = await validator.validate(document);
  expect(validator.version).toBe('3.1');
  expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)?.slice(0, 2000)).toEqual([]);
  expect(result.valid).toBe(true);
});

it('dashboard/src/api/schema.d.ts is up to date (else run `npm run api:types`)', async () => {
  const generated: string = await renderTypes(document);
  expect(
    readFileSync(schemaPath, 'utf8') === generated,
    'schema.d.ts is stale: run `npm run api:types`',
  ).toBe(true);
});
