// Opens a page only for whom it is meant (routes.tsx `access`): the signed-out go to /login and
// come back after; a signed-in person of another role sees "not allowed".
import { type ReactNode, useEffect } from 'react';
import { useLocation } from 'wouter';
import { useGroups, useMe } from '../api/queries';
import { isSystemAdmin, managesAnything, managesGroup, ownsGroup, runsEnterprise } from '../lib/access';
import type { Access } from '../routes';
import { ErrorMessage, Loading, NotAllowed } from './ui';

export function Guard({
  access,
  params,
  children,
}: {
  access: Access;
  params: Record<string, string | undefined>;
  children: ReactNode;
}) {
  const me = useMe();
  const [location, navigate] = useLocation();
  const signedOut = access !== 'public' && me.isSuccess && me.data === null;
  useEffect(() => {
    if (signedOut)
      navigate(`/login?next=${encodeURIComponent(location + window.location.search)}`, { replace: true });
  }, [signedOut, location, navigate]);

  if (access === 'public') return children;
  if (me.isPending) return <Loading />;
  // Only a first read that failed leaves nothing to show. A refresh that fails (on focus, after a
  // change) keeps the page mounted under its error: unmounting it would close an open confirmation
  // and drop a half-typed form, and bring the page back reset once a later read succeeds.
  if (me.isLoadingError) return <ErrorMessage error={me.error} />;
  if (me.data === null) return null;
  if (access === 'group-owner' && !ownsGroup(me.data, params.id ?? '')) return <NotAllowed />;
  if (access === 'enterprise-admin' && !runsEnterprise(me.data, params.id ?? '')) return <NotAllowed />;
  if (access === 'manager' && !managesAnything(me.data)) return <NotAllowed />;
  if (access === 'system-admin' && !isSystemAdmin(me.data)) return <NotAllowed />;
  return (
    <>
      <ErrorMessage error={me.error} />
      {access === 'group-manager' && !ownsGroup(me.data, params.id ?? '') ? (
        <GroupManagerGuard groupId={params.id ?? ''}>{children}</GroupManagerGuard>
      ) : (
        children
      )}
    </>
  );
}

/**
 * Not the group's owner: an owner or admin of its enterprise manages it too. The groups the person
 * sees say which enterprise it is in (a group they cannot see is not allowed either).
 */
function GroupManagerGuard({ groupId, children }: { groupId: string; children: ReactNode }) {
  const me = useMe();
  const groups = useGroups();
  if (groups.isPending) return <Loading />;
  if (groups.isLoadingError) return <ErrorMessage error={groups.error} />;
  const group = groups.data.data.find((g) => g.id === groupId);
  if (!group || !managesGroup(me.data, group)) return <NotAllowed />;
  // A failed refresh keeps the page mounted under its error (see Guard).
  return (
    <>
      <ErrorMessage error={groups.error} />
      {children}
    </>
  );
}
