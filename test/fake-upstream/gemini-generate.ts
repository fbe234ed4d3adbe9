// Gemini generateContent and streamGenerateContent: whole GenerateContentResponse objects, streamed as SSE or as a JSON array.
import {
  cachedTokens,
  echo,
  firstToolName,
  isObject,
  type JsonObject,
  positiveInteger,
  toolArguments,
  toolArgumentsJson,
} from './completion';
import type { UpstreamCall } from './provider';
import type { Json, StreamEvent } from './reply';
import type { Answer } from './scenarios';
import { dataEvent } from './sse';
import { splitText, tokensForBytes, tokensForText } from './tokens';

export type JsonRecord = { readonly [key: string]: Json };

/** Gemini 2.5 thinks before it answers; thoughts count apart from candidates but inside maxOutputTokens. */
export const thoughtsTokens = 4;

type Part =
  | { readonly text: string }
  | { readonly functionCall: { readonly name: string; readonly args: Json } };

export interface GeminiPlan {
  readonly model: string;
  readonly responseId: string;
  /** Text pieces to stream, or the single function call part. */
  readonly parts: readonly Part[];
  /** What the log records as the reply text: the text, or the call's arguments JSON. */
  readonly text: string;
  readonly finishReason: 'STOP' | 'MAX_TOKENS';
  readonly candidatesTokens: number;
  readonly thoughts: number;
  /** What Google's own tools (search, code execution, URL context) fed the model: input beside the prompt. */
  readonly toolUsePrompt: number;
}

/** The tokens a request's built-in tools add to what the model reads (a search's results, say). */
const builtInToolTokens = 120;
const builtInTools = [
  'googleSearch',
  'google_search',
  'codeExecution',
  'code_execution',
  'urlContext',
  'url_context',
];

function usesBuiltInTools(request: JsonObject): boolean {
  return (
    Array.isArray(request.tools) &&
    request.tools.some((tool) => isObject(tool) && builtInTools.some((name) => name in tool))
  );
}

/** The REST API takes proto JSON: camelCase or snake_case field names. */
function pick(object: unknown, camel: string, snake: string): unknown {
  return isObject(object) ? (object[camel] ?? object[snake]) : undefined;
}

function promptOf(contents: unknown): string {
  if (!Array.isArray(contents)) return '';
  const content: unknown = contents.findLast((item) => isObject(item) && (item.role ?? 'user') === 'user');
  const parts = isObject(content) && Array.isArray(content.parts) ? content.parts : [];
  const part: unknown = parts.findLast((item) => isObject(item) && typeof item.text === 'string');
  return isObject(part) && typeof part.text === 'string' ? part.text : '';
}

/**
 * The smallest value a JSON schema (JSON Schema or Gemini's OpenAPI subset, whose types are upper case)
 * accepts, so a JSON-mode caller such as Gemini CLI's model router can parse the reply.
 */
function sampleOf(schema: unknown, depth = 0): Json {
  if (!isObject(schema) || depth > 8) return null;
  // The schema came from JSON.parse, so its enum and const values are JSON.
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0] as Json;
  if (schema.const !== undefined) return schema.const as Json;
  const variants = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(variants) && variants.length > 0) return sampleOf(variants[0], depth + 1);
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  const type = String(
    types.find((candidate) => String(candidate).toLowerCase() !== 'null') ?? '',
  ).toLowerCase();
  if (type === 'object' || (type === '' && isObject(schema.properties))) {
    const properties = isObject(schema.properties) ? schema.properties : {};
    return Object.fromEntries(
      Object.entries(properties).map(([key, value]) => [key, sampleOf(value, depth + 1)]),
    );
  }
  if (type === 'array') return [];
  if (type === 'string') return 'ok';
  if (type === 'number' || type === 'integer') return 0;
  if (type === 'boolean') return true;
  return null;
}

function jsonReplyText(config: unknown): string {
  const schema =
    pick(config, 'responseJsonSchema', 'response_json_schema') ??
    pick(config, 'responseSchema', 'response_schema');
  return schema === undefined ? '{"ok":true}' : JSON.stringify(sampleOf(schema));
}

