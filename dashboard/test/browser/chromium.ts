// Debian's Chromium for the browser tests (never a downloaded browser): CHROMIUM_PATH or
// /usr/bin/chromium. When it is missing and we are root with apt, it is installed here; otherwise
// the test stops with the one command to run.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const INSTALL = 'apt-get update && apt-get install -y chromium';

function hasApt() {
  return existsSync('/usr/bin/apt-get');
}

export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (existsSync(path)) return path;
  if (process.env.CHROMIUM_PATH) throw new Error(`CHROMIUM_PATH=${path} does not exist.`);
  if (process.getuid?.() === 0 && hasApt()) {
    console.log(`Chromium is missing: ${INSTALL}`);
    execFileSync('sh', ['-c', INSTALL], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (existsSync(path)) return path;
  }
  throw new Error(
    `The browser tests need Debian's Chromium. Install it with:\n  sudo sh -c '${INSTALL}'\n(or set CHROMIUM_PATH to a Chromium binary).`,
  );
}
