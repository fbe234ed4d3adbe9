// Two projects. `workers`: the relay's tests inside workerd with real D1, Durable Objects and
// Queues; the only fake is the upstream AI provider, an auxiliary worker that receives every
// outbound fetch the relay makes. `dashboard`: the dashboard's unit tests and its browser journeys
// (Chromium through playwright-core against `wrangler dev`), in Node.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { buildSync } from 'esbuild';
import { defineConfig } from 'vitest/config';

// wrangler.jsonc serves the built dashboard as static assets; the pool insists the directory
// exists, and the relay's tests need no dashboard in it.
mkdirSync(fileURLToPath(new URL('./dashboard/dist', import.meta.url)), { recursive: true });

const fakeUpstream = buildSync({
  entryPoints: [fileURLToPath(new URL('./test/fake-upstream/index.ts', import.meta.url))],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  write: false,
}).outputFiles[0]!.text;

const workers = defineConfig({
  plugins: [
    cloudflareTest(async () => ({
      main: './worker/index.ts',
      wrangler: { configPath: './wrangler.jsonc' },
      miniflare: {
        bindings: {
          ADMIN_TOKEN: 'test-admin-token',
          // 32 zero-ish bytes are fine for tests; production keys come from `wrangler secret put`.
          CREDENTIALS_KEY: 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=',
          UPSTREAM_HEADERS_TIMEOUT_MS: '2000',
          // Short, so that tests see leases renewed under long streams and expire when abandoned.
          LEASE_TTL_MS: '3000',
          MAX_BODY_BYTES: '1048576',
          // Alert retries in seconds, not minutes: 1 s, then 2 s; three attempts in all.
          ALERT_MAX_ATTEMPTS: '3',
          ALERT_RETRY_BASE_SECONDS: '1',
          ALERT_TIMEOUT_MS: '2000',
          // Sign-in (test/auth.test.ts, setup.test.ts, oidc.test.ts): the dashboard's origin, the
          // first-run token, and the fake OIDC provider of test/fake-idp/ with its registered client.
          ALLOWED_ORIGINS: 'https://dash.test, https://other-dash.test',
          SETUP_TOKEN: 'test-setup-token',
          OIDC_ISSUER: 'https://idp.test',
          OIDC_CLIENT_ID: 'carpool-relay',
          OIDC_CLIENT_SECRET: 'fake-idp-secret',
          // Subscription accounts sign in at the fake authorization server (test/fake-oauth/); the
          // upstream API hosts stay the real ones, which the fake upstream answers.
          CLAUDE_OAUTH_AUTHORIZE_URL: 'https://oauth.test/claude/authorize',
          CLAUDE_OAUTH_TOKEN_URL: 'https://oauth.test/claude/token',
          CODEX_OAUTH_AUTHORIZE_URL: 'https://oauth.test/codex/authorize',
          CODEX_OAUTH_TOKEN_URL: 'https://oauth.test/codex/token',
          GEMINI_OAUTH_ENABLED: 'true',
          GEMINI_OAUTH_AUTHORIZE_URL: 'https://oauth.test/gemini/authorize',
          GEMINI_OAUTH_TOKEN_URL: 'https://oauth.test/gemini/token',
          TEST_MIGRATIONS: await readD1Migrations(fileURLToPath(new URL('./migrations', import.meta.url))),
        },
        // An empty D1 beside the relay's, for test/migrations.test.ts to apply migrations one step
        // at a time onto rows written in between.
        d1Databases: ['MIGRATION_DB'],
        outboundService: 'fake-upstream',
        workers: [
          {
            name: 'fake-upstream',
            modules: true,
            script: fakeUpstream,
            compatibilityDate: '2026-04-20',
            // The fake notices a client hanging up (and logs `cancelled`) through request.signal.
            compatibilityFlags: ['enable_request_signal'],
          },
        ],
      },
    })),
  ],
  test: {
    name: 'workers',
    include: ['test/**/*.test.ts'],
    setupFiles: ['./test/setup.ts'],
    testTimeout: 30_000,
  },
});

export default defineConfig({
  test: {
    projects: [
      workers,
      {
        test: {
          name: 'dashboard',
          include: ['dashboard/test/**/*.test.ts'],
          environment: 'node',
          // The browser journeys start wrangler and Chromium: minutes, not seconds, on a busy machine.
          testTimeout: 240_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
