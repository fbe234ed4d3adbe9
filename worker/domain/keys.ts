// Member keys (`cp-…`), self-service. A key belongs to one user and one group; the user must be a
// member (a trigger holds to that). Members create, name, change and revoke their own keys
// (`ai.use`); whoever manages the group (`group.manage`) does so for every key of the group. Every
// key's rules stay within the group's key bounds, whoever makes it (worker/auth/key-bounds.ts).
// The plaintext is in the creation response and nowhere else, ever.
import { and, desc, eq, inArray, or, type SQL, sql } from 'drizzle-orm';
import { groupGate } from '../../durable-objects/address';
import type { KeyPolicy } from '../../durable-objects/group-gate';
import { ApiError, fieldRefusal } from '../api/errors';
import { displayPrefix, generateApiKey, sha256Hex } from '../auth/api-key';
import { forgetKey } from '../auth/client-key';
import { type BoundedRules, boundKey } from '../auth/key-bounds';
import { failedOn } from '../db/constraints';
import { type ApiKey, apiKeys, type Group, groupMembers, groups } from '../db/schema';
import { auditInsert, auditInsertIf } from './audit';
import { actorId, allows, authorize, type Caller, memberships } from './caller';
import { groupResource } from './groups';

/** A key as the API shows it: not its hash. */
export type PublicKey = Omit<ApiKey, 'keyHash'>;

export function publicKey({ keyHash: _hash, ...rest }: ApiKey): PublicKey {
  return rest;
}

/** A key's name and rules; what is left out is no restriction (or, within bounds, the bound). */
export type KeyRulesInput = Partial<BoundedRules> & { name?: string };

export interface NewKeyInput extends KeyRulesInput {
  groupId: string;
  /** Whose key: the caller's own when left out. */
  userId?: string;
}

const RULE_FIELDS = [
  'allowedModels',
  'allowedServices',
  'allowedClients',
  'expiresAt',
  'activeForMs',
  'maxConcurrency',
  'requestsPerWindow',
  'windowMinutes',
] as const satisfies readonly (keyof BoundedRules)[];

export async function createKey(caller: Caller, input: NewKeyInput): Promise<PublicKey & { key: string }> {
  const group = await findGroupOf(caller, input.groupId);
  const self = actorId(caller);
  const userId = input.userId ?? self;
  if (!userId)
    throw fieldRefusal('userId', 'the operator token is no user; name the member the key is for.', {
      code: 'invalid_type',
      required: true,
    });
  // A key spends on its holder's bill, and whoever makes it sees its plaintext: so a key is made
  // by its holder (using the group's AI), or for someone else only by a system admin (automation,
  // the operator token). A group's owners and an enterprise's admins manage keys, never hold them.
  await authorize(
    caller,
    userId === self ? 'ai.use' : 'system.admin',
    groupResource(group),
    `group ${group.id}`,
  );
  const notMember = new ApiError('invalid_request', `User ${userId} is not a member of group ${group.id}.`);
  const [member] = await caller.db
    .select({ userId: groupMembers.userId })
    .from(groupMembers)
    .where(and(eq(groupMembers.groupId, group.id), eq(groupMembers.userId, userId)));
  if (!member) throw notMember;

  const rules = withinBounds(
    Object.fromEntries(RULE_FIELDS.map((f) => [f, input[f] ?? null])) as unknown as BoundedRules,
    group,
    Date.now(),
  );
  const key = generateApiKey();
  const id = crypto.randomUUID();
  const d = caller.db;
  try {
    const [[row]] = await d.batch([
      d
        .insert(apiKeys)
        .values({
          id,
          keyHash: await sha256Hex(key),
          prefix: displayPrefix(key),
          name: input.name ?? '',
          userId,
          groupId: group.id,
          ...rules,
        })
        .returning(),
      auditInsert(caller, {
        action: 'key.create',
        target: { type: 'key', id },
        enterpriseId: group.enterpriseId,
        groupId: group.id,
        detail: { userId, name: input.name ?? '', rules },
      }),
    ]);
    return { ...publicKey(row!), key };
  } catch (err) {
    // Removed between the check and the insert.
    if (failedOn(err, 'key_owner_not_member')) throw notMember;
    throw err;
  }
}

