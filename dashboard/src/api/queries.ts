// Shared reads as TanStack Query hooks: one query key per API path, so a write invalidates exactly
// what it changed (`queryClient.invalidateQueries({ queryKey: keys.group(id) })`).
import { type QueryKey, useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { api, must } from './client';

export const keys = {
  me: ['me'] as const,
  user: (id: string) => ['user', id] as const,
  groups: ['groups'] as const,
  group: (id: string) => ['group', id] as const,
  groupAccount: (id: string) => ['group', id, 'account'] as const,
  /** Every key read of a group: invalidating it refreshes both lists below. */
  groupKeys: (id: string) => ['group', id, 'keys'] as const,
  /**
   * The signed-in person's own keys in a group (`GET /keys?groupId&userId`), and every member's
   * (`GET /groups/{id}/keys`, for a manager): two answers, so two keys. Sharing one showed a
   * manager's cached list of everyone's keys as "my keys", each with its Revoke button.
   */
  myGroupKeys: (id: string) => ['group', id, 'keys', 'mine'] as const,
  allGroupKeys: (id: string) => ['group', id, 'keys', 'all'] as const,
  groupInvites: (id: string) => ['group', id, 'invites'] as const,
  usage: (groupId: string, from: number) => ['usage', groupId, from] as const,
  statements: (groupId: string) => ['group', groupId, 'statements'] as const,
  currentStatement: (groupId: string) => ['group', groupId, 'statements', 'current'] as const,
  statement: (groupId: string, month: string) => ['group', groupId, 'statements', month] as const,
  myKeys: ['keys'] as const,
  sessions: ['sessions'] as const,
  tokens: ['tokens'] as const,
};

/**
 * A list the API pages by an opaque cursor (`{data, nextCursor}`, `cursor=`): `data` is every row
 * of the pages read so far, in the API's order; `fetchNextPage` reads the next page onto it, and
 * `hasNextPage` is false once the API answered `nextCursor: null`. The key must name every filter,
 * so that a change of filter starts again from the first page rather than mixing two lists.
 */
export function useCursorPages<Row>(
  queryKey: QueryKey,
  page: (cursor: string | undefined) => Promise<{ data: Row[]; nextCursor: string | null }>,
  enabled = true,
) {
  return useInfiniteQuery({
    queryKey,
    enabled,
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => page(pageParam),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    select: (pages) => pages.pages.flatMap((p) => p.data),
  });
}

/** Who is signed in: the principal with its memberships, or null when nobody is. */
export function useMe() {
  return useQuery({
    queryKey: keys.me,
    queryFn: async () => {
      const { data, response } = await api.GET('/me');
      if (response.status === 401) return null;
      if (!data) throw new Error(`GET /me answered ${response.status}`);
      return data;
    },
    staleTime: 60_000,
  });
}

export function useUser(id: string | null | undefined) {
  return useQuery({
    queryKey: keys.user(id ?? ''),
    enabled: Boolean(id),
    queryFn: () => must(api.GET('/users/{id}', { params: { path: { id: id! } } })),
  });
}

export function useGroups() {
  return useQuery({ queryKey: keys.groups, queryFn: () => must(api.GET('/groups')) });
}

export function useGroup(id: string) {
  return useQuery({
    queryKey: keys.group(id),
    queryFn: () => must(api.GET('/groups/{id}', { params: { path: { id } } })),
  });
}

/** The carpool's bound account with its live state; null while none is bound. */
export function useGroupAccount(id: string, enabled = true) {
  return useQuery({
    queryKey: keys.groupAccount(id),
    enabled,
    queryFn: async () => {
      const { data, response } = await api.GET('/groups/{id}/account', { params: { path: { id } } });
      if (response.status === 404) return null;
      if (!data) throw new Error(`GET /groups/${id}/account answered ${response.status}`);
      return data;
    },
  });
}

/** Usage of a group from `from` until now: totals, by model, by member (a member: only themself), by hour. */
export function useGroupUsage(groupId: string, from: number) {
  return useQuery({
    queryKey: keys.usage(groupId, from),
    queryFn: () => must(api.GET('/usage', { params: { query: { groupId, from } } })),
  });
}

/**
 * The current month's bill as the statement preview computes it (fee + metered, split by the
 * group's mode): what each member owes so far. The member home and the group page show it.
 */
export function useCurrentStatement(groupId: string, enabled = true) {
  return useQuery({
    queryKey: keys.currentStatement(groupId),
    enabled,
    queryFn: () => must(api.GET('/groups/{id}/statements/current', { params: { path: { id: groupId } } })),
  });
}
