// The API answers as its OpenAPI document says, as a client generated from the document trusts
// it to: every operation of the document, called as the role × route matrix calls it (its world
// and table: test/support/route-matrix.ts) by one caller for each status the matrix expects (the
// success, 401, 403, 404, the domain's 400 and 409), by a caller naming another tenant's ids, with
// a malformed body and one that is not JSON. Each answer's status must be one the operation
// declares, its body must match that status's declared schema (closed objects: a field the
// document does not list is a mismatch too), its headers those the status declares (each required
// one there, none of ours undeclared), and an error must be the one envelope, its code the one of
// its status. Then the answers the matrix's world cannot give: a closed month's statement
// (with lines, an adjustment, late usage and a settled mark), alert firings, the 429s of sign-in,
// of a password change and of an invite's sign-up, and a 502.
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { budgetCrossed } from '../worker/alerts/fire';
import { API_ERROR_STATUS } from '../worker/api/errors';
import { ACCOUNT_FAILURES } from '../worker/auth/login-limits';
import { monthBounds, monthOf, previousMonth } from '../worker/billing/months';
import { browser, login, newAddress, sessionCookieOf, signedIn } from './support/auth';
import { memberOf } from './support/groups';
import { check, type Schema } from './support/json-schema';
import { consent, grant, newTag } from './support/oauth';
import {
  admin,
  anthropicClient,
  eventually,
  inIsolate,
  newUser,
  RELAY,
  requestLogFor,
  seedCarpool,
  streamMessage,
} from './support/relay';
import {
  A,
  type Answer,
  B,
  buildWorlds,
  CROSS,
  call,
  expected,
  must,
  type Operation,
  operations,
  PASSWORD,
  type Params,
  request,
  TABLE,
  TENANT_TARGETS,
  tokenOf,
  WHO,
  type Who,
} from './support/route-matrix';
import { backdate, deliverUsage, usageEventFor } from './support/usage';

interface DocumentHeader {
  schema: Schema;
  required?: boolean;
}
interface DocumentResponse {
  content?: Record<string, { schema: Schema }>;
  headers?: Record<string, DocumentHeader | { $ref: string }>;
}
interface Document {
  components: { headers?: Record<string, DocumentHeader> };
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: { in: string; name: string }[];
        requestBody?: DocumentResponse;
        responses: Record<string, DocumentResponse>;
      }
    >
  >;
}

let doc: Document;
let OPS: Operation[] = [];

/**
 * Traffic through the relay, so that usage, the request log and the gates' live state have rows
 * to answer with: one request on a new key of the enterprise group (its pool account) and one in
 * the carpool (its own account).
 */
async function relayOneRequest(token: string, groupId: string): Promise<void> {
  const key = await must<{ id: string; key: string }>(token, 'POST', `/groups/${groupId}/keys`, {
    name: 'conformance',
  });
  await anthropicClient(key.key).messages.create({
    model: 'claude-sonnet-4-5',
    max_tokens: 16,
    messages: [{ role: 'user', content: 'hello' }],
  });
  await requestLogFor(key.id);
}

beforeAll(async () => {
  await buildWorlds();
  await relayOneRequest(A.people.gMember.token, A.groupId);
  await relayOneRequest(A.people.cMember.token, A.carpoolId);
  OPS = await operations();
  doc = JSON.parse(await (await inIsolate(`${RELAY}/api/v1/openapi.json`)).text()) as Document;
}, 600_000);

/** What is wrong with `got` as an answer of `op`, per the document; empty when nothing is. */
function mismatches(op: Operation, got: Answer, how: string): string[] {
  const where = `${op.key} ${how}: ${got.status}`;
  const declared = doc.paths[op.path]?.[op.method.toLowerCase()]?.responses[String(got.status)];
  if (!declared) return [`${where} is not a declared status ${JSON.stringify(got.json)?.slice(0, 160)}`];
  return [...headerMismatches(declared, got, where), ...bodyMismatches(declared, got, where)];
}

/**
 * Headers of ours (not HTTP's, nor CORS's): an answer carrying one the document does not declare
 * for its status surprises a generated client as much as a missing one.
 */
