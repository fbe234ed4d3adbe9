// Joining an account's base URL (which may carry a path such as `/v1` or `/compatible-mode/v1`)
// with an API path.
export function joinUrl(base: string, path: string): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  url.search = '';
  return url.toString();
}
