// The kinds of upstream account, in one list: the accounts table's enum and the per-provider pool
// policies are keyed by it.
export const PROVIDER_KINDS = [
  'anthropic',
  'openai',
  'gemini',
  'azure-openai',
  'bedrock',
  'openai-compatible',
  'anthropic-compatible',
  // Subscription accounts, signed in with the provider's OAuth flow (worker/oauth/).
  'claude-oauth',
  'codex-oauth',
  'gemini-oauth',
] as const;
