// Setup snippets for the clients our members use, filled with the relay's URL and a key. The
// variables and files are those the clients read (see /work/shared/CLIENTS.md and the README).

export type Client = 'claude-code' | 'codex-cli' | 'gemini-cli' | 'cursor' | 'cherry-studio';
export const CLIENTS: readonly Client[] = [
  'claude-code',
  'codex-cli',
  'gemini-cli',
  'cursor',
  'cherry-studio',
];

export interface Snippet {
  /** `shell`, `toml` or `text` (settings to type into an app). */
  kind: 'shell' | 'toml' | 'text';
  text: string;
}

/** The relay's base URL without a trailing slash. */
function base(relayUrl: string) {
  return relayUrl.replace(/\/+$/, '');
}

export function snippetFor(client: Client, relayUrl: string, key: string): Snippet[] {
  const url = base(relayUrl);
  switch (client) {
    case 'claude-code':
      return [
        {
          kind: 'shell',
          text: `export ANTHROPIC_BASE_URL=${url}\nexport ANTHROPIC_AUTH_TOKEN=${key}\nclaude`,
        },
      ];
    case 'codex-cli':
      return [
        {
          kind: 'toml',
          text: [
            '# ~/.codex/config.toml',
            'model = "gpt-5-codex"',
            'model_provider = "aicarpool"',
            '',
            '[model_providers.aicarpool]',
            'name = "AiCarpool"',
            `base_url = "${url}/v1"`,
            'wire_api = "responses"',
            'env_key = "AICARPOOL_KEY"',
          ].join('\n'),
        },
        { kind: 'shell', text: `export AICARPOOL_KEY=${key}\ncodex` },
      ];
    case 'gemini-cli':
      return [
        {
          kind: 'shell',
          text: [
            `mkdir -p ~/.gemini && echo '{"security":{"auth":{"selectedType":"gemini-api-key"}}}' > ~/.gemini/settings.json`,
            `export GOOGLE_GEMINI_BASE_URL=${url}`,
            `export GEMINI_API_KEY=${key}`,
            'export GEMINI_CLI_TRUST_WORKSPACE=true',
            'gemini',
          ].join('\n'),
        },
      ];
    case 'cursor':
      return [{ kind: 'text', text: `OpenAI API Key: ${key}\nOverride OpenAI Base URL: ${url}/v1` }];
    case 'cherry-studio':
      return [{ kind: 'text', text: `Provider type: Anthropic\nAPI host: ${url}\nAPI key: ${key}` }];
  }
}
