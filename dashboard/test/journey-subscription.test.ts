// Subscription accounts in a real browser (Debian's Chromium through playwright-core) against an
// `npm run dev`-equivalent relay whose sign-in endpoints are the fake authorization server
// (test/fake-oauth, served over HTTP beside the fake upstream from one loaded fake, so the access
// tokens it issues are the ones the upstream accepts): the admin signs in a Claude and a ChatGPT
// plan for two carpools — terms confirmed, the provider's page followed in a second tab, the code
// pasted back (a wrong one first: a clear error) — and a Gemini Code Assist plan, allowed by the
// deployment (GEMINI_OAUTH_ENABLED) and signed in past Google's terms warning; a member's requests
// flow through them with the official SDKs, and the accounts page shows each plan's 5 h and 7 d
// windows with their countdowns (none for Code Assist, which reports none).
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath } from './browser/chromium';
import { checkPage } from './browser/page-checks';
import { type Relay, seedUser, startRelay } from './browser/relay';

let relay: Relay;
let browser: Browser;
let adminContext: BrowserContext;
let admin: Page;
let member: Page;
const MEMBER = { email: 'mia@example.com', name: 'Mia Member', password: 'mia-password-1' };

// Where each provider sends the person back (the relay's defaults, worker/providers/*/oauth-config.ts).
const CLAUDE_CALLBACK = 'https://platform.claude.com/oauth/code/callback';
const CODEX_CALLBACK = 'http://localhost:1455/auth/callback';
const GEMINI_CALLBACK = 'https://codeassist.google.com/authcode';
const CALLBACKS = {
  'claude-oauth': CLAUDE_CALLBACK,
  'codex-oauth': CODEX_CALLBACK,
  'gemini-oauth': GEMINI_CALLBACK,
};

type Kind = 'claude-oauth' | 'codex-oauth' | 'gemini-oauth';
const KINDS = ['claude-oauth', 'codex-oauth', 'gemini-oauth'] as const;
const now = () => Math.floor(Date.now() / 1000);
const PLANS: Record<
  Kind,
  {
    option: string;
    group: string;
    account: string;
    tag: string;
    path: string;
    headers: () => Record<string, string>;
  }
> = {
  'claude-oauth': {
    option: 'Claude (Pro / Max)',
    group: 'Claude carpool',
    account: 'Claude plan',
    tag: 'claudeplan',
    path: '',
    // Anthropic's unified windows: utilization a fraction, reset in epoch seconds.
    headers: () => ({
      'anthropic-ratelimit-unified-status': 'allowed',
      'anthropic-ratelimit-unified-5h-utilization': '0.42',
      'anthropic-ratelimit-unified-5h-reset': String(now() + 2 * 3600),
      'anthropic-ratelimit-unified-5h-status': 'allowed',
      'anthropic-ratelimit-unified-7d-utilization': '0.1',
      'anthropic-ratelimit-unified-7d-reset': String(now() + 3 * 86400),
      'anthropic-ratelimit-unified-7d-status': 'allowed',
    }),
  },
  'codex-oauth': {
    option: 'ChatGPT (Codex)',
    group: 'Codex carpool',
    account: 'ChatGPT plan',
    tag: 'codexplan',
    // The ChatGPT backend's own path, which the fake holds to its rules (instructions, store: false).
    path: '/backend-api/codex',
    // Codex's windows, weekly as primary (as some plans report it): named by length, not position.
    headers: () => ({
      'x-codex-primary-used-percent': '37',
      'x-codex-primary-window-minutes': '10080',
      'x-codex-primary-reset-after-seconds': String(2 * 86400),
      'x-codex-secondary-used-percent': '12',
      'x-codex-secondary-window-minutes': '300',
      'x-codex-secondary-reset-after-seconds': '3600',
    }),
  },
  'gemini-oauth': {
    option: 'Gemini Code Assist (Google account)',
    group: 'Gemini carpool',
    account: 'Gemini plan',
    tag: 'geminiplan',
    // The relay adds /v1internal; the fake knows Code Assist by those paths on any host.
    path: '',
    // Code Assist reports no usage windows on its responses.
    headers: () => ({}),
  },
};
const state: Record<Kind, { groupId: string; inviteLink: string; key: string }> = {
  'claude-oauth': { groupId: '', inviteLink: '', key: '' },
  'codex-oauth': { groupId: '', inviteLink: '', key: '' },
  'gemini-oauth': { groupId: '', inviteLink: '', key: '' },
};

