// A streaming Messages request shaped like the ones Claude Code sends: a system prompt with cache
// breakpoints, a handful of tool definitions, a short conversation with a tool round trip, and
// the headers the CLI adds. About 5 KB of JSON, the same bytes for every target.

const tools = [
  {
    name: 'Bash',
    description:
      'Executes a given bash command in a persistent shell session with optional timeout, ensuring proper handling and security measures. Before executing the command, verify that the parent directory exists. Always quote file paths that contain spaces.',
    input_schema: {
      type: 'object',
      properties: {
        command: { type: 'string', description: 'The command to execute' },
        timeout: { type: 'number', description: 'Optional timeout in milliseconds (max 600000)' },
        description: {
          type: 'string',
          description: 'Clear, concise description of what this command does in 5-10 words',
        },
      },
      required: ['command'],
      additionalProperties: false,
      $schema: 'http://json-schema.org/draft-07/schema#',
    },
  },
  {
    name: 'Read',
    description:
      'Reads a file from the local filesystem. The file_path parameter must be an absolute path. By default, it reads up to 2000 lines starting from the beginning of the file.',
    input_schema: {
      type: 'object',
      properties: {
        file_path: { type: 'string', description: 'The absolute path to the file to read' },
        offset: { type: 'number', description: 'The line number to start reading from' },
        limit: { type: 'number', description: 'The number of lines to read' },
      },
      required: ['file_path'],
      additionalProperties: false,
      $schema: 'http://json-schema.org/draft-07/schema#',
    },
  },
  {
    name: 'Edit',
    description:
      'Performs exact string replacements in files. You must use your Read tool at least once in the conversation before editing. The edit will FAIL if old_string is not unique in the file.',
    input_schema: {
      type: 'object',
      properties: {
        file_path: { type: 'string', description: 'The absolute path to the file to modify' },
        old_string: { type: 'string', description: 'The text to replace' },
        new_string: { type: 'string', description: 'The text to replace it with' },
        replace_all: { type: 'boolean', default: false, description: 'Replace all occurences' },
      },
      required: ['file_path', 'old_string', 'new_string'],
      additionalProperties: false,
      $schema: 'http://json-schema.org/draft-07/schema#',
    },
  },
  {
    name: 'Grep',
    description:
      'A powerful search tool built on ripgrep. Supports full regex syntax. Filter files with the glob parameter or the type parameter.',
    input_schema: {
      type: 'object',
      properties: {
        pattern: { type: 'string', description: 'The regular expression pattern to search for' },
        path: { type: 'string', description: 'File or directory to search in' },
        glob: { type: 'string', description: 'Glob pattern to filter files' },
        output_mode: { type: 'string', enum: ['content', 'files_with_matches', 'count'] },
      },
      required: ['pattern'],
      additionalProperties: false,
      $schema: 'http://json-schema.org/draft-07/schema#',
    },
  },
];

const body = {
  model: 'claude-sonnet-4-5-20250929',
  max_tokens: 32000,
  stream: true,
  metadata: { user_id: 'user_3f1c0d9a_account__session_8e2b7c44-5d1a-4f0e-9b6a-2c7d1e0f3a9b' },
  system: [
    {
      type: 'text',
      text: "You are Claude Code, Anthropic's official CLI for Claude.",
      cache_control: { type: 'ephemeral' },
    },
    {
      type: 'text',
      text: "You are an interactive CLI tool that helps users with software engineering tasks. Use the instructions below and the tools available to you to assist the user.\n\nIMPORTANT: Assist with defensive security tasks only.\n\n# Tone and style\nYou should be concise, direct, and to the point. Your responses can use GitHub-flavored markdown for formatting.\n\n# Following conventions\nWhen making changes to files, first understand the file's code conventions. Mimic code style, use existing libraries and utilities, and follow existing patterns.\n\n<env>\nWorking directory: /home/dev/project\nIs directory a git repo: Yes\nPlatform: linux\nToday's date: 2026-04-21\n</env>",
      cache_control: { type: 'ephemeral' },
    },
  ],
  tools,
  messages: [
    {
      role: 'user',
      content: [
        {
          type: 'text',
          text: "<system-reminder>\nAs you answer the user's questions, you can use the following context: the project uses TypeScript and vitest.\n</system-reminder>",
        },
        {
          type: 'text',
          text: 'Why does the queue consumer drop events when the batch has a malformed message?',
        },
      ],
    },
    {
      role: 'assistant',
      content: [
        { type: 'text', text: "I'll look at the consumer first." },
        {
          type: 'tool_use',
          id: 'toolu_01A9cR2xK7mPq4vZ8sW3nT6y',
          name: 'Read',
          input: { file_path: '/home/dev/project/worker/queue/consumer.ts' },
        },
      ],
    },
    {
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: 'toolu_01A9cR2xK7mPq4vZ8sW3nT6y',
          content:
            "     1\t// Queue consumer: batches of usage events become request-log rows.\n     2\timport { db } from '../db/client';\n     3\t\n     4\texport async function consumeUsageBatch(batch, env) {\n     5\t  const events = [];\n     6\t  for (const message of batch.messages) {\n     7\t    const parsed = usageEventSchema.safeParse(message.body);\n     8\t    if (parsed.success) events.push(parsed.data);\n     9\t  }\n    10\t  if (events.length > 0) await writeUsage(env, events);\n    11\t  batch.ackAll();\n    12\t}\n",
          cache_control: { type: 'ephemeral' },
        },
      ],
    },
  ],
};

export const requestBody = JSON.stringify(body);

export const requestPath = '/v1/messages?beta=true';

/** Headers as Claude Code sends them, minus the credential, which depends on the target. */
export const requestHeaders = {
  accept: 'application/json',
  'anthropic-beta':
    'claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14',
  'anthropic-dangerous-direct-browser-access': 'true',
  'anthropic-version': '2023-06-01',
  'content-type': 'application/json',
  'user-agent': 'claude-cli/2.0.14 (external, cli)',
  'x-app': 'cli',
  'x-stainless-arch': 'x64',
  'x-stainless-lang': 'js',
  'x-stainless-os': 'Linux',
  'x-stainless-package-version': '0.60.0',
  'x-stainless-retry-count': '0',
  'x-stainless-runtime': 'node',
  'x-stainless-runtime-version': 'v22.19.0',
  'x-stainless-timeout': '600',
};
