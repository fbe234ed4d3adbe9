// Builds the relay exactly as `wrangler deploy` would upload it (dry run, no network) and measures
// the emitted main module: raw bytes, and gzip bytes computed here the way wrangler does (zlib at
// its default level), next to wrangler's own "Total Upload" line.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

const run = promisify(execFile);

export async function buildRelayBundle(root, outdir, logDir, { minify = true } = {}) {
  // wrangler.jsonc serves the built dashboard as assets and refuses a missing directory; the
  // relay's bundle does not depend on what is in it, so a fresh clone need not build it first.
  mkdirSync(join(root, 'dashboard', 'dist'), { recursive: true });
  const wrangler = join(root, 'node_modules', '.bin', 'wrangler');
  const { stdout, stderr } = await run(
    wrangler,
    [
      'deploy',
      '--dry-run',
      '--outdir',
      outdir,
      '--config',
      join(root, 'wrangler.jsonc'),
      ...(minify ? [] : ['--no-minify']),
    ],
    {
      cwd: root,
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
      env: {
        ...process.env,
        CI: 'true',
        // No banner means no npm update check; no metrics; wrangler's debug log goes to our temp dir.
        WRANGLER_HIDE_BANNER: 'true',
        WRANGLER_SEND_METRICS: 'false',
        WRANGLER_LOG_PATH: logDir,
        NO_COLOR: '1',
        FORCE_COLOR: '0',
      },
    },
  );
  const output = `${stdout}\n${stderr}`;
  const modules = readdirSync(outdir).filter((name) => /\.(m?js|wasm)$/.test(name));
  const main = modules.find((name) => name === 'index.js') ?? modules[0];
  if (!main) throw new Error(`wrangler emitted no module in ${outdir}:\n${output}`);
  const code = readFileSync(join(outdir, main));
  const reported = output.match(/Total Upload:\s*([\d.]+) KiB \/ gzip:\s*([\d.]+) KiB/);
  return {
    mainModule: join(outdir, main),
    modules,
    bytes: code.byteLength,
    gzipBytes: gzipSync(code).byteLength,
    wrangler: reported ? { totalKiB: Number(reported[1]), gzipKiB: Number(reported[2]) } : null,
  };
}
