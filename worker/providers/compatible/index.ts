// OpenAI- and Anthropic-compatible vendors. Each is the base adapter with another base URL;
// a preset names a vendor's endpoint so an operator does not have to look it up.
import { ANTHROPIC_HEADERS, anthropicRequest, classifyAnthropicError } from '../anthropic';
import { classifyOpenAIError, OPENAI_HEADERS, openAIRequest } from '../openai';
import type { ProviderAdapter } from '../types';

/** Vendor endpoints, by preset name. */
export const PRESETS = {
  deepseek: { openai: 'https://api.deepseek.com/v1', anthropic: 'https://api.deepseek.com/anthropic' },
  kimi: { openai: 'https://api.moonshot.ai/v1', anthropic: 'https://api.moonshot.ai/anthropic' },
  qwen: {
    openai: 'https://dashscope.aliyuncs.com/compatible-mode/v1',
    anthropic: 'https://dashscope.aliyuncs.com/apps/anthropic',
  },
  glm: {
    openai: 'https://open.bigmodel.cn/api/paas/v4',
    anthropic: 'https://open.bigmodel.cn/api/anthropic',
  },
} as const;

export type Preset = keyof typeof PRESETS;

export const openAICompatible: ProviderAdapter = {
  kind: 'openai-compatible',
  // A compatible account always names its endpoint (a base URL or a preset).
  defaultBaseUrl: 'https://api.openai.com/v1',
  wires: ['openai-chat'],
  headers: OPENAI_HEADERS,
  buildRequest: (call) => openAIRequest(call, 'https://api.openai.com/v1'),
  classifyError: classifyOpenAIError,
};

export const anthropicCompatible: ProviderAdapter = {
  kind: 'anthropic-compatible',
  defaultBaseUrl: 'https://api.anthropic.com',
  wires: ['anthropic'],
  headers: ANTHROPIC_HEADERS,
  // Vendors differ on which header they read; sending the key in both costs nothing.
  buildRequest: (call) => anthropicRequest(call, 'https://api.anthropic.com', true),
  classifyError: classifyAnthropicError,
};
