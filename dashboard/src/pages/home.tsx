// The member home: for each group I am in, my cost and my share of the group's cost this month,
// the group account's status, my keys (create, revoke) with setup snippets and a test request,
// and leaving the group. Without a group: how to get one (an invite link, or start a carpool).
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'wouter';
import { api, must, type Schemas } from '../api/client';
import { keys, useGroupAccount, useGroups, useGroupUsage, useMe } from '../api/queries';
import { AccountStatus } from '../components/account-status';
import { GroupKeys } from '../components/keys';
import { Card, ConfirmButton, ErrorMessage, Loading, Stat } from '../components/ui';
import { useI18n } from '../i18n';
import { formatCount, formatMicros, formatShare, monthStart } from '../lib/format';
import { familyOf } from '../lib/probe';

function GroupSection({ group, userId, owner }: { group: Schemas['Group']; userId: string; owner: boolean }) {
  const { t, language } = useI18n();
  const from = monthStart();
  const usage = useGroupUsage(group.id, from);
  const account = useGroupAccount(group.id);
  const mine = usage.data?.byMember.find((m) => m.userId === userId);
  const total = usage.data?.totals.costMicros ?? 0;
  const myCost = mine?.costMicros ?? 0;
  const provider = account.data?.provider ?? 'anthropic';
  return (
    <Card
      title={group.name}
      actions={
        <span>
          <Link href={`/groups/${group.id}/statements`} className="button secondary small">
            {t('st.link')}
          </Link>{' '}
          {owner && (
            <Link href={`/groups/${group.id}`} className="button secondary small">
              {t('home.manage')}
            </Link>
          )}
        </span>
      }
    >
      <div className="stats">
        <Stat
          label={t('home.myCost')}
          value={<span data-testid="my-cost">{formatMicros(myCost, language)}</span>}
        />
        <Stat
          label={t('home.myShare')}
          value={<span data-testid="my-share">{formatShare(myCost, total, language)}</span>}
          hint={t('home.ofGroup', { total: formatMicros(total, language) })}
        />
        <Stat label={t('home.myRequests')} value={formatCount(mine?.requests ?? 0, language)} />
      </div>
      <h3>{t('account.title')}</h3>
      {account.isPending ? <Loading /> : <AccountStatus account={account.data ?? null} />}
      <GroupKeys
        groupId={group.id}
        userId={userId}
        family={familyOf(provider)}
        models={account.data?.supportedModels ?? null}
      />
      <LeaveGroup groupId={group.id} name={group.name} />
    </Card>
  );
}

/**
 * Leaving, asked twice: one's keys in the group are revoked at once. A carpool's last owner is
 * told by the API to hand the group over first.
 */
function LeaveGroup({ groupId, name }: { groupId: string; name: string }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const leave = useMutation({
    mutationFn: () => must(api.POST('/groups/{id}/leave', { params: { path: { id: groupId } } })),
    onSuccess: () => {
      queryClient.invalidateQueries({ queryKey: keys.me });
      queryClient.invalidateQueries({ queryKey: keys.groups });
    },
  });
  return (
    <div className="row">
      <ConfirmButton
        small
        label={t('home.leave', { name })}
        confirmLabel={t('home.leaveConfirm', { name })}
        pending={leave.isPending}
        onConfirm={() => leave.mutate()}
      />
      <ErrorMessage error={leave.error} />
    </div>
  );
}

export default function HomePage() {
  const { t } = useI18n();
  const me = useMe();
  const groups = useGroups();
  if (groups.isPending || !me.data) return <Loading />;
  const mine = (groups.data?.data ?? []).filter((g) => me.data?.groups.some((m) => m.groupId === g.id));
  return (
    <>
      <h1>{t('home.title')}</h1>
      {mine.length === 0 && (
        <Card title={t('home.noGroup')}>
          <p>{t('home.noGroupHint')}</p>
        </Card>
      )}
      {mine.map((g) => (
        <GroupSection
          key={g.id}
          group={g}
          userId={me.data?.userId ?? ''}
          owner={me.data?.groups.some((m) => m.groupId === g.id && m.role === 'owner') ?? false}
        />
      ))}
      <p>
        <Link href="/groups/new" className="button secondary">
          {t('home.newCarpool')}
        </Link>
      </p>
    </>
  );
}
