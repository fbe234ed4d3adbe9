// AWS Bedrock runtime serving Anthropic models: SigV4 auth (key = access key id), invoke, and event-stream framed Anthropic events.
import { type MessagePlan, messageBody, messageEvents, planMessage } from './anthropic-messages';
import { type JsonObject, parseJsonObject } from './completion';
import { encodeEventStreamFrame } from './event-stream';
import type { Provider, UpstreamCall } from './provider';
import type { Json, Reply, StreamEvent } from './reply';
import { streamSteps, unstreamed } from './reply';
import type { Answer, ErrorKind, Failure } from './scenarios';

const hostPattern = /^bedrock-runtime(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com$/;
const invokePath = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/;
// SigV4: `AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/<service>/aws4_request, SignedHeaders=..., Signature=...`.
const sigV4 =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/\d{8}\/[a-z0-9-]+\/bedrock\/aws4_request,\s*SignedHeaders=[a-z0-9;-]+,\s*Signature=[0-9a-f]{64}$/;

/** The access key id of a well-formed SigV4 request (the fake checks the shape, not the signature). */
function accessKeyId(request: Request): string | null {
  const authorization = request.headers.get('authorization') ?? '';
  // Bedrock API keys (2025) come as bearer tokens instead of a signature.
  if (/^Bearer\s+/i.test(authorization)) return authorization.replace(/^Bearer\s+/i, '');
  if (!request.headers.has('x-amz-date')) return null;
  return sigV4.exec(authorization)?.[1] ?? null;
}

const errors: Record<Exclude<ErrorKind, 'billing'>, { status: number; type: string; message: string }> = {
  invalid_request: {
    status: 400,
    type: 'ValidationException',
    message: 'Malformed input request, please reformat your input and try again.',
  },
  authentication: {
    status: 403,
    type: 'UnrecognizedClientException',
    message: 'The security token included in the request is invalid.',
  },
  permission: {
    status: 403,
    type: 'AccessDeniedException',
    message: "You don't have access to the model with the specified model ID.",
  },
  not_found: { status: 404, type: 'UnknownOperationException', message: 'Unknown operation' },
  rate_limit: {
    status: 429,
    type: 'ThrottlingException',
    message: 'Too many requests, please wait before trying again.',
  },
  server: {
    status: 500,
    type: 'InternalServerException',
    message: 'The system encountered an unexpected error during processing. Try your request again.',
  },
  overloaded: {
    status: 503,
    type: 'ServiceUnavailableException',
    message: 'Bedrock is unable to process your request.',
  },
};

function headers(call: UpstreamCall, contentType: string): Record<string, string> {
  return { 'content-type': contentType, 'x-amzn-RequestId': call.requestId, date: new Date().toUTCString() };
}

// AWS names the error in a header; the body holds only the message. Bedrock sends no retry-after.
function failure(call: UpstreamCall, { kind, message }: Failure): Reply {
  // AWS bills the account afterwards: there is no prepaid balance to run out of, only quotas.
  const error = errors[kind === 'billing' ? 'rate_limit' : kind];
  return {
    kind: 'json',
    status: error.status,
    headers: { ...headers(call, 'application/json'), 'x-amzn-ErrorType': error.type },
    body: { message: message ?? error.message },
    usage: null,
    text: null,
  };
}

const malformed = (detail: string): Failure => ({
  kind: 'invalid_request',
  message: `Malformed input request: #: ${detail}, please reformat your input and try again.`,
});

/** Bedrock takes the Anthropic body minus `model` and `stream` (the URL says both), plus its anthropic_version. */
function validate(request: JsonObject): Failure | null {
  for (const key of ['model', 'stream']) {
    if (key in request) return malformed(`extraneous key [${key}] is not permitted`);
  }
  if (typeof request.anthropic_version !== 'string')
    return malformed('required key [anthropic_version] not found');
  return null;
}

/** `us.anthropic.claude-sonnet-4-5-20250929-v1:0` (or an ARN ending in it) → `claude-sonnet-4-5-20250929`. */
function anthropicModelOf(modelId: string): string {
  return (modelId.split('/').at(-1) ?? modelId)
    .replace(/^(?:[a-z-]+\.)?anthropic\./, '')
    .replace(/-v\d+(?::\d+)?$/, '');
}

function base64(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
// Bedrock pads each chunk with a run of the alphabet so payload sizes do not reveal token lengths.
const paddingAlphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function chunkFrame(data: Json, index: number): Uint8Array {
  const payload = {
    bytes: base64(JSON.stringify(data)),
    p: paddingAlphabet.slice(0, 4 + ((index * 7) % 40)),
  };
  return encodeEventStreamFrame(
    { ':event-type': 'chunk', ':content-type': 'application/json', ':message-type': 'event' },
    JSON.stringify(payload),
  );
}

/** A model error after the stream started arrives as an exception frame, not an Anthropic error event. */
const overloadedFrame = encodeEventStreamFrame(
  {
    ':exception-type': 'modelStreamErrorException',
    ':content-type': 'application/json',
    ':message-type': 'exception',
  },
  JSON.stringify({ message: 'Overloaded', originalStatusCode: 529, originalMessage: 'Overloaded' }),
);

function streamEvents(plan: MessagePlan, answer: Answer): StreamEvent[] {
  const shown = messageEvents(plan, answer.chunks).filter((event) => event.type !== 'ping');
  const deltas = shown.filter((event) => event.phase === 'delta').length;
  // Latencies follow the scenario's pacing, so a slow scenario reports a slow invocation.
  const metrics = {
    inputTokenCount: plan.usage.input_tokens,
    outputTokenCount: plan.usage.output_tokens,
    invocationLatency: answer.firstByteDelayMs + answer.chunkDelayMs * deltas,
    firstByteLatency: answer.firstByteDelayMs,
  };
  return shown.map(({ type, data, ...event }, index) => {
    const payload = type === 'message_stop' ? { ...data, 'amazon-bedrock-invocationMetrics': metrics } : data;
    return { ...event, chunk: chunkFrame(payload, index) };
  });
}

function answer(call: UpstreamCall, answer: Answer): Reply {
  const [, modelId, action] = invokePath.exec(call.url.pathname) ?? [];
  if (call.method !== 'POST' || modelId === undefined) return failure(call, { kind: 'not_found' });
  const request = parseJsonObject(call.body);
  if (request === null) return failure(call, malformed('body is not valid JSON'));
  const invalid = validate(request);
  if (invalid !== null) return failure(call, invalid);
  const plan = planMessage(
    call,
    request,
    answer,
    anthropicModelOf(decodeURIComponent(modelId)),
    'msg_bdrk_01',
  );
  const { interruption } = answer;
  if (action === 'invoke-with-response-stream') {
    return {
      kind: 'stream',
      status: 200,
      headers: {
        ...headers(call, 'application/vnd.amazon.eventstream'),
        'x-amzn-bedrock-content-type': 'application/json',
      },
      chunkDelayMs: answer.chunkDelayMs,
      steps: streamSteps(streamEvents(plan, answer), interruption, overloadedFrame),
    };
  }
  if (interruption?.ending === 'error_event') return failure(call, { kind: 'overloaded' });
  if (interruption !== null) return unstreamed(headers(call, 'application/json'), interruption);
  const { usage, block } = plan;
  return {
    kind: 'json',
    status: 200,
    headers: {
      ...headers(call, 'application/json'),
      'x-amzn-bedrock-input-token-count': String(usage.input_tokens),
      'x-amzn-bedrock-output-token-count': String(usage.output_tokens),
      'x-amzn-bedrock-invocation-latency': String(answer.firstByteDelayMs),
    },
    body: messageBody(plan),
    usage,
    text: block.type === 'text' ? block.text : block.json,
  };
}

export const bedrock: Provider = {
  claims: (_request, url) => hostPattern.test(url.hostname) || invokePath.test(url.pathname),
  newRequestId: () => crypto.randomUUID(),
  credential: accessKeyId,
  failure,
  answer,
};
