// A member key's own rules: which models, which client surfaces (services) and which clients it may
// be used with, and when it stops working (a fixed deadline, or a validity counted from its first
// request). Everything here is pure and reads only the cached key record, so enforcing the rules
// costs no round trip on the hot path. The zod schemas are the operator API's input for them.
//
// Allowed clients go by User-Agent, which any caller can set: it keeps honest members on the tools
// a group agreed on, it is not a security boundary.
import * as z from 'zod';
import type { ApiKey } from '../db/schema';
import type { Wire } from '../providers/types';
import { RelayError } from '../relay/dialect';

/** The client surfaces a key can be limited to (`GET /v1/models` counts as the dialect it answers). */
export const KEY_SERVICES = ['anthropic', 'openai', 'gemini'] as const;
export type KeyService = (typeof KEY_SERVICES)[number];

const SERVICE_NAMES: Record<KeyService, string> = {
  anthropic: 'the Anthropic API',
  openai: 'the OpenAI API',
  gemini: 'the Gemini API',
};

const SERVICE_OF_WIRE: Record<Wire, KeyService> = {
  anthropic: 'anthropic',
  'openai-chat': 'openai',
  'openai-responses': 'openai',
  gemini: 'gemini',
};

export function serviceOf(wire: Wire): KeyService {
  return SERVICE_OF_WIRE[wire];
}

/**
 * Named clients and the User-Agents they send (observed on the wire, see CLIENTS.md):
 * Claude Code `claude-cli/2.1.3 (external, cli)`; Codex CLI `<originator>/0.169.0 (Ubuntu 24.4.0;
 * x86_64) …` with originator `codex_cli_rs`, `codex-tui` or `codex_exec`; Gemini CLI
 * `GeminiCLI/0.61.0/gemini-2.5-pro (linux; x64) google-genai-sdk/…`.
 */
export const CLIENT_PRESETS = {
  'claude-code': { label: 'Claude Code', userAgents: ['claude-cli/*'] },
  'codex-cli': { label: 'Codex CLI', userAgents: ['codex_cli_rs/*', 'codex-tui/*', 'codex_exec/*'] },
  'gemini-cli': { label: 'Gemini CLI', userAgents: ['GeminiCLI/*'] },
} as const satisfies Record<string, { label: string; userAgents: readonly string[] }>;
export type ClientPreset = keyof typeof CLIENT_PRESETS;

const PRESET_NAMES = Object.keys(CLIENT_PRESETS) as [ClientPreset, ...ClientPreset[]];

/**
 * A User-Agent glob: `*` stands for any run of characters, everything else is literal, the whole
 * header must match, case does not matter. `claude-cli/*` is a prefix, `*CherryStudio/*` a
 * substring. Matching is a handful of `indexOf` calls: no regular expression from an operator is
 * ever evaluated.
 */
const userAgentPatternSchema = z
  .string()
  .max(200)
  .regex(/^[\x20-\x7e]+$/)
  .refine((p) => p.replaceAll('*', '').length > 0, {
    message: 'a pattern of * alone matches every client; leave allowedClients null instead',
    params: { rule: 'not_only_wildcards' },
  });

export const clientRuleSchema = z.union(
  [z.enum(PRESET_NAMES), z.strictObject({ userAgent: userAgentPatternSchema })],
  {
    error: `a client is a preset (${PRESET_NAMES.join(', ')}) or {"userAgent": "<pattern>"}, the pattern printable ASCII with * for any run of characters (not * alone)`,
  },
);
export type ClientRule = z.infer<typeof clientRuleSchema>;

const modelRuleSchema = z
  .string()
  .min(1)
  .max(200)
  .refine((m) => !m.slice(0, -1).includes('*'), {
    message: 'a model is an exact id or a prefix ending in *; * is allowed only at the end',
    params: { rule: 'wildcard_at_end' },
  })
  .refine((m) => m !== '*', {
    message: 'a lone * allows every model; leave allowedModels null instead',
    params: { rule: 'lone_wildcard' },
  });

const unique = <T>(list: T[]) => new Set(list.map((v) => JSON.stringify(v))).size === list.length;

/** The rule fields of the operator API's key input. */
export const keyRulesSchema = {
  allowedModels: z
    .array(modelRuleSchema)
    .min(1, 'an empty list allows no model; leave allowedModels null to allow any')
    .max(100)
    .nullable()
    .default(null),
  allowedServices: z
    .array(z.enum(KEY_SERVICES))
    .min(1, 'an empty list allows no service; leave allowedServices null to allow all')
    .refine(unique, { message: 'each service once', params: { rule: 'each_once' } })
    .nullable()
    .default(null),
  allowedClients: z
    .array(clientRuleSchema)
    .min(1, 'an empty list allows no client; leave allowedClients null to allow any')
    .max(20)
    .refine(unique, { message: 'each client once', params: { rule: 'each_once' } })
    .nullable()
    .default(null),
  /** From 1 second to 10 years. */
  activeForMs: z.number().int().min(1000).max(315_360_000_000).nullable().default(null),
};

