/** Asks `check` once a second until it says yes; fails naming `what` after `ms`. */
export async function until(check: () => Promise<boolean>, what: string, ms = 45_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`timed out waiting for ${what}`);
}