const OUR_HEADER = /^(x-carpool-|retry-after$)/;

/** What is wrong with the headers of `got`: each declared one present (when required) and typed, none of ours undeclared. */
function headerMismatches(declared: DocumentResponse, got: Answer, where: string): string[] {
  if (!got.headers) return [`${where} was not kept with its headers to check`];
  const problems: string[] = [];
  const names = Object.keys(declared.headers ?? {});
  for (const [name, entry] of Object.entries(declared.headers ?? {})) {
    const header = '$ref' in entry ? doc.components.headers?.[entry.$ref.split('/').pop()!] : entry;
    if (!header) {
      problems.push(`${where} header ${name} refers to nothing`);
      continue;
    }
    const value = got.headers.get(name);
    if (value == null) {
      if (header.required) problems.push(`${where} lacks the required header ${name}`);
      continue;
    }
    // A header is text on the wire; the document types what it holds.
    const typed = header.schema.type === 'integer' || header.schema.type === 'number' ? Number(value) : value;
    problems.push(...check(typed, header.schema, doc).map((p) => `${where} header ${name} ${p}`));
  }
  for (const [name] of got.headers) {
    if (OUR_HEADER.test(name) && !names.includes(name))
      problems.push(`${where} carries the undeclared header ${name}`);
  }
  return problems;
}

/** What is wrong with the body of `got`, per the response the document declares for it. */
function bodyMismatches(declared: DocumentResponse, got: Answer, where: string): string[] {
  const media = Object.keys(declared.content ?? {});
  if (media.length === 0) {
    return got.json === null || got.status === 302
      ? []
      : [`${where} has a body the document does not declare`];
  }
  const type = got.contentType?.split(';')[0] ?? '';
  if (!media.includes(type))
    return [`${where} is ${type || 'no content type'}, declared ${media.join(', ')}`];
  if (type !== 'application/json') return [];
  const problems = check(got.json, declared.content![type]!.schema, doc).map((p) => `${where} ${p}`);
  const error = (got.json as { error?: { code?: string } } | null)?.error;
  if (
    got.status >= 400 &&
    error?.code &&
    API_ERROR_STATUS[error.code as keyof typeof API_ERROR_STATUS] !== got.status
  )
    problems.push(`${where} carries code ${error.code}`);
  return problems;
}

/**
 * The one query that takes parameters it does not declare: the identity provider's redirect back,
 * to which providers add their own (`session_state`, `scope`, `authuser`…).
 */
const TAKES_ANY_QUERY = ['GET /auth/oidc/callback'];

/** `op` called by the operator with its matrix query and `extra` after it. */
async function withQuery(op: Operation, extra: string): Promise<Answer> {
  const entry = TABLE[op.key];
  const known = entry?.query ? entry.query(A) : '';
  const path = op.path.replace(/\{(\w+)\}/g, (_, n: string) => entry?.params?.(A)[n] ?? 'x');
  const res = await inIsolate(`${RELAY}/api/v1${path}${known}${known.includes('?') ? '&' : '?'}${extra}`, {
    method: op.method,
    headers: { authorization: `Bearer ${tokenOf('sys')}`, 'cf-connecting-ip': newAddress() },
    redirect: 'manual',
  });
  const text = await res.text();
  await res.done;
  const type = res.headers.get('content-type');
  return {
    status: res.status,
    json: type?.startsWith('application/json') ? JSON.parse(text) : text,
    contentType: type,
    headers: res.headers,
  };
}

/** Checks answers against the operation each came from, and remembers what was wrong. */
function answersOf() {
  const wrong: string[] = [];
  return {
    wrong,
    /** `answer`, once its mismatches with the operation `key` are noted. */
    seen(key: string, answer: Answer, how: string): Answer {
      const op = OPS.find((o) => o.key === key);
      if (!op) wrong.push(`${key} is not an operation of the document`);
      else wrong.push(...mismatches(op, answer, how));
      return answer;
    },
  };
}

