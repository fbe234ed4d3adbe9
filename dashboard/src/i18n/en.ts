// The English catalog, the source of every string the dashboard shows. zh-CN.ts translates each key.
import { adminEn } from './admin.en';

export const en = {
  // The admin pages' strings (issue 12) live in their own catalog.
  ...adminEn,
  'common.loading': 'Loading…',
  'common.copy': 'Copy',
  'common.copied': 'Copied',
  'common.notFound': 'Page not found',
  'error.generic': 'Something went wrong.',
  'access.notAllowedTitle': 'Not allowed',
  'access.notAllowed': 'Your role does not allow this page.',
  'nav.skip': 'Skip to content',
  'nav.label': 'Main',
  'nav.home': 'Home',
  'nav.profile': 'Profile',
  'nav.keyLookup': 'Key lookup',
  'nav.login': 'Sign in',
  'nav.signOut': 'Sign out',
  'nav.language': 'Language',
} as const;

export type MessageKey = keyof typeof en;
