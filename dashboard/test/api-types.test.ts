// The dashboard's API types are the contract's: schema.d.ts must be what `npm run api:types`
// generates from the Worker's /api/v1/openapi.json today.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { fetchDocument, renderTypes, schemaPath } from '../../scripts/api-types.mjs';

it('dashboard/src/api/schema.d.ts is up to date (else run `npm run api:types`)', async () => {
  const generated: string = await renderTypes(await fetchDocument());
  expect(
    readFileSync(schemaPath, 'utf8') === generated,
    'schema.d.ts is stale: run `npm run api:types`',
  ).toBe(true);
});
