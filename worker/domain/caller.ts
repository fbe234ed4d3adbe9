// Who is calling a domain function, and the one permission check every domain function makes.
// A Caller is built per request by the API layer (worker/api/principal.ts) from a session cookie,
// a personal access token or the operator token; domain functions take it first.
import { eq } from 'drizzle-orm';
import { ApiError } from '../api/errors';
import type { Db } from '../db/client';
import { enterpriseMembers, groupMembers } from '../db/schema';
import { type Action, can, type Memberships, type Resource, viewActionOf } from './permissions';

export type Principal =
  /** The ADMIN_TOKEN: the automation path, a system admin without a user. */
  | { kind: 'operator' }
  /** A person, signed in with a session cookie or a personal access token. */
  | {
      kind: 'user';
      userId: string;
      systemRole: 'system_admin' | 'user';
      via: 'session' | 'token';
      /** The session's or token's id, so the holder can be told which one is theirs. */
      credentialId: string;
      /** For a session: when the person signed in to open it (a token has no sign-in). */
      signedInAt?: number;
    };

export interface Caller {
  principal: Principal;
  db: Db;
  env: Env;
  /** The client address, for the audit log and rate limits. */
  ip: string | null;
  /** Memberships, read once per request (see memberships()). */
  memberships?: Promise<Memberships>;
}

/** The principal's roles, read from D1 once per request. */
export function memberships(caller: Caller): Promise<Memberships> {
  caller.memberships ??= readMemberships(caller);
  return caller.memberships;
}

async function readMemberships({ principal, db }: Caller): Promise<Memberships> {
  if (principal.kind === 'operator') {
    return { system: true, userId: null, enterprises: new Map(), groups: new Map() };
  }
  const [enterprises, groups] = await db.batch([
    db
      .select({ id: enterpriseMembers.enterpriseId, role: enterpriseMembers.role })
      .from(enterpriseMembers)
      .where(eq(enterpriseMembers.userId, principal.userId)),
    db
      .select({ id: groupMembers.groupId, role: groupMembers.role })
      .from(groupMembers)
      .where(eq(groupMembers.userId, principal.userId)),
  ]);
  return {
    system: principal.systemRole === 'system_admin',
    userId: principal.userId,
    enterprises: new Map(enterprises.map((e) => [e.id, e.role])),
    groups: new Map(groups.map((g) => [g.id, g.role])),
  };
}

/**
 * The one permission check. A caller who may not even see the resource gets a 404 (ids of other
 * tenants cannot be probed); one who sees it but may not do this gets a 403.
 */
export async function authorize(
  caller: Caller,
  action: Action,
  resource: Resource,
  what: string,
): Promise<void> {
  const m = await memberships(caller);
  if (can(m, action, resource)) return;
  if (!can(m, viewActionOf(resource), resource)) throw new ApiError('not_found', `No ${what}.`);
  throw new ApiError('forbidden', `Your role does not allow this (${action}) on ${what}.`);
}

/** Whether the caller holds the action (for filtering lists and hiding what a role may not do). */
export async function allows(caller: Caller, action: Action, resource: Resource): Promise<boolean> {
  return can(await memberships(caller), action, resource);
}

/** The acting person's id, or null for the operator token. */
export function actorId(caller: Caller): string | null {
  return caller.principal.kind === 'user' ? caller.principal.userId : null;
}
