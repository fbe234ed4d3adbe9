// What the fake model says, whatever the wire: an echo of the prompt or a fixed tool call, predictable from the request.
import { tokensForText, truncateToTokens } from './tokens';

export type JsonObject = { readonly [key: string]: unknown };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The body as an object, `{}` for JSON that is not one, null when it does not parse. */
export function parseJsonObject(body: string): JsonObject | null {
  try {
    const parsed: unknown = JSON.parse(body);
    // Nothing is validated beyond parsing: clients send fields and roles the fake need not understand.
    return isObject(parsed) ? parsed : {};
  } catch {
    return null;
  }
}

export function positiveInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

// Long enough to recognise the prompt in a log, short enough to keep streams small.
const echoedCodePoints = 200;

export interface Spoken {
  readonly text: string;
  /** The text was cut to fit the request's output token limit. */
  readonly capped: boolean;
}

/**
 * `echo: <first 200 code points of the prompt>`, cut to `maxTokens` when the request sets a limit.
 * Reasoning models spend part of the limit thinking, so they pass what is left for visible text.
 */
export function echo(prompt: string, maxTokens: number | undefined): Spoken {
  const text = `echo: ${Array.from(prompt).slice(0, echoedCodePoints).join('')}`;
  if (maxTokens === undefined || tokensForText(text) <= maxTokens) return { text, capped: false };
  return { text: truncateToTokens(text, maxTokens), capped: true };
}

/** The text of string content, or of its last part of the given type (`text`, `input_text`). */
export function contentText(content: unknown, partType: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const part: unknown = content.findLast((item) => isObject(item) && item.type === partType);
  return isObject(part) && typeof part.text === 'string' ? part.text : '';
}

/** The last item of a message list with the given role. */
export function lastWithRole(messages: unknown, role: string): JsonObject | undefined {
  if (!Array.isArray(messages)) return undefined;
  const message: unknown = messages.findLast((item) => isObject(item) && item.role === role);
  return isObject(message) ? message : undefined;
}

/** Every provider's tool call carries these arguments, so a test knows the JSON and its token count. */
export const toolArguments = { city: 'Paris' } as const;
export const toolArgumentsJson = JSON.stringify(toolArguments);
/** Used when the request offers no tool with a name. */
export const defaultToolName = 'get_weather';

/** The name of the first tool that has one; `nameOf` knows where the provider keeps it. */
export function firstToolName(tools: unknown, nameOf: (tool: JsonObject) => unknown): string {
  if (!Array.isArray(tools)) return defaultToolName;
  for (const tool of tools) {
    const name = isObject(tool) ? nameOf(tool) : undefined;
    if (typeof name === 'string' && name !== '') return name;
  }
  return defaultToolName;
}

/**
 * OpenAI and Gemini cache prompts implicitly; a request that mentions caching at all (a
 * `prompt_cache_key`, a cached content name) reads half its prompt from cache, so tests can ask for it.
 */
export function cachedTokens(body: string, promptTokens: number): number {
  return body.includes('cache') ? Math.max(1, Math.floor(promptTokens / 2)) : 0;
}
