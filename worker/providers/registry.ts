// Provider kind → adapter. Adding a provider is a folder and a line here.
import { anthropic } from './anthropic';
import { azureOpenAI } from './azure';
import { bedrock } from './bedrock';
import { anthropicCompatible, openAICompatible } from './compatible';
import { gemini } from './gemini';
import { openai } from './openai';
import type { ProviderAdapter, ProviderKind } from './types';

const adapters: Partial<Record<ProviderKind, ProviderAdapter>> = {
  anthropic,
  'anthropic-compatible': anthropicCompatible,
  openai,
  'openai-compatible': openAICompatible,
  'azure-openai': azureOpenAI,
  gemini,
  bedrock,
};

export function adapterFor(kind: ProviderKind): ProviderAdapter | undefined {
  return adapters[kind];
}

export function allAdapters(): ProviderAdapter[] {
  return Object.values(adapters);
}
