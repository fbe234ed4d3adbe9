// API refusals in the reader's language.
import type { ApiFailure } from '../api/client';
import { isMessageKey, type Language, type Translate } from '../i18n';

/**
 * An API refusal in the reader's language. In English, the server's own message, which names the
 * field or the rule. Otherwise: refusals the API names (`details.status`) and rate limits in full,
 * any other as its code's words followed by the server's (English) message.
 */
export function apiFailureText(error: ApiFailure, t: Translate, language: Language): string {
  if (language === 'en') return error.message;
  const details = (error.details ?? {}) as { status?: unknown; retryAfterSeconds?: unknown };
  const statusKey = `apiError.status.${String(details.status)}`;
  if (isMessageKey(statusKey)) return t(statusKey);
  if (error.code === 'rate_limited' && typeof details.retryAfterSeconds === 'number')
    return t('apiError.rateLimited', { seconds: details.retryAfterSeconds });
  const codeKey = `apiError.code.${error.code}`;
  if (!isMessageKey(codeKey)) return error.message;
  return t('apiError.withMessage', { lead: t(codeKey), message: error.message });
}
