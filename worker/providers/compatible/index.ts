// OpenAI- and Anthropic-compatible vendors. Each is the base adapter with another base URL;
// a preset names a vendor's endpoint (so an operator does not have to look it up) and the
// vendor's model family (so the scheduler knows what an account there serves).
import {
  ANTHROPIC_HEADERS,
  anthropicRequest,
  classifyAnthropicError,
  refineAnthropicError,
} from '../anthropic';
import { classifyOpenAIError, OPENAI_HEADERS, openAIRequest, refineOpenAIError } from '../openai';
import type { ErrorClass, ProviderAdapter, ProviderKind } from '../types';

/** Vendor endpoints and model families (patterns, `worker/scheduling/models.ts`), by preset name. */
export const PRESETS = {
  deepseek: {
    openai: 'https://api.deepseek.com/v1',
    anthropic: 'https://api.deepseek.com/anthropic',
    models: ['deepseek-*'],
  },
  kimi: {
    openai: 'https://api.moonshot.ai/v1',
    anthropic: 'https://api.moonshot.ai/anthropic',
    models: ['kimi-*', 'moonshot-*'],
  },
  qwen: {
    openai: 'https://dashscope.aliyuncs.com/compatible-mode/v1',
    anthropic: 'https://dashscope.aliyuncs.com/apps/anthropic',
    models: ['qwen*', 'qwq-*'],
  },
  glm: {
    openai: 'https://open.bigmodel.cn/api/paas/v4',
    anthropic: 'https://open.bigmodel.cn/api/anthropic',
    models: ['glm-*'],
  },
} as const satisfies Record<string, { openai: string; anthropic: string; models: readonly string[] }>;

export type Preset = keyof typeof PRESETS;

const COMPATIBLE: ReadonlySet<ProviderKind> = new Set(['openai-compatible', 'anthropic-compatible']);

/**
 * The preset of a compatible account, recognised by its endpoint's host: the preset is not stored
 * (it only fills `baseUrl`), and an account given the vendor's URL by hand is the same account.
 * Null for other kinds and for a custom endpoint.
 */
export function presetOf(kind: ProviderKind, baseUrl: string | null): Preset | null {
  if (!COMPATIBLE.has(kind) || !baseUrl) return null;
  let host: string;
  try {
    host = new URL(baseUrl).hostname;
  } catch {
    return null;
  }
  for (const [name, preset] of Object.entries(PRESETS)) {
    if (host === new URL(preset.openai).hostname || host === new URL(preset.anthropic).hostname)
      return name as Preset;
  }
  return null;
}

/**
 * Vendors that answer an account in arrears with a 400: DashScope (Qwen) says `Arrearage`. The
 * account's failure, not the member's request: it cools down and fails over like a 5xx. Vendors
 * that copy OpenAI's 429 `insufficient_quota` mean what OpenAI means.
 */
export function refineCompatibleError(classified: ErrorClass, body: string): ErrorClass | null {
  if (classified.kind === 'client_error' && classified.status === 400 && /"Arrearage"/.test(body))
    return { kind: 'server_error', status: classified.status, outOfCredit: true };
  return refineOpenAIError(classified, body);
}

export const openAICompatible: ProviderAdapter = {
  kind: 'openai-compatible',
  // A compatible account always names its endpoint (a base URL or a preset).
  defaultBaseUrl: 'https://api.openai.com/v1',
  wires: ['openai-chat'],
  models: [],
  headers: OPENAI_HEADERS,
  buildRequest: (call) => openAIRequest(call, 'https://api.openai.com/v1'),
  classifyError: classifyOpenAIError,
  refineError: refineCompatibleError,
};

export const anthropicCompatible: ProviderAdapter = {
  kind: 'anthropic-compatible',
  defaultBaseUrl: 'https://api.anthropic.com',
  wires: ['anthropic'],
  models: [],
  headers: ANTHROPIC_HEADERS,
  // Vendors differ on which header they read; sending the key in both costs nothing.
  buildRequest: (call) => anthropicRequest(call, 'https://api.anthropic.com', true),
  classifyError: classifyAnthropicError,
  // A vendor's Anthropic endpoint may word arrears as its OpenAI one does, or as Anthropic does.
  refineError: (classified, body) =>
    refineAnthropicError(classified, body) ?? refineCompatibleError(classified, body),
};
