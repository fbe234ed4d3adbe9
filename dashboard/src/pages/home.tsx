// The member home: for each group I am in, my cost and my share of the group's cost this month,
// the group account's status, my keys (create, revoke) with setup snippets and a test request,
// and leaving the group. Without a group: how to get one (an invite link, or start a carpool).
// Then the enterprises I belong to, and leaving one.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link } from 'wouter';
import { adminKeys, useEnterprises } from '../api/admin-queries';
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

/**
 * The enterprises I belong to, with my role there and a way out: an owner may add a person by
 * email without asking them, so whoever was added can leave (the last owner hands over first).
 */
function MyEnterprises({ memberships }: { memberships: Schemas['Me']['enterprises'] }) {
  const { t } = useI18n();
  const enterprises = useEnterprises(memberships.length > 0);
  if (memberships.length === 0) return null;
  const nameOf = (id: string) => enterprises.data?.data.find((e) => e.id === id)?.name ?? id;
  return (
    <Card title={t('home.enterprises')}>
      <table>
        <thead>
          <tr>
            <th>{t('home.enterprise')}</th>
            <th>{t('home.myRole')}</th>
            <th>
              <span className="visually-hidden">{t('common.actions')}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {memberships.map((m) => (
            <tr key={m.enterpriseId}>
              <td>{nameOf(m.enterpriseId)}</td>
              <td>{t(`adm.role.${m.role}`)}</td>
              <td className="row">
                {m.role !== 'member' && (
                  <Link href={`/enterprises/${m.enterpriseId}`} className="button secondary small">
                    {t('home.openEnterprise')}
                  </Link>
                )}
                <LeaveEnterprise enterpriseId={m.enterpriseId} name={nameOf(m.enterpriseId)} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

function LeaveEnterprise({ enterpriseId, name }: { enterpriseId: string; name: string }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const leave = useMutation({
    mutationFn: () => must(api.POST('/enterprises/{id}/leave', { params: { path: { id: enterpriseId } } })),
    onSuccess: () => {
      queryClient.invalidateQueries({ queryKey: keys.me });
      queryClient.invalidateQueries({ queryKey: keys.groups });
      queryClient.invalidateQueries({ queryKey: adminKeys.enterprises });
    },
  });
  return (
    <>
      <ConfirmButton
        small
        label={t('home.leave', { name })}
        confirmLabel={t('home.leaveEnterpriseConfirm', { name })}
        pending={leave.isPending}
        onConfirm={() => leave.mutate()}
      />
      <ErrorMessage error={leave.error} />
    </>
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
      <MyEnterprises memberships={me.data.enterprises} />
      <p>
        <Link href="/groups/new" className="button secondary">
          {t('home.newCarpool')}
        </Link>
      </p>
    </>
  );
}
