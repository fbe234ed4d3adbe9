// Alerts: webhook endpoints, rules, silences and firing, delivered through the real alert Queue to
// the fake upstream's webhook receiver (test/fake-upstream/hooks.ts), signed as docs/alerts.md
// says and verified with the recipe printed there.
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  env,
  getQueueResult,
} from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import alertsDoc from '../docs/alerts.md?raw';
import { verifyCarpoolSignature } from '../docs/examples/verify-webhook.mjs';
import recipe from '../docs/examples/verify-webhook.mjs?raw';
import { type AlertEvent, alertEventSchema } from '../worker/alerts/event';
import { budgetCrossed, budgetReset } from '../worker/alerts/fire';
import { formatMicros } from '../worker/budgets/refusal';
import worker from '../worker/index';
import type { HookEntry } from './fake-upstream';
import { ADMIN_TOKEN, admin, api, eventually, newUser, seedCarpool, streamMessage } from './support/relay';

const hookUrl = (tag: string) => `https://hooks.test/hooks/${tag}`;
const newTag = () => crypto.randomUUID().replaceAll('-', '');

async function received(tag: string): Promise<HookEntry[]> {
  return (await (await fetch(`http://fake.control/hooks?tag=${tag}`)).json()) as HookEntry[];
}

function receivedAtLeast(tag: string, count: number, timeoutMs = 15_000): Promise<HookEntry[]> {
  return eventually(async () => {
    const entries = await received(tag);
    return entries.length >= count ? entries : undefined;
  }, timeoutMs);
}

async function scriptHook(tag: string, script: { fail?: number; status?: number; answers?: unknown[] }) {
  const res = await fetch('http://fake.control/hooks/script', {
    method: 'POST',
    body: JSON.stringify({ tag, ...script }),
  });
  await res.body?.cancel();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Endpoint {
  id: string;
  secret: string;
  urlHint: string;
  hasVendorSecret: boolean;
}
interface Delivery {
  id: string;
  event: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  maxAttempts: number;
  lastStatus: number | null;
  lastError: string | null;
  nextAttemptAt: number | null;
  deliveredAt: number | null;
  payload: AlertEvent;
}

/** A group (a carpool on the fake upstream) with one endpoint and one rule, set up by the operator. */
async function groupWithRule(
  rule: Record<string, unknown>,
  endpoint: Record<string, unknown> = {},
): Promise<{
  groupId: string;
  accountId: string;
  tag: string;
  key: string;
  endpoint: Endpoint;
  ruleId: string;
  carpool: Awaited<ReturnType<typeof seedCarpool>>;
}> {
  const carpool = await seedCarpool(rule.seed as Parameters<typeof seedCarpool>[0]);
  const tag = newTag();
  const created = await admin<Endpoint>('POST', `/groups/${carpool.groupId}/alerts/endpoints`, {
    name: 'ops',
    url: hookUrl(tag),
    format: 'json',
    ...endpoint,
  });
  expect(created.status).toBe(201);
  const { seed: _seed, ...ruleBody } = rule;
  const madeRule = await admin<{ id: string }>('POST', `/groups/${carpool.groupId}/alerts/rules`, {
    name: 'rule',
    endpointIds: [created.json.id],
    ...ruleBody,
  });
  expect(madeRule.status, JSON.stringify(madeRule.json)).toBe(201);
  return {
    groupId: carpool.groupId,
    accountId: carpool.accountId,
    key: carpool.key,
    tag,
    endpoint: created.json,
    ruleId: madeRule.json.id,
    carpool,
  };
}

async function deliveries(scopePath: string, endpointId: string): Promise<Delivery[]> {
  const res = await admin<{ data: Delivery[] }>(
    'GET',
    `${scopePath}/alerts/endpoints/${endpointId}/deliveries`,
  );
  expect(res.status).toBe(200);
  return res.json.data;
}

/** Budget usage at `percent` of a $10 limit. */
const at = (percent: number) => ({ spentMicros: percent * 100_000, limitMicros: 10_000_000 });

describe('webhook endpoints', () => {
  it('are created with a secret shown once, never show their URL or secrets, and refuse what they cannot use', async () => {
    const { groupId } = await seedCarpool();
    const base = `/groups/${groupId}/alerts/endpoints`;
    const created = await admin<Endpoint & Record<string, unknown>>('POST', base, {
      name: 'dingtalk ops',
      url: 'https://oapi.dingtalk.com/robot/send?access_token=SECRET-TOKEN',
      format: 'dingtalk',
      vendorSecret: 'SECvendor',
    });
    expect(created.status).toBe(201);
    expect(created.json.secret).toMatch(/^whsec_[0-9a-f]{64}$/);
    expect(created.json).toMatchObject({
      urlHint: 'https://oapi.dingtalk.com/robot/…',
      hasVendorSecret: true,
    });
    for (const field of ['urlEnc', 'secretEnc', 'vendorSecretEnc', 'url'])
      expect(created.json).not.toHaveProperty(field);

    const listed = await admin<{ data: Endpoint[] }>('GET', base);
    const text = JSON.stringify(listed.json);
    expect(listed.json.data.map((e) => e.id)).toEqual([created.json.id]);
    for (const secret of ['SECRET-TOKEN', 'SECvendor', created.json.secret])
      expect(text).not.toContain(secret);
    const audit = await env.DB.prepare('SELECT detail FROM audit_log WHERE target_id = ?')
      .bind(created.json.id)
      .all<{ detail: string }>();
    expect(audit.results).toHaveLength(1);
    for (const secret of ['SECRET-TOKEN', 'SECvendor', created.json.secret])
      expect(audit.results[0]!.detail).not.toContain(secret);

    const bad = async (body: Record<string, unknown>, message: RegExp) => {
      const res = await admin<{ error: { message: string } }>('POST', base, {
        name: 'x',
        format: 'json',
        ...body,
      });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.message).toMatch(message);
    };
    await bad({ url: 'http://example.com/hook' }, /url: must be https/);
    await bad({ url: 'http://128.0.0.1/hook' }, /url: must be https/);
    await bad({ url: 'https://user:pw@example.com/hook' }, /url: a webhook URL carries no user/);
    // Nothing inside a network: its answer's first bytes would show in the delivery log.
    for (const url of [
      'https://10.0.0.1/',
      'https://169.254.169.254/latest/meta-data',
      'https://0xa9fea9fe/',
      'https://192.168.1.1/',
      'https://172.20.0.1/',
      'https://[fd00::1]/',
      'https://[fe80::1]/',
      'https://[::ffff:10.0.0.1]/',
      'https://metadata.google.internal/',
    ])
      await bad({ url }, /url: a webhook URL may not point into a private or link-local network/);
    await bad(
      { url: 'https://example.com/hook', format: 'slack', vendorSecret: 's' },
      /vendorSecret: the slack format/,
    );
    await bad({ url: 'https://example.com/hook', colour: 'red' }, /colour/);
    const local = await admin('POST', base, {
      name: 'local',
      url: 'http://127.0.0.1:9100/hooks/x',
      format: 'json',
    });
    expect(local.status).toBe(201);
    // Loopback in every spelling is this machine (a Worker on Cloudflare reaches none of them).
    for (const url of ['http://localhost:9100/h', 'http://127.1/h', 'http://[::1]/h', 'https://127.0.0.2/h'])
      expect((await admin('POST', base, { name: 'local', url, format: 'json' })).status, url).toBe(201);

    const patched = await admin<Endpoint & { name: string; format: string }>(
      'PATCH',
      `${base}/${created.json.id}`,
      { name: 'renamed', format: 'wecom' },
    );
    // WeCom signs no way of its own: the DingTalk secret goes.
    expect(patched.json).toMatchObject({ name: 'renamed', format: 'wecom', hasVendorSecret: false });
    expect((await admin('DELETE', `${base}/${created.json.id}`)).status).toBe(200);
    expect((await admin('GET', `${base}/${created.json.id}`)).status).toBe(404);
  });
});

