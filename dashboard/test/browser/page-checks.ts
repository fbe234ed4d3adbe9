// What every page visited in the browser tests must hold: no serious or critical axe-core
// violation, no horizontal scroll at the viewport's width, nothing the Content-Security-Policy
// (dashboard/vite.config.ts, `_headers`) refused since the page was first checked; and a
// screenshot of it in test-artifacts/screenshots/.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
export const screenshots = join(root, 'test-artifacts', 'screenshots');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** What the Content-Security-Policy refused on each page, from its first check on. */
const refused = new WeakMap<Page, string[]>();

function watchPolicy(page: Page): string[] {
  let seen = refused.get(page);
  if (!seen) {
    const list: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' && message.text().includes('Content Security Policy'))
        list.push(message.text());
    });
    refused.set(page, list);
    seen = list;
  }
  return seen;
}

export async function checkPage(page: Page, name: string) {
  const policy = watchPolicy(page);
  // The layout marks <main> aria-busy while any query or mutation is in flight.
  await page.waitForLoadState('load');
  await page.waitForFunction(() => document.querySelector('main')?.getAttribute('aria-busy') === 'false');
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
  // Evaluated rather than added as a <script>: the dashboard's policy refuses inline scripts.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe is injected into the page as a global.
    const result = await (window as any).axe.run(document, { resultTypes: ['violations'] });
    return result.violations as Violation[];
  });
  const serious = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(serious, `axe on ${name}`).toEqual([]);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, `horizontal scroll on ${name}`).toBeLessThanOrEqual(0);
  expect(policy, `Content-Security-Policy on ${name}`).toEqual([]);
}
