// The roles below the owners in a real browser (Debian's Chromium through playwright-core) against
// an `npm run dev`-equivalent relay and the fake upstream: an enterprise admin, who runs the
// enterprise's groups but not the enterprise; and a plain member of a carpool and of an enterprise
// group, who has their own keys, usage and part of the bill and nothing of anyone else's. Each sees
// what the role allows (worker/domain/permissions.ts), every control shown is one the API accepts,
// and a page the role may not open says so. Every page is checked (axe, screenshot) in English and
// Chinese (test-artifacts/screenshots/).
import Anthropic from '@anthropic-ai/sdk';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath } from './browser/chromium';
import { checkPage } from './browser/page-checks';
import { operatorCall, type Relay, seedUser, startRelay } from './browser/relay';
import { until } from './browser/until';

let relay: Relay;
let browser: Browser;
let admin: Page;
let carpoolMember: Page;
let enterpriseMember: Page;
const OWNER = { email: 'otto@example.com', name: 'Otto Owner', password: 'otto-password-1' };
const ADMIN = { email: 'ada@example.com', name: 'Ada Admin', password: 'ada-password-1' };
const EMPLOYEE = { email: 'emil@example.com', name: 'Emil Employee', password: 'emil-password-1' };
const DRIVER = { email: 'cora@example.com', name: 'Cora Carpooler', password: 'cora-password-1' };
const RIDER = { email: 'rudi@example.com', name: 'Rudi Rider', password: 'rudi-password-1' };
const ids = { enterprise: '', department: '', group: '', carpool: '', owner: '', admin: '', employee: '' };
const keys = { rider: '', employee: '' };
const refusals: Record<string, string[]> = {};

/** The operator's API (a system admin), for what is set up before anyone signs in. */
const operator = <T>(method: string, path: string, body?: unknown) =>
  operatorCall<T>(relay, method, path, body);

async function signIn(person: { email: string; password: string }): Promise<Page> {
  const page = await (
    await browser.newContext({ locale: 'en-US', viewport: { width: 1200, height: 900 } })
  ).newPage();
  await page.goto(`${relay.url}/login`);
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel('Password').fill(person.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'My carpools' }).waitFor();
  return page;
}

