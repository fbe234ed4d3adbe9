// The sticky-session key of a request: the same conversation goes back to the same account (its
// prompt cache, and thinking-block signatures only that account accepts). Explicit ids first, in
// the order the real clients send them; otherwise a hash of the key and the conversation's start.
import { toHex } from '../auth/api-key';

const SESSION_SUFFIX = /_session_([0-9a-f-]{36})$/i;

export async function sessionKeyOf(
  keyId: string,
  headers: Headers,
  body: Record<string, unknown> | null,
): Promise<string> {
  const explicit =
    headers.get('x-claude-code-session-id') ??
    fromUserId(body) ??
    headers.get('session_id') ??
    headers.get('session-id') ??
    (typeof body?.prompt_cache_key === 'string' ? body.prompt_cache_key : null);
  if (explicit) return `${keyId}:${explicit.slice(0, 128)}`;
  const start = body
    ? JSON.stringify(body.system ?? body.instructions ?? firstOf(body.messages) ?? firstOf(body.input) ?? '')
    : '';
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${keyId}\n${start}`));
  return `${keyId}:h:${toHex(new Uint8Array(digest)).slice(0, 32)}`;
}

/** Claude Code's `metadata.user_id`: a JSON string with `session_id`, or the older `..._session_<uuid>`. */
function fromUserId(body: Record<string, unknown> | null): string | null {
  const metadata = body?.metadata;
  if (typeof metadata !== 'object' || metadata === null) return null;
  const userId = (metadata as Record<string, unknown>).user_id;
  if (typeof userId !== 'string') return null;
  if (userId.startsWith('{')) {
    try {
      const parsed = JSON.parse(userId) as Record<string, unknown>;
      if (typeof parsed.session_id === 'string' && parsed.session_id) return parsed.session_id;
    } catch {
      // Not JSON after all: fall through to the older form.
    }
  }
  return userId.match(SESSION_SUFFIX)?.[1] ?? null;
}

function firstOf(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : undefined;
}