beforeAll(async () => {
  const executablePath = chromiumPath();
  relay = await startRelay({
    vars: ({ oauth }) => ({
      CLAUDE_OAUTH_AUTHORIZE_URL: `${oauth}/claude/authorize`,
      CLAUDE_OAUTH_TOKEN_URL: `${oauth}/claude/token`,
      CODEX_OAUTH_AUTHORIZE_URL: `${oauth}/codex/authorize`,
      CODEX_OAUTH_TOKEN_URL: `${oauth}/codex/token`,
      // Off by default (Google's terms): this deployment's operator turns it on.
      GEMINI_OAUTH_ENABLED: 'true',
      GEMINI_OAUTH_AUTHORIZE_URL: `${oauth}/gemini/authorize`,
      GEMINI_OAUTH_TOKEN_URL: `${oauth}/gemini/token`,
    }),
  });
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  const viewport = { width: 1200, height: 900 };
  adminContext = await browser.newContext({ locale: 'en-US', viewport });
  // Claude's callback page shows the code to paste as `code#state`; nothing listens on Codex's
  // localhost callback, and the person copies the address the browser shows.
  await adminContext.route(
    (url) => url.href.startsWith(`${CLAUDE_CALLBACK}?`),
    (route) => {
      const back = new URL(route.request().url());
      const pasted = `${back.searchParams.get('code')}#${back.searchParams.get('state')}`;
      return route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><title>Authentication code</title><p>Paste this into Claude Code:</p><code id="code">${pasted}</code>`,
      });
    },
  );
  // Google's authcode page shows the code alone; the dashboard sends the state it started with.
  await adminContext.route(
    (url) => url.href.startsWith(`${GEMINI_CALLBACK}?`),
    (route) => {
      const back = new URL(route.request().url());
      return route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><title>Gemini Code Assist</title><p>Copy this code into the Gemini CLI:</p><code id="code">${back.searchParams.get('code')}</code>`,
      });
    },
  );
  await adminContext.route(
    (url) => url.href.startsWith(`${CODEX_CALLBACK}?`),
    (route) => route.abort('connectionrefused'),
  );
  admin = await adminContext.newPage();
  member = await (await browser.newContext({ locale: 'en-US', viewport })).newPage();
});

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
});

/** Starts the sign-in on the bind page: kind, name, base URL, the terms confirmed. Answers the authorize link. */
async function start(kind: Kind): Promise<string> {
  const plan = PLANS[kind];
  const form = admin.getByTestId('subscription-sign-in');
  await form.getByLabel('Subscription').selectOption({ label: plan.option });
  await form.getByLabel('Name').fill(plan.account);
  await form.getByLabel('API endpoint').fill(`${relay.upstream}${plan.path}`);
  await form.getByTestId('sub-terms').waitFor();
  // Gemini's sign-in adds Google's own warning: its terms forbid this use and may suspend the account.
  await expect(form.getByTestId('sub-terms-kind').count()).resolves.toBe(kind === 'gemini-oauth' ? 1 : 0);
  if (kind === 'gemini-oauth')
    await expect(form.getByTestId('sub-terms-kind').textContent()).resolves.toMatch(
      /Gemini CLI’s sign-in violates its terms and may get the Google account suspended/,
    );
  const button = form.getByRole('button', { name: 'Start sign-in' });
  // No sign-in without confirming the provider's terms.
  await expect(button.isDisabled()).resolves.toBe(true);
  await form.getByRole('checkbox', { name: /I have read the provider’s terms/ }).check();
  // The dashboard opens the provider's page itself; the fake needs to know who signs in, so the
  // person's tab is the test's own (below), and this one is closed.
  const opened = adminContext.waitForEvent('page');
  await button.click();
  // A refused start (Gemini's off unless the deployment allows it) fails here with the relay's words.
  const refused = form.getByRole('alert');
  const first = await Promise.race([opened, refused.waitFor().then(() => null)]);
  if (!first) throw new Error(`the sign-in did not start: ${await refused.textContent()}`);
  await first.close();
  const link = form.getByTestId('sub-authorize');
  await link.waitFor();
  return (await link.getAttribute('href'))!;
}

/** The person at the provider: signs in as `tag` in a second tab and comes back with what to paste. */
async function signInAtProvider(kind: Kind, authorizeUrl: string, tag: string): Promise<string> {
  const url = new URL(authorizeUrl);
  expect(`${url.origin}${url.pathname}`).toBe(`${relay.oauth}/${kind.replace('-oauth', '')}/authorize`);
  url.searchParams.set('login_hint', tag);
  const tab = await adminContext.newPage();
  try {
    // The fake sends the person on to the callback at once. Playwright's routes see no redirect's
    // target, so the request is caught as it leaves, and the callback page is then opened by its
    // address (Claude's and Google's show the code to paste; Codex's is the address itself).
    const callback = tab.waitForRequest((request) => request.url().startsWith(CALLBACKS[kind]));
    await tab.goto(url.toString()).catch(() => undefined);
    const landed = (await callback).url();
    if (kind === 'codex-oauth') return landed;
    const page = await adminContext.newPage();
    await page.goto(landed);
    const shown = (await page.locator('#code').textContent())!;
    await page.close();
    return shown;
  } finally {
    await tab.close();
  }
}