describe('signatures', () => {
  it('verify with the recipe docs/alerts.md prints, and with nothing else', async () => {
    // The recipe in the docs is the file the test runs, character for character.
    expect(alertsDoc).toContain(recipe.trim());

    const { groupId } = await seedCarpool();
    const tag = newTag();
    const base = `/groups/${groupId}/alerts/endpoints`;
    const endpoint = await admin<Endpoint>('POST', base, { name: 'json', url: hookUrl(tag), format: 'json' });
    const test = await admin<Delivery>('POST', `${base}/${endpoint.json.id}/test`);
    expect(test.json).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 204, event: 'test' });
    const [hook] = await received(tag);
    expect(hook!.headers['x-carpool-event']).toBe('test');
    expect(hook!.headers['x-carpool-delivery']).toBe(test.json.id);
    const header = hook!.headers['x-carpool-signature']!;
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(await verifyCarpoolSignature(endpoint.json.secret, header, hook!.body)).toBe(true);
    // Anything else fails: another secret, a changed body, a replay ten minutes later.
    expect(await verifyCarpoolSignature(`${endpoint.json.secret}0`, header, hook!.body)).toBe(false);
    expect(
      await verifyCarpoolSignature(endpoint.json.secret, header, hook!.body.replace('test', 'tesT')),
    ).toBe(false);
    expect(
      await verifyCarpoolSignature(endpoint.json.secret, header, hook!.body, { now: Date.now() + 600_000 }),
    ).toBe(false);
    expect(alertEventSchema.parse(JSON.parse(hook!.body))).toMatchObject({
      type: 'test',
      subject: { type: 'endpoint' },
    });

    // A rotated secret signs from then on; the old one no longer verifies.
    const rotated = await admin<Endpoint>('POST', `${base}/${endpoint.json.id}/rotate-secret`);
    expect(rotated.json.secret).not.toBe(endpoint.json.secret);
    await admin('POST', `${base}/${endpoint.json.id}/test`);
    const second = (await received(tag))[1]!;
    expect(
      await verifyCarpoolSignature(rotated.json.secret, second.headers['x-carpool-signature'], second.body),
    ).toBe(true);
    expect(
      await verifyCarpoolSignature(endpoint.json.secret, second.headers['x-carpool-signature'], second.body),
    ).toBe(false);
  });
});