/**
 * The keys the caller sees: their own, and every key of the groups they manage; all of them for
 * a system admin. Filtered by group and user when asked.
 */
export async function listKeys(
  caller: Caller,
  filter: { groupId?: string; userId?: string },
): Promise<PublicKey[]> {
  const m = await memberships(caller);
  const d = caller.db;
  const where: SQL[] = [];
  if (filter.groupId) where.push(eq(apiKeys.groupId, filter.groupId));
  if (filter.userId) where.push(eq(apiKeys.userId, filter.userId));
  if (!m.system) {
    const scope: SQL[] = [];
    if (m.userId) scope.push(eq(apiKeys.userId, m.userId));
    const owned = [...m.groups].filter(([, role]) => role === 'owner').map(([id]) => id);
    if (owned.length > 0) scope.push(inArray(apiKeys.groupId, owned));
    const run = [...m.enterprises].filter(([, role]) => role !== 'member').map(([id]) => id);
    if (run.length > 0)
      scope.push(
        inArray(
          apiKeys.groupId,
          d.select({ id: groups.id }).from(groups).where(inArray(groups.enterpriseId, run)),
        ),
      );
    where.push(scope.length > 0 ? or(...scope)! : sql`0`);
  }
  const rows = await d
    .select()
    .from(apiKeys)
    .where(and(...where))
    .orderBy(desc(apiKeys.createdAt));
  return rows.map(publicKey);
}

/** A group's keys: all of them for those who manage it, a member's own otherwise. */
export async function listGroupKeys(caller: Caller, groupId: string): Promise<PublicKey[]> {
  const group = await findGroupOf(caller, groupId);
  await authorize(caller, 'group.view', groupResource(group), `group ${groupId}`);
  if (await allows(caller, 'group.manage', groupResource(group))) return listKeys(caller, { groupId });
  return listKeys(caller, { groupId, userId: actorId(caller) ?? '' });
}

export async function getKey(caller: Caller, id: string): Promise<PublicKey> {
  const { key } = await authorizedKey(caller, id, 'view');
  return publicKey(key);
}

/**
 * Renames a key or changes its rules, within the group's bounds. The change reaches admission at
 * once: this isolate forgets its cached copy, and the group's gate holds the key to the new rules
 * until every other isolate's copy has expired (KEY_CACHE_TTL_MS).
 */
export async function updateKey(caller: Caller, id: string, changes: KeyRulesInput): Promise<PublicKey> {
  const { key, group } = await authorizedKey(caller, id, 'change');
  if (key.status !== 'active') throw revokedConflict(id);
  const changedRules = RULE_FIELDS.filter((f) => changes[f] !== undefined);
  const merged = Object.fromEntries(
    RULE_FIELDS.map((f) => [f, changes[f] !== undefined ? changes[f] : key[f]]),
  ) as unknown as BoundedRules;
  const rules = withinBounds(merged, group, key.createdAt);
  const d = caller.db;
  const fields = [...(changes.name !== undefined ? ['name'] : []), ...changedRules];
  const [[row]] = await d.batch([
    d
      .update(apiKeys)
      .set({ ...rules, ...(changes.name !== undefined ? { name: changes.name } : {}) })
      .where(and(eq(apiKeys.id, id), eq(apiKeys.status, 'active')))
      .returning(),
    auditInsertIf(
      caller,
      {
        action: 'key.update',
        target: { type: 'key', id },
        enterpriseId: group.enterpriseId,
        groupId: group.id,
        detail: {
          fields,
          before: Object.fromEntries(fields.map((f) => [f, key[f as keyof ApiKey]])),
          after: { ...(changes.name !== undefined ? { name: changes.name } : {}), ...rules },
        },
      },
      sql`changes() = 1`,
    ),
  ]);
  if (!row) throw revokedConflict(id);
  forgetKey(row.keyHash);
  if (changedRules.length > 0) {
    const policy: KeyPolicy = {
      allowedModels: row.allowedModels,
      allowedServices: row.allowedServices,
      allowedClients: row.allowedClients,
      expiresAt: row.expiresAt,
      activeForMs: row.activeForMs,
      activatedAt: row.activatedAt,
      maxConcurrency: row.maxConcurrency,
      requestsPerWindow: row.requestsPerWindow,
      windowMinutes: row.windowMinutes,
    };
    // Past the time any isolate may still trust a copy it read before this write (with a margin).
    const until = Date.now() + Number(caller.env.KEY_CACHE_TTL_MS) + 5_000;
    await groupGate(caller.env, group.id).updateKey(id, policy, until);
  }
  return publicKey(row);
}

