// Journey 2 in a real browser (Debian's Chromium through playwright-core) against an
// `npm run dev`-equivalent relay and the fake upstream: the system admin creates an enterprise for
// its owner; the owner creates a department, a group, a pool of two accounts and a hard budget; a
// request over budget is refused (official Anthropic SDK) and the budget bar shows it. Every admin
// page is visited in English and Chinese with axe and a screenshot (test-artifacts/screenshots/).
import { createServer, type Server } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath } from './browser/chromium';
import { checkPage } from './browser/page-checks';
import { type Relay, seedUser, startRelay } from './browser/relay';
import { until } from './browser/until';

let relay: Relay;
let browser: Browser;
let admin: Page;
let owner: Page;
let hooks: Server;
let hookUrl = '';
const hooksReceived: string[] = [];
const OWNER = { email: 'eve@example.com', name: 'Eve Enterprise', password: 'eve-password-1' };
const state = { ownerId: '', enterpriseId: '', groupId: '', key: '' };

beforeAll(async () => {
  const executablePath = chromiumPath();
  relay = await startRelay();
  // A webhook receiver on this machine (alerts allow plain http to 127.0.0.1 for local testing).
  hooks = createServer((request, response) => {
    let body = '';
    request.on('data', (d) => {
      body += d;
    });
    request.on('end', () => {
      hooksReceived.push(body);
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
  const address = hooks.address();
  hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  const viewport = { width: 1200, height: 900 };
  admin = await (await browser.newContext({ locale: 'en-US', viewport })).newPage();
  owner = await (await browser.newContext({ locale: 'en-US', viewport })).newPage();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (hooks ? hooks.close(resolve) : resolve(undefined)));
  await relay?.stop();
});

describe.sequential('an enterprise: pools, departments, groups and a hard budget', () => {
  it('the system admin creates the enterprise with its owner', async () => {
    // A link with a wrong token is no dead end: the refused token is shown, to be corrected.
    await admin.goto(`${relay.url}/setup?token=not-the-token`);
    await admin.getByLabel('Name').fill('Sam Sysadmin');
    await admin.getByLabel('Email').fill('sam@example.com');
    await admin.getByLabel('Password').fill('sam-password-1');
    await expect(admin.getByLabel('Setup token').count()).resolves.toBe(0);
    await admin.getByRole('button', { name: 'Create and sign in' }).click();
    await admin.getByText('The setup token is wrong.').waitFor();
    await expect(admin.getByLabel('Setup token').inputValue()).resolves.toBe('not-the-token');
    await admin.getByLabel('Setup token').fill(relay.setupToken);
    await admin.getByRole('button', { name: 'Create and sign in' }).click();
    await admin.getByRole('heading', { name: 'My carpools' }).waitFor();
    state.ownerId = await seedUser(relay, OWNER);

    await admin.getByRole('link', { name: 'System' }).click();
    await admin.getByRole('heading', { name: 'System', exact: true }).waitFor();
    const form = admin.getByRole('form', { name: 'Create an enterprise' });
    await form.getByLabel('Name').fill('Acme');
    await form.getByLabel("Owner's email").fill(OWNER.email);
    await form.getByRole('button', { name: 'Create an enterprise' }).click();
    await admin.getByRole('link', { name: 'Acme' }).first().waitFor();
    await expect(admin.getByRole('row', { name: /Eve Enterprise/ }).count()).resolves.toBe(1);
    // The admin renames a person (themself here): the list shows the new name.
    await admin.getByRole('button', { name: 'Rename Sam Sysadmin' }).click();
    const rename = admin.getByRole('form', { name: 'Rename Sam Sysadmin' });
    await rename.getByLabel('Name').fill('Sam S. Sysadmin');
    await rename.getByRole('button', { name: 'Save' }).click();
    await admin.getByRole('button', { name: 'Rename Sam S. Sysadmin' }).waitFor();
    await checkPage(admin, 'system');
  });

  it('a person who forgot their password gets back in through a password link', async () => {
    const forgetful = { email: 'frank@example.com', name: 'Frank Forgetful', password: 'frank-old-pass' };
    await seedUser(relay, forgetful);
    await admin.goto(`${relay.url}/system`);
    await admin.getByRole('button', { name: 'Password link for Frank Forgetful' }).click();
    const made = admin.getByRole('region', { name: 'Password link for Frank Forgetful' });
    const link = (await made.locator('code').textContent())!;
    expect(link).toMatch(new RegExp(`^${relay.url}/password/cppwd_[0-9a-f]{48}$`));

    const frank = await (await browser.newContext({ locale: 'en-US' })).newPage();
    await frank.goto(`${relay.url}/login`);
    await frank.getByText('Forgot your password? Ask a system administrator for a password link.').waitFor();
    await frank.goto(link);
    await expect(frank.getByTestId('password-link-for').textContent()).resolves.toBe(
      'For Frank Forgetful (frank@example.com). Every place you are signed in will be signed out.',
    );
    await checkPage(frank, 'password-link');
    await frank.getByLabel('New password').fill('frank-new-pass');
    await frank.getByLabel('The same password again').fill('frank-new-typo');
    await frank.getByRole('button', { name: 'Set my password and sign in' }).click();
    await frank.getByText('The two passwords differ.').waitFor();
    await frank.getByLabel('The same password again').fill('frank-new-pass');
    await frank.getByRole('button', { name: 'Set my password and sign in' }).click();
    await frank.getByRole('heading', { name: 'My carpools' }).waitFor();

    // The link worked once; the new password signs in, the old one does not.
    await frank.goto(link);
    await frank.getByText('This password link is unknown, used or expired: ask for a new one.').waitFor();
    const later = await (await browser.newContext({ locale: 'en-US' })).newPage();
    const signIn = async (password: string) => {
      await later.goto(`${relay.url}/login`);
      await later.getByLabel('Email').fill(forgetful.email);
      await later.getByLabel('Password').fill(password);
      await later.getByRole('button', { name: 'Sign in' }).click();
    };
    await signIn(forgetful.password);
    await later.getByText('Wrong email or password.').waitFor();
    await signIn('frank-new-pass');
    await later.getByRole('heading', { name: 'My carpools' }).waitFor();
    await frank.context().close();
    await later.context().close();
  });

  it('the owner signs in and sees the enterprise in the navigation, not the system page', async () => {
    await owner.goto(`${relay.url}/login`);
    await owner.getByLabel('Email').fill(OWNER.email);
    await owner.getByLabel('Password').fill(OWNER.password);
    await owner.getByRole('button', { name: 'Sign in' }).click();
    await owner.getByRole('link', { name: 'Acme' }).click();
    await owner.getByRole('heading', { name: 'Acme' }).waitFor();
    state.enterpriseId = owner.url().match(/enterprises\/([^/?]+)/)![1]!;
    await expect(owner.getByRole('link', { name: 'System' }).count()).resolves.toBe(0);
    await owner.goto(`${relay.url}/system`);
    await owner.getByRole('heading', { name: 'Not allowed' }).waitFor();
  });

  it('creates a pool of two accounts, a department and a group', async () => {
    await owner.goto(`${relay.url}/enterprises/${state.enterpriseId}`);
    for (const name of ['Pool A', 'Pool B']) {
      const form = owner.getByRole('form', { name: 'Add an account to a pool' });
      await form.getByLabel('Name').fill(name);
      await form.getByLabel('API key or credential').fill(`sk-fake.${name.at(-1)}.ok`);
      await form.getByLabel('Base URL').fill(relay.upstream);
      await form.getByRole('button', { name: 'Add an account to a pool' }).click();
      await owner.getByText(name).first().waitFor();
    }
    const pool = owner.getByRole('region', { name: 'anthropic' });
    await pool.getByText('2 accounts').waitFor();
    await pool.getByText('0 of 10 in use').first().waitFor();
    await pool.getByText('Ready').nth(1).waitFor();
    await expect(owner.getByText('0 cooling down, 0 disabled').count()).resolves.toBe(1);

    const department = owner.getByRole('form', { name: 'Add a department' });
    await department.getByLabel('Name').fill('Sales');
    await department.getByRole('button', { name: 'Add a department' }).click();
    await owner.getByRole('heading', { name: 'Sales' }).waitFor();
    // A sub-department, shown inside the one above it; and a second top-level one.
    await department.getByLabel('Name').fill('EMEA');
    await department.getByLabel('Under').selectOption({ label: 'Sales' });
    await department.getByRole('button', { name: 'Add a department' }).click();
    await owner
      .getByRole('region', { name: 'Sales', exact: true })
      .getByRole('heading', { name: 'EMEA' })
      .waitFor();
    await department.getByLabel('Name').fill('Support');
    await expect(department.getByLabel('Under').inputValue()).resolves.toBe('');
    await department.getByRole('button', { name: 'Add a department' }).click();
    await owner.getByRole('heading', { name: 'Support' }).waitFor();
    await expect(
      owner
        .getByRole('region', { name: 'Sales', exact: true })
        .getByRole('heading', { name: 'Support' })
        .count(),
    ).resolves.toBe(0);

    const group = owner.getByRole('form', { name: 'Add a group' });
    await group.getByLabel('Name').fill('Sales bots');
    await expect(
      group
        .getByLabel('Department')
        .locator('option')
        .evaluateAll((options) => options.map((o) => o.textContent)),
    ).resolves.toEqual(['No department', 'Sales', 'Sales › EMEA', 'Support']);
    await group.getByLabel('Department').selectOption({ label: 'Sales' });
    await group.getByRole('button', { name: 'Add a group' }).click();
    await owner.getByRole('region', { name: 'Sales', exact: true }).getByText('Sales bots').waitFor();

    // The group moves to Support and back; Support is renamed, then deleted once empty; Sales,
    // which is not empty, cannot be (the API's words are shown).
    const move = owner.getByRole('form', { name: 'Move a group' });
    await move.getByLabel('Department').selectOption({ label: 'Support' });
    await move.getByRole('button', { name: 'Move' }).click();
    await owner.getByRole('region', { name: 'Support', exact: true }).getByText('Sales bots').waitFor();
    await move.getByLabel('Department').selectOption({ label: 'Sales' });
    await move.getByRole('button', { name: 'Move' }).click();
    await owner.getByRole('region', { name: 'Sales', exact: true }).getByText('Sales bots').waitFor();
    const change = owner.getByRole('form', { name: 'Change a department' });
    await change.getByLabel('Department').selectOption({ label: 'Sales' });
    await change.getByRole('button', { name: 'Delete the department' }).click();
    await change.getByRole('button', { name: 'Delete Sales for good' }).click();
    await change.getByRole('alert').waitFor();
    await change.getByLabel('Department').selectOption({ label: 'Support' });
    await change.getByLabel('Name').fill('Care');
    await change.getByRole('button', { name: 'Save' }).click();
    await owner.getByRole('heading', { name: 'Care' }).waitFor();
    // Asked twice, and a double-click is not two answers: its second click lands on the confirm
    // button that took the first one's place, and must not delete.
    await change.getByRole('button', { name: 'Delete the department' }).dblclick();
    const confirmDelete = change.getByRole('button', { name: 'Delete Care for good' });
    await confirmDelete.waitFor();
    await owner.waitForTimeout(1000);
    await expect(owner.getByRole('heading', { name: 'Care' }).count()).resolves.toBe(1);
    await change.getByRole('button', { name: 'Cancel' }).click();
    // Nor is a repeated Enter: focus goes to Cancel when the question appears.
    await change.getByRole('button', { name: 'Delete the department' }).focus();
    await owner.keyboard.press('Enter');
    await owner.keyboard.press('Enter');
    await change.getByRole('button', { name: 'Delete the department' }).waitFor();
    await expect(owner.getByRole('heading', { name: 'Care' }).count()).resolves.toBe(1);
    await change.getByRole('button', { name: 'Delete the department' }).click();
    await confirmDelete.click();
    await until(
      async () => (await owner.getByRole('heading', { name: 'Care' }).count()) === 0,
      'Care deleted',
    );
    await owner
      .getByRole('region', { name: 'Sales', exact: true })
      .getByRole('heading', { name: 'EMEA' })
      .waitFor();
  });

  it('sets a hard monthly budget on the group', async () => {
    await owner.getByRole('link', { name: 'Budgets' }).click();
    await owner.getByRole('heading', { name: 'Budgets', exact: true }).waitFor();
    const form = owner.getByRole('form', { name: 'New budget' });
    // A department's budget may be set on a sub-department, named by its place in the tree.
    await form.getByLabel('Applies to').selectOption({ label: 'Department' });
    await expect(
      form
        .getByLabel('Department', { exact: true })
        .locator('option')
        .evaluateAll((options) => options.map((o) => o.textContent)),
    ).resolves.toEqual(['Choose…', 'Sales', 'Sales › EMEA']);
    await form.getByLabel('Applies to').selectOption({ label: 'Group' });
    await form.getByLabel('Group', { exact: true }).selectOption({ label: 'Sales bots' });
    await form.getByLabel('Period').selectOption({ label: 'Monthly' });
    await form.getByLabel('When reached').selectOption({ label: 'refuse requests' });
    // One micro-dollar: the first request is admitted (nothing spent yet) and spends past it.
    await form.getByLabel('Limit (US$)').fill('0.000001');
    await form.getByRole('button', { name: 'Create the budget' }).click();
    const budget = owner.getByRole('region', { name: 'Group: Sales bots' });
    await budget.getByText('$0.00 spent, $0.00 reserved, of $0.0000').waitFor();
    await checkPage(owner, 'budgets');
  });

  it('a request over the budget is refused (Anthropic SDK), and the budget bar shows it', async () => {
    // The enterprise's creator takes no seat in its groups: the owner joins this one and makes a key.
    state.key = await owner.evaluate(
      async ({ ownerId }) => {
        const groups = (await (await fetch('/api/v1/groups')).json()) as {
          data: { id: string; name: string }[];
        };
        const groupId = groups.data.find((g) => g.name === 'Sales bots')!.id;
        const post = (path: string, body: unknown) =>
          fetch(`/api/v1${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
        const joined = await post(`/groups/${groupId}/members`, { userId: ownerId });
        if (!joined.ok) throw new Error(`joining: ${joined.status} ${await joined.text()}`);
        const made = await post('/keys', { groupId, name: 'e2e' });
        if (!made.ok) throw new Error(`key: ${made.status} ${await made.text()}`);
        return ((await made.json()) as { key: string }).key;
      },
      { ownerId: state.ownerId },
    );
    const client = new Anthropic({ baseURL: relay.url, apiKey: state.key, maxRetries: 0 });
    const ask = () =>
      client.messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'Hello from the enterprise' }],
      });
    const first = await ask();
    expect(first.content.length).toBeGreaterThan(0);

    let refusal: { status: number; message: string } | undefined;
    await until(async () => {
      try {
        await ask();
        return false;
      } catch (err) {
        if (!(err instanceof Anthropic.APIError)) throw err;
        // 429: the budget is committed to the first request until it settles; ask again.
        if (err.status === 429) return false;
        refusal = { status: err.status ?? 0, message: err.message };
        return true;
      }
    }, 'the budget to refuse');
    expect(refusal?.status).toBe(402);
    expect(refusal?.message).toMatch(/budget/i);

    // The month's cost and active groups come from one read-out of the enterprise, not one per group
    // (once the request is metered, so the page's first read-out already counts it).
    await until(
      () =>
        owner.evaluate(async (enterpriseId) => {
          const res = await fetch(`/api/v1/usage?enterpriseId=${enterpriseId}`);
          return ((await res.json()) as { totals: { requests: number } }).totals.requests > 0;
        }, state.enterpriseId),
      'the request metered',
    );
    const usageReads: string[] = [];
    const onRequest = (r: { url(): string }) => {
      if (/\/api\/v1\/usage\?/.test(r.url())) usageReads.push(r.url());
    };
    owner.on('request', onRequest);
    await owner.goto(`${relay.url}/enterprises/${state.enterpriseId}`);
    const sales = owner.getByRole('region', { name: 'Sales', exact: true });
    await sales.getByText('limit reached').waitFor();
    const stat = (label: string) =>
      owner.locator('.stat', { has: owner.getByText(label, { exact: true }) }).locator('.stat-value');
    await until(
      async () => (await stat('Active groups this month').textContent()) === '1',
      'an active group',
    );
    await expect(stat('Cost this month').textContent()).resolves.toMatch(/^\$0\.\d*[1-9]/);
    owner.off('request', onRequest);
    expect(usageReads).toHaveLength(1);
    expect(new URL(usageReads[0]!).searchParams.get('enterpriseId')).toBe(state.enterpriseId);
    // Spent is more than nothing: the request that went through is counted against the limit.
    await expect(sales.getByText(/\$0\.\d*[1-9]\d* spent, /).count()).resolves.toBeGreaterThan(0);
    await checkPage(owner, 'enterprise');

    await owner.goto(`${relay.url}/budgets`);
    await owner.getByRole('region', { name: 'Group: Sales bots' }).getByText('limit reached').waitFor();
  });

  it('accounts health: both accounts, and a probe answered by the upstream', async () => {
    await owner.getByRole('link', { name: 'Accounts' }).click();
    await owner.getByRole('heading', { name: 'Accounts health' }).waitFor();
    await owner.getByRole('heading', { name: /Pool A/ }).waitFor();
    await owner.getByRole('heading', { name: /Pool B/ }).waitFor();
    await owner.getByRole('button', { name: 'Probe' }).first().click();
    await owner.getByText('The upstream accepted the credential.').waitFor();
    // Pool B takes more requests at once, and a new key: a wrong one the probe refuses, then a
    // right one it accepts (so the key reached the account).
    const poolB = owner
      .locator('section.card')
      .filter({ has: owner.getByRole('heading', { name: /Pool B/ }) });
    await poolB.getByText('Settings').click();
    const settings = owner.getByRole('form', { name: 'Settings of Pool B' });
    await expect(settings.getByRole('button', { name: 'Save' }).isDisabled()).resolves.toBe(true);
    await settings.getByLabel('Concurrent requests at most').fill('7');
    await settings.getByLabel('New API key').fill('sk-wrong');
    await settings.getByRole('button', { name: 'Save' }).click();
    await settings.getByText('Saved.').waitFor();
    await poolB.getByText('0 of 7 in use').waitFor();
    await poolB.getByRole('button', { name: 'Probe' }).click();
    await poolB.getByText('The upstream refused the credential (status 401).').waitFor();
    await settings.getByLabel('New API key').fill('sk-fake.B.ok');
    await settings.getByRole('button', { name: 'Save' }).click();
    await settings.getByText('Saved.').waitFor();
    await poolB.getByRole('button', { name: 'Probe' }).click();
    await poolB.getByText('The upstream accepted the credential.').waitFor();
    await checkPage(owner, 'accounts');
  });

  it('usage of the group: the request counted, cost per day charted', async () => {
    // Opened directly (no admin page before it in this tab): the page brings its own styles.
    await owner.goto(`${relay.url}/usage`);
    await owner.getByRole('heading', { name: 'Usage' }).waitFor();
    await owner.getByLabel('Whose usage').selectOption({ label: 'Group: Sales bots' });
    await owner.getByRole('heading', { name: 'Cost per day' }).waitFor();
    await owner.locator('.adm-chart canvas').waitFor();
    const models = owner.getByRole('list', { name: 'Tokens by model' });
    await models.getByText('claude-haiku-4-5').waitFor();
    await expect(models.evaluate((l) => getComputedStyle(l).listStyleType)).resolves.toBe('none');
    // The chosen range looks chosen, not only to a screen reader.
    const background = (name: string) =>
      owner.getByRole('button', { name, exact: true }).evaluate((b) => getComputedStyle(b).backgroundColor);
    expect(await background('This month')).not.toBe(await background('Last 30 days'));
    // Over more than 7 days the days come from byDay: the day table shows what the card says.
    await owner.getByRole('button', { name: 'Last 30 days', exact: true }).click();
    await owner.getByText('Days are UTC days', { exact: false }).waitFor();
    await owner.getByText('As a table').click();
    const cost = await owner.locator('.stat', { hasText: 'Cost' }).locator('.stat-value').textContent();
    expect(cost).not.toBe('$0.00');
    await until(
      async () => {
        const cells = await owner
          .locator('details', { hasText: 'As a table' })
          .locator('td.num')
          .allTextContents();
        return cells.length >= 30 && cells.some((c) => c !== '$0.00');
      },
      'a day with the group’s cost',
      10_000,
    );
    // The whole enterprise, in one read-out: its cost by group, its members by name.
    await owner.getByLabel('Whose usage').selectOption({ label: 'Enterprise: Acme' });
    await owner.getByRole('list', { name: 'Cost by group' }).getByText('Sales bots').waitFor();
    await owner.getByRole('list', { name: 'Tokens by member' }).getByText(OWNER.name).waitFor();
    // One department of it: the departments as a tree, each read on its own.
    const department = owner.getByLabel('Department');
    await expect(
      department.locator('option').evaluateAll((options) => options.map((o) => o.textContent)),
    ).resolves.toEqual(['All departments', 'Sales', 'Sales › EMEA']);
    await department.selectOption({ label: 'Sales' });
    await owner.getByRole('list', { name: 'Cost by group' }).getByText('Sales bots').waitFor();
    await department.selectOption({ label: 'Sales › EMEA' });
    await owner.getByText('Nothing used in this range.').first().waitFor();
    await expect(owner.getByRole('list', { name: 'Cost by group' }).count()).resolves.toBe(0);
    await department.selectOption({ label: 'All departments' });
    await owner.getByRole('list', { name: 'Cost by group' }).getByText('Sales bots').waitFor();
    await owner.getByRole('button', { name: 'Last 7 days' }).click();
    await expect(
      owner.getByRole('button', { name: 'Last 7 days' }).getAttribute('aria-pressed'),
    ).resolves.toBe('true');
    await checkPage(owner, 'usage');
  });

  it('alerts: an endpoint with a test send in its delivery log, and a budget rule', async () => {
    await owner.getByRole('link', { name: 'Alerts' }).click();
    await owner.getByRole('heading', { name: 'Alerts' }).waitFor();
    const form = owner.getByRole('form', { name: 'Add an endpoint' });
    await form.getByLabel('Name').fill('Ops hook');
    await form.getByLabel('Webhook URL').fill(hookUrl);
    await form.getByRole('button', { name: 'Add an endpoint' }).click();
    await owner.getByText('The signing secret, shown this once').waitFor();
    await owner.getByRole('button', { name: 'Send a test' }).click();
    await owner.getByRole('cell', { name: 'Delivered' }).waitFor({ timeout: 45_000 });
    expect(hooksReceived.length).toBeGreaterThan(0);

    const rule = owner.getByRole('form', { name: 'Add a rule' });
    // The budgets of this scope, named (not "Group · Monthly").
    await expect(
      rule
        .getByLabel('Budget', { exact: true })
        .locator('option')
        .evaluateAll((options) => options.map((o) => o.textContent)),
    ).resolves.toEqual(['Every budget in scope', 'Group: Sales bots · Monthly']);
    await rule.getByLabel('Name').fill('Sales budget');
    await rule.getByLabel('Send to').selectOption({ label: 'Ops hook' });
    await rule.getByRole('button', { name: 'Add a rule' }).click();
    await owner.getByText(/Sales budget · A budget passes a threshold/).waitFor();

    // A new signing secret, asked twice, shown once, not the first one.
    const first = await owner.locator('.secret code').first().textContent();
    const hook = owner.getByRole('region', { name: 'Ops hook' });
    await hook.getByRole('button', { name: 'New signing secret' }).click();
    await hook.getByRole('button', { name: 'Replace the secret (the old one stops working)' }).click();
    await hook.getByText('The new signing secret, shown this once').waitFor();
    const second = await hook.locator('.secret code').textContent();
    expect(second).toMatch(/\S{16,}/);
    expect(second).not.toBe(first);

    // The rule silenced for a day, then the silence ended early.
    const silences = owner.getByRole('form', { name: 'Silence a rule' });
    await silences.getByLabel('Rule').selectOption({ label: 'Sales budget' });
    await silences.getByLabel('For').selectOption({ label: 'a day' });
    await silences.getByLabel('Why (optional)').fill('quarter end');
    await silences.getByRole('button', { name: 'Silence a rule' }).click();
    await owner.getByText(/silenced until .* · quarter end/).waitFor();
    await owner.getByRole('button', { name: 'End now' }).click();
    await owner.getByText('No rule is silenced.').waitFor();
    await expect(owner.getByText('Nothing has fired yet.').count()).resolves.toBe(1);

    // Something fires: the group's budget made soft for a moment, one more request spends past it.
    const setMode = (mode: 'soft' | 'hard') =>
      owner.evaluate(async (mode) => {
        const budgets = (await (await fetch('/api/v1/budgets')).json()) as { data: { id: string }[] };
        const res = await fetch(`/api/v1/budgets/${budgets.data[0]!.id}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ mode }),
        });
        if (!res.ok) throw new Error(`budget mode: ${res.status} ${await res.text()}`);
      }, mode);
    await setMode('soft');
    const client = new Anthropic({ baseURL: relay.url, apiKey: state.key, maxRetries: 0 });
    await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'One more' }],
    });
    await setMode('hard');
    const silenceIt = owner.getByRole('button', { name: 'Silence Sales bots, monthly for a day' });
    await until(async () => {
      await owner.reload();
      await owner.getByRole('heading', { name: 'What fired' }).waitFor();
      // The card's heading shows before its list has loaded: wait for the list, or its absence.
      await owner.getByText('Nothing has fired yet.').or(silenceIt.first()).waitFor();
      return (await silenceIt.count()) > 0;
    }, 'the budget alert to fire');
    await owner.getByRole('cell', { name: 'Firing' }).first().waitFor();
    // Silenced for that budget only, from its row: the rule stays on for every other budget.
    await silenceIt.first().click();
    await owner.getByText(/Sales budget · only Sales bots, monthly · silenced until/).waitFor();
    await expect(silenceIt.count()).resolves.toBe(0);
    await checkPage(owner, 'alerts');
  });

  it('the audit log names what was done', async () => {
    await owner.getByRole('link', { name: 'Audit log' }).click();
    await owner.getByRole('heading', { name: 'Audit log' }).waitFor();
    await owner.getByRole('cell', { name: 'budget.create' }).waitFor();
    await owner.getByRole('cell', { name: 'department.create' }).first().waitFor();
    await checkPage(owner, 'audit');
  });

  it('a person the owner adds by email sees the enterprise at home and leaves it', async () => {
    const gina = { email: 'gina@example.com', name: 'Gina Guest', password: 'gina-password-1' };
    await seedUser(relay, gina);
    await owner.goto(`${relay.url}/enterprises/${state.enterpriseId}`);
    const add = owner.getByRole('form', { name: 'Add a member' });
    await add.getByLabel('Email').fill(gina.email);
    await add.getByLabel('Role').selectOption('admin');
    await add.getByRole('button', { name: 'Add a member' }).click();
    await owner.getByRole('cell', { name: 'Gina Guest', exact: true }).waitFor();

    const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
    await page.goto(`${relay.url}/login`);
    await page.getByLabel('Email').fill(gina.email);
    await page.getByLabel('Password').fill(gina.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const mine = page.locator('section', { has: page.getByRole('heading', { name: 'My enterprises' }) });
    await mine.getByRole('row', { name: /Acme\s+Admin/ }).waitFor();
    await checkPage(page, 'home-enterprises');
    await mine.getByRole('button', { name: 'Leave Acme' }).click();
    await mine.getByRole('button', { name: 'Leave Acme, its groups, and revoke my keys there' }).click();
    await mine.waitFor({ state: 'detached' });
    await page.context().close();

    await owner.reload();
    await owner.getByRole('heading', { name: 'Members and roles' }).waitFor();
    // The list has loaded (its owner is in it) before Gina's absence means anything.
    await owner.getByRole('cell', { name: OWNER.name, exact: true }).waitFor();
    await expect(owner.getByRole('cell', { name: 'Gina Guest', exact: true }).count()).resolves.toBe(0);
  });

  it('every admin page in Chinese', async () => {
    await owner.goto(`${relay.url}/enterprises/${state.enterpriseId}`);
    await owner.getByLabel('Language').selectOption('zh-CN');
    await owner.getByRole('heading', { name: '账号池' }).waitFor();
    await owner.getByText('已达上限').first().waitFor();
    await checkPage(owner, 'enterprise-zh');
    const pages: [string, string, string][] = [
      ['/accounts', '账号健康', 'accounts-zh'],
      ['/usage', '用量', 'usage-zh'],
      ['/budgets', '预算', 'budgets-zh'],
      ['/alerts', '告警', 'alerts-zh'],
      ['/audit', '审计日志', 'audit-zh'],
    ];
    for (const [path, heading, shot] of pages) {
      await owner.goto(`${relay.url}${path}`);
      await owner.getByRole('heading', { name: heading, exact: true }).waitFor();
      await checkPage(owner, shot);
    }
    await admin.goto(`${relay.url}/system`);
    await admin.getByLabel('Language').selectOption('zh-CN');
    await admin.getByRole('heading', { name: '系统', exact: true }).waitFor();
    await checkPage(admin, 'system-zh');
  });

  it('the enterprise page on a 390 px wide phone', async () => {
    await owner.setViewportSize({ width: 390, height: 844 });
    await owner.goto(`${relay.url}/enterprises/${state.enterpriseId}`);
    await owner.getByRole('heading', { name: '账号池' }).waitFor();
    // A table keeps its words whole (it scrolls in its card): the owner's address is one line, not
    // a column of single letters.
    const lines = await owner.getByRole('cell', { name: OWNER.email, exact: true }).evaluate((cell) => {
      const range = document.createRange();
      range.selectNodeContents(cell);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
    });
    expect(lines).toBe(1);
    await checkPage(owner, 'enterprise-390-zh');
  });

  it('the owner renames the enterprise (in Chinese, as she chose)', async () => {
    await owner.setViewportSize({ width: 1200, height: 900 });
    const form = owner.getByRole('form', { name: '重命名企业' });
    await form.getByLabel('名称').fill('Acme Corp');
    await form.getByRole('button', { name: '重命名企业' }).click();
    await owner.getByRole('heading', { name: 'Acme Corp', level: 1 }).waitFor();
  });

  it('the owner makes herself an admin: the page leaves owner mode at once', async () => {
    // A second owner first (the last one may not step down): the system admin, by email.
    const add = owner.getByRole('form', { name: '添加成员' });
    await add.getByLabel('邮箱').fill('sam@example.com');
    await add.getByLabel('角色').selectOption('owner');
    await add.getByRole('button', { name: '添加成员' }).click();
    await owner.getByRole('cell', { name: 'Sam S. Sysadmin', exact: true }).waitFor();
    await owner.getByRole('form', { name: '重命名企业' }).waitFor();
    await owner.locator(`select[name="role-${state.ownerId}"]`).selectOption('admin');
    // /me is read again: the owner's forms go without a reload.
    await owner.getByRole('form', { name: '重命名企业' }).waitFor({ state: 'detached' });
    await expect(owner.getByRole('form', { name: '添加成员' }).count()).resolves.toBe(0);
  });
});
