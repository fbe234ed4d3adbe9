// Vite for the dashboard: `vite build` writes dashboard/dist, which the Worker serves as static
// assets (wrangler.jsonc `assets`); `vite` (npm run dev:dashboard) serves it with hot reload and
// proxies the Worker's paths to a running relay (RELAY_URL, default http://localhost:8787).
import react from '@vitejs/plugin-react';
import { defineConfig, loadEnv, type Plugin } from 'vite';

const relay = process.env.RELAY_URL ?? 'http://localhost:8787';
// The Worker's own paths, as in wrangler.jsonc `run_worker_first`.
const proxied = ['/api', '/admin', '/v1', '/v1beta'];

/**
 * `_headers` for the built dashboard (Workers static assets and Pages both read it): a strict
 * Content-Security-Policy (only this origin's scripts and styles; the API's origin may be fetched
 * too when the dashboard is deployed apart with VITE_API_ORIGIN), no framing (clickjacking), no
 * Referer to other sites (invite and password links carry their token in the path), no MIME sniffing.
 */
function securityHeaders(): Plugin {
  let apiOrigin = '';
  return {
    name: 'aicarpool-security-headers',
    apply: 'build',
    configResolved(config) {
      const value = loadEnv(config.mode, config.envDir || config.root, 'VITE_').VITE_API_ORIGIN;
      apiOrigin = value ? new URL(value).origin : '';
    },
    generateBundle() {
      const csp = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        `connect-src 'self'${apiOrigin ? ` ${apiOrigin}` : ''}`,
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
      ].join('; ');
      const headers = {
        'Content-Security-Policy': csp,
        'X-Frame-Options': 'DENY',
        // Not no-referrer: that makes a same-origin POST's Origin `null`, which the API's check on
        // cookie writes refuses.
        'Referrer-Policy': 'same-origin',
        'X-Content-Type-Options': 'nosniff',
        'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
      };
      const lines = Object.entries(headers).map(([name, value]) => `  ${name}: ${value}`);
      this.emitFile({ type: 'asset', fileName: '_headers', source: `/*\n${lines.join('\n')}\n` });
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react(), securityHeaders()],
  // The manifest lets dashboard/test/bundle-size.test.ts follow the first load's chunks.
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', manifest: true },
  server: {
    port: 5173,
    // The relay accepts cookie writes from its own origin only (or ALLOWED_ORIGINS): the proxied
    // requests present themselves as coming from the relay's origin.
    proxy: Object.fromEntries(
      proxied.map((path) => [
        path,
        {
          target: relay,
          changeOrigin: true,
          configure: (proxy) => {
            proxy.on('proxyReq', (request) => {
              if (request.getHeader('origin')) request.setHeader('origin', new URL(relay).origin);
            });
          },
        },
      ]),
    ),
  },
});