/** Revokes a key (one's own, or any key of a group one manages): refused at once, everywhere. */
export async function revokeKey(caller: Caller, id: string): Promise<PublicKey> {
  const { key, group } = await authorizedKey(caller, id, 'revoke');
  const d = caller.db;
  const [[row]] = await d.batch([
    d
      .update(apiKeys)
      .set({ status: 'revoked', revokedAt: key.revokedAt ?? Date.now() })
      .where(eq(apiKeys.id, id))
      .returning(),
    auditInsert(caller, {
      action: 'key.revoke',
      target: { type: 'key', id },
      enterpriseId: group.enterpriseId,
      groupId: group.id,
      detail: { userId: key.userId, name: key.name },
    }),
  ]);
  await revokeAtGate(caller.env, group.id, [key]);
  return publicKey(row!);
}

/**
 * Tells the group's gate that these keys are revoked (isolates may still cache them as active)
 * and drops them from this isolate's cache.
 */
export async function revokeAtGate(
  env: Env,
  groupId: string,
  keys: readonly Pick<ApiKey, 'id' | 'keyHash'>[],
): Promise<void> {
  if (keys.length === 0) return;
  const gate = groupGate(env, groupId);
  await Promise.all(keys.map((k) => gate.revokeKey(k.id)));
  for (const k of keys) forgetKey(k.keyHash);
}

/**
 * The key and its group when the caller may act on it: its holder may view and revoke it, and
 * change it while they may use the group's AI; those who manage the group may do all three. Others
 * who see the group get a 403; the rest, a 404.
 */
async function authorizedKey(
  caller: Caller,
  id: string,
  intent: 'view' | 'change' | 'revoke',
): Promise<{ key: ApiKey; group: Group }> {
  const [key] = await caller.db.select().from(apiKeys).where(eq(apiKeys.id, id));
  if (!key) throw new ApiError('not_found', `No key ${id}.`);
  const [group] = await caller.db.select().from(groups).where(eq(groups.id, key.groupId));
  if (!group) throw new ApiError('not_found', `No key ${id}.`);
  const own = key.userId === actorId(caller);
  if (own && intent !== 'change') return { key, group };
  await authorize(caller, own ? 'ai.use' : 'group.manage', groupResource(group), `key ${id}`);
  return { key, group };
}

async function findGroupOf(caller: Caller, groupId: string): Promise<Group> {
  const [group] = await caller.db.select().from(groups).where(eq(groups.id, groupId));
  if (!group) throw new ApiError('not_found', `No group ${groupId}.`);
  return group;
}

function withinBounds(rules: BoundedRules, group: Group, createdAt: number): BoundedRules {
  const bounded = boundKey(rules, group.keyBounds, createdAt);
  if (bounded.violations.length > 0)
    throw new ApiError(
      'invalid_request',
      `Outside the group's key bounds: ${bounded.violations.map((v) => `${v.path.replace(/\.\d+$/, '')}: ${v.message}`).join('; ')}.`,
      bounded.violations,
    );
  return bounded.rules;
}

function revokedConflict(id: string): ApiError {
  return new ApiError('conflict', `Key ${id} is revoked; make a new one.`);
}
