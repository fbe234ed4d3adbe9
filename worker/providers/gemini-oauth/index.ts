// Gemini on a Google account (Gemini Code Assist, signed in with the Gemini CLI's OAuth client):
// the Code Assist API at cloudcode-pa.googleapis.com, which serves the Gemini API's generate and
// countTokens methods wrapped (sources: google-gemini/gemini-cli packages/core/src/code_assist/
// server.ts and converter.ts):
// - `POST /v1internal:generateContent`, `:streamGenerateContent?alt=sse` with
//   `{model, project, request: <the Gemini API body>}`, answered `{response: <GenerateContentResponse>, traceId}`
//   (each SSE event so wrapped); the relay unwraps them event by event, so clients and the
//   metering see the Gemini API's own shapes;
// - `POST /v1internal:countTokens` with `{request: {model: "models/<id>", contents}}`, answered `{totalTokens}`;
// - `Authorization: Bearer <access token>`; the project is the account's, found at sign-in.
// No model list, and no usage-window headers: a plan's limits show only as 429 RESOURCE_EXHAUSTED,
// whose retry delay is in the error body (google.rpc.RetryInfo), as on the Gemini API.
import { isObject, type JsonObject } from '../../json';
import { accessTokenOf } from '../../oauth/credential';
import { classifyGoogleError, GEMINI_HEADERS, refineGoogleError } from '../gemini';
import { upstreamHeaders } from '../headers';
import { rewriteJson } from '../rewrite-json';
import type { Operation, ProviderAdapter, UpstreamCall } from '../types';
import { joinUrl } from '../url';
import { CODE_ASSIST_URL, METADATA } from './code-assist';

function parse(body: ArrayBuffer | null): JsonObject {
  if (!body) return {};
  try {
    const json: unknown = JSON.parse(new TextDecoder().decode(body));
    return isObject(json) ? json : {};
  } catch {
    return {};
  }
}

function encode(json: unknown): ArrayBuffer {
  return new TextEncoder().encode(JSON.stringify(json)).buffer as ArrayBuffer;
}

/** The Code Assist method and its wrapped body for a Gemini API call. */
function wrapped(
  operation: Operation,
  project: string,
  body: ArrayBuffer | null,
): { path: string; body: ArrayBuffer } {
  const model = operation.model.replace(/^models\//, '');
  const json = parse(body);
  switch (operation.kind) {
    case 'generate':
      return {
        path: operation.stream ? ':streamGenerateContent?alt=sse' : ':generateContent',
        body: encode({ model, project, request: json }),
      };
    case 'count_tokens': {
      // The Gemini API takes `contents` or a whole `generateContentRequest`; Code Assist the contents.
      const inner = isObject(json.generateContentRequest) ? json.generateContentRequest : json;
      return {
        path: ':countTokens',
        body: encode({ request: { model: `models/${model}`, contents: inner.contents ?? [] } }),
      };
    }
    case 'models':
      throw new Error('Code Assist serves no model list');
  }
}

/** `{response, traceId}` → the GenerateContentResponse, its id the trace's when it has none (as gemini-cli does). */
export function unwrapResponse(json: unknown): unknown {
  if (!isObject(json) || !isObject(json.response)) return null;
  const response = json.response;
  if (response.responseId === undefined && typeof json.traceId === 'string')
    return { ...response, responseId: json.traceId };
  return response;
}

/**
 * Unwraps each SSE event's data as it arrives; anything else (comments, an error event) passes as
 * it is. Events are re-framed with CRLF pairs, as Google frames them.
 */
export function unwrapEvents(): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let carry = '';
  let event: string[] = [];
  const emit = (controller: TransformStreamDefaultController<Uint8Array>) => {
    if (event.length === 0) return;
    const data = event.filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trimStart());
    const others = event.filter((line) => !line.startsWith('data:'));
    let lines = event;
    if (data.length > 0) {
      let payload: unknown;
      try {
        payload = JSON.parse(data.join('\n'));
      } catch {
        payload = undefined;
      }
      const unwrapped = unwrapResponse(payload);
      if (unwrapped !== null) lines = [...others, `data: ${JSON.stringify(unwrapped)}`];
    }
    event = [];
    controller.enqueue(encoder.encode(`${lines.join('\r\n')}\r\n\r\n`));
  };
  const take = (text: string, controller: TransformStreamDefaultController<Uint8Array>) => {
    const lines = (carry + text).split('\n');
    carry = lines.pop() ?? '';
    for (const raw of lines) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line === '') emit(controller);
      else event.push(line);
    }
  };
  return new TransformStream({
    transform(chunk, controller) {
      take(decoder.decode(chunk, { stream: true }), controller);
    },
    flush(controller) {
      take(`${decoder.decode()}\n`, controller);
      emit(controller);
    },
  });
}

export const geminiOAuth: ProviderAdapter = {
  kind: 'gemini-oauth',
  defaultBaseUrl: CODE_ASSIST_URL,
  wires: ['gemini'],
  models: ['gemini-*'],
  headers: GEMINI_HEADERS,
  buildRequest({ account, credential, operation, method, clientHeaders, body }: UpstreamCall): Request {
    const tokens = accessTokenOf(credential);
    if (!tokens.project) throw new Error('the account has no Code Assist project: sign it in again');
    const call = wrapped(operation, tokens.project, body);
    const headers = upstreamHeaders(clientHeaders, GEMINI_HEADERS);
    headers.set('authorization', `Bearer ${tokens.accessToken}`);
    headers.set('content-type', 'application/json');
    const [path, query] = call.path.split('?');
    const url = joinUrl(account.baseUrl ?? CODE_ASSIST_URL, `/v1internal${path}`);
    return new Request(query ? `${url}?${query}` : url, { method, headers, body: call.body });
  },
  // Code Assist lists no models: the probe asks it about the account, as gemini-cli does first,
  // which needs a live token and generates nothing.
  probeRequest(account, credential) {
    const tokens = accessTokenOf(credential);
    return new Request(joinUrl(account.baseUrl ?? CODE_ASSIST_URL, '/v1internal:loadCodeAssist'), {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ cloudaicompanionProject: tokens.project ?? undefined, metadata: METADATA }),
    });
  },
  decodeBody(response, operation) {
    const body: ReadableStream<Uint8Array> =
      response.body ?? new ReadableStream({ start: (controller) => controller.close() });
    // Errors are google.rpc errors, not wrapped; token counts come back as the Gemini API's.
    if (!response.ok || operation.kind !== 'generate') return body;
    return body.pipeThrough(operation.stream ? unwrapEvents() : rewriteJson(unwrapResponse));
  },
  classifyError: classifyGoogleError,
  refineError: refineGoogleError,
};
