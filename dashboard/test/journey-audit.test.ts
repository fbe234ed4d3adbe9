// The audit log read a page at a time in a real browser (Debian's Chromium through playwright-core)
// against an `npm run dev`-equivalent relay: an enterprise owner with more changes than one page
// (the dashboard asks for 50 at a time) presses "Load more" until there is no more, and sees every
// entry of the enterprise exactly once, in the API's order, and none of their other enterprise's,
// whose changes were made in between (the next pages keep the scope chosen).
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath } from './browser/chromium';
import { checkPage } from './browser/page-checks';
import { operatorCall, type Relay, seedUser, startRelay } from './browser/relay';
import { until } from './browser/until';

let relay: Relay;
let browser: Browser;
let owner: Page;
const OWNER = { email: 'olga@example.com', name: 'Olga Owner', password: 'olga-password-1' };
/** Renames of the enterprise read: with its creation, 121 entries, three pages of 50. */
const RENAMES = 120;
const ids = { acme: '', initech: '' };

interface Entry {
  action: string;
  targetType: string;
  targetId: string;
  detail: Record<string, unknown> | null;
}

/** The operator's API (a system admin), for what is set up before anyone signs in. */
const operator = <T>(method: string, path: string, body?: unknown) =>
  operatorCall<T>(relay, method, path, body);

/** An entry as the audit table shows it: what was done, to what, and the detail's JSON. */
const shown = (e: Entry) => [
  e.action,
  `${e.targetType} ${e.targetId}`,
  e.detail ? JSON.stringify(e.detail) : '',
];

/** The audit table's rows as shown (the columns of `shown`: the time and actor are left out). */
function rowsOf(page: Page) {
  return page
    .locator('table tbody tr')
    .evaluateAll((rows) =>
      rows.map((row) => [...row.querySelectorAll('td')].slice(2).map((cell) => cell.textContent ?? '')),
    );
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

describe.sequential('the audit log, a page at a time', () => {
  it('an owner of two enterprises has more changes in one than a page holds', async () => {
    const ownerId = await seedUser(relay, OWNER);
    ids.acme = (await operator<{ id: string }>('POST', '/enterprises', { name: 'Acme 0', ownerId })).id;
    ids.initech = (await operator<{ id: string }>('POST', '/enterprises', { name: 'Initech 0', ownerId })).id;
    for (let i = 1; i <= RENAMES; i++) {
      // The other enterprise's changes between them, some at the same time: a next page that lost
      // the scope would show them.
      await Promise.all([
        operator('PATCH', `/enterprises/${ids.acme}`, { name: `Acme ${i}` }),
        i % 3 === 0 ? operator('PATCH', `/enterprises/${ids.initech}`, { name: `Initech ${i}` }) : null,
      ]);
    }
  });

  it('"Load more" reads the next pages of the scope chosen until there is none', async () => {
    // What the API has, in one page of up to 1000: the list the pages must add up to.
    const all = await operator<{ data: Entry[]; nextCursor: string | null }>(
      'GET',
      `/audit?enterpriseId=${ids.acme}&limit=1000`,
    );
    expect(all.nextCursor).toBeNull();
    expect(all.data).toHaveLength(RENAMES + 1);
    const expected = all.data.map(shown);

    owner = await (
      await browser.newContext({ locale: 'en-US', viewport: { width: 1200, height: 900 } })
    ).newPage();
    await owner.goto(`${relay.url}/login`);
    await owner.getByLabel('Email').fill(OWNER.email);
    await owner.getByLabel('Password').fill(OWNER.password);
    await owner.getByRole('button', { name: 'Sign in' }).click();
    await owner.getByRole('heading', { name: 'My carpools' }).waitFor();
    await owner.getByRole('link', { name: 'Audit log' }).click();
    await owner.getByRole('heading', { name: 'Audit log' }).waitFor();
    await owner.getByRole('option', { name: `Acme ${RENAMES}` }).waitFor({ state: 'attached' });
    await owner.getByLabel('For', { exact: true }).selectOption({ label: `Acme ${RENAMES}` });
    await owner.getByText('50 changes shown').waitFor();
    await expect(rowsOf(owner)).resolves.toEqual(expected.slice(0, 50));

    // While the next page is on its way, the button says so and a second press asks nothing more.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const asked: URLSearchParams[] = [];
    await owner.route(/\/api\/v1\/audit\?/, async (route) => {
      asked.push(new URL(route.request().url()).searchParams);
      await held;
      await route.continue();
    });
    const more = owner.getByRole('button', { name: 'Load more' });
    await more.click();
    const loading = owner.getByRole('button', { name: 'Loading…' });
    await expect(loading.getAttribute('aria-disabled')).resolves.toBe('true');
    // Forced: Playwright waits for an aria-disabled button to be enabled; a person can press it.
    await loading.click({ force: true });
    await expect(rowsOf(owner)).resolves.toHaveLength(50);
    release();
    await owner.getByText('100 changes shown').waitFor();
    expect(asked).toHaveLength(1);

    // Every further page, until the button goes (bounded: a cursor ignored would never end).
    for (let press = 0; press < 5 && (await more.count()) > 0; press++) {
      const before = (await rowsOf(owner)).length;
      await more.click();
      await until(
        async () => (await rowsOf(owner)).length > before && (await loading.count()) === 0,
        'the next page of the audit log',
      );
    }
    const rows = await rowsOf(owner);
    expect(rows).toEqual(expected);
    // Said plainly: each rename once, newest first, and nothing of the other enterprise.
    const renamedTo = rows.flatMap(([, target, detail]) =>
      target === `enterprise ${ids.acme}` && detail?.includes('"after"')
        ? [(JSON.parse(detail) as { after: { name: string } }).after.name]
        : [],
    );
    expect(renamedTo).toEqual(Array.from({ length: RENAMES }, (_, i) => `Acme ${RENAMES - i}`));
    expect(rows.filter(([, target]) => target === `enterprise ${ids.initech}`)).toEqual([]);
    await expect(more.count()).resolves.toBe(0);
    await owner.getByText(`${RENAMES + 1} changes shown`).waitFor();
    // One request a page, each with the scope and page size beside the cursor.
    expect(asked.map((q) => [q.get('enterpriseId'), q.get('limit'), Boolean(q.get('cursor'))])).toEqual([
      [ids.acme, '50', true],
      [ids.acme, '50', true],
    ]);
    await owner.unroute(/\/api\/v1\/audit\?/);
    await checkPage(owner, 'audit-pages');
  });

  it('in Chinese, the first page again with 加载更多', async () => {
    await owner.evaluate(() => localStorage.setItem('aicarpool.language', 'zh-CN'));
    await owner.reload();
    await owner.getByRole('heading', { name: '审计日志' }).waitFor();
    await owner.getByLabel('范围', { exact: true }).waitFor();
    await owner.getByRole('option', { name: `Acme ${RENAMES}` }).waitFor({ state: 'attached' });
    await owner.getByLabel('范围', { exact: true }).selectOption({ label: `Acme ${RENAMES}` });
    await owner.getByText('已显示 50 条变更').waitFor();
    await owner.getByRole('button', { name: '加载更多' }).waitFor();
    await checkPage(owner, 'audit-pages-zh');
  });
});
