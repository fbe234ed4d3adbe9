// API refusals in the reader's language.
import type { ApiFailure, Schemas } from '../api/client';
import { isMessageKey, type Language, type MessageKey, type Translate } from '../i18n';

type Issue = Schemas['ValidationIssue'];

/**
 * How a page names its form's fields for the API's field paths (`limitMicros`), as the form shows
 * them: a label; for a number the form shows in other units (dollars for micro-dollars), how to
 * show the API's bound; for a choice, how the form shows each of the API's values (`month` →
 * "Monthly").
 */
export type FieldLabels = Record<
  string,
  string | { label: string; value?: (n: number) => string; options?: Record<string, string> }
>;

/** A form's choices as `FieldLabels` options: each of the API's values, as the form shows it. */
export function optionLabels<T extends string>(values: readonly T[], label: (value: T) => string) {
  return Object.fromEntries(values.map((v) => [v, label(v)]));
}

/**
 * An API refusal in the reader's language. A refusal of fields (`details`: the API's
 * ValidationIssue list) is said field by field from the issues, in any language, naming each field
 * as the form does (`fields`) or else by its API path. Otherwise, in English the server's own
 * message; in another language refusals the API names (`details.status`) and rate limits in full,
 * any other as its code's words followed by the server's (English) message.
 */
export function apiFailureText(
  error: ApiFailure,
  t: Translate,
  language: Language,
  fields: FieldLabels = {},
): string {
  const issues = issuesOf(error.details);
  if (error.code === 'invalid_request' && issues)
    return issues.map((issue) => issueText(issue, t, language, fields)).join(language === 'en' ? ' ' : '');
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

/** The details as issues, if that is what they are (other refusals carry other details). */
function issuesOf(details: unknown): Issue[] | null {
  if (!Array.isArray(details) || details.length === 0) return null;
  const ok = details.every(
    (i) => typeof i === 'object' && i !== null && typeof i.path === 'string' && typeof i.code === 'string',
  );
  return ok ? (details as Issue[]) : null;
}

function labelFor(path: string, fields: FieldLabels) {
  // An item of a list is named by its list (`allowedModels.2` → `allowedModels`).
  const entry = fields[path] ?? fields[path.replace(/(\.\d+)+$/, '')];
  if (entry === undefined) return { label: path };
  return typeof entry === 'string' ? { label: entry } : entry;
}

function issueText(issue: Issue, t: Translate, language: Language, fields: FieldLabels): string {
  const { label, value, options } = labelFor(issue.path, fields);
  const field = issue.path === '' ? t('apiError.issue.wholeRequest') : label;
  const number = (n: number | undefined) => (value ? value(n ?? 0) : (n ?? 0).toLocaleString(language));
  // An allowed value as the form shows it among its options, else as the API says it.
  const values = (list: NonNullable<Issue['values']>) =>
    list.map((v) => options?.[String(v)] ?? String(v)).join(t('apiError.issue.valueSeparator'));
  const say = (key: MessageKey, more: Record<string, string | number> = {}) => t(key, { field, ...more });
  const bounded =
    issue.origin === 'string'
      ? 'string'
      : issue.origin === 'array' || issue.origin === 'set'
        ? 'array'
        : 'number';
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.required) return say('apiError.issue.required');
      const type = `apiError.type.${issue.expected}`;
      if (issue.expected && isMessageKey(type)) return say('apiError.issue.type', { expected: t(type) });
      break;
    }
    case 'too_small':
      if (bounded === 'string')
        return issue.minimum === 1
          ? say('apiError.issue.empty')
          : say('apiError.issue.stringMin', { minimum: issue.minimum ?? 0 });
      if (bounded === 'array') return say('apiError.issue.arrayMin', { minimum: issue.minimum ?? 0 });
      return say(issue.inclusive === false ? 'apiError.issue.numberAbove' : 'apiError.issue.numberMin', {
        minimum: number(issue.minimum),
      });
    case 'too_big':
      if (bounded === 'string') return say('apiError.issue.stringMax', { maximum: issue.maximum ?? 0 });
      if (bounded === 'array') return say('apiError.issue.arrayMax', { maximum: issue.maximum ?? 0 });
      return say(issue.inclusive === false ? 'apiError.issue.numberBelow' : 'apiError.issue.numberMax', {
        maximum: number(issue.maximum),
      });
    case 'invalid_format':
      if (issue.format === 'url') return say('apiError.issue.url');
      if (issue.format === 'email') return say('apiError.issue.email');
      return say('apiError.issue.format');
    case 'invalid_value':
      if (issue.values?.length) return say('apiError.issue.oneOf', { values: values(issue.values) });
      break;
    case 'not_multiple_of':
      if (issue.divisor !== undefined)
        return say('apiError.issue.multipleOf', { divisor: number(issue.divisor) });
      break;
    case 'unrecognized_keys':
      if (issue.keys?.length)
        return t('apiError.issue.unknownFields', {
          keys: issue.keys.join(t('apiError.issue.valueSeparator')),
        });
      break;
    case 'custom': {
      const rule = `apiError.rule.${issue.rule}`;
      if (!issue.rule || !isMessageKey(rule)) break;
      // A rule that gives its bound (`outside_key_bounds`) has words that say it, where it has one.
      const withValues = `${rule}.values`;
      if (issue.values?.length && isMessageKey(withValues))
        return say(withValues, { values: values(issue.values) });
      const withMaximum = `${rule}.maximum`;
      if (issue.maximum !== undefined && isMessageKey(withMaximum))
        return say(withMaximum, { maximum: number(issue.maximum) });
      return say(rule);
    }
  }
  // A rule this dashboard has no words for: the server's, after the field's name.
  return say('apiError.issue.other', { message: issue.message });
}
