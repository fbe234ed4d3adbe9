// A two-step confirmation ("Leave …", then "Leave … and revoke my keys in it") in a real browser
// (Debian's Chromium through playwright-core) against an `npm run dev`-equivalent relay, while the
// page's reads refresh underneath it: on window focus, after another change on the same page, and
// when a refresh fails on the way. An open confirmation keeps its state in the page (ui.tsx
// ConfirmButton), so whatever unmounts the page or its row closes it, and a click meant for the
// confirm button lands on the first one and only opens it again.
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath } from './browser/chromium';
import { operatorCall, type Relay, seedUser, startRelay } from './browser/relay';
import { until } from './browser/until';

let relay: Relay;
let browser: Browser;
// Each test's signed-in browsers, closed after it whatever its outcome.
const contexts: BrowserContext[] = [];
const OWNER = { email: 'olga@example.com', name: 'Olga Owner', password: 'olga-password-1' };
const MEMBER = { email: 'max@example.com', name: 'Max Member', password: 'max-password-1' };
const ids = { owner: '', member: '', enterprise: '' };

/** The operator's API (a system admin), for what is set up before anyone signs in. */
const operator = <T>(method: string, path: string, body?: unknown) =>
  operatorCall<T>(relay, method, path, body);

async function signIn(
  person: { email: string; password: string },
  options: { clock?: boolean } = {},
): Promise<Page> {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1200, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  // The page's clock, to move it on: who is signed in is read again on focus once a minute old.
  if (options.clock) await page.clock.install();
  await page.goto(`${relay.url}/login`);
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel('Password').fill(person.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'My carpools' }).waitFor();
  return page;
}

/**
 * The person comes back to the tab: the event TanStack Query's focus manager listens for, so every
 * stale read on the page is asked again. Resolves once the page has none in flight.
 */
async function refocus(page: Page) {
  await page.evaluate(() => window.dispatchEvent(new Event('visibilitychange')));
  await settled(page);
}

/** Until the page has no read or write in flight (the layout's aria-busy). */
async function settled(page: Page) {
  await until(
    async () => (await page.locator('main').getAttribute('aria-busy')) === 'false',
    'the page to settle',
    20_000,
  );
}

/** A group of the enterprise with the member in it, one per test: each stands alone. */
async function groupWithMember(name: string): Promise<string> {
  const group = await operator<{ id: string }>('POST', '/groups', {
    name,
    kind: 'enterprise',
    enterpriseId: ids.enterprise,
  });
  await operator('POST', `/groups/${group.id}/members`, { userId: ids.member, role: 'member' });
  return group.id;
}

/** Whether the member is still in the group, as the API says. */
async function memberIn(groupId: string): Promise<boolean> {
  const group = await operator<{ members: { userId: string }[] }>('GET', `/groups/${groupId}`);
  return group.members.some((m) => m.userId === ids.member);
}

/** The errors the page shows. */
function errors(page: Page) {
  return page.locator('[role="alert"].error');
}

/** `act` with every read of `path` failing as a dropped connection does; at least one is asked. */
async function dropOnce(page: Page, path: string, act: () => Promise<void>) {
  const match = (url: URL) => url.pathname === path;
  let dropped = 0;
  await page.route(match, (route) => {
    dropped += 1;
    return route.abort('connectionreset');
  });
  await act();
  await page.unroute(match);
  expect(dropped, `reads of ${path} dropped`).toBeGreaterThan(0);
}

beforeAll(async () => {
  const executablePath = chromiumPath();
  relay = await startRelay();
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  ids.owner = await seedUser(relay, OWNER);
  ids.member = await seedUser(relay, MEMBER);
  ids.enterprise = (
    await operator<{ id: string }>('POST', '/enterprises', { name: 'Initech', ownerId: ids.owner })
  ).id;
  await operator('POST', `/enterprises/${ids.enterprise}/members`, { userId: ids.member, role: 'member' });
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
});

