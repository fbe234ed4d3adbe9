// The dashboard's forms turned into API inputs: text typed by a person in, the API contract's
// types out (empty fields are left out so the API's defaults apply). Pure, and unit-tested.
import type { Schemas } from '../api/client';

const DAY_MS = 86_400_000;

type KeyRules = Omit<Schemas['KeyRulesInput'], 'dailyBudgetMicros' | 'monthlyBudgetMicros'>;

/** Model ids or `prefix*` patterns typed as a list, separated by commas or spaces. */
export function modelList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((m) => m.trim())
    .filter(Boolean);
}

/** The create form's text as the API's key rules; empty fields are left out. */
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
  const days = Number(form.expiresInDays);
  if (form.expiresInDays.trim() && Number.isInteger(days) && days > 0) rules.expiresAt = now + days * DAY_MS;
  const concurrency = Number(form.maxConcurrency);
  if (form.maxConcurrency.trim() && Number.isInteger(concurrency) && concurrency > 0)
    rules.maxConcurrency = concurrency;
  return rules;
}

/** The invite form's text as the API's input; empty fields take the API's defaults. */
export function inviteInputFromForm(form: {
  days: string;
  maxUses: string;
  email: string;
}): Schemas['InviteInput'] {
  const input: Schemas['InviteInput'] = {};
  const days = Number(form.days);
  if (form.days.trim() && Number.isFinite(days) && days > 0) input.expiresInMs = Math.round(days * DAY_MS);
  const uses = Number(form.maxUses);
  if (form.maxUses.trim() && Number.isInteger(uses) && uses > 0) input.maxUses = uses;
  if (form.email.trim()) input.email = form.email.trim();
  return input;
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
