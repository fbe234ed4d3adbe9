// A webhook receiver, for the relay's alert tests: whatever is POSTed to `/hooks/<tag>[/…]` (any
// host; the tests use https://hooks.test) is recorded per tag and answered as the chat tool it
// was shaped for answers an accepted message, unless the test scripted other answers first (to
// fail N times, or to answer 200 with a vendor's error code).

export interface HookEntry {
  method: string;
  host: string;
  path: string;
  search: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

export interface HookAnswer {
  status: number;
  body?: string;
}

const received = new Map<string, HookEntry[]>();
const scripts = new Map<string, HookAnswer[]>();

const PREFIX = '/hooks/';

export function claimsHook(url: URL): boolean {
  return url.pathname.startsWith(PREFIX);
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

/** What each tool answers when it took the message (their documented success answers). */
function accepted(body: string): Response {
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return json({ error: 'body is not JSON' }, 400);
  }
  // Feishu / Lark.
  if ('msg_type' in parsed)
    return json({ StatusCode: 0, StatusMessage: 'success', code: 0, data: {}, msg: 'success' });
  // DingTalk and WeCom answer alike.
  if ('msgtype' in parsed) return json({ errcode: 0, errmsg: 'ok' });
  // Discord: 204 No Content (without ?wait=true).
  if ('embeds' in parsed) return new Response(null, { status: 204 });
  // Slack: a plain-text "ok".
  if ('blocks' in parsed) return new Response('ok', { headers: { 'content-type': 'text/plain' } });
  return new Response(null, { status: 204 });
}

export async function receiveHook(request: Request, url: URL): Promise<Response> {
  const tag = url.pathname.slice(PREFIX.length).split('/')[0] ?? '';
  const body = await request.text();
  const entry: HookEntry = {
    method: request.method,
    host: url.host,
    path: url.pathname,
    search: url.search,
    headers: Object.fromEntries(request.headers),
    body,
    at: Date.now(),
  };
  const log = received.get(tag) ?? [];
  log.push(entry);
  received.set(tag, log);
  const scripted = scripts.get(tag)?.shift();
  if (scripted) return new Response(scripted.body ?? null, { status: scripted.status });
  return accepted(body);
}

/**
 * `GET /hooks?tag=` → what the tag received; `POST /hooks/script` with `{tag, answers}` (or
 * `{tag, fail: N, status?}`, N answers of `status`, default 500) → the next answers, in order.
 */
export async function hookControl(request: Request, url: URL): Promise<Response | null> {
  const route = `${request.method} ${url.pathname}`;
  if (route === 'GET /hooks') return json(received.get(url.searchParams.get('tag') ?? '') ?? []);
  if (route !== 'POST /hooks/script') return null;
  const input = (await request.json()) as {
    tag?: string;
    answers?: HookAnswer[];
    fail?: number;
    status?: number;
  };
  if (typeof input.tag !== 'string') return json({ error: 'body must be {"tag", "answers" | "fail"}' }, 400);
  const answers =
    input.answers ??
    Array.from({ length: input.fail ?? 0 }, () => ({
      status: input.status ?? 500,
      body: 'failing on purpose',
    }));
  const script = scripts.get(input.tag) ?? [];
  script.push(...answers);
  scripts.set(input.tag, script);
  return json({ queued: script.length });
}
