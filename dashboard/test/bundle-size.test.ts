// The first load (the login page and the member home) stays within 200 KB of gzipped JavaScript:
// builds the dashboard and follows the Vite manifest from index.html through the static imports
// of the entry and of the login and home chunks.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { expect, it } from 'vitest';

const dashboard = join(import.meta.dirname, '..');
const BUDGET_BYTES = 200 * 1024;

interface Chunk {
  file: string;
  imports?: string[];
}

it('first load JS ≤ 200 KB gzipped', async () => {
  // A production build (vitest sets NODE_ENV=test, which would bundle React's development build)
  // into a directory of its own, leaving dashboard/dist to `npm run dev`.
  const dist = mkdtempSync(join(tmpdir(), 'dashboard-dist-'));
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: join(dashboard, 'vite.config.ts'),
      mode: 'production',
      logLevel: 'warn',
      build: { outDir: dist, emptyOutDir: true },
    });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  const manifest = JSON.parse(readFileSync(join(dist, '.vite', 'manifest.json'), 'utf8')) as Record<
    string,
    Chunk
  >;
  const files = new Set<string>();
  const visit = (id: string) => {
    const chunk = manifest[id];
    if (!chunk || files.has(chunk.file)) return;
    files.add(chunk.file);
    for (const imported of chunk.imports ?? []) visit(imported);
  };
  for (const id of ['index.html', 'src/pages/login.tsx', 'src/pages/home.tsx']) {
    expect(manifest[id], id).toBeDefined();
    visit(id);
  }
  const sizes = [...files].map((file) => ({ file, gzip: gzipSync(readFileSync(join(dist, file))).length }));
  const total = sizes.reduce((sum, s) => sum + s.gzip, 0);
  rmSync(dist, { recursive: true, force: true });
  console.log(`first load: ${(total / 1024).toFixed(1)} KB gzipped JS`, sizes);
  expect(total).toBeLessThanOrEqual(BUDGET_BYTES);
});
