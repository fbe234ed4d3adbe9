// Debian's Chromium for the browser tests (never a downloaded browser): CHROMIUM_PATH or
// /usr/bin/chromium, with a font that has Chinese glyphs (the zh-CN pages are screenshotted; Debian's
// Chromium brings none, and a page without one shows empty boxes). When either is missing and we
// are root with apt, it is installed here; otherwise a missing Chromium stops the test with the one
// command to run, and a missing font is only a warning (the assertions read text, not pixels).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const PACKAGES = 'chromium fonts-wqy-zenhei';
const INSTALL = `apt-get update && apt-get install -y ${PACKAGES}`;

function hasApt() {
  return existsSync('/usr/bin/apt-get');
}

function hasChineseFont(): boolean {
  try {
    return execFileSync('fc-list', [':lang=zh-cn', 'family'], { encoding: 'utf8' }).trim() !== '';
  } catch {
    return false;
  }
}

function install() {
  console.log(`Installing what the browser tests need: ${INSTALL}`);
  execFileSync('sh', ['-c', INSTALL], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  const canInstall = process.getuid?.() === 0 && hasApt();
  if (existsSync(path)) {
    if (!hasChineseFont()) {
      if (canInstall) install();
      else console.warn(`No Chinese font: the zh-CN screenshots will show boxes (${INSTALL}).`);
    }
    return path;
  }
  if (process.env.CHROMIUM_PATH) throw new Error(`CHROMIUM_PATH=${path} does not exist.`);
  if (canInstall) {
    install();
    if (existsSync(path)) return path;
  }
  throw new Error(
    `The browser tests need Debian's Chromium. Install it with:\n  sudo sh -c '${INSTALL}'\n(or set CHROMIUM_PATH to a Chromium binary).`,
  );
}
