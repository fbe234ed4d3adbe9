// Finding and checking a member's key on a client surface. Key records are cached per isolate for
// a short time, so a warm request authenticates without touching D1. Revocation does not wait
// for the cache: GroupGate refuses a revoked key at admission. A key's own rules (models,
// services, clients) are checked from the cached record once the request's model is known
// (`authorize`), which is also where a key that activates on first use is activated.
import { eq, sql } from 'drizzle-orm';
import { db } from '../db/client';
import { type ApiKey, apiKeys } from '../db/schema';
import { RelayError } from '../relay/dialect';
import { isWellFormedApiKey, sha256Hex } from './api-key';
import { checkExpiry, checkKeyRules, type KeyUse } from './key-rules';

export type KeyRecord = Pick<
  ApiKey,
  | 'id'
  | 'userId'
  | 'groupId'
  | 'status'
  | 'expiresAt'
  | 'allowedModels'
  | 'allowedServices'
  | 'allowedClients'
  | 'activeForMs'
  | 'activatedAt'
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
  const record = await identify(env, req, now);
  checkUsable(record, now);
  return record;
}

/**
 * The record of the key a client sent, whatever its status: a missing or unknown key is a 401.
 * Past this point the request has a tenant (the key's group), so its refusals can be logged.
 */
export async function identify(env: Env, req: Request, now = Date.now()): Promise<KeyRecord> {
  const key = readClientKey(req);
  if (!key)
    throw new RelayError(
      'authentication',
      new URL(req.url).pathname.startsWith('/v1beta/')
        ? 'Missing API key: send it in x-goog-api-key (or ?key=).'
        : 'Missing API key: send it in x-api-key or Authorization: Bearer.',
      { retryable: false },
    );
  // OpenAI's code for a key it does not know, which OpenAI clients recognise.
  const invalid = () =>
    new RelayError('authentication', 'Invalid API key.', { retryable: false, code: 'invalid_api_key' });
  if (!isWellFormedApiKey(key)) throw invalid();
  const record = await findKey(env, await sha256Hex(key), now);
  if (!record) throw invalid();
  return record;
}

/** A known key that may be used now: active and not expired (a 403 otherwise). */
export function checkUsable(record: KeyRecord, now = Date.now()): void {
  if (record.status !== 'active')
    throw new RelayError('permission', 'This API key has been revoked.', {
      retryable: false,
      code: 'key_revoked',
    });
  checkExpiry(record, now);
}

/**
 * The key's own rules for this request, from the cached record (no round trip); then, on a key
 * that activates on first use and has not yet, its activation (one D1 write, once per isolate).
 */
export async function authorize(env: Env, key: KeyRecord, use: KeyUse, now = Date.now()): Promise<void> {
  checkKeyRules(key, use);
  if (key.activeForMs === null || key.activatedAt !== null) return;
  let pending = activations.get(key.id);
  if (!pending) {
    pending = activate(env, key.id, now).finally(() => activations.delete(key.id));
    activations.set(key.id, pending);
  }
  // The cached record is this isolate's copy of the row, and activation only ever goes from null to
  // one fixed time, so every request holding it may see the stored value.
  key.activatedAt = await pending;
  checkExpiry(key, now);
}

// One activation in flight per key in this isolate; concurrent first requests share it.
const activations = new Map<string, Promise<number>>();

/**
 * Sets `activated_at` if it is still null and returns what is stored: the first request to reach
 * D1 wins, whichever isolate it came from, and a loser (an isolate whose cached record was read
 * before the winner's write) learns the winner's time instead of overwriting it.
 */
async function activate(env: Env, id: string, now: number): Promise<number> {
  const [row] = await db(env)
    .update(apiKeys)
    .set({ activatedAt: sql`coalesce(${apiKeys.activatedAt}, ${now})` })
    .where(eq(apiKeys.id, id))
    .returning({ activatedAt: apiKeys.activatedAt });
  if (!row || row.activatedAt === null)
    throw new RelayError('authentication', 'Invalid API key.', { retryable: false });
  return row.activatedAt;
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
      allowedServices: apiKeys.allowedServices,
      allowedClients: apiKeys.allowedClients,
      activeForMs: apiKeys.activeForMs,
      activatedAt: apiKeys.activatedAt,
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
