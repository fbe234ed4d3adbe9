// The page of whoever manages a group (a carpool's owner; an enterprise group's owners and its
// enterprise's owners and admins): this month's cards (requests, the bill so far, usage at API
// price), a carpool's bound account and its health, members n/max with each one's part of the bill as the statement
// preview splits it (and their usage at API price apart), invite links (create, revoke, asked
// twice), and usage by model. The statements (split mode, preview, closed months) are on
// pages/statements.tsx.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'wouter';
import { api, must, type Schemas } from '../api/client';
import { keys, useCurrentStatement, useGroup, useGroupAccount, useGroupUsage, useMe } from '../api/queries';
import { AccountStatus } from '../components/account-status';
import { Card, CodeBlock, ConfirmButton, ErrorMessage, Field, Loading, Stat } from '../components/ui';
import { useI18n } from '../i18n';
import {
  formatCount,
  formatDateTime,
  formatMicros,
  formatMicrosAt,
  formatTokens,
  monthStart,
} from '../lib/format';
import { inviteInputFromForm, inviteLink } from '../lib/forms';
import { formatPpm, statementPrecision } from '../lib/statements';

function Invites({ groupId }: { groupId: string }) {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const list = useQuery({
    queryKey: keys.groupInvites(groupId),
    queryFn: () => must(api.GET('/groups/{id}/invites', { params: { path: { id: groupId } } })),
  });
  const [form, setForm] = useState({ days: '7', maxUses: '1', email: '' });
  const [link, setLink] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const set = (field: keyof typeof form) => (value: string) => setForm((f) => ({ ...f, [field]: value }));
  const invites = (list.data?.data ?? []).filter((i) => i.status === 'active');
  return (
    <Card title={t('invites.title')}>
      {link && (
        <div className="secret" data-testid="invite-link">
          <p>
            <strong>{t('invites.shownOnce')}</strong>
          </p>
          <CodeBlock text={link} label={t('invites.copyLink')} />
        </div>
      )}
      {invites.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>{t('invites.expires')}</th>
                <th className="num">{t('invites.uses')}</th>
                <th>{t('invites.email')}</th>
                <th>
                  <span className="visually-hidden">{t('common.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {invites.map((i) => (
                <tr key={i.id}>
                  <td>{formatDateTime(i.expiresAt, language)}</td>
                  <td className="num">
                    {i.uses} / {i.maxUses}
                  </td>
                  <td>{i.email ?? '—'}</td>
                  <td>
                    <RevokeInvite groupId={groupId} invite={i} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <details>
        <summary>{t('invites.create')}</summary>
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            try {
              const invite = await must(
                api.POST('/groups/{id}/invites', {
                  params: { path: { id: groupId } },
                  body: inviteInputFromForm(form),
                }),
              );
              setLink(inviteLink(invite.token, location.origin));
              await queryClient.invalidateQueries({ queryKey: keys.groupInvites(groupId) });
            } catch (err) {
              setError(err);
            }
          }}
        >
          <Field
            label={t('invites.days')}
            name="days"
            inputMode="decimal"
            value={form.days}
            onChange={set('days')}
          />
          <Field
            label={t('invites.maxUses')}
            name="maxUses"
            inputMode="numeric"
            value={form.maxUses}
            onChange={set('maxUses')}
          />
          <Field
            label={t('invites.email')}
            hint={t('invites.emailHint')}
            name="email"
            type="email"
            value={form.email}
            onChange={set('email')}
          />
          <ErrorMessage error={error} />
          <div>
            <button type="submit">{t('invites.createSubmit')}</button>
          </div>
        </form>
      </details>
    </Card>
  );
}

/** Revoking an invite link, asked twice: whoever holds the link can no longer join with it. */
function RevokeInvite({ groupId, invite }: { groupId: string; invite: Schemas['Invite'] }) {
  const { t, language } = useI18n();
  const queryClient = useQueryClient();
  const revoke = useMutation({
    mutationFn: () =>
      must(
        api.DELETE('/groups/{id}/invites/{inviteId}', {
          params: { path: { id: groupId, inviteId: invite.id } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: keys.groupInvites(groupId) }),
  });
  const what = invite.email ?? formatDateTime(invite.expiresAt, language);
  return (
    <div className="row">
      <ConfirmButton
        small
        label={t('invites.revoke')}
        confirmLabel={t('invites.revokeConfirm', { what })}
        pending={revoke.isPending}
        onConfirm={() => revoke.mutate()}
      />
      <ErrorMessage error={revoke.error} />
    </div>
  );
}

export default function GroupPage() {
  const { t, language } = useI18n();
  const { id = '' } = useParams<{ id: string }>();
  const group = useGroup(id);
  // Only a carpool has an account of its own; an enterprise group's is its enterprise's pools.
  const carpool = group.data?.kind === 'carpool';
  const account = useGroupAccount(id, carpool);
  const usage = useGroupUsage(id, monthStart());
  // The month's bill and each one's part of it, exactly as the statement preview splits it.
  const statement = useCurrentStatement(id);
  const me = useMe();
  if (group.isPending || usage.isPending) return <Loading />;
  // A failed refresh keeps the page under its error (components/guard.tsx says why).
  if (group.isLoadingError) return <ErrorMessage error={group.error} />;
  const g = group.data;
  const totals = usage.data?.totals;
  const members = g.members.length;
  // The members, invites and settings do not wait for the bill: its figures read "—" until it comes.
  const bill = statement.data;
  const precision = bill ? statementPrecision(bill) : null;
  const money = (micros: number | undefined) =>
    precision && micros !== undefined ? formatMicrosAt(micros, precision.money, language) : '—';
  const usageCost = (micros: number | undefined) =>
    precision && micros !== undefined ? formatMicrosAt(micros, precision.usage, language) : '—';
  const lineOf = (userId: string) => bill?.lines.find((l) => l.userId === userId);
  return (
    <>
      <h1>{g.name}</h1>
      <ErrorMessage error={group.error} />
      <p>
        <Link href={`/groups/${id}/statements`} className="button secondary small">
          {t('st.link')}
        </Link>
      </p>
      <section aria-label={t('group.thisMonth')} className="stats">
        <Stat
          label={t('group.requests')}
          value={<span data-testid="group-requests">{formatCount(totals?.requests ?? 0, language)}</span>}
        />
        <Stat
          label={t('group.bill')}
          value={<span data-testid="group-bill">{money(bill?.totals.billMicros)}</span>}
          hint={bill && t('group.billHint', { mode: t(`st.mode.${bill.splitMode}`) })}
        />
        <Stat
          label={t('group.usageCost')}
          value={<span data-testid="group-cost">{usageCost(bill?.totals.costMicros)}</span>}
          hint={t('group.usageCostHint')}
        />
        <Stat label={t('group.members')} value={`${members} / ${g.maxMembers}`} />
      </section>

      {carpool && (
        <Card
          title={t('account.title')}
          actions={
            account.data ? (
              <Link href={`/groups/${id}/account`} className="button secondary small">
                {t('account.manage')}
              </Link>
            ) : (
              <Link href={`/groups/${id}/account`} className="button small">
                {t('account.bind')}
              </Link>
            )
          }
        >
          {account.isPending ? <Loading /> : <AccountStatus account={account.data ?? null} />}
        </Card>
      )}

      <Card title={t('group.memberCosts', { n: members, max: g.maxMembers })}>
        <ErrorMessage error={statement.error} />
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>{t('group.member')}</th>
                <th className="num">{t('group.requests')}</th>
                <th className="num">{t('group.usageCost')}</th>
                <th className="num">{t('group.share')}</th>
                <th className="num">{t('group.amount')}</th>
                <th>{t('group.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {g.members.map((m) => {
                const line = lineOf(m.userId);
                return (
                  <tr key={m.userId}>
                    <td>
                      {m.name} <span className="muted">({t(`role.${m.role}`)})</span>
                      <br />
                      <small className="muted">{m.email}</small>
                    </td>
                    <td className="num">{formatCount(line?.requests ?? 0, language)}</td>
                    <td className="num">{usageCost(bill ? (line?.costMicros ?? 0) : undefined)}</td>
                    <td className="num">{bill ? formatPpm(line?.sharePpm ?? 0, language) : '—'}</td>
                    <td className="num" data-testid="member-amount">
                      {money(bill ? (line?.amountMicros ?? 0) : undefined)}
                    </td>
                    <td>
                      <MemberActions groupId={id} member={m} self={m.userId === me.data?.userId} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </Card>

      <Invites groupId={id} />

      <GroupSettings groupId={id} name={g.name} maxMembers={g.maxMembers} />

      <Card title={t('group.byModel')}>
        {(usage.data?.byModel.length ?? 0) === 0 ? (
          <p className="muted">{t('group.noUsage')}</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>{t('group.model')}</th>
                  <th className="num">{t('group.requests')}</th>
                  <th className="num">{t('group.tokensIn')}</th>
                  <th className="num">{t('group.tokensOut')}</th>
                  <th className="num">{t('group.cost')}</th>
                </tr>
              </thead>
              <tbody>
                {usage.data?.byModel.map((m) => (
                  <tr key={m.model}>
                    <td>{m.model}</td>
                    <td className="num">{formatCount(m.requests, language)}</td>
                    <td className="num">{formatTokens(m.inputTokens, language)}</td>
                    <td className="num">{formatTokens(m.outputTokens, language)}</td>
                    <td className="num">{formatMicros(m.costMicros, language)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}

/**
 * A member's row, for the owner: their role (owner or member), and removal, asked twice since
 * their keys in the group are revoked at once. One's own row has neither: leaving is on the home
 * page, and a carpool's last owner hands the group over first (the API says so).
 */
function MemberActions({
  groupId,
  member,
  self,
}: {
  groupId: string;
  member: { userId: string; name: string; role: 'owner' | 'member' };
  self: boolean;
}) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: keys.group(groupId) });
  const role = useMutation({
    mutationFn: (next: 'owner' | 'member') =>
      must(
        api.PATCH('/groups/{id}/members/{userId}', {
          params: { path: { id: groupId, userId: member.userId } },
          body: { role: next },
        }),
      ),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: () =>
      must(
        api.DELETE('/groups/{id}/members/{userId}', {
          params: { path: { id: groupId, userId: member.userId } },
        }),
      ),
    onSuccess: refresh,
  });
  if (self) return null;
  return (
    <div className="row">
      <button
        type="button"
        className="secondary small"
        disabled={role.isPending}
        onClick={() => role.mutate(member.role === 'owner' ? 'member' : 'owner')}
      >
        {t(member.role === 'owner' ? 'group.makeMember' : 'group.makeOwner', { name: member.name })}
      </button>
      <ConfirmButton
        small
        label={t('group.remove', { name: member.name })}
        confirmLabel={t('group.removeConfirm', { name: member.name })}
        pending={remove.isPending}
        onConfirm={() => remove.mutate()}
      />
      <ErrorMessage error={role.error ?? remove.error} />
    </div>
  );
}

/** The group's name and seat limit (a limit below the members it has is refused by the API). */
function GroupSettings({ groupId, name, maxMembers }: { groupId: string; name: string; maxMembers: number }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [newName, setNewName] = useState(name);
  const [seats, setSeats] = useState(String(maxMembers));
  const save = useMutation({
    mutationFn: () =>
      must(
        api.PATCH('/groups/{id}', {
          params: { path: { id: groupId } },
          body: {
            ...(newName.trim() !== name ? { name: newName.trim() } : {}),
            ...(Number(seats) !== maxMembers ? { maxMembers: Number(seats) } : {}),
          },
        }),
      ),
    onSuccess: () => {
      queryClient.invalidateQueries({ queryKey: keys.group(groupId) });
      queryClient.invalidateQueries({ queryKey: keys.groups });
    },
  });
  const changed = newName.trim() !== name || Number(seats) !== maxMembers;
  return (
    <Card title={t('group.settings')}>
      <form
        aria-label={t('group.settings')}
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Field label={t('group.name')} name="groupName" value={newName} onChange={setNewName} required />
        <Field
          label={t('group.maxMembers')}
          name="maxMembers"
          inputMode="numeric"
          value={seats}
          onChange={setSeats}
          required
        />
        <ErrorMessage error={save.error} />
        <button type="submit" disabled={save.isPending || !changed || !Number.isInteger(Number(seats))}>
          {t('group.save')}
        </button>
      </form>
    </Card>
  );
}
