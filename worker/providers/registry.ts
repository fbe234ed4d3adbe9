// Provider kind → adapter. Adding a provider is a folder and a line here.
import { anthropic } from './anthropic';
import type { ProviderAdapter, ProviderKind } from './types';

const adapters: Partial<Record<ProviderKind, ProviderAdapter>> = {
  anthropic,
  'anthropic-compatible': { ...anthropic, kind: 'anthropic-compatible' },
};

export function adapterFor(kind: ProviderKind): ProviderAdapter | undefined {
  return adapters[kind];
}