describe.sequential('a confirmation while the page refreshes', () => {
  it('stays open through a focus refresh and another change on the page, and its click acts', async () => {
    const groupId = await groupWithMember('Printer bots');
    const page = await signIn(MEMBER);
    await settled(page);
    await page.getByRole('button', { name: 'Leave Printer bots', exact: true }).click();
    const confirm = page.getByRole('button', { name: 'Leave Printer bots and revoke my keys in it' });
    await confirm.waitFor();

    await refocus(page);
    // Another change in the same card: the key list is invalidated and read again, from none to one.
    await page.getByText('Create a key').click();
    await page.getByLabel('Name', { exact: true }).fill('bench script');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('button', { name: 'Revoke bench script', exact: true }).waitFor();
    await settled(page);

    await expect(confirm.isVisible()).resolves.toBe(true);
    await confirm.click();
    await page
      .getByRole('button', { name: /^Leave Printer bots/ })
      .first()
      .waitFor({ state: 'detached' });
    await expect(memberIn(groupId)).resolves.toBe(false);
  });

  it('stays open when a refresh fails on the way, and acts once the relay answers again', async () => {
    const groupId = await groupWithMember('Stapler bots');
    const page = await signIn(OWNER);
    // The enterprise's owner manages its group without being in it: the guard reads the groups,
    // the page the group; each is asked again on focus.
    await page.goto(`${relay.url}/groups/${groupId}`);
    await page.getByRole('heading', { name: 'Stapler bots', exact: true }).waitFor();
    await settled(page);
    await page.getByRole('button', { name: 'Remove Max Member', exact: true }).click();
    const confirm = page.getByRole('button', { name: 'Remove Max Member and revoke their keys' });
    await confirm.waitFor();

    // The relay out of reach for one round of reads (a dropped connection: nothing answers): first
    // the guard's (the groups), then the page's own (the group).
    for (const path of ['/api/v1/groups', `/api/v1/groups/${groupId}`]) {
      await dropOnce(page, path, () => refocus(page));
      // The failure is said, and what was shown stays, the confirmation open in it.
      await expect(errors(page).count(), path).resolves.toBeGreaterThan(0);
      await expect(confirm.isVisible(), path).resolves.toBe(true);
    }

    await refocus(page);
    await expect(errors(page).count()).resolves.toBe(0);
    await expect(confirm.isVisible()).resolves.toBe(true);
    await confirm.click();
    await page
      .getByRole('button', { name: /^Remove Max Member/ })
      .first()
      .waitFor({ state: 'detached' });
    await expect(memberIn(groupId)).resolves.toBe(false);
  });

  it('stays open on the home page when the read of who is signed in fails, and acts after', async () => {
    const groupId = await groupWithMember('Fax bots');
    const page = await signIn(MEMBER, { clock: true });
    await settled(page);
    await page.getByRole('button', { name: 'Leave Fax bots', exact: true }).click();
    const confirm = page.getByRole('button', { name: 'Leave Fax bots and revoke my keys in it' });
    await confirm.waitFor();

    // A minute on, the person comes back to the tab and the relay is out of reach: every page's
    // guard reads who is signed in again, and that read fails.
    await page.clock.fastForward('01:05');
    await dropOnce(page, '/api/v1/me', () => refocus(page));
    await expect(errors(page).count()).resolves.toBeGreaterThan(0);
    await expect(confirm.isVisible()).resolves.toBe(true);

    await page.clock.fastForward('01:05');
    await refocus(page);
    await expect(errors(page).count()).resolves.toBe(0);
    await confirm.click();
    await page
      .getByRole('button', { name: /^Leave Fax bots/ })
      .first()
      .waitFor({ state: 'detached' });
    await expect(memberIn(groupId)).resolves.toBe(false);
  });

  it('a manager back home from the budgets page sees their own keys, not every member’s', async () => {
    // The budgets page names a key budget's key from every key of its group (a manager's read);
    // the home page lists one's own. Both were cached under one query key, so going home showed
    // the manager every member's keys as theirs, each with a Revoke button, until the next read,
    // and for good when that read failed.
    const groupId = await groupWithMember('Copier bots');
    await operator('POST', `/groups/${groupId}/members`, { userId: ids.owner, role: 'owner' });
    await operator('POST', '/keys', { groupId, userId: ids.owner, name: 'olga desk' });
    const theirs = await operator<{ id: string }>('POST', '/keys', {
      groupId,
      userId: ids.member,
      name: 'max laptop',
    });
    await operator('POST', '/budgets', {
      scope: 'key',
      keyId: theirs.id,
      period: 'month',
      limitMicros: 5_000_000,
    });

    const page = await signIn(OWNER);
    await page.getByRole('button', { name: 'Revoke olga desk', exact: true }).waitFor();
    await page.getByRole('navigation').getByRole('link', { name: 'Budgets', exact: true }).click();
    await page.getByText('max laptop').first().waitFor();
    await settled(page);

    await dropOnce(page, '/api/v1/keys', async () => {
      await page.getByRole('navigation').getByRole('link', { name: 'Home', exact: true }).click();
      await page.getByRole('heading', { name: 'My carpools' }).waitFor();
      await settled(page);
    });
    await expect(
      page.getByRole('button', { name: 'Revoke olga desk', exact: true }).isVisible(),
    ).resolves.toBe(true);
    await expect(page.getByRole('button', { name: 'Revoke max laptop', exact: true }).count()).resolves.toBe(
      0,
    );
  });

  it('once confirmed, stays disabled until the page has read the change: a second click sends nothing', async () => {
    const groupId = await groupWithMember('Scanner bots');
    const page = await signIn(MEMBER);
    await settled(page);
    await page.getByRole('button', { name: 'Leave Scanner bots', exact: true }).click();
    const confirm = page.getByRole('button', { name: 'Leave Scanner bots and revoke my keys in it' });
    await confirm.waitFor();

    // The reads that take the group off the page are held until the test lets them go.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const reads = (url: URL) => url.pathname === '/api/v1/me' || url.pathname === '/api/v1/groups';
    await page.route(reads, async (route) => {
      await held;
      await route.continue();
    });
    const leavePath = `/api/v1/groups/${groupId}/leave`;
    let leaves = 0;
    page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === leavePath) leaves += 1;
    });
    const left = page.waitForResponse((response) => new URL(response.url()).pathname === leavePath);
    await confirm.click();
    expect((await left).status()).toBe(200);
    await page.waitForTimeout(500);
    await expect(confirm.isDisabled()).resolves.toBe(true);
    await confirm.click({ force: true });

    release();
    await page
      .getByRole('button', { name: /^Leave Scanner bots/ })
      .first()
      .waitFor({ state: 'detached' });
    await page.unroute(reads);
    expect(leaves).toBe(1);
    await expect(memberIn(groupId)).resolves.toBe(false);
  });
});