async function hmacBase64(key: string, message: string): Promise<string> {
  const k = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(key),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', k, new TextEncoder().encode(message)));
  return btoa(String.fromCharCode(...mac));
}

describe('formats', () => {
  async function sample(format: string, extra: Record<string, unknown> = {}) {
    const { groupId } = await seedCarpool();
    const tag = newTag();
    const base = `/groups/${groupId}/alerts/endpoints`;
    const endpoint = await admin<Endpoint>('POST', base, {
      name: `${format} <!channel> @everyone`,
      url: `${hookUrl(tag)}?access_token=abc`,
      format,
      ...extra,
    });
    expect(endpoint.status).toBe(201);
    const delivery = await admin<Delivery>('POST', `${base}/${endpoint.json.id}/test`);
    const [hook] = await received(tag);
    // Our own signature is on every format.
    expect(
      await verifyCarpoolSignature(endpoint.json.secret, hook!.headers['x-carpool-signature'], hook!.body),
    ).toBe(true);
    return { delivery: delivery.json, hook: hook!, body: JSON.parse(hook!.body) as Record<string, unknown> };
  }

  it('json is the alert event itself', async () => {
    const { body, delivery } = await sample('json');
    expect(delivery.status).toBe('delivered');
    expect(alertEventSchema.strict().parse(body)).toEqual(delivery.payload);
  });

  it('slack: text and blocks, with its control characters escaped', async () => {
    const { body, delivery } = await sample('slack');
    expect(delivery).toMatchObject({ status: 'delivered', lastStatus: 200 });
    expect(body.text).toContain('AiCarpool test alert');
    expect(body.text).toContain('&lt;!channel&gt;');
    expect(body.text).not.toContain('<!channel>');
    expect((body.blocks as { type: string }[]).map((b) => b.type)).toEqual(['header', 'section', 'context']);
  });

  it('discord: an embed, mentions off', async () => {
    const { body, delivery } = await sample('discord');
    expect(delivery).toMatchObject({ status: 'delivered', lastStatus: 204 });
    expect(body).toMatchObject({
      allowed_mentions: { parse: [] },
      embeds: [{ title: 'AiCarpool test alert', footer: { text: 'AiCarpool · test · firing' } }],
    });
    expect(typeof (body.embeds as { color: unknown }[])[0]!.color).toBe('number');
  });

  it('feishu: an interactive card, signed the Feishu way with the bot’s secret', async () => {
    const { body, delivery } = await sample('feishu', { vendorSecret: 'feishu-bot-secret' });
    expect(delivery.status).toBe('delivered');
    expect(body).toMatchObject({
      msg_type: 'interactive',
      card: { header: { title: { tag: 'plain_text', content: 'AiCarpool test alert' }, template: 'blue' } },
    });
    // Feishu's recipe: base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = "")), seconds.
    const timestamp = body.timestamp as string;
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(body.sign).toBe(await hmacBase64(`${timestamp}\nfeishu-bot-secret`, ''));
  });

  it('feishu without a secret is not signed', async () => {
    const { body } = await sample('feishu');
    expect(body).not.toHaveProperty('sign');
    expect(body).not.toHaveProperty('timestamp');
  });

  it('dingtalk: markdown, signed in the URL the DingTalk way', async () => {
    const { body, hook, delivery } = await sample('dingtalk', { vendorSecret: 'SECdingtalk' });
    expect(delivery.status).toBe('delivered');
    expect(body).toMatchObject({ msgtype: 'markdown', markdown: { title: 'AiCarpool test alert' } });
    expect((body.markdown as { text: string }).text).toContain('AiCarpool');
    // DingTalk's recipe: urlencode(base64(HMAC-SHA256(key = secret, message = timestamp + "\n" + secret))), ms.
    const query = new URLSearchParams(hook.search);
    expect(query.get('access_token')).toBe('abc');
    const timestamp = query.get('timestamp')!;
    expect(Math.abs(Number(timestamp) - Date.now())).toBeLessThan(60_000);
    expect(query.get('sign')).toBe(await hmacBase64('SECdingtalk', `${timestamp}\nSECdingtalk`));
    expect(hook.search).toContain(`sign=${encodeURIComponent(query.get('sign')!)}`);
  });

  it('wecom: markdown content', async () => {
    const { body, delivery } = await sample('wecom');
    expect(delivery.status).toBe('delivered');
    expect(body.msgtype).toBe('markdown');
    expect((body.markdown as { content: string }).content).toMatch(
      /^<font color="info">\*\*AiCarpool test alert\*\*<\/font>\n/,
    );
  });

  it('a vendor’s 200 with an error code is a failed delivery', async () => {
    const { groupId } = await seedCarpool();
    const tag = newTag();
    const base = `/groups/${groupId}/alerts/endpoints`;
    const endpoint = await admin<Endpoint>('POST', base, {
      name: 'd',
      url: hookUrl(tag),
      format: 'dingtalk',
    });
    await scriptHook(tag, {
      answers: [{ status: 200, body: '{"errcode":310000,"errmsg":"sign not match"}' }],
    });
    const test = await admin<Delivery>('POST', `${base}/${endpoint.json.id}/test`);
    expect(test.json).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 200 });
    expect(test.json.lastError).toBe('errcode 310000: sign not match');
  });
});

