// The role × route matrix: every operation of the OpenAPI document, called by every role, with the
// status each must get. Expectations come from the permission table (worker/domain/permissions.ts):
// for a route that names a resource, `can(memberships, x-permission, resource)` says 2xx, else the
// caller sees it (403) or not (404); what the table cannot say (routes open to anyone signed in,
// the operator token having no person, a domain rule on top) is written in the route's entry, with
// why. A route in the document without an entry fails the suite, and so does an entry whose route
// is gone.
//
// The world and the table are in test/support/route-matrix.ts. One world, built once: an enterprise (owner, admin, member, a department, a group with its owner
// and member, a pool account), a carpool (owner, member, bound account), keys, an invite, alert
// endpoints, rules and silences, a budget. A second world, built the same way, belongs to the
// stranger (another tenant): every id-taking route is called by every role of the first world with
// the stranger's ids, and must be a 404; the stranger calling with the first world's ids is a row
// of the matrix. Mutations are exercised with real, valid bodies: harmless ones (a rename to the
// same name) on the world's own objects, and those that remove or hand over something on a fresh
// object made for each caller the table allows (`fresh`), so that the world stays as built and
// every 2xx is a real success, not a validation error in disguise.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  A,
  B,
  buildWorlds,
  CROSS,
  expected,
  type Operation,
  operations,
  request,
  TABLE,
  TENANT_TARGETS,
  WHO,
} from './support/route-matrix';

// ---- the suite ----------------------------------------------------------------------------------

let OPS: Operation[] = [];

beforeAll(async () => {
  await buildWorlds();
  OPS = await operations();
}, 600_000);

describe('the role × route matrix', () => {
  it('has an entry for every operation of the document, and none for a route that is gone', () => {
    const inDoc = new Set(OPS.map((o) => o.key));
    expect(OPS.length).toBeGreaterThan(100);
    expect(
      [...inDoc].filter((k) => !(k in TABLE)),
      'routes without a matrix entry',
    ).toEqual([]);
    expect(
      Object.keys(TABLE).filter((k) => !inDoc.has(k)),
      'entries for routes that are gone',
    ).toEqual([]);
  });

  it('gives every role the status the permission table says, on every operation', async () => {
    const wrong: string[] = [];
    for (const op of OPS) {
      const entry = TABLE[op.key];
      if (!entry) continue;
      // The roles of one operation at once; operations one after the other (disable, then enable).
      await Promise.all(
        WHO.map(async (who) => {
          const want = expected(op, entry, who);
          const allowed = want >= 200 && want < 300;
          const params =
            entry.fresh && (entry.always || allowed)
              ? await entry.fresh(A, who)
              : entry.params
                ? entry.params(A)
                : {};
          const got = await request(op, entry, A, who, params);
          if (got.status !== want)
            wrong.push(
              `${op.key} as ${who}: ${got.status}, expected ${want} ${JSON.stringify(got.json).slice(0, 160)}`,
            );
        }),
      );
    }
    expect(wrong).toEqual([]);
  }, 1_200_000);

  it('answers 404 to every role of one tenant naming another tenant’s ids', async () => {
    const wrong: string[] = [];
    for (const op of OPS) {
      const entry = TABLE[op.key];
      if (!entry || !TENANT_TARGETS.includes(entry.on)) continue;
      await Promise.all(
        CROSS.map(async (who) => {
          const got = await request(op, entry, B, who, entry.params ? entry.params(B) : {});
          if (got.status !== 404)
            wrong.push(
              `${op.key} as ${who} with the stranger's ids: ${got.status} ${JSON.stringify(got.json).slice(0, 160)}`,
            );
        }),
      );
    }
    expect(wrong).toEqual([]);
  }, 1_200_000);
});
