// 简体中文 catalog: a translation of every key of en.ts (the type makes a missing key an error).
import { adminZhCN } from './admin.zh-CN';
import type { MessageKey } from './en';

export const zhCN: Record<MessageKey, string> = {
  // The admin pages' strings (issue 12) live in their own catalog.
  ...adminZhCN,
  'common.loading': '加载中…',
  'common.copy': '复制',
  'common.copied': '已复制',
  'common.notFound': '页面不存在',
  'error.generic': '出错了。',
  'access.notAllowedTitle': '无权访问',
  'access.notAllowed': '你的角色无权查看此页面。',
  'nav.skip': '跳到正文',
  'nav.label': '主导航',
  'nav.home': '首页',
  'nav.profile': '个人资料',
  'nav.keyLookup': '密钥查询',
  'nav.login': '登录',
  'nav.signOut': '退出登录',
  'nav.language': '语言',
};