describe('budget thresholds', () => {
  it('fire once per threshold per period; the highest of several crossed at once is sent', async () => {
    const g = await groupWithRule({ kind: 'budget.threshold' });
    const budget = { id: `budget-${newTag()}`, name: 'Team budget', enterpriseId: null, groupId: g.groupId };
    expect(await budgetCrossed(env, budget, '2026-04', at(55))).toBe(1);
    expect(await budgetCrossed(env, budget, '2026-04', at(60))).toBe(0);
    expect(await budgetCrossed(env, budget, '2026-04', at(55))).toBe(0);
    // Two crossings of 80% at the same moment: one delivery.
    const racing = await Promise.all(
      [1, 2, 3, 4, 5].map(() => budgetCrossed(env, budget, '2026-04', at(85))),
    );
    expect(racing.reduce((a, b) => a + b)).toBe(1);
    // A new period fires again.
    expect(await budgetCrossed(env, budget, '2026-05', at(50))).toBe(1);

    const hooks = await receivedAtLeast(g.tag, 3);
    await sleep(1500);
    expect(await received(g.tag)).toHaveLength(3);
    const events = hooks.map((h) => alertEventSchema.parse(JSON.parse(h.body)));
    const seen = events.map((e) => `${e.data.period} ${e.data.threshold}`).sort();
    expect(seen).toEqual(['2026-04 50', '2026-04 80', '2026-05 50']);
    expect(events.find((e) => e.data.threshold === 80)).toMatchObject({
      type: 'budget.threshold',
      severity: 'warning',
      title: 'Budget 80% used: Team budget',
      scope: { enterpriseId: null, groupId: g.groupId },
      subject: { type: 'budget', id: budget.id, name: 'Team budget' },
      rule: { id: g.ruleId },
      data: { percent: 85, spentMicros: 8_500_000, limitMicros: 10_000_000 },
    });
    expect(events.find((e) => e.data.threshold === 80)!.text).toContain('$8.50 of its $10.00 limit');

    // 40% → 105% in one step: 100% is sent, 50% and 80% only recorded (they will not fire later).
    const jump = { ...budget, id: `budget-${newTag()}` };
    expect(await budgetCrossed(env, jump, '2026-04', at(40))).toBe(0);
    expect(await budgetCrossed(env, jump, '2026-04', at(105))).toBe(1);
    expect(await budgetCrossed(env, jump, '2026-04', at(110))).toBe(0);
    const firings = await admin<{ data: { subjectId: string; threshold: number }[] }>(
      'GET',
      `/groups/${g.groupId}/alerts/firings`,
    );
    expect(
      firings.json.data
        .filter((f) => f.subjectId === jump.id)
        .map((f) => f.threshold)
        .sort((a, b) => a - b),
    ).toEqual([50, 80, 100]);
    // A budget reset (a new limit): crossing again fires again.
    await budgetReset(env, jump.id);
    expect(await budgetCrossed(env, jump, '2026-04', at(100))).toBe(1);
  });

  it('do not fire again when a budget’s time zone moves its period: the firings move with it', async () => {
    const g = await groupWithRule({ kind: 'budget.threshold' });
    const { groupId, keyId } = g.carpool;
    const spend = async () => {
      const res = await streamMessage(g.key);
      expect(res.status).toBe(200);
      await res.text();
    };
    await spend();
    const [first] = await eventually(async () => {
      const rows = await env.DB.prepare('SELECT cost_micros FROM request_log WHERE key_id = ?')
        .bind(keyId)
        .all<{ cost_micros: number }>();
      return rows.results.length === 1 ? rows.results : undefined;
    });
    // Four requests' worth: the second reaches 50%, the third 75% (no new threshold).
    const budget = await admin<{ id: string }>('POST', '/budgets', {
      scope: 'group',
      groupId,
      period: 'day',
      limitMicros: 4 * first!.cost_micros,
      mode: 'soft',
    });
    await spend();
    await spend();
    const [fired] = await receivedAtLeast(g.tag, 1);
    const event = alertEventSchema.parse(JSON.parse(fired!.body));
    expect(event.data.threshold).toBe(50);
    // Amounts under a cent read as they are, not $0.00.
    expect(event.text).toContain(`of its ${formatMicros(4 * first!.cost_micros)} limit`);
    await eventually(async () => {
      const n = await env.DB.prepare('SELECT count(*) AS n FROM request_log WHERE key_id = ?')
        .bind(keyId)
        .first<{ n: number }>();
      return n?.n === 3 ? true : undefined;
    });
    // A zone whose date differs from UTC's now: before noon UTC, UTC−12's; after, UTC+14's.
    const timeZone = new Date().getUTCHours() < 12 ? 'Etc/GMT+12' : 'Pacific/Kiritimati';
    expect((await admin('PATCH', `/budgets/${budget.json.id}`, { timeZone })).status).toBe(200);
    await spend();
    await sleep(1500);
    expect(await received(g.tag)).toHaveLength(1);
  });

  it('name a budget crossed by real spending as people know it: its target and period', async () => {
    const g = await groupWithRule({ kind: 'budget.threshold' });
    const { groupId, userId, keyId, tag } = g.carpool;
    for (const target of [{ scope: 'group' }, { scope: 'member', userId }, { scope: 'key', keyId }]) {
      const made = await admin('POST', '/budgets', {
        ...target,
        groupId,
        period: 'month',
        limitMicros: 1,
        mode: 'soft',
      });
      expect(made.status, JSON.stringify(made.json)).toBe(201);
    }
    expect((await streamMessage(g.key)).status).toBe(200);
    const hooks = await receivedAtLeast(g.tag, 3);
    const names = hooks.map((h) => alertEventSchema.parse(JSON.parse(h.body)).subject.name).sort();
    expect(names).toEqual([
      `Member in carpool ${tag}, monthly`,
      `carpool ${tag}, monthly`,
      expect.stringMatching(new RegExp(`^key cp-\\S+… in carpool ${tag}, monthly$`)),
    ]);
    const titles = hooks.map((h) => alertEventSchema.parse(JSON.parse(h.body)).title);
    expect(titles).toContain(`Budget 100% used: carpool ${tag}, monthly`);
  });

  it('honour each rule’s thresholds and subject, and reach only the rules of the budget’s scope', async () => {
    const owner = await newUser('Owner');
    const enterprise = await api<{ id: string }>(ADMIN_TOKEN, 'POST', '/enterprises', {
      name: 'E',
      ownerId: owner.id,
    });
    const group = await admin<{ id: string }>('POST', '/groups', {
      name: 'eg',
      kind: 'enterprise',
      enterpriseId: enterprise.json.id,
    });
    const tag = newTag();
    const eBase = `/enterprises/${enterprise.json.id}/alerts`;
    const endpoint = await api<Endpoint>(owner.token, 'POST', `${eBase}/endpoints`, {
      name: 'e',
      url: hookUrl(tag),
      format: 'json',
    });
    expect(endpoint.status).toBe(201);
    const rule = await api<{ id: string; thresholds: number[] }>(owner.token, 'POST', `${eBase}/rules`, {
      kind: 'budget.threshold',
      name: 'only 90',
      thresholds: [90],
      endpointIds: [endpoint.json.id],
    });
    expect(rule.json.thresholds).toEqual([90]);
    const other = await seedCarpool();
    // The enterprise's rule sees a budget of one of its groups, not a budget elsewhere.
    const inside = { id: `b-${newTag()}`, enterpriseId: enterprise.json.id, groupId: group.json.id };
    const outside = { id: `b-${newTag()}`, enterpriseId: null, groupId: other.groupId };
    expect(await budgetCrossed(env, inside, 'total', at(80))).toBe(0);
    expect(await budgetCrossed(env, outside, 'total', at(95))).toBe(0);
    expect(await budgetCrossed(env, inside, 'total', at(95))).toBe(1);

    // A rule about one budget ignores the others; it names a budget its scope sees.
    const theBudget = (
      await admin<{ id: string }>('POST', '/budgets', {
        scope: 'group',
        groupId: group.json.id,
        period: 'total',
        limitMicros: 100_000,
      })
    ).json.id;
    const elsewhere = (
      await admin<{ id: string }>('POST', '/budgets', {
        scope: 'group',
        groupId: other.groupId,
        period: 'total',
        limitMicros: 100_000,
      })
    ).json.id;
    for (const budgetId of ['no-such-budget', elsewhere]) {
      const refused = await api(owner.token, 'POST', `${eBase}/rules`, {
        kind: 'budget.threshold',
        name: 'not ours',
        budgetId,
        endpointIds: [endpoint.json.id],
      });
      expect(refused).toMatchObject({ status: 400, json: { error: { message: /budgetId: no budget/ } } });
    }
    const one = await api<{ id: string }>(owner.token, 'POST', `${eBase}/rules`, {
      kind: 'budget.threshold',
      name: 'one budget',
      budgetId: theBudget,
      thresholds: [10],
      endpointIds: [endpoint.json.id],
    });
    expect(one.status).toBe(201);
    expect(await budgetCrossed(env, { ...inside, id: `b-${newTag()}` }, 'total', at(20))).toBe(0);
    expect(await budgetCrossed(env, { ...inside, id: theBudget }, 'total', at(20))).toBe(1);
    // A disabled rule fires nothing.
    await api(owner.token, 'PATCH', `${eBase}/rules/${one.json.id}`, { enabled: false });
    expect(await budgetCrossed(env, { ...inside, id: theBudget }, 'next', at(20))).toBe(0);
    // Fields of another kind are refused, not ignored.
    const wrong = await api<{ error: { message: string } }>(
      owner.token,
      'PATCH',
      `${eBase}/rules/${one.json.id}`,
      {
        count: 3,
      },
    );
    expect(wrong.status).toBe(400);
    expect(wrong.json.error.message).toMatch(/count: a budget.threshold rule has no count/);
    await receivedAtLeast(tag, 2);
  });
});

