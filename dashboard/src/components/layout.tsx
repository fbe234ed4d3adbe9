// The frame of every page: the header (home, the groups one owns, profile, key lookup, language,
// sign out) and the main region. Links to what a role may not open are not shown.
import { useIsFetching, useIsMutating, useQueryClient } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { Link, useLocation } from 'wouter';
import { api } from '../api/client';
import { useGroups, useMe } from '../api/queries';
import { LANGUAGES, type Language, useI18n } from '../i18n';
import { ownedGroupIds } from '../lib/access';
import { AdminLinks } from './admin-nav';

const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', 'zh-CN': '简体中文' };

export function LanguageSwitch() {
  const { language, setLanguage, t } = useI18n();
  return (
    <label className="language">
      <span className="visually-hidden">{t('nav.language')}</span>
      <select value={language} onChange={(e) => setLanguage(e.target.value as Language)}>
        {LANGUAGES.map((l) => (
          <option key={l} value={l} lang={l}>
            {LANGUAGE_NAMES[l]}
          </option>
        ))}
      </select>
    </label>
  );
}

function OwnerLinks() {
  const me = useMe();
  const groups = useGroups();
  const owned = (groups.data?.data ?? []).filter((g) => ownedGroupIds(me.data).includes(g.id));
  return owned.map((g) => (
    <Link key={g.id} href={`/groups/${g.id}`}>
      {g.name}
    </Link>
  ));
}

export function Layout({ children }: { children: ReactNode }) {
  const { t } = useI18n();
  const me = useMe();
  const queryClient = useQueryClient();
  const [, navigate] = useLocation();
  const signedIn = Boolean(me.data);
  // Assistive technology hears the page is still loading; the browser tests wait on the same
  // signal rather than on network silence, which the polled read-outs never quite give.
  const busy = useIsFetching() + useIsMutating() > 0;
  return (
    <>
      <a className="skip" href="#main">
        {t('nav.skip')}
      </a>
      <header className="top">
        <Link href="/" className="brand">
          AiCarpool
        </Link>
        <nav aria-label={t('nav.label')}>
          {signedIn && <Link href="/">{t('nav.home')}</Link>}
          {signedIn && <OwnerLinks />}
          {signedIn && <AdminLinks />}
          {signedIn && <Link href="/profile">{t('nav.profile')}</Link>}
          <Link href="/key">{t('nav.keyLookup')}</Link>
          {!signedIn && <Link href="/login">{t('nav.login')}</Link>}
        </nav>
        <div className="top-end">
          <LanguageSwitch />
          {signedIn && (
            <button
              type="button"
              className="secondary small"
              onClick={async () => {
                await api.POST('/auth/logout');
                queryClient.clear();
                navigate('/login');
              }}
            >
              {t('nav.signOut')}
            </button>
          )}
        </div>
      </header>
      <main id="main" aria-busy={busy}>
        {children}
      </main>
    </>
  );
}
