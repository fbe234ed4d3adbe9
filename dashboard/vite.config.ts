// Vite for the dashboard: `vite build` writes dashboard/dist, which the Worker serves as static
// assets (wrangler.jsonc `assets`); `vite` (npm run dev:dashboard) serves it with hot reload and
// proxies the Worker's paths to a running relay (RELAY_URL, default http://localhost:8787).
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const relay = process.env.RELAY_URL ?? 'http://localhost:8787';
// The Worker's own paths, as in wrangler.jsonc `run_worker_first`.
const proxied = ['/api', '/admin', '/v1', '/v1beta'];

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
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