describe('silences', () => {
  it('mute a rule for a subject until their end; the firing is recorded, not sent', async () => {
    const g = await groupWithRule({ kind: 'budget.threshold' });
    const muted = { id: `b-${newTag()}`, enterpriseId: null, groupId: g.groupId };
    const loud = { id: `b-${newTag()}`, enterpriseId: null, groupId: g.groupId };
    const base = `/groups/${g.groupId}/alerts/silences`;
    const silence = await admin<{ id: string }>('POST', base, {
      ruleId: g.ruleId,
      subjectId: muted.id,
      endsAt: Date.now() + 3_600_000,
      comment: 'known overrun',
    });
    expect(silence.status).toBe(201);
    expect(await budgetCrossed(env, muted, 'p', at(60))).toBe(0);
    expect(await budgetCrossed(env, loud, 'p', at(60))).toBe(1);
    const firings = await admin<{ data: { subjectId: string; silenced: boolean }[] }>(
      'GET',
      `/groups/${g.groupId}/alerts/firings`,
    );
    expect(firings.json.data.find((f) => f.subjectId === muted.id)).toMatchObject({ silenced: true });
    // Ended: the next threshold is sent.
    expect((await admin('DELETE', `${base}/${silence.json.id}`)).status).toBe(200);
    expect(await budgetCrossed(env, muted, 'p', at(85))).toBe(1);

    // A silence of the whole rule.
    await admin('POST', base, { ruleId: g.ruleId, endsAt: Date.now() + 60_000 });
    expect(await budgetCrossed(env, loud, 'p', at(100))).toBe(0);

    const refused = await admin<{ error: { message: string } }>('POST', base, {
      ruleId: g.ruleId,
      endsAt: Date.now() - 1,
    });
    expect(refused.status).toBe(400);
    expect(refused.json.error.message).toMatch(/endsAt: must be in the future/);
    const hooks = await receivedAtLeast(g.tag, 2);
    expect(hooks).toHaveLength(2);
  });
});

