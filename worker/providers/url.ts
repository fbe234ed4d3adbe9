// Joining an account's base URL (which may carry a path such as `/v1` or `/compatible-mode/v1`)
// with an API path, and keeping only the query parameters an API defines.
export function joinUrl(base: string, path: string): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  url.search = '';
  return url.toString();
}

/** `?…` with only the named parameters of a client's query string, or '' when none is left. */
export function pickQuery(search: string, names: readonly string[]): string {
  const client = new URLSearchParams(search);
  const kept = new URLSearchParams();
  for (const [name, value] of client) {
    if (names.includes(name)) kept.append(name, value);
  }
  const query = kept.toString();
  return query ? `?${query}` : '';
}
