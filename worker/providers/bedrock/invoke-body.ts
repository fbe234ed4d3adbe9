// The client's Anthropic Messages JSON → the body Bedrock's InvokeModel takes for Claude: the model
// moves to the URL, streaming to the endpoint, the API version and beta flags into the body.
export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

type JsonObject = Record<string, unknown>;

export function invokeBody(body: ArrayBuffer | null, clientHeaders: Headers): JsonObject {
  const request = parseRequest(body);
  const out = Object.fromEntries(
    Object.entries(request).filter(([name]) => name !== 'model' && name !== 'stream'),
  );
  out.anthropic_version = BEDROCK_ANTHROPIC_VERSION;
  // Bedrock ignores the `anthropic-beta` header; it reads the same flags from the body.
  const betas = new Set(
    Array.isArray(request.anthropic_beta)
      ? request.anthropic_beta.filter((beta): beta is string => typeof beta === 'string')
      : [],
  );
  for (const beta of (clientHeaders.get('anthropic-beta') ?? '').split(',')) {
    if (beta.trim()) betas.add(beta.trim());
  }
  if (betas.size > 0) out.anthropic_beta = [...betas];
  return out;
}

/** CountTokens takes the InvokeModel body it would count, base64-encoded (a Smithy blob). */
export function countTokensBody(body: ArrayBuffer | null, clientHeaders: Headers): JsonObject {
  const invoke = invokeBody(body, clientHeaders);
  // Bedrock validates the wrapped body as a real InvokeModel request, which needs max_tokens;
  // Anthropic's count_tokens request has none.
  if (invoke.max_tokens === undefined) invoke.max_tokens = 1;
  return { input: { invokeModel: { body: toBase64(new TextEncoder().encode(JSON.stringify(invoke))) } } };
}

/**
 * CountTokens accepts only bare foundation-model ids: a cross-region inference profile
 * (`us.anthropic.…`, `global.anthropic.…`) is rejected, so its geography prefix is dropped.
 */
export function countTokensModelId(model: string): string {
  return model.replace(/^[a-z-]+\.(?=anthropic\.)/, '');
}

function parseRequest(body: ArrayBuffer | null): JsonObject {
  let parsed: unknown;
  try {
    parsed = body ? JSON.parse(new TextDecoder().decode(body)) : undefined;
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('a Bedrock request needs an Anthropic Messages JSON object as its body');
  }
  return parsed as JsonObject;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  // In slices: spreading a large body into one fromCharCode call overflows the argument limit.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