describe('delivery', () => {
  it('retries with backoff until the endpoint accepts, then sends no more', async () => {
    const g = await groupWithRule({ kind: 'budget.threshold' });
    await scriptHook(g.tag, { fail: 2, status: 503 });
    expect(
      await budgetCrossed(env, { id: `b-${newTag()}`, enterpriseId: null, groupId: g.groupId }, 'p', at(50)),
    ).toBe(1);
    const hooks = await receivedAtLeast(g.tag, 3, 20_000);
    const base = `/groups/${g.groupId}`;
    const [delivery] = await eventually(async () => {
      const log = await deliveries(base, g.endpoint.id);
      return log[0]?.status === 'delivered' ? log : undefined;
    });
    expect(delivery).toMatchObject({
      status: 'delivered',
      attempts: 3,
      lastStatus: 204,
      lastError: null,
      nextAttemptAt: null,
    });
    // ALERT_RETRY_BASE_SECONDS is 1 in the tests: 1 s, then 2 s.
    expect(hooks[1]!.at - hooks[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(hooks[2]!.at - hooks[1]!.at).toBeGreaterThanOrEqual(2000);
    // Every attempt carries the same delivery id, each its own fresh signature.
    expect(new Set(hooks.map((h) => h.headers['x-carpool-delivery']))).toEqual(new Set([delivery!.id]));
    await sleep(3000);
    expect(await received(g.tag)).toHaveLength(3);

    // The same message again (the Queue redelivers at least once): nothing is sent twice.
    const batch = createMessageBatch('aicarpool-alerts', [
      { id: 'again', timestamp: new Date(), attempts: 4, body: { deliveryId: delivery!.id } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch as MessageBatch<unknown>, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(['again']);
    expect(result.retryMessages).toEqual([]);
    expect(await received(g.tag)).toHaveLength(3);
  });

  it('marks a delivery failed when its attempts run out, with the last answer', async () => {
    const g = await groupWithRule({ kind: 'budget.threshold' });
    await scriptHook(g.tag, { fail: 10, status: 500 });
    await budgetCrossed(env, { id: `b-${newTag()}`, enterpriseId: null, groupId: g.groupId }, 'p', at(50));
    const [delivery] = await eventually(async () => {
      const log = await deliveries(`/groups/${g.groupId}`, g.endpoint.id);
      return log[0]?.status === 'failed' ? log : undefined;
    }, 20_000);
    // ALERT_MAX_ATTEMPTS is 3 in the tests.
    expect(delivery).toMatchObject({
      status: 'failed',
      attempts: 3,
      maxAttempts: 3,
      lastStatus: 500,
      lastError: 'HTTP 500: failing on purpose',
      nextAttemptAt: null,
      deliveredAt: null,
    });
    await sleep(2500);
    expect(await received(g.tag)).toHaveLength(3);
  });

  it('asks the Queue for exponentially growing delays, and leaves a delivery being attempted alone', async () => {
    const g = await groupWithRule({ kind: 'budget.threshold' });
    await scriptHook(g.tag, { fail: 5, status: 502 });
    // A delivery written as the engine writes it, but whose message the test hands in itself.
    const id = `d-${newTag()}`;
    await env.DB.prepare(
      `INSERT INTO alert_deliveries (id, endpoint_id, event, payload, max_attempts, next_attempt_at)
       VALUES (?, ?, 'test', ?, 5, ?)`,
    )
      .bind(id, g.endpoint.id, JSON.stringify({ ...sampleOf(g.groupId), id }), Date.now())
      .run();
    // The pool's queue result names retried messages but not their delays: the test listens in.
    const delays: (number | undefined)[] = [];
    const consume = async () => {
      const batch = createMessageBatch('aicarpool-alerts', [
        { id: 'm', timestamp: new Date(), attempts: 1, body: { deliveryId: id } },
      ]);
      const message = batch.messages[0]!;
      const retry = message.retry.bind(message);
      Object.defineProperty(message, 'retry', {
        value: (options?: QueueRetryOptions) => {
          delays.push(options?.delaySeconds);
          retry(options);
        },
      });
      const ctx = createExecutionContext();
      await worker.queue(batch as MessageBatch<unknown>, env);
      return getQueueResult(batch, ctx);
    };
    for (let i = 0; i < 3; i++) {
      const result = await consume();
      expect(result.retryMessages).toEqual([{ msgId: 'm' }]);
      // Come back when it is due, as the Queue would.
      const [row] = await deliveries(`/groups/${g.groupId}`, g.endpoint.id);
      await sleep(Math.max(0, row!.nextAttemptAt! - Date.now() - 1500));
    }
    expect(delays).toEqual([1, 2, 4]);
    expect(await received(g.tag)).toHaveLength(3);
    // While an attempt holds it, another message for it waits instead of sending.
    await env.DB.prepare('UPDATE alert_deliveries SET claimed_until = ? WHERE id = ?')
      .bind(Date.now() + 7_000, id)
      .run();
    const held = await consume();
    expect(held.retryMessages).toEqual([{ msgId: 'm' }]);
    expect(delays[3]).toBeGreaterThanOrEqual(6);
    expect(await received(g.tag)).toHaveLength(3);
  });

  it('the cron sweep sends again a delivery whose message was lost', async () => {
    const g = await groupWithRule({ kind: 'budget.threshold' });
    const id = `d-${newTag()}`;
    await env.DB.prepare(
      `INSERT INTO alert_deliveries (id, endpoint_id, event, payload, max_attempts, next_attempt_at)
       VALUES (?, ?, 'test', ?, 3, ?)`,
    )
      .bind(id, g.endpoint.id, JSON.stringify({ ...sampleOf(g.groupId), id }), Date.now() - 3_600_000)
      .run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '*/10 * * * *' }), env, ctx);
    const [hook] = await receivedAtLeast(g.tag, 1);
    expect(hook!.headers['x-carpool-delivery']).toBe(id);
  });
});

function sampleOf(groupId: string): AlertEvent {
  return {
    id: 'x',
    type: 'test',
    status: 'firing',
    severity: 'info',
    title: 'test',
    text: 'test',
    occurredAt: new Date().toISOString(),
    scope: { enterpriseId: null, groupId },
    subject: { type: 'endpoint', id: 'e', name: null },
    rule: null,
    data: {},
  };
}

describe('account alerts', () => {
  it('an account disabled by failing credentials alerts once, and again when it is back', async () => {
    const g = await groupWithRule({
      kind: 'account.disabled',
      seed: { scenario: '401', scheduling: { overloadedCooldownMs: 0 } },
    });
    for (let i = 0; i < 3; i++) {
      const res = await streamMessage(g.key);
      expect(res.status).toBe(502);
      await res.text();
    }
    const refused = await streamMessage(g.key);
    expect(refused.status).toBe(503);
    await refused.text();
    const [hook] = await receivedAtLeast(g.tag, 1);
    const event = alertEventSchema.parse(JSON.parse(hook!.body));
    expect(event).toMatchObject({
      type: 'account.disabled',
      status: 'firing',
      severity: 'critical',
      subject: { type: 'account', id: g.accountId },
      scope: { groupId: g.groupId },
    });
    expect(event.text).toMatch(/disabled after 3 consecutive 401 from upstream/);
    await sleep(1500);
    expect(await received(g.tag)).toHaveLength(1);

    // Fixed and reset: the endpoints hear it is back.
    await admin('PATCH', `/accounts/${g.accountId}`, { credential: `sk-fake.${newTag()}.ok` });
    expect((await admin('POST', `/accounts/${g.accountId}/reset`)).status).toBe(200);
    const [, back] = await receivedAtLeast(g.tag, 2);
    expect(alertEventSchema.parse(JSON.parse(back!.body))).toMatchObject({
      type: 'account.disabled',
      status: 'resolved',
      title: expect.stringMatching(/^Account enabled again/),
    });
  });

  it('an endpoint hears of the end after the start, even when the firing had to be retried', async () => {
    const g = await groupWithRule({
      kind: 'account.disabled',
      seed: { scenario: '401', scheduling: { overloadedCooldownMs: 0 } },
    });
    // The firing's first two attempts fail: it is retried after 1 s, then 2 s.
    await scriptHook(g.tag, { fail: 2, status: 500 });
    for (let i = 0; i < 3; i++) await (await streamMessage(g.key)).text();
    await receivedAtLeast(g.tag, 1);
    // Back while the firing still waits for its retry: the resolution is written at once.
    await admin('PATCH', `/accounts/${g.accountId}`, { credential: `sk-fake.${newTag()}.ok` });
    expect((await admin('POST', `/accounts/${g.accountId}/reset`)).status).toBe(200);
    const hooks = await receivedAtLeast(g.tag, 4);
    const statuses = hooks.map((hook) => alertEventSchema.parse(JSON.parse(hook.body)).status);
    expect(statuses).toEqual(['firing', 'firing', 'firing', 'resolved']);
    const log = await deliveries(`/groups/${g.groupId}`, g.endpoint.id);
    expect(log.map((d) => d.status)).toEqual(['delivered', 'delivered']);
  });

  it('repeated cooldowns alert once within their window', async () => {
    const g = await groupWithRule({
      kind: 'account.cooldowns',
      count: 3,
      windowMinutes: 10,
      seed: { scenario: '500', scheduling: { serverErrorCooldownMs: 1, maxCooldownMs: 1 } },
    });
    for (let i = 0; i < 5; i++) {
      const res = await streamMessage(g.key);
      expect(res.status).toBeGreaterThanOrEqual(500);
      await res.text();
      await sleep(20);
    }
    const [hook] = await receivedAtLeast(g.tag, 1);
    expect(alertEventSchema.parse(JSON.parse(hook!.body))).toMatchObject({
      type: 'account.cooldowns',
      severity: 'warning',
      data: { windowMinutes: 10 },
    });
    await sleep(1500);
    expect(await received(g.tag)).toHaveLength(1);
  });
});

describe('scopes', () => {
  it('another tenant’s endpoints, rules and logs are 404; a member is 403; anonymous 401', async () => {
    const ana = await newUser('Ana');
    const bob = await newUser('Bob');
    const member = await newUser('Member');
    const anas = await seedCarpool();
    const bobs = await seedCarpool();
    await admin('POST', `/groups/${anas.groupId}/members`, { userId: ana.id, role: 'owner' });
    await admin('POST', `/groups/${anas.groupId}/members`, { userId: member.id, role: 'member' });
    await admin('POST', `/groups/${bobs.groupId}/members`, { userId: bob.id, role: 'owner' });
    const anaBase = `/groups/${anas.groupId}/alerts`;
    const bobBase = `/groups/${bobs.groupId}/alerts`;
    const endpoint = await api<Endpoint>(ana.token, 'POST', `${anaBase}/endpoints`, {
      name: 'ana',
      url: hookUrl(newTag()),
      format: 'json',
    });
    expect(endpoint.status).toBe(201);
    const rule = await api<{ id: string }>(ana.token, 'POST', `${anaBase}/rules`, {
      kind: 'account.disabled',
      name: 'r',
      accountId: anas.accountId,
      endpointIds: [endpoint.json.id],
    });
    expect(rule.status).toBe(201);
    const e = endpoint.json.id;

    // Bob, in Ana's group: it does not exist for him.
    for (const [method, path] of [
      ['GET', `${anaBase}/endpoints`],
      ['GET', `${anaBase}/endpoints/${e}`],
      ['GET', `${anaBase}/endpoints/${e}/deliveries`],
      ['POST', `${anaBase}/endpoints/${e}/test`],
      ['PATCH', `${anaBase}/rules/${rule.json.id}`],
      ['GET', `${anaBase}/firings`],
    ] as const)
      expect(
        (await api(bob.token, method, path, method === 'PATCH' ? { name: 'x' } : undefined)).status,
      ).toBe(404);
    // Ana's ids in Bob's own group: absent too.
    expect((await api(bob.token, 'GET', `${bobBase}/endpoints/${e}`)).status).toBe(404);
    expect((await api(bob.token, 'DELETE', `${bobBase}/endpoints/${e}`)).status).toBe(404);
    expect((await api(bob.token, 'POST', `${bobBase}/endpoints/${e}/rotate-secret`)).status).toBe(404);
    expect((await api(bob.token, 'DELETE', `${bobBase}/rules/${rule.json.id}`)).status).toBe(404);
    const borrowed = await api<{ error: { message: string } }>(bob.token, 'POST', `${bobBase}/rules`, {
      kind: 'budget.threshold',
      name: 'r',
      endpointIds: [e],
    });
    expect(borrowed.status).toBe(400);
    expect(borrowed.json.error.message).toMatch(/endpointIds: no alert endpoint/);
    const foreignAccount = await api(bob.token, 'POST', `${bobBase}/rules`, {
      kind: 'account.disabled',
      name: 'r',
      accountId: anas.accountId,
      endpointIds: [],
    });
    expect(foreignAccount.status).toBe(400);
    const foreignSilence = await api(bob.token, 'POST', `${bobBase}/silences`, {
      ruleId: rule.json.id,
      endsAt: Date.now() + 60_000,
    });
    expect(foreignSilence.status).toBe(400);
    // A member of the group sees it but may not manage its alerting; no one else may either.
    expect((await api(member.token, 'GET', `${anaBase}/endpoints`)).status).toBe(403);
    expect((await api(null, 'GET', `${anaBase}/endpoints`)).status).toBe(401);
    expect((await api(ana.token, 'GET', '/alerts/endpoints')).status).toBe(404);
    // Still there, untouched.
    expect((await api<{ data: unknown[] }>(ana.token, 'GET', `${anaBase}/endpoints`)).json.data).toHaveLength(
      1,
    );
  });
});
