// Finding and checking a member's key on a client surface. Key records are cached per isolate for
// a short time, so a warm request authenticates without touching D1. Revocation does not wait
// for the cache: GroupGate refuses a revoked key at admission.
import { eq } from 'drizzle-orm';
import { db } from '../db/client';
import { type ApiKey, apiKeys } from '../db/schema';
import { RelayError } from '../relay/dialect';
import { isWellFormedApiKey, sha256Hex } from './api-key';

export type KeyRecord = Pick<
  ApiKey,
  | 'id'
  | 'userId'
  | 'groupId'
  | 'status'
  | 'expiresAt'
  | 'allowedModels'
  | 'maxConcurrency'
  | 'requestsPerWindow'
  | 'windowMinutes'
>;

interface CacheEntry {
  record: KeyRecord | null;
  until: number;
}

const cache = new Map<string, CacheEntry>();
const CACHE_LIMIT = 10_000;
// Unknown keys are remembered briefly too, so a client hammering with a wrong key costs no D1 reads.
const NEGATIVE_TTL_MS = 5_000;

/**
 * The key a client sent: `x-api-key`, `x-goog-api-key` or `Authorization: Bearer`; and `?key=` on
 * the Gemini surface only, where Google's clients put it. Elsewhere a key in the URL is not one
 * (URLs end up in logs); the adapters never forward a client's query string either way.
 */
export function readClientKey(req: Request): string | null {
  const direct = req.headers.get('x-api-key') ?? req.headers.get('x-goog-api-key');
  if (direct) return direct.trim();
  const auth = req.headers.get('authorization');
  if (auth) return auth.replace(/^Bearer\s+/i, '').trim();
  const url = new URL(req.url);
  return url.pathname.startsWith('/v1beta/') ? url.searchParams.get('key') : null;
}

export async function authenticate(env: Env, req: Request, now = Date.now()): Promise<KeyRecord> {
  const key = readClientKey(req);
  if (!key)
    throw new RelayError(
      'authentication',
      'Missing API key: send it in x-api-key or Authorization: Bearer.',
      { retryable: false },
    );
  if (!isWellFormedApiKey(key))
    throw new RelayError('authentication', 'Invalid API key.', { retryable: false });
  const record = await findKey(env, await sha256Hex(key), now);
  if (!record) throw new RelayError('authentication', 'Invalid API key.', { retryable: false });
  if (record.status !== 'active')
    throw new RelayError('permission', 'This API key has been revoked.', { retryable: false });
  if (record.expiresAt !== null && record.expiresAt <= now) {
    throw new RelayError('permission', 'This API key has expired.', { retryable: false });
  }
  return record;
}

async function findKey(env: Env, hash: string, now: number): Promise<KeyRecord | null> {
  const hit = cache.get(hash);
  if (hit && hit.until > now) return hit.record;
  const [row] = await db(env)
    .select({
      id: apiKeys.id,
      userId: apiKeys.userId,
      groupId: apiKeys.groupId,
      status: apiKeys.status,
      expiresAt: apiKeys.expiresAt,
      allowedModels: apiKeys.allowedModels,
      maxConcurrency: apiKeys.maxConcurrency,
      requestsPerWindow: apiKeys.requestsPerWindow,
      windowMinutes: apiKeys.windowMinutes,
    })
    .from(apiKeys)
    .where(eq(apiKeys.keyHash, hash))
    .limit(1);
  const record = row ?? null;
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(hash, { record, until: now + (record ? Number(env.KEY_CACHE_TTL_MS) : NEGATIVE_TTL_MS) });
  return record;
}

/** Drops a key from this isolate's cache (the admin API calls it after revoking in the same isolate). */
export function forgetKey(hash: string): void {
  cache.delete(hash);
}