export type KeyRules = Pick<
  ApiKey,
  'allowedModels' | 'allowedServices' | 'allowedClients' | 'expiresAt' | 'activeForMs' | 'activatedAt'
>;

/** What a request asks of its key. `model` is null where there is none (model lists). */
export interface KeyUse {
  service: KeyService;
  model: string | null;
  userAgent: string | null;
}

/** Refuses (403, not retryable, naming the rule) a request its key's rules do not allow. */
export function checkKeyRules(key: KeyRules, use: KeyUse): void {
  if (key.allowedServices && !key.allowedServices.includes(use.service)) {
    refuse(
      'service_not_allowed',
      `This key may only be used with ${key.allowedServices.map((s) => SERVICE_NAMES[s]).join(', ')} (allowedServices); this request is to ${SERVICE_NAMES[use.service]}.`,
    );
  }
  if (key.allowedClients && !clientAllowed(key.allowedClients, use.userAgent)) {
    const sent = use.userAgent ? `its User-Agent is ${quote(use.userAgent)}` : 'it sent no User-Agent';
    refuse(
      'client_not_allowed',
      `This key may only be used from ${key.allowedClients.map(describeClient).join(', ')} (allowedClients); ${sent}.`,
    );
  }
  if (use.model !== null && !modelAllowed(key.allowedModels, use.model)) {
    refuse(
      'model_not_allowed',
      `This key may only use models ${listOf(key.allowedModels ?? [])} (allowedModels); it was asked for ${quote(use.model)}.`,
    );
  }
}

/** Whether a key may use a model: any when it has no list, else an exact id or a `prefix*`. */
export function modelAllowed(allowed: readonly string[] | null, model: string): boolean {
  if (!allowed) return true;
  return allowed.some((m) => (m.endsWith('*') ? model.startsWith(m.slice(0, -1)) : m === model));
}

export function clientAllowed(rules: readonly ClientRule[], userAgent: string | null): boolean {
  if (userAgent === null) return false;
  const ua = userAgent.toLowerCase();
  return rules.some((rule) =>
    typeof rule === 'string'
      ? CLIENT_PRESETS[rule].userAgents.some((p) => globMatches(p.toLowerCase(), ua))
      : globMatches(rule.userAgent.toLowerCase(), ua),
  );
}

/**
 * `*` globs anchored at both ends. Taking each literal piece at its leftmost place is optimal when
 * the only wildcard is `*`, so this never backtracks.
 */
export function globMatches(pattern: string, text: string): boolean {
  const pieces = pattern.split('*');
  const first = pieces[0]!;
  if (pieces.length === 1) return text === first;
  const last = pieces.at(-1)!;
  if (!text.startsWith(first)) return false;
  let at = first.length;
  for (const piece of pieces.slice(1, -1)) {
    const found = text.indexOf(piece, at);
    if (found === -1) return false;
    at = found + piece.length;
  }
  return text.length - last.length >= at && text.endsWith(last);
}

/** When the key stops working: the earlier of its fixed deadline and its first use + validity. */
export function expiryOf(key: KeyRules): number | null {
  const activated =
    key.activeForMs !== null && key.activatedAt !== null ? key.activatedAt + key.activeForMs : null;
  if (key.expiresAt === null) return activated;
  return activated === null ? key.expiresAt : Math.min(key.expiresAt, activated);
}

export function checkExpiry(key: KeyRules, now: number): void {
  const expiry = expiryOf(key);
  if (expiry === null || expiry > now) return;
  const fromFirstUse = key.expiresAt === null || expiry < key.expiresAt;
  refuse(
    'key_expired',
    fromFirstUse
      ? `This API key has expired: it was valid for ${duration(key.activeForMs!)} from its first use at ${new Date(key.activatedAt!).toISOString()}.`
      : 'This API key has expired.',
  );
}

function refuse(code: string, message: string): never {
  throw new RelayError('permission', message, { retryable: false, code });
}

function describeClient(rule: ClientRule): string {
  return typeof rule === 'string' ? CLIENT_PRESETS[rule].label : `User-Agent ${rule.userAgent}`;
}

function listOf(items: readonly string[]): string {
  const shown = items.slice(0, 10).join(', ');
  return items.length > 10 ? `${shown} and ${items.length - 10} more` : shown;
}

/** A client-sent value echoed in a message, kept short. */
function quote(value: string): string {
  return value.length > 120 ? `${value.slice(0, 120)}…` : value;
}

function duration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) if (ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms} ms`;
}