describe.sequential('subscription accounts: signed in through the dashboard, shared, and watched', () => {
  it('the admin sets up the relay and starts a carpool for each plan', async () => {
    await admin.goto(`${relay.url}/setup?token=${encodeURIComponent(relay.setupToken)}`);
    await admin.getByLabel('Name').fill('Sam Sysadmin');
    await admin.getByLabel('Email').fill('sam@example.com');
    await admin.getByLabel('Password').fill('sam-password-1');
    await admin.getByRole('button', { name: 'Create and sign in' }).click();
    await admin.getByRole('heading', { name: 'My carpools' }).waitFor();
  });

  for (const kind of KINDS) {
    it(`signs in a ${kind} account: terms, the provider's page, the code pasted back`, async () => {
      const plan = PLANS[kind];
      await admin.goto(`${relay.url}/`);
      await admin.getByRole('link', { name: 'Start a carpool' }).click();
      await admin.getByLabel('Group name').fill(plan.group);
      await admin.getByRole('button', { name: 'Create the carpool' }).click();
      await admin.getByRole('heading', { name: 'Bind the group account' }).waitFor();
      state[kind].groupId = admin.url().match(/groups\/([^/]+)\/account/)![1]!;
      // The plan's usage windows, as the provider will report them on this person's responses.
      const steer = await fetch(`${relay.oauth}/test/grants/${plan.tag}`, {
        method: 'POST',
        body: JSON.stringify({ headers: plan.headers() }),
      });
      expect(steer.status).toBe(200);

      const form = admin.getByTestId('subscription-sign-in');
      if (kind === 'claude-oauth') {
        await checkPage(admin, 'oauth-start');
        // A wrong code: the provider refuses it, the form says so, and the admin starts again.
        await start(kind);
        await form.getByLabel('Code or callback URL').fill('not-the-code');
        await form.getByRole('button', { name: 'Finish sign-in' }).click();
        await form
          .getByText(/The provider refused the code \(invalid_grant: unknown or used code\): start again\./)
          .waitFor();
        await checkPage(admin, 'oauth-wrong-code');
        await form.getByRole('button', { name: 'Start again' }).click();
      }

      const authorizeUrl = await start(kind);
      await checkPage(admin, `oauth-paste-${kind}`);
      const pasted = await signInAtProvider(kind, authorizeUrl, plan.tag);
      if (kind === 'claude-oauth') expect(pasted).toMatch(/^[0-9a-f]+#[A-Za-z0-9_-]{43}$/);
      else if (kind === 'gemini-oauth') expect(pasted).toMatch(/^[0-9a-f]+$/);
      else expect(pasted).toMatch(new RegExp(`^${CODEX_CALLBACK}\\?code=[0-9a-f]+&state=`));
      await form.getByLabel('Code or callback URL').fill(pasted);
      await form.getByRole('button', { name: 'Finish sign-in' }).click();
      await admin.getByRole('heading', { name: plan.group }).waitFor();
      await expect(admin.getByTestId('account-state').textContent()).resolves.toBe('Healthy');
      await checkPage(admin, `oauth-bound-${kind}`);

      await admin.getByText('Create an invite link').click();
      await admin.getByRole('button', { name: 'Create link' }).click();
      state[kind].inviteLink = (await admin.getByTestId('invite-link').locator('code').textContent())!;
    });
  }

  it('a member joins the three carpools and makes a key in each', async () => {
    await seedUser(relay, MEMBER);
    await member.goto(`${relay.url}/login`);
    await member.getByLabel('Email').fill(MEMBER.email);
    await member.getByLabel('Password').fill(MEMBER.password);
    await member.getByRole('button', { name: 'Sign in' }).click();
    await member.getByRole('heading', { name: 'My carpools' }).waitFor();
    for (const kind of KINDS) {
      await member.goto(state[kind].inviteLink);
      await member.getByRole('button', { name: `Join ${PLANS[kind].group}` }).click();
      await member.getByRole('heading', { name: 'My carpools' }).waitFor();
      state[kind].key = await member.evaluate(async (groupId) => {
        const made = await fetch('/api/v1/keys', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ groupId, name: 'laptop' }),
        });
        if (!made.ok) throw new Error(`key: ${made.status} ${await made.text()}`);
        return ((await made.json()) as { key: string }).key;
      }, state[kind].groupId);
      expect(state[kind].key).toMatch(/^cp-/);
    }
  });

  it("the member's requests flow through the plans (Anthropic SDK; OpenAI SDK's Responses API; Google Gen AI SDK)", async () => {
    const claude = new Anthropic({ baseURL: relay.url, apiKey: state['claude-oauth'].key, maxRetries: 0 });
    const message = await claude.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Hello from the carpool' }],
    });
    expect(message.content[0]).toMatchObject({ type: 'text' });

    const codex = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: state['codex-oauth'].key, maxRetries: 0 });
    // Streamed, with instructions, as the ChatGPT backend requires (the relay invents none).
    const stream = await codex.responses.create({
      model: 'gpt-5-codex',
      instructions: 'Be brief.',
      input: 'Hello from the carpool',
      stream: true,
    });
    let completed: string | null = null;
    for await (const event of stream)
      if (event.type === 'response.completed') completed = event.response.status ?? null;
    expect(completed).toBe('completed');

    // Gemini API requests, wrapped for Code Assist with the project found at sign-in, unwrapped back.
    const gemini = new GoogleGenAI({
      apiKey: state['gemini-oauth'].key,
      httpOptions: { baseUrl: relay.url },
    });
    let streamed = '';
    let chunks = 0;
    for await (const chunk of await gemini.models.generateContentStream({
      model: 'gemini-2.5-flash',
      contents: 'Hello from the carpool',
    })) {
      streamed += chunk.text ?? '';
      chunks++;
    }
    expect(chunks).toBeGreaterThan(1);
    expect(streamed.length).toBeGreaterThan(0);
    const whole = await gemini.models.generateContent({
      model: 'gemini-2.5-pro',
      contents: 'Hello again from the carpool',
    });
    expect(whole.text?.length).toBeGreaterThan(0);
    expect(whole.usageMetadata?.totalTokenCount).toBeGreaterThan(0);
  });

  it('the accounts page shows each plan’s 5 h and 7 d windows with a countdown (Code Assist: none), and probes the windowed ones', async () => {
    await admin.getByRole('link', { name: 'Accounts' }).click();
    await admin.getByRole('heading', { name: 'Accounts health' }).waitFor();
    const card = (kind: Kind) =>
      admin.locator('section.card').filter({
        has: admin.getByRole('heading', { name: new RegExp(PLANS[kind].account) }),
      });
    const expected: Record<Exclude<Kind, 'gemini-oauth'>, [string, RegExp][]> = {
      'claude-oauth': [
        ['5h: 42% used', /resets in 1h 5\dm/],
        ['7d: 10% used', /resets in (71|72)h \d\dm/],
      ],
      'codex-oauth': [
        ['5h: 12% used', /resets in (59m \d\ds|1h 00m)/],
        ['7d: 37% used', /resets in (47|48)h \d\dm/],
      ],
    };
    for (const kind of ['claude-oauth', 'codex-oauth'] as const) {
      const windows = card(kind).getByTestId('subscription-state');
      for (const [used, countdown] of expected[kind]) {
        const row = windows.locator('.adm-bar-row').filter({ hasText: used });
        await row.waitFor();
        await expect(row.textContent()).resolves.toMatch(countdown);
      }
      await card(kind).getByRole('button', { name: 'Probe' }).click();
      await card(kind).getByText('The upstream accepted the credential.').waitFor();
    }
    // Code Assist reports no windows: its sign-in shows, and no window is made up.
    const gemini = card('gemini-oauth').getByTestId('subscription-state');
    await gemini.getByText(/Sign-in token expires/).waitFor();
    await expect(gemini.locator('.adm-bar-row').count()).resolves.toBe(0);
    await expect(gemini.textContent()).resolves.not.toMatch(/Usage windows|% used/);
    await checkPage(admin, 'oauth-accounts');
  });

  it('the owner signs the Claude plan in again from its account page: same account, new tokens', async () => {
    const plan = PLANS['claude-oauth'];
    await admin.goto(`${relay.url}/groups/${state['claude-oauth'].groupId}`);
    await admin.getByRole('link', { name: 'Manage the account' }).click();
    const form = admin.getByTestId('subscription-sign-in');
    await form.getByRole('heading', { name: 'Sign in again' }).waitFor();
    // The plan is the account's: no choice of plan, name or endpoint.
    await expect(form.getByLabel('Subscription').count()).resolves.toBe(0);
    await form.getByRole('checkbox', { name: /I have read the provider’s terms/ }).check();
    const opened = adminContext.waitForEvent('page');
    await form.getByRole('button', { name: 'Start sign-in' }).click();
    await (await opened).close();
    const link = form.getByTestId('sub-authorize');
    await link.waitFor();
    const pasted = await signInAtProvider('claude-oauth', (await link.getAttribute('href'))!, plan.tag);
    await form.getByLabel('Code or callback URL').fill(pasted);
    await form.getByRole('button', { name: 'Finish sign-in' }).click();
    await form.getByText(`Signed in again: account ${plan.account} has new tokens.`).waitFor();
    await expect(admin.getByTestId('account-state').first().textContent()).resolves.toBe('Healthy');
    await checkPage(admin, 'oauth-sign-in-again');
  });
});