/** A call from the signed-in page, as the dashboard makes it: the status the API answers. */
function statusOf(page: Page, method: string, path: string, body?: unknown): Promise<number> {
  return page.evaluate(
    async ({ method, path, body }) => {
      const response = await fetch(`/api/v1${path}`, {
        method,
        headers: { 'content-type': 'application/json', 'x-journey-probe': '1' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      await response.body?.cancel();
      return response.status;
    },
    { method, path, body },
  );
}

/**
 * The API's refusals (401, 403, 404) of what a page asked by itself, as "METHOD /path status": a
 * page that reads or offers what the role may not is a bug. Deliberate probes (statusOf) are apart.
 */
function watchRefusals(page: Page): string[] {
  const refused: string[] = [];
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (!url.pathname.startsWith('/api/v1/') || ![401, 403, 404].includes(response.status())) return;
    if (response.request().headers()['x-journey-probe']) return;
    refused.push(`${response.request().method()} ${url.pathname} ${response.status()}`);
  });
  return refused;
}

/** checkPage, and no error shown on the page. */
async function visited(page: Page, name: string) {
  await checkPage(page, name);
  await expect(page.locator('[role="alert"].error').allTextContents(), `errors on ${name}`).resolves.toEqual(
    [],
  );
}

/** The names of the options of a select. */
function optionsOf(page: Page, label: string) {
  return page
    .getByLabel(label, { exact: true })
    .locator('option')
    .evaluateAll((options) => options.map((o) => o.textContent));
}

/** Whether a table row's cells line up: one top and one bottom (a cell laid out as flex does not). */
function cellsLineUp(row: Locator) {
  return row.locator('td').evaluateAll((cells) => {
    const edges = cells
      .map((c) => c.getBoundingClientRect())
      .map((r) => `${Math.round(r.top)}:${Math.round(r.bottom)}`);
    return new Set(edges).size === 1 && cells.every((c) => getComputedStyle(c).display === 'table-cell');
  });
}

async function ask(key: string, content: string) {
  const client = new Anthropic({ baseURL: relay.url, apiKey: key, maxRetries: 0 });
  return client.messages.create({
    model: 'claude-haiku-4-5',
    max_tokens: 64,
    messages: [{ role: 'user', content }],
  });
}

beforeAll(async () => {
  const executablePath = chromiumPath();
  relay = await startRelay();
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
});

describe.sequential('an enterprise admin and plain members', () => {
  it('seeds an enterprise (owner, admin, department, group, pool) and a carpool, each with a member', async () => {
    ids.owner = await seedUser(relay, OWNER);
    ids.admin = await seedUser(relay, ADMIN);
    ids.employee = await seedUser(relay, EMPLOYEE);
    await seedUser(relay, DRIVER);
    await seedUser(relay, RIDER);

    const enterprise = await operator<{ id: string }>('POST', '/enterprises', {
      name: 'Globex',
      ownerId: ids.owner,
    });
    ids.enterprise = enterprise.id;
    await operator('POST', `/enterprises/${ids.enterprise}/members`, { userId: ids.admin, role: 'admin' });
    await operator('POST', `/enterprises/${ids.enterprise}/members`, {
      userId: ids.employee,
      role: 'member',
    });
    const department = await operator<{ id: string }>('POST', `/enterprises/${ids.enterprise}/departments`, {
      name: 'Research',
    });
    ids.department = department.id;
    const group = await operator<{ id: string }>('POST', '/groups', {
      name: 'Lab bots',
      kind: 'enterprise',
      enterpriseId: ids.enterprise,
      departmentId: ids.department,
    });
    ids.group = group.id;
    await operator('POST', `/groups/${ids.group}/members`, { userId: ids.employee, role: 'member' });
    await operator('POST', '/accounts', {
      name: 'Lab pool',
      provider: 'anthropic',
      credential: 'sk-fake.lab.ok',
      baseUrl: relay.upstream,
      enterpriseId: ids.enterprise,
    });

    // The carpool: its owner starts it, binds its account and invites the rider, who joins by link.
    const driver = await signIn(DRIVER);
    const invite = await driver.evaluate(async (upstream) => {
      const post = async (path: string, body: unknown) => {
        const response = await fetch(`/api/v1${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
        return response.json();
      };
      const group = (await post('/groups', { name: 'Road trip', kind: 'carpool' })) as { id: string };
      await post(`/groups/${group.id}/account`, {
        provider: 'anthropic',
        credential: 'sk-fake.trip.ok',
        baseUrl: upstream,
      });
      const made = (await post(`/groups/${group.id}/invites`, {})) as { token: string };
      return { groupId: group.id, token: made.token };
    }, relay.upstream);
    ids.carpool = invite.groupId;
    await driver.context().close();

    carpoolMember = await signIn(RIDER);
    refusals.rider = watchRefusals(carpoolMember);
    await carpoolMember.goto(`${relay.url}/invite/${invite.token}`);
    await carpoolMember.getByRole('heading', { name: 'Join Road trip' }).waitFor();
    await carpoolMember.getByRole('button', { name: /^Join/ }).click();
    await carpoolMember.getByRole('heading', { name: 'Road trip' }).waitFor();
  });

  it('the enterprise admin sees the enterprise read-only, without the owner’s controls', async () => {
    admin = await signIn(ADMIN);
    refusals.admin = watchRefusals(admin);
    // The navigation: the enterprise and the admin pages, never the system page.
    await admin.getByRole('link', { name: 'Globex' }).click();
    await admin.getByRole('heading', { name: 'Globex', level: 1 }).waitFor();
    await expect(admin.getByRole('link', { name: 'System' }).count()).resolves.toBe(0);
    for (const link of ['Usage', 'Accounts', 'Budgets', 'Alerts', 'Audit log'])
      await admin.getByRole('link', { name: link, exact: true }).waitFor();

    // What the enterprise has: its pool, its department with its group, its people and their roles.
    await admin.getByRole('region', { name: 'anthropic' }).getByText('Lab pool').waitFor();
    await admin.getByRole('region', { name: 'Research', exact: true }).getByText('Lab bots').waitFor();
    const members = admin.locator('section.card', {
      has: admin.getByRole('heading', { name: 'Members and roles' }),
    });
    for (const [name, role] of [
      [OWNER.name, 'Owner'],
      [ADMIN.name, 'Admin'],
      [EMPLOYEE.name, 'Member'],
    ])
      await members.getByRole('row', { name: new RegExp(`${name}.*${role}`) }).waitFor();

    // No control of what only an owner may do (enterprise.manage, group.create, ai.manage).
    for (const form of [
      'Add an account to a pool',
      'Add a department',
      'Add a group',
      'Move a group',
      'Change a department',
      'Add a member',
      'Rename the enterprise',
    ])
      await expect(admin.getByRole('form', { name: form }).count(), form).resolves.toBe(0);
    await expect(members.getByRole('combobox').count()).resolves.toBe(0);
    await expect(members.getByRole('button').count()).resolves.toBe(0);
    // And the API refuses them, so hiding them is right.
    expect(await statusOf(admin, 'PATCH', `/enterprises/${ids.enterprise}`, { name: 'Mine now' })).toBe(403);
    expect(
      await statusOf(admin, 'POST', `/enterprises/${ids.enterprise}/departments`, { name: 'Skunkworks' }),
    ).toBe(403);
    expect(
      await statusOf(admin, 'POST', '/groups', {
        name: 'Side',
        kind: 'enterprise',
        enterpriseId: ids.enterprise,
      }),
    ).toBe(403);
    // What the role may do over the enterprise's groups (group.manage), the API grants.
    expect(await statusOf(admin, 'GET', `/groups/${ids.group}/members`)).toBe(200);
    await visited(admin, 'roles-enterprise-admin');
  });

  it('the enterprise admin runs a group of the enterprise: its members, an invite link', async () => {
    // group.manage and user.invite over the enterprise's groups: its page, from the enterprise's.
    await admin
      .getByRole('region', { name: 'Research', exact: true })
      .getByRole('link', { name: 'Lab bots' })
      .click();
    await admin.getByRole('heading', { name: 'Lab bots', level: 1 }).waitFor();
    await admin.getByRole('row', { name: new RegExp(EMPLOYEE.name) }).waitFor();
    // An enterprise group has no account of its own to bind (the enterprise's pools serve it).
    await expect(admin.getByRole('heading', { name: 'Group account' }).count()).resolves.toBe(0);
    await admin.getByText('Create an invite link').click();
    await admin.getByRole('button', { name: 'Create link' }).click();
    await expect(admin.getByTestId('invite-link').locator('code').textContent()).resolves.toMatch(
      new RegExp(`^${relay.url}/invite/`),
    );
    await visited(admin, 'roles-admin-group');
    // Every control the page shows them, the API takes: a role there and back, the seats, the link revoked.
    await admin.getByRole('button', { name: `Make ${EMPLOYEE.name} an owner` }).click();
    await admin.getByRole('button', { name: `Make ${EMPLOYEE.name} a member` }).click();
    await admin.getByRole('button', { name: `Make ${EMPLOYEE.name} an owner` }).waitFor();
    const settings = admin.getByRole('form', { name: 'Group settings' });
    await settings.getByLabel('Members at most').fill('12');
    await settings.getByRole('button', { name: 'Save' }).click();
    await admin.getByText('1 / 12', { exact: true }).waitFor();
    await admin.getByRole('button', { name: 'Revoke', exact: true }).click();
    await admin.getByRole('button', { name: /^Revoke the link/ }).click();
    await admin.getByRole('button', { name: 'Revoke', exact: true }).waitFor({ state: 'detached' });
  });

  it('the enterprise admin reads the accounts, without settings, probes or keys to change', async () => {
    await admin.getByRole('link', { name: 'Accounts', exact: true }).click();
    await admin.getByRole('heading', { name: 'Accounts health' }).waitFor();
    await admin.getByRole('heading', { name: /Lab pool/ }).waitFor();
    for (const control of ['Probe', 'Disable', 'Enable', 'Reset'])
      await expect(admin.getByRole('button', { name: control }).count(), control).resolves.toBe(0);
    await expect(admin.getByText('Settings', { exact: true }).count()).resolves.toBe(0);
    await visited(admin, 'roles-admin-accounts');
  });

  it('the enterprise admin sets a budget on a group of the enterprise, changes and deletes it', async () => {
    await admin.getByRole('link', { name: 'Budgets', exact: true }).click();
    await admin.getByRole('heading', { name: 'Budgets', exact: true }).waitFor();
    const form = admin.getByRole('form', { name: 'New budget' });
    // A group's, a member's or a key's: the enterprise's and its departments' are the owner's.
    await expect(
      form
        .getByLabel('Applies to')
        .locator('option')
        .evaluateAll((options) => options.map((o) => o.textContent)),
    ).resolves.toEqual(['Group', 'Member', 'Key']);
    await form.getByLabel('Applies to').selectOption({ label: 'Group' });
    await form.getByLabel('Group', { exact: true }).selectOption({ label: 'Lab bots' });
    await form.getByLabel('Period').selectOption({ label: 'Monthly' });
    await form.getByLabel('Limit (US$)').fill('25');
    await form.getByRole('button', { name: 'Create the budget' }).click();
    const budget = admin.getByRole('region', { name: 'Group: Lab bots' });
    await budget.getByText(/of \$25\.00/).waitFor();
    await visited(admin, 'roles-admin-budgets');
    await budget.getByRole('button', { name: 'Edit' }).click();
    const edit = admin.getByRole('form', { name: 'Change the budget' });
    await edit.getByLabel('Limit (US$)').fill('30');
    await edit.getByRole('button', { name: 'Save' }).click();
    await budget.getByText(/of \$30\.00/).waitFor();
    await budget.getByRole('button', { name: 'Delete' }).click();
    await budget.getByRole('button', { name: /^Delete the budget / }).click();
    await budget.waitFor({ state: 'detached' });
  });

  it('the enterprise admin reads the enterprise’s usage, alerts and audit log', async () => {
    await admin.getByRole('link', { name: 'Usage', exact: true }).click();
    await admin.getByRole('heading', { name: 'Usage' }).waitFor();
    // The choices come as the enterprises and groups are read.
    await admin.getByRole('option', { name: 'Enterprise: Globex' }).waitFor({ state: 'attached' });
    const scopes = await optionsOf(admin, 'Whose usage');
    expect(scopes).toContain('Enterprise: Globex');
    expect(scopes).toContain('Group: Lab bots');
    expect(scopes.some((s) => s?.includes('Road trip'))).toBe(false);
    await admin.getByLabel('Whose usage').selectOption({ label: 'Enterprise: Globex' });
    await admin.getByLabel('Department').waitFor();
    await visited(admin, 'roles-admin-usage');

    await admin.getByRole('link', { name: 'Alerts', exact: true }).click();
    await admin.getByRole('heading', { name: 'Alerts' }).waitFor();
    // An enterprise's alerts are its owners' (enterprise.manage); its groups' are the admin's too.
    await admin.getByLabel('For', { exact: true }).waitFor();
    const alertScopes = await optionsOf(admin, 'For');
    expect(alertScopes.some((s) => s?.includes('Globex'))).toBe(false);
    expect(alertScopes.some((s) => s?.includes('Lab bots'))).toBe(true);
    // The group's endpoint form is one the API accepts from them.
    await admin.getByLabel('For', { exact: true }).selectOption({ label: 'Lab bots' });
    const endpoint = admin.getByRole('form', { name: 'Add an endpoint' });
    await endpoint.getByLabel('Name').fill('Lab hook');
    await endpoint.getByLabel('Webhook URL').fill('http://127.0.0.1:9/hook');
    await endpoint.getByRole('button', { name: 'Add an endpoint' }).click();
    await admin.getByText('The signing secret, shown this once').waitFor();
    await visited(admin, 'roles-admin-alerts');

    await admin.getByRole('link', { name: 'Audit log', exact: true }).click();
    await admin.getByRole('heading', { name: 'Audit log' }).waitFor();
    await admin.getByRole('cell', { name: 'budget.create' }).waitFor();
    await visited(admin, 'roles-admin-audit');

    // The system page is not theirs: said in words, not a broken page.
    await admin.goto(`${relay.url}/system`);
    await admin.getByRole('heading', { name: 'Not allowed' }).waitFor();
    await visited(admin, 'roles-admin-system');
  });

  it('a carpool member: a key made, seen once, used through the SDK, in their usage and bill', async () => {
    const page = carpoolMember;
    await page.goto(`${relay.url}/`);
    await page.getByText('Create a key').click();
    await page.getByLabel('Name').fill('rider laptop');
    await page.getByRole('button', { name: 'Create key' }).click();
    keys.rider = (await page.getByTestId('new-key').locator('code').first().textContent())!;
    expect(keys.rider).toMatch(/^cp-/);
    await visited(page, 'roles-carpool-member-new-key');
    // Shown once: after a reload, only its prefix.
    await page.reload();
    await page.getByRole('cell', { name: 'rider laptop', exact: true }).waitFor();
    await expect(page.getByTestId('new-key').count()).resolves.toBe(0);
    await expect(page.getByText(keys.rider).count()).resolves.toBe(0);
    // The key's row is one row: its buttons' cell lines up with the others.
    await expect(cellsLineUp(page.getByRole('row', { name: /rider laptop/ }))).resolves.toBe(true);

    const message = await ask(keys.rider, 'Hello from the rider');
    expect(message.content.length).toBeGreaterThan(0);
    await until(
      async () => {
        await page.goto(`${relay.url}/`);
        await page.getByTestId('my-cost').waitFor();
        return (await page.getByTestId('my-cost').textContent()) !== '$0.00';
      },
      "the rider's cost",
      90_000,
    );
    await expect(page.getByTestId('my-share').textContent()).resolves.toBe('100%');
    // No owner control: no management link, no members to remove, no account to edit.
    await expect(page.getByRole('link', { name: 'Manage group' }).count()).resolves.toBe(0);
    await expect(page.getByRole('button', { name: /^Remove / }).count()).resolves.toBe(0);
    await visited(page, 'roles-carpool-member-home');

    await page.getByRole('link', { name: 'Usage', exact: true }).click();
    await page.getByRole('heading', { name: 'Usage' }).waitFor();
    await page.getByRole('list', { name: 'Tokens by model' }).getByText('claude-haiku-4-5').waitFor();
    await visited(page, 'roles-carpool-member-usage');
  });

  it('a carpool member reaches no owner or admin page: each says so', async () => {
    const page = carpoolMember;
    for (const link of ['Accounts', 'Budgets', 'Alerts', 'Audit log', 'System'])
      await expect(page.getByRole('link', { name: link, exact: true }).count(), link).resolves.toBe(0);
    const pages: [string, string][] = [
      [`/groups/${ids.carpool}`, 'roles-member-group'],
      [`/groups/${ids.carpool}/account`, 'roles-member-account'],
      [`/enterprises/${ids.enterprise}`, 'roles-member-enterprise'],
      ['/accounts', 'roles-member-accounts'],
      ['/budgets', 'roles-member-budgets'],
      ['/alerts', 'roles-member-alerts'],
      ['/audit', 'roles-member-audit'],
      ['/system', 'roles-member-system'],
    ];
    for (const [path, shot] of pages) {
      await page.goto(`${relay.url}${path}`);
      await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
      await visited(page, shot);
    }
    await page.goto(`${relay.url}/no/such/page`);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await visited(page, 'roles-member-not-found');
    // The statements, read-only.
    await page.goto(`${relay.url}/groups/${ids.carpool}/statements`);
    await page.getByRole('heading', { name: 'Statements of Road trip' }).waitFor();
    await expect(page.getByText('How the bill is split').count()).resolves.toBe(0);
    await visited(page, 'roles-member-statements');
  });

  it('an enterprise group member: a key, a request, their usage; nothing of the admin’s', async () => {
    enterpriseMember = await signIn(EMPLOYEE);
    refusals.employee = watchRefusals(enterpriseMember);
    const page = enterpriseMember;
    await page.getByTestId('enterprise-group').first().waitFor();
    await page.getByText('Create a key').click();
    await page.getByLabel('Name').fill('lab script');
    await page.getByRole('button', { name: 'Create key' }).click();
    keys.employee = (await page.getByTestId('new-key').locator('code').first().textContent())!;
    expect(keys.employee).toMatch(/^cp-/);
    const message = await ask(keys.employee, 'Hello from the lab');
    expect(message.content.length).toBeGreaterThan(0);
    await until(
      async () => {
        await page.goto(`${relay.url}/usage`);
        // The card shows once the usage has loaded: counting before it would always say none.
        await page.getByRole('heading', { name: 'Tokens by model' }).waitFor();
        return (
          (await page.getByRole('list', { name: 'Tokens by model' }).getByText('claude-haiku-4-5').count()) >
          0
        );
      },
      "the employee's usage",
      90_000,
    );
    await visited(page, 'roles-enterprise-member-usage');

    // Their enterprise, as a plain member: in the home's list, its admin page not theirs.
    await page.goto(`${relay.url}/`);
    const mine = page.locator('section', { has: page.getByRole('heading', { name: 'My enterprises' }) });
    await mine.getByRole('row', { name: /Globex\s+Member/ }).waitFor();
    await expect(cellsLineUp(mine.getByRole('row', { name: /Globex\s+Member/ }))).resolves.toBe(true);
    await expect(page.getByRole('link', { name: 'Globex', exact: true }).count()).resolves.toBe(0);
    await visited(page, 'roles-enterprise-member-home');
    await page.goto(`${relay.url}/enterprises/${ids.enterprise}`);
    await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
    for (const path of ['/budgets', '/accounts']) {
      await page.goto(`${relay.url}${path}`);
      await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
    }
  });

  it('the member revokes a key: it is refused at once', async () => {
    const page = enterpriseMember;
    await page.goto(`${relay.url}/`);
    // Asked in the page, as every removal is (no browser dialog), and named for its key.
    page.once('dialog', (dialog) => {
      throw new Error(`a browser dialog: ${dialog.message()}`);
    });
    await page.getByRole('button', { name: 'Revoke lab script' }).click();
    await page.getByRole('button', { name: 'Revoke lab script (clients using it stop at once)' }).click();
    await page.getByText('No active key yet.').waitFor();
    await expect(ask(keys.employee, 'still there?')).rejects.toMatchObject({
      status: 403,
      message: expect.stringMatching(/revoked/),
    });
  });

  it('every page of both roles in Chinese', async () => {
    await admin.goto(`${relay.url}/enterprises/${ids.enterprise}`);
    await admin.getByLabel('Language').selectOption('zh-CN');
    await admin.getByRole('heading', { name: '账号池' }).waitFor();
    await visited(admin, 'roles-enterprise-admin-zh');
    const adminPages: [string, string, string][] = [
      ['/accounts', '账号健康', 'roles-admin-accounts-zh'],
      ['/usage', '用量', 'roles-admin-usage-zh'],
      ['/budgets', '预算', 'roles-admin-budgets-zh'],
      ['/alerts', '告警', 'roles-admin-alerts-zh'],
      ['/audit', '审计日志', 'roles-admin-audit-zh'],
      [`/groups/${ids.group}`, 'Lab bots', 'roles-admin-group-zh'],
    ];
    for (const [path, heading, shot] of adminPages) {
      await admin.goto(`${relay.url}${path}`);
      await admin.getByRole('heading', { name: heading, exact: true }).waitFor();
      await visited(admin, shot);
    }

    const page = carpoolMember;
    await page.goto(`${relay.url}/`);
    await page.getByLabel('Language').selectOption('zh-CN');
    await page.getByRole('heading', { name: '我的拼车' }).waitFor();
    await visited(page, 'roles-carpool-member-home-zh');
    const memberPages: [string, string, string][] = [
      ['/usage', '用量', 'roles-carpool-member-usage-zh'],
      [`/groups/${ids.carpool}/statements`, 'Road trip 的账单', 'roles-member-statements-zh'],
      [`/groups/${ids.carpool}`, '无权访问', 'roles-member-group-zh'],
      ['/budgets', '无权访问', 'roles-member-budgets-zh'],
    ];
    for (const [path, heading, shot] of memberPages) {
      await page.goto(`${relay.url}${path}`);
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      await visited(page, shot);
    }

    await enterpriseMember.goto(`${relay.url}/`);
    await enterpriseMember.getByLabel('Language').selectOption('zh-CN');
    await enterpriseMember.getByRole('heading', { name: '我的拼车' }).waitFor();
    await visited(enterpriseMember, 'roles-enterprise-member-home-zh');
  });

  it('no page asked the API for what its viewer may not see or do', () => {
    expect(refusals).toEqual({ rider: [], admin: [], employee: [] });
  });

  it('the members leave: the carpool’s rider and the enterprise group’s employee', async () => {
    // In Chinese, as they chose.
    await carpoolMember.goto(`${relay.url}/`);
    await carpoolMember.getByRole('button', { name: '退出 Road trip' }).click();
    await carpoolMember
      // The confirm button by its own words (not the last of both): a click that lands before it
      // shows would only open the confirmation again.
      .getByRole('button', { name: /^退出 Road trip .+/ })
      .click();
    await carpoolMember.getByText('你还没有加入任何组').waitFor();
    await expect(ask(keys.rider, 'hi')).rejects.toMatchObject({ status: 403 });

    await enterpriseMember.goto(`${relay.url}/`);
    await enterpriseMember.getByRole('button', { name: '退出 Lab bots' }).click();
    await enterpriseMember
      // The confirm button by its own words (not the last of both): a click that lands before it
      // shows would only open the confirmation again.
      .getByRole('button', { name: /^退出 Lab bots .+/ })
      .click();
    await enterpriseMember
      .getByRole('button', { name: /^退出 Lab bots/ })
      .first()
      .waitFor({ state: 'detached' });
  });
});