export function planGeneration(
  request: JsonObject,
  answer: Answer,
  model: string,
  responseId: string,
): GeminiPlan {
  const base = {
    model,
    responseId,
    thoughts: thoughtsTokens,
    toolUsePrompt: usesBuiltInTools(request) ? builtInToolTokens : 0,
  };
  if (answer.content === 'tool_call') {
    const declarations = (tool: JsonObject) => pick(tool, 'functionDeclarations', 'function_declarations');
    const name = firstToolName(
      Array.isArray(request.tools)
        ? request.tools.flatMap((tool) => (isObject(tool) ? (declarations(tool) ?? []) : []))
        : [],
      (declaration) => declaration.name,
    );
    return {
      ...base,
      parts: [{ functionCall: { name, args: toolArguments } }],
      text: toolArgumentsJson,
      finishReason: 'STOP',
      candidatesTokens: tokensForText(toolArgumentsJson),
    };
  }
  const config = pick(request, 'generationConfig', 'generation_config');
  const limit = positiveInteger(pick(config, 'maxOutputTokens', 'max_output_tokens'));
  const thoughts = limit === undefined ? thoughtsTokens : Math.min(thoughtsTokens, limit);
  const mimeType = pick(config, 'responseMimeType', 'response_mime_type');
  const spoken =
    mimeType === 'application/json'
      ? { text: jsonReplyText(config), capped: false }
      : echo(promptOf(request.contents), limit === undefined ? undefined : limit - thoughts);
  return {
    ...base,
    thoughts,
    parts: [{ text: spoken.text }],
    text: spoken.text,
    finishReason: spoken.capped ? 'MAX_TOKENS' : 'STOP',
    candidatesTokens: tokensForText(spoken.text),
  };
}

/**
 * Cached tokens are part of promptTokenCount; candidatesTokenCount appears only once the answer is
 * done; tool-use prompt tokens are counted apart from the prompt, and in the total.
 */
export function usageMetadata(call: UpstreamCall, plan: GeminiPlan, done: boolean): JsonRecord {
  const prompt = tokensForBytes(call.bodyBytes);
  const cached = cachedTokens(call.body, prompt);
  const candidates = done ? plan.candidatesTokens : 0;
  return {
    promptTokenCount: prompt,
    ...(done ? { candidatesTokenCount: candidates } : {}),
    totalTokenCount: prompt + candidates + plan.thoughts + plan.toolUsePrompt,
    ...(plan.toolUsePrompt > 0
      ? {
          toolUsePromptTokenCount: plan.toolUsePrompt,
          toolUsePromptTokensDetails: [{ modality: 'TEXT', tokenCount: plan.toolUsePrompt }],
        }
      : {}),
    ...(cached > 0 ? { cachedContentTokenCount: cached } : {}),
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt }],
    ...(cached > 0 ? { cacheTokensDetails: [{ modality: 'TEXT', tokenCount: cached }] } : {}),
    thoughtsTokenCount: plan.thoughts,
  };
}

function response(call: UpstreamCall, plan: GeminiPlan, parts: readonly Part[], done: boolean): JsonRecord {
  return {
    candidates: [
      {
        content: { parts: [...parts], role: 'model' },
        ...(done ? { finishReason: plan.finishReason } : {}),
        index: 0,
      },
    ],
    usageMetadata: usageMetadata(call, plan, done),
    modelVersion: plan.model,
    responseId: plan.responseId,
  };
}

export function generateContentBody(call: UpstreamCall, plan: GeminiPlan): JsonRecord {
  return response(call, plan, plan.parts, true);
}

export type StreamFraming = 'sse' | 'array';

// Gemini ends each SSE event with CRLF pairs; clients that split on "\n\n" alone miss every event.
const sseEnd = '\r\n\r\n';

function framed(framing: StreamFraming, data: Json, index: number): string {
  if (framing === 'sse') return dataEvent(data, sseEnd);
  return `${index === 0 ? '[' : ',\r\n'}${JSON.stringify(data)}`;
}

/** Every chunk is a whole response carrying one piece; the last one also the finish reason and final usage. */
export function streamEvents(
  call: UpstreamCall,
  plan: GeminiPlan,
  chunks: number,
  framing: StreamFraming,
  /** Code Assist wraps each response (`{response, traceId}`); the Gemini API sends it bare. */
  wrap: (response: JsonRecord) => Json = (response) => response,
): StreamEvent[] {
  const [only] = plan.parts;
  const pieces: Part[] =
    only !== undefined && 'text' in only
      ? splitText(only.text, chunks).map((text) => ({ text }))
      : [...plan.parts];
  let sent = '';
  const events = pieces.map((part, index): StreamEvent => {
    sent += 'text' in part ? part.text : toolArgumentsJson;
    const data = response(call, plan, [part], index === pieces.length - 1);
    return {
      chunk: framed(framing, wrap(data), index),
      phase: 'delta',
      text: sent,
      usage: data.usageMetadata,
    };
  });
  return framing === 'array' ? [...events, { chunk: ']', phase: 'other' }] : events;
}

export const overloadedError = {
  error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' },
} as const;

export function streamError(framing: StreamFraming): (sent: number) => string {
  return (sent) =>
    framing === 'sse' ? dataEvent(overloadedError, sseEnd) : `${framed(framing, overloadedError, sent)}]`;
}