/** One caller for each status the matrix expects of `op`. */
function callersByStatus(op: Operation): Map<number, Who> {
  const entry = TABLE[op.key]!;
  const byStatus = new Map<number, Who>();
  for (const who of WHO) {
    const status = expected(op, entry, who);
    if (!byStatus.has(status)) byStatus.set(status, who);
  }
  return byStatus;
}

/** A body sent raw, as a client that gets it wrong sends it. */
async function raw(op: Operation, params: Params, contentType: string, body: string): Promise<Answer> {
  const res = await inIsolate(
    `${RELAY}/api/v1${op.path.replace(/\{(\w+)\}/g, (_, n: string) => params[n] ?? 'x')}`,
    {
      method: op.method,
      headers: {
        authorization: `Bearer ${tokenOf('sys')}`,
        'content-type': contentType,
        'cf-connecting-ip': newAddress(),
      },
      body,
    },
  );
  const text = await res.text();
  await res.done;
  return {
    status: res.status,
    json: text ? JSON.parse(text) : null,
    contentType: res.headers.get('content-type'),
    headers: res.headers,
  };
}

describe('the API as its OpenAPI document declares it', () => {
  it('answers every operation, for each status a caller can get, with a declared status and body', async () => {
    const wrong: string[] = [];
    for (const op of OPS) {
      const entry = TABLE[op.key];
      if (!entry) continue;
      await Promise.all(
        [...callersByStatus(op)].map(async ([status, who]) => {
          const allowed = status >= 200 && status < 300;
          const params =
            entry.fresh && (entry.always || allowed)
              ? await entry.fresh(A, who)
              : entry.params
                ? entry.params(A)
                : {};
          wrong.push(...mismatches(op, await request(op, entry, A, who, params), `as ${who}`));
        }),
      );
      if (TENANT_TARGETS.includes(entry.on)) {
        const got = await request(op, entry, B, CROSS[0], entry.params ? entry.params(B) : {});
        wrong.push(...mismatches(op, got, "with the stranger's ids"));
      }
    }
    // Reads once more, now that the writes above have filled lists read before them (a price
    // override, an adjustment on the bill, a test delivery), as the caller each is allowed to.
    for (const op of OPS) {
      const entry = TABLE[op.key];
      if (op.method !== 'GET' || !entry || entry.fresh) continue;
      const allowed = [...callersByStatus(op)].find(([status]) => status >= 200 && status < 300);
      if (!allowed) continue;
      const got = await request(op, entry, A, allowed[1], entry.params ? entry.params(A) : {});
      wrong.push(...mismatches(op, got, `as ${allowed[1]}, read again`));
    }
    expect(wrong).toEqual([]);
  }, 1_200_000);

  it('answers a browser session (sign-in, its sessions, its tokens, sign-out) as declared', async () => {
    const person = A.people.spare;
    const byKey = (key: string) => OPS.find((o) => o.key === key)!;
    const seen = (key: string, res: { status: number; json: unknown; headers: Headers }) =>
      mismatches(byKey(key), { ...res, contentType: res.headers.get('content-type') }, 'in a session');
    const signIn = await login(person.email, PASSWORD);
    expect(signIn.status).toBe(200);
    const session = sessionCookieOf(signIn.res);
    const wrong = [
      ...seen('POST /auth/login', signIn),
      ...seen('GET /me', await browser(session, 'GET', '/me')),
      ...seen('GET /me/sessions', await browser(session, 'GET', '/me/sessions')),
      ...seen('POST /me/tokens', await browser(session, 'POST', '/me/tokens', { body: { name: 'cli' } })),
      ...seen('POST /auth/logout', await browser(session, 'POST', '/auth/logout')),
    ];
    expect(wrong).toEqual([]);
  });

  it('declares a request body that takes what the matrix sends, which the API takes', () => {
    const wrong: string[] = [];
    for (const op of OPS) {
      const entry = TABLE[op.key];
      if (!entry?.body) continue;
      const declared = doc.paths[op.path]![op.method.toLowerCase()]!.requestBody;
      const schema = declared?.content?.['application/json']?.schema;
      if (!schema) {
        wrong.push(`${op.key}: takes a body the document does not declare`);
        continue;
      }
      const params = entry.params ? entry.params(A) : {};
      for (const p of check(entry.body(A, params), schema, doc)) wrong.push(`${op.key} request ${p}`);
    }
    expect(wrong).toEqual([]);
  });

  it('refuses a query parameter it does not declare, naming it, wherever it takes a query', async () => {
    const withQueries = OPS.filter((op) =>
      doc.paths[op.path]![op.method.toLowerCase()]!.parameters?.some((p) => p.in === 'query'),
    );
    expect(withQueries.length).toBeGreaterThan(15);
    const wrong: string[] = [];
    for (const op of withQueries) {
      const got = await withQuery(op, 'colour=red');
      const error = (got.json as { error?: { code?: string; details?: unknown } } | null)?.error;
      if (TAKES_ANY_QUERY.includes(op.key)) {
        if (JSON.stringify(error ?? null).includes('unrecognized_keys'))
          wrong.push(`${op.key} refused colour`);
        continue;
      }
      if (got.status !== 400 || error?.code !== 'invalid_request')
        wrong.push(`${op.key} with ?colour=red: ${got.status} ${JSON.stringify(got.json)?.slice(0, 160)}`);
      else if (!JSON.stringify(error.details).includes('"keys":["colour"]'))
        wrong.push(`${op.key} with ?colour=red does not name it: ${JSON.stringify(error.details)}`);
      wrong.push(...mismatches(op, got, 'with ?colour=red'));
    }
    expect(wrong).toEqual([]);
  }, 600_000);

  it('refuses a malformed body, and one that is not JSON, in the envelope with a declared status', async () => {
    const wrong: string[] = [];
    for (const op of OPS) {
      const entry = TABLE[op.key];
      if (!entry?.body) continue;
      const params = entry.params ? entry.params(A) : {};
      const malformed = await raw(op, params, 'application/json', '[1]');
      if (malformed.status !== 400) wrong.push(`${op.key} with a JSON array: ${malformed.status}`);
      wrong.push(...mismatches(op, malformed, 'with a JSON array'));
      const notJson = await raw(op, params, 'text/plain', JSON.stringify(entry.body(A, params)));
      if (notJson.status !== 415) wrong.push(`${op.key} as text/plain: ${notJson.status}`);
      wrong.push(...mismatches(op, notJson, 'as text/plain'));
    }
    expect(wrong).toEqual([]);
  }, 600_000);

  it('answers a closed month’s statement, with lines, an adjustment, late usage and a settled mark, as declared', async () => {
    const { wrong, seen } = answersOf();
    const DAY = 86_400_000;
    const owner = await newUser('Ann');
    const groupId = await must(owner.token, 'POST', '/groups', { name: 'closed', kind: 'carpool' });
    const tag = newTag();
    const account = await must(owner.token, 'POST', `/groups/${groupId.id}/account`, {
      provider: 'anthropic',
      credential: `sk-fake.${tag}.ok`,
      monthlyFeeMicros: 200_000_000,
    });
    const bob = await memberOf(groupId.id);
    const key = await admin<{ id: string; key: string }>('POST', '/keys', {
      groupId: groupId.id,
      userId: bob.id,
    });
    await anthropicClient(key.json.key).messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hello' }],
    });
    await requestLogFor(key.json.id);
    const last = monthBounds(previousMonth(monthOf(Date.now(), 'UTC')), 'UTC');
    await backdate(groupId.id, last.start - 10 * DAY, last.start + 5 * DAY);
    const base = `/groups/${groupId.id}`;
    const as = (method: string, path: string, body?: unknown) => call(owner.token, method, path, body);

    seen(
      'POST /groups/{id}/adjustments',
      await as('POST', `${base}/adjustments`, {
        userId: bob.id,
        amountMicros: -5_000_000,
        reason: 'paid for lunch',
        month: last.month,
      }),
      'for a past month',
    );
    const closed = seen(
      'POST /groups/{id}/statements',
      await as('POST', `${base}/statements`, { month: last.month }),
      'closing',
    );
    expect(closed.status).toBe(201);
    // Usage recorded into the closed month after it closed: carried into the next.
    const ids = { keyId: key.json.id, userId: bob.id, groupId: groupId.id, accountId: account.id };
    await deliverUsage([usageEventFor(ids, last.end - 60_000, { costMicros: 18_000 })]);
    const settled = seen(
      'PUT /groups/{id}/statements/{month}/settlements/{userId}',
      await as('PUT', `${base}/statements/${last.month}/settlements/${bob.id}`, { settled: true }),
      'settling',
    );
    expect(settled.status).toBe(200);
    const read = seen(
      'GET /groups/{id}/statements/{month}',
      await as('GET', `${base}/statements/${last.month}`),
      'closed',
    );
    expect(read.status).toBe(200);
    expect((read.json as { lines: unknown[] }).lines.length).toBeGreaterThan(0);
    const csv = seen(
      'GET /groups/{id}/statements/{month}',
      await as('GET', `${base}/statements/${last.month}?format=csv`),
      'as CSV',
    );
    expect(csv.status).toBe(200);
    const list = seen(
      'GET /groups/{id}/statements',
      await as('GET', `${base}/statements`),
      'with one closed',
    );
    expect((list.json as { data: unknown[] }).data.length).toBe(1);
    const next = seen(
      'GET /groups/{id}/statements/current',
      await as('GET', `${base}/statements/current`),
      'with late usage',
    );
    expect((next.json as { lateUsage: unknown[] }).lateUsage.length).toBe(1);
    seen('GET /groups/{id}/usage', await as('GET', `${base}/usage?month=${last.month}`), 'of a closed month');
    // The matrix reads an enterprise group's gate; a carpool's config differs (no enterprise, no
    // pools, its one account).
    const state = seen('GET /groups/{id}/state', await as('GET', `${base}/state`), 'of a carpool');
    expect((state.json as { config: { accounts: unknown[] } }).config.accounts).toHaveLength(1);
    const again = seen(
      'POST /groups/{id}/statements',
      await as('POST', `${base}/statements`, { month: last.month }),
      'again',
    );
    expect(again.status).toBe(409);
    expect(wrong).toEqual([]);
  });

  it('answers the firings of an alert rule that fired, as declared', async () => {
    const { wrong, seen } = answersOf();
    const sys = tokenOf('sys')!;
    const owner = await newUser('Owner');
    const group = await must(owner.token, 'POST', '/groups', { name: 'alerted', kind: 'carpool' });
    const base = `/groups/${group.id}/alerts`;
    const endpoint = await must(sys, 'POST', `${base}/endpoints`, {
      name: 'firing',
      url: `https://hooks.test/hooks/${newTag()}`,
      format: 'json',
    });
    await must(sys, 'POST', `${base}/rules`, {
      name: 'budget',
      kind: 'budget.threshold',
      endpointIds: [endpoint.id],
    });
    const budget = { id: `budget-${newTag()}`, name: 'Team budget', enterpriseId: null, groupId: group.id };
    // 40% then 105%: 100% is sent, 50% and 80% recorded only. (The matrix's system-wide rules,
    // when it ran first, fire too: their firings are the system's, not listed here.)
    await budgetCrossed(env, budget, '2026-04', { spentMicros: 4_000_000, limitMicros: 10_000_000 });
    expect(
      await budgetCrossed(env, budget, '2026-04', { spentMicros: 10_500_000, limitMicros: 10_000_000 }),
    ).toBeGreaterThan(0);
    const firings = seen(
      'GET /groups/{id}/alerts/firings',
      await call(sys, 'GET', `${base}/firings`),
      'fired',
    );
    expect(
      (firings.json as { data: { subjectId: string }[] }).data.filter((f) => f.subjectId === budget.id),
    ).toHaveLength(3);

    // An account disabled by real traffic (its credential refused three times): another event.
    const carpool = await seedCarpool({ scenario: '401', scheduling: { overloadedCooldownMs: 0 } });
    const carpoolAlerts = `/groups/${carpool.groupId}/alerts`;
    const hook = await must(sys, 'POST', `${carpoolAlerts}/endpoints`, {
      name: 'firing',
      url: `https://hooks.test/hooks/${newTag()}`,
      format: 'json',
    });
    await must(sys, 'POST', `${carpoolAlerts}/rules`, {
      name: 'account',
      kind: 'account.disabled',
      endpointIds: [hook.id],
    });
    for (let i = 0; i < 3; i++) await (await streamMessage(carpool.key)).text();
    const disabled = await eventually(async () => {
      const got = await call(sys, 'GET', `${carpoolAlerts}/firings`);
      return (got.json as { data: unknown[] }).data.length > 0 ? got : null;
    });
    seen('GET /groups/{id}/alerts/firings', disabled, 'for a disabled account');
    expect(wrong).toEqual([]);
  });

  it('answers sign-ins, password changes and invite sign-ups refused for too many failures (429) and a failing token endpoint (502) as declared', async () => {
    const { wrong, seen } = answersOf();
    const email = `ghost-${crypto.randomUUID()}@example.com`;
    for (let i = 0; i < ACCOUNT_FAILURES; i++)
      seen(
        'POST /auth/login',
        await call(null, 'POST', '/auth/login', { email, password: 'guess' }),
        'wrong',
      );
    const limited = seen(
      'POST /auth/login',
      await call(null, 'POST', '/auth/login', { email, password: 'guess' }),
      'once too often',
    );
    expect(limited.status).toBe(429);
    // Wrong current passwords count against the same limit, on a signed-in session.
    const ana = await signedIn('Ana');
    const change = (currentPassword: string) =>
      browser(ana.session, 'PUT', '/me/password', {
        body: { currentPassword, newPassword: 'a brand new secret' },
      });
    const asAnswer = (res: Awaited<ReturnType<typeof change>>): Answer => ({
      ...res,
      contentType: res.headers.get('content-type'),
    });
    for (let i = 0; i < ACCOUNT_FAILURES; i++)
      seen('PUT /me/password', asAnswer(await change(`guess ${i}`)), 'wrong');
    const tripped = seen('PUT /me/password', asAnswer(await change(ana.password)), 'once too often');
    expect(tripped.status).toBe(429);
    // An invite's sign-up that finds the email taken counts as a failed sign-in of that email.
    const inviter = await newUser('Inviter');
    const crew = await must(inviter.token, 'POST', '/groups', { name: 'invited', kind: 'carpool' });
    const link = await must<{ token: string }>(inviter.token, 'POST', `/groups/${crew.id}/invites`, {
      maxUses: 50,
    });
    const taken = await newUser('Taken');
    const signUp = async () =>
      asAnswer(
        await browser(null, 'POST', `/invites/${link.token}/sign-up`, {
          body: { email: taken.email, name: 'Probe', password: PASSWORD },
          ip: newAddress(),
        }),
      );
    for (let i = 0; i < ACCOUNT_FAILURES; i++)
      expect(seen('POST /invites/{token}/sign-up', await signUp(), 'for a taken email').status).toBe(409);
    const probed = seen('POST /invites/{token}/sign-up', await signUp(), 'once too often');
    expect(probed.status).toBe(429);

    const owner = await newUser('Owner');
    const group = await must(owner.token, 'POST', '/groups', { name: 'plan', kind: 'carpool' });
    const start = await must<{ authorizeUrl: string }>(owner.token, 'POST', '/accounts/oauth/start', {
      kind: 'claude-oauth',
      groupId: group.id,
      acceptTerms: true,
    });
    const tag = newTag();
    await grant(tag, { failExchanges: 1 });
    const callbackUrl = await consent(start.authorizeUrl, tag);
    const failed = seen(
      'POST /accounts/oauth/finish',
      await call(owner.token, 'POST', '/accounts/oauth/finish', { callbackUrl }),
      'with the token endpoint down',
    );
    expect(failed.status).toBe(502);
    expect(wrong).toEqual([]);
  });
});
