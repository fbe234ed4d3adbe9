// The admin pages' links in the header (issue 12): only those the signed-in person may open — an
// enterprise they run, the accounts/budgets/alerts/audit pages when they manage anything, usage
// for everyone, the system page for a system admin.
import { useQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import { adminKeys } from '../api/admin-queries';
import { api, must } from '../api/client';
import { useMe } from '../api/queries';
import { useI18n } from '../i18n';
import { isSystemAdmin, managesAnything, runEnterpriseIds } from '../lib/access';

export function AdminLinks() {
  const { t } = useI18n();
  const me = useMe();
  const run = runEnterpriseIds(me.data);
  const enterprises = useQuery({
    queryKey: adminKeys.enterprises,
    enabled: run.length > 0,
    queryFn: () => must(api.GET('/enterprises')),
  });
  if (!me.data) return null;
  const named = (enterprises.data?.data ?? []).filter((e) => run.includes(e.id));
  return (
    <>
      {named.map((e) => (
        <Link key={e.id} href={`/enterprises/${e.id}`}>
          {e.name}
        </Link>
      ))}
      <Link href="/usage">{t('adm.nav.usage')}</Link>
      {managesAnything(me.data) && (
        <>
          <Link href="/accounts">{t('adm.nav.accounts')}</Link>
          <Link href="/budgets">{t('adm.nav.budgets')}</Link>
          <Link href="/alerts">{t('adm.nav.alerts')}</Link>
          <Link href="/audit">{t('adm.nav.audit')}</Link>
        </>
      )}
      {isSystemAdmin(me.data) && <Link href="/system">{t('adm.nav.system')}</Link>}
    </>
  );
}
