// Provider kind → adapter. Adding a provider is a folder and a line here.
import { anthropic } from './anthropic';
import { azureOpenAI } from './azure';
import { bedrock } from './bedrock';
import { claudeOAuth } from './claude-oauth';
import { codexOAuth } from './codex-oauth';
import { anthropicCompatible, openAICompatible, PRESETS, type Preset, presetOf } from './compatible';
import { gemini } from './gemini';
import { geminiOAuth } from './gemini-oauth';
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
  'claude-oauth': claudeOAuth,
  'codex-oauth': codexOAuth,
  'gemini-oauth': geminiOAuth,
};

export function adapterFor(kind: ProviderKind): ProviderAdapter | undefined {
  return adapters[kind];
}

export function allAdapters(): ProviderAdapter[] {
  return Object.values(adapters);
}

/**
 * The models an account serves by default: its provider's family, or for a compatible account
 * its vendor preset's (none for a custom endpoint, which serves only what the operator lists).
 */
export function modelFamily(
  kind: ProviderKind,
  baseUrl: string | null,
): { models: readonly string[]; preset: Preset | null } {
  const preset = presetOf(kind, baseUrl);
  return { models: preset ? PRESETS[preset].models : (adapters[kind]?.models ?? []), preset };
}
