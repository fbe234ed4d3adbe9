// The dashboard's forms turned into API inputs: text typed by a person in, the API contract's
// types out (empty fields are left out so the API's defaults apply). A field that is filled in
// but not a number the API would take is refused with a FormError, never replaced by a default (a
// typo in "expires in" must not make a key that never expires). Pure, and unit-tested.
import type { Schemas } from '../api/client';
import type { MessageKey } from '../i18n/en';

const DAY_MS = 86_400_000;

type KeyRules = Omit<Schemas['KeyChanges'], 'dailyBudgetMicros' | 'monthlyBudgetMicros'>;

/**
 * A field the person must correct: which one (its label's catalog key) and what it takes. Thrown
 * by the form functions; `ErrorMessage` (components/ui.tsx) says it in the page's language.
 */
export class FormError extends Error {
  constructor(
    readonly field: MessageKey,
    readonly rule: 'wholeAtLeast' | 'positive',
    readonly min = 1,
  ) {
    super(`${field}: ${rule === 'positive' ? 'a number greater than 0' : `a whole number, ${min} or more`}`);
    this.name = 'FormError';
  }
}

/** A typed whole number of at least `min`; undefined when the field is empty; FormError otherwise. */
export function wholeNumber(text: string, field: MessageKey, min = 1): number | undefined {
  if (!text.trim()) return undefined;
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n) || n < min) throw new FormError(field, 'wholeAtLeast', min);
  return n;
}

/** A typed number greater than 0 (fractions allowed); undefined when empty; FormError otherwise. */
export function positiveNumber(text: string, field: MessageKey): number | undefined {
  if (!text.trim()) return undefined;
  const n = Number(text.trim());
  if (!Number.isFinite(n) || n <= 0) throw new FormError(field, 'positive');
  return n;
}

/** Model ids or `prefix*` patterns typed as a list, separated by commas or spaces. */
export function modelList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((m) => m.trim())
    .filter(Boolean);
}

/** The create form's text as the API's key rules; empty fields are left out, wrong ones refused. */
export function keyRulesFromForm(
  form: {
    name: string;
    models: string;
    expiresInDays: string;
    maxConcurrency: string;
  },
  now = Date.now(),
): KeyRules {
  const rules: KeyRules = {};
  if (form.name.trim()) rules.name = form.name.trim();
  const models = modelList(form.models);
  if (models.length > 0) rules.allowedModels = models;
  const days = wholeNumber(form.expiresInDays, 'keys.expiresInDays');
  if (days !== undefined) rules.expiresAt = now + days * DAY_MS;
  const concurrency = wholeNumber(form.maxConcurrency, 'keys.maxConcurrency');
  if (concurrency !== undefined) rules.maxConcurrency = concurrency;
  return rules;
}

/** The invite form's text as the API's input; empty fields take the API's defaults, wrong ones are refused. */
export function inviteInputFromForm(form: {
  days: string;
  maxUses: string;
  email: string;
}): Schemas['InviteInput'] {
  const input: Schemas['InviteInput'] = {};
  const days = positiveNumber(form.days, 'invites.days');
  if (days !== undefined) input.expiresInMs = Math.round(days * DAY_MS);
  const uses = wholeNumber(form.maxUses, 'invites.maxUses');
  if (uses !== undefined) input.maxUses = uses;
  if (form.email.trim()) input.email = form.email.trim();
  return input;
}

/**
 * A personal access token's expiry from its "expires in (days)" field: empty or 0 is never (the
 * form says so), a whole number of days from now otherwise; anything else is refused.
 */
export function tokenExpiry(days: string, now = Date.now()): number | null {
  const n = wholeNumber(days, 'keys.expiresInDays', 0);
  return n ? now + n * DAY_MS : null;
}

export function inviteLink(token: string, origin: string): string {
  return `${origin}/invite/${encodeURIComponent(token)}`;
}

export type Provider = Schemas['ConnectionTestInput']['provider'];
export type Preset = NonNullable<Schemas['ConnectionTestInput']['preset']>;
export const PROVIDERS: readonly Provider[] = [
  'anthropic',
  'openai',
  'gemini',
  'openai-compatible',
  'anthropic-compatible',
  'azure-openai',
  'bedrock',
];
export const PRESETS: readonly Preset[] = ['deepseek', 'kimi', 'qwen', 'glm'];

export interface AccountForm {
  provider: Provider;
  preset: Preset | '';
  baseUrl: string;
  credential: string;
}

/** The form as the connection test's input: a preset or a base URL only when given. */
export function connectionInput(form: AccountForm): Schemas['ConnectionTestInput'] {
  const input: Schemas['ConnectionTestInput'] = {
    provider: form.provider,
    credential: form.credential.trim(),
  };
  if (form.preset) input.preset = form.preset;
  else if (form.baseUrl.trim()) input.baseUrl = form.baseUrl.trim();
  return input;
}
