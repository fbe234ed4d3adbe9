// The member home: for each group I am in, my part of this month's bill as the statement preview
// computes it (fee and metered cost, split by the group's mode) and my usage at API price apart,
// the carpool account's status, my keys (create, revoke) with setup snippets and a test request,
// and leaving the group. Enterprise groups are listed apart: the enterprise's pools serve them, so
// they have no account of their own to show. Without a group: how to get one (an invite link, or
// start a carpool). Then the enterprises I belong to, and leaving one.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link } from 'wouter';
import { adminKeys, useEnterprises } from '../api/admin-queries';
import { api, must, type Schemas } from '../api/client';
import { keys, useCurrentStatement, useGroupAccount, useGroups, useMe } from '../api/queries';
import { AccountStatus } from '../components/account-status';
import { GroupKeys } from '../components/keys';
import { Card, ConfirmButton, ErrorMessage, Loading, Stat } from '../components/ui';
import { useI18n } from '../i18n';
import { formatCount, formatMicrosAt } from '../lib/format';
import { familyOf } from '../lib/probe';
import { formatPpm, statementPrecision } from '../lib/statements';

function GroupSection({ group, userId, owner }: { group: Schemas['Group']; userId: string; owner: boolean }) {
  const { t } = useI18n();
  const carpool = group.kind === 'carpool';
  const statement = useCurrentStatement(group.id);
  // Only a carpool has an account of its own; an enterprise group's is its enterprise's pools.
  const account = useGroupAccount(group.id, carpool);
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
      {/* A failed refresh keeps the last figures under its error (components/guard.tsx says why). */}
      <ErrorMessage error={statement.error} />
      {statement.isPending ? (
        <Loading />
      ) : statement.isLoadingError ? null : (
        <MyMonth statement={statement.data} userId={userId} />
      )}
      {carpool ? (
        <>
          <h3>{t('account.title')}</h3>
          {account.isPending ? <Loading /> : <AccountStatus account={account.data ?? null} />}
        </>
      ) : (
        <p className="muted" data-testid="enterprise-group">
          {t('home.enterpriseGroupHint')}
        </p>
      )}
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
 * My part of the month's bill so far, exactly as the statement preview splits it, and apart from it
 * my usage at API price (what my requests would cost at API price: in a fee-only plan it weighs the
 * split, it is not what I owe).
 */
function MyMonth({ statement, userId }: { statement: Schemas['Statement']; userId: string }) {
  const { t, language } = useI18n();
  const precision = statementPrecision(statement);
  const line = statement.lines.find((l) => l.userId === userId);
  const money = (micros: number) => formatMicrosAt(micros, precision.money, language);
  return (
    <div className="stats">
      <Stat
        label={t('home.myAmount')}
        value={<span data-testid="my-amount">{money(line?.amountMicros ?? 0)}</span>}
        hint={
          line && line.adjustmentsMicros !== 0
            ? t('home.myAmountAdjusted', { adjustments: money(line.adjustmentsMicros) })
            : undefined
        }
      />
      <Stat
        label={t('home.myShare')}
        value={<span data-testid="my-share">{formatPpm(line?.sharePpm ?? 0, language)}</span>}
        hint={
          <span data-testid="group-bill">
            {t('home.ofBill', {
              bill: money(statement.totals.billMicros),
              mode: t(`st.mode.${statement.splitMode}`),
            })}
          </span>
        }
      />
      <Stat
        label={t('home.myCost')}
        value={
          <span data-testid="my-cost">
            {formatMicrosAt(line?.costMicros ?? 0, precision.usage, language)}
          </span>
        }
        hint={t('home.myCostHint')}
      />
      <Stat label={t('home.myRequests')} value={formatCount(line?.requests ?? 0, language)} />
    </div>
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
    // Returned, so the leave stays pending (its confirmation disabled) until the page has read
    // that the group is gone: a second click in between would send it again.
    onSuccess: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: keys.me }),
        queryClient.invalidateQueries({ queryKey: keys.groups }),
      ]),
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
              <td>
                <div className="row">
                  {m.role !== 'member' && (
                    <Link href={`/enterprises/${m.enterpriseId}`} className="button secondary small">
                      {t('home.openEnterprise')}
                    </Link>
                  )}
                  <LeaveEnterprise enterpriseId={m.enterpriseId} name={nameOf(m.enterpriseId)} />
                </div>
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
    // Returned: pending until the page has read it (LeaveGroup says why).
    onSuccess: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: keys.me }),
        queryClient.invalidateQueries({ queryKey: keys.groups }),
        queryClient.invalidateQueries({ queryKey: adminKeys.enterprises }),
      ]),
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
  const carpools = mine.filter((g) => g.kind === 'carpool');
  const enterpriseGroups = mine.filter((g) => g.kind === 'enterprise');
  const section = (g: Schemas['Group']) => (
    <GroupSection
      key={g.id}
      group={g}
      userId={me.data?.userId ?? ''}
      owner={me.data?.groups.some((m) => m.groupId === g.id && m.role === 'owner') ?? false}
    />
  );
  return (
    <>
      <h1>{t('home.title')}</h1>
      {mine.length === 0 && (
        <Card title={t('home.noGroup')}>
          <p>{t('home.noGroupHint')}</p>
        </Card>
      )}
      {carpools.map(section)}
      {enterpriseGroups.length > 0 && (
        <section aria-labelledby="enterprise-groups">
          <h2 id="enterprise-groups">{t('home.enterpriseGroups')}</h2>
          {enterpriseGroups.map(section)}
        </section>
      )}
      <MyEnterprises memberships={me.data.enterprises} />
      <p>
        <Link href="/groups/new" className="button secondary">
          {t('home.newCarpool')}
        </Link>
      </p>
    </>
  );
}
