// The Bedrock adapter on its own: SigV4 signatures checked against an independent signer (itself
// checked against AWS's published vector), the binary event stream decoded however the network
// cuts it, corruption and exceptions ending in an Anthropic error event, and error classification.
import { describe, expect, it } from 'vitest';
import { bedrock, createBedrockAdapter } from '../worker/providers/bedrock';
import { anthropicSseFromEventStream } from '../worker/providers/bedrock/anthropic-sse';
import { crc32 } from '../worker/providers/bedrock/crc32';
import type { ErrorClass, Operation, UpstreamCall } from '../worker/providers/types';

const enc = new TextEncoder();

// --- An independent SigV4 signer, written from AWS's specification ------------------------------

const hex = (bytes: ArrayBuffer): string =>
  [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('');

const sha256Hex = async (text: string): Promise<string> =>
  hex(await crypto.subtle.digest('SHA-256', enc.encode(text)));

async function hmac(key: ArrayBuffer | Uint8Array, text: string): Promise<ArrayBuffer> {
  const cryptoKey = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  return crypto.subtle.sign('HMAC', cryptoKey, enc.encode(text));
}

/** SigV4's URI encoding: RFC 3986 unreserved characters stay, every other byte is `%XX`. */
function uriEncode(text: string): string {
  return [...enc.encode(text)]
    .map((b) =>
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

interface SignatureInput {
  method: string;
  url: string;
  /** The headers to sign, lower-case, `host` included. */
  headers: Record<string, string>;
  body: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
  amzDate: string;
}

async function sigV4Authorization(input: SignatureInput): Promise<string> {
  const url = new URL(input.url);
  // Services other than S3 encode each path segment twice: once into the URL, once more here.
  const path = url.pathname
    .split('/')
    .map((segment) => uriEncode(uriEncode(decodeURIComponent(segment))))
    .join('/');
  const query = [...url.searchParams]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = Object.keys(input.headers).sort();
  const canonicalHeaders = names
    .map((n) => `${n}:${input.headers[n]!.trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    input.method,
    path,
    query,
    canonicalHeaders,
    signedHeaders,
    await sha256Hex(input.body),
  ].join('\n');
  const day = input.amzDate.slice(0, 8);
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', input.amzDate, scope, await sha256Hex(canonicalRequest)].join(
    '\n',
  );
  let key = await hmac(enc.encode(`AWS4${input.secretAccessKey}`), day);
  for (const part of [input.region, input.service, 'aws4_request']) key = await hmac(key, part);
  const signature = hex(await hmac(key, stringToSign));
  return `AWS4-HMAC-SHA256 Credential=${input.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

// --- Calls -------------------------------------------------------------------------------------

const CREDENTIALS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//TOKEN+with/odd=chars',
  region: 'us-west-2',
};
const NOW = new Date('2025-01-02T03:04:05.678Z');
const AMZ_DATE = '20250102T030405Z';
const MODEL = 'anthropic.claude-sonnet-4-20250514-v1:0';
const HOST = 'bedrock-runtime.us-west-2.amazonaws.com';
const MESSAGES = [{ role: 'user', content: 'Say hello.' }];
const signing = createBedrockAdapter({ now: () => NOW });

function call(
  operation: Partial<Operation>,
  body: unknown,
  headers: HeadersInit = {},
  {
    baseUrl = null,
    credential = JSON.stringify(CREDENTIALS),
  }: { baseUrl?: string | null; credential?: string } = {},
): UpstreamCall {
  return {
    account: {
      id: 'acc_bedrock',
      provider: 'bedrock',
      authKind: 'aws_sigv4',
      baseUrl,
      credentialsEnc: 'unused',
      modelMapping: null,
    },
    credential,
    operation: { wire: 'anthropic', kind: 'generate', model: MODEL, stream: false, search: '', ...operation },
    method: 'POST',
    clientHeaders: new Headers(headers),
    body: body === null ? null : (enc.encode(JSON.stringify(body)).buffer as ArrayBuffer),
  };
}

async function expectSignedBy(request: Request, body: string, signedHeaders: Record<string, string>) {
  const expected = await sigV4Authorization({
    method: request.method,
    url: request.url,
    headers: { ...signedHeaders, host: new URL(request.url).host, 'x-amz-date': AMZ_DATE },
    body,
    ...CREDENTIALS,
    service: 'bedrock',
    amzDate: AMZ_DATE,
  });
  expect(request.headers.get('authorization')).toBe(expected);
}

describe('Bedrock requests', () => {
  it("the test's own signer reproduces AWS's published get-vanilla vector", async () => {
    const authorization = await sigV4Authorization({
      method: 'GET',
      url: 'https://example.amazonaws.com/',
      headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' },
      body: '',
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      region: 'us-east-1',
      service: 'service',
      amzDate: '20150830T123600Z',
    });
    expect(authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, ' +
        'Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
  });

  it('a streamed generate: the invoke-with-response-stream URL, the Bedrock body, a valid signature', async () => {
    const request = await signing.buildRequest(
      call(
        { stream: true },
        { model: MODEL, stream: true, max_tokens: 64, messages: MESSAGES },
        {
          'anthropic-beta': 'interleaved-thinking-2025-05-14, context-1m-2025-08-07',
          'anthropic-version': '2023-06-01',
          'x-api-key': 'cp_relay_key_of_the_client',
          'content-type': 'application/json',
        },
      ),
    );
    expect(request.method).toBe('POST');
    expect(request.url).toBe(
      `https://${HOST}/model/anthropic.claude-sonnet-4-20250514-v1%3A0/invoke-with-response-stream`,
    );
    const body = await request.text();
    expect(JSON.parse(body)).toEqual({
      max_tokens: 64,
      messages: MESSAGES,
      anthropic_version: 'bedrock-2023-05-31',
      anthropic_beta: ['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07'],
    });
    expect(request.headers.get('accept')).toBe('application/vnd.amazon.eventstream');
    expect(request.headers.get('content-type')).toBe('application/json');
    expect(request.headers.get('x-amz-date')).toBe(AMZ_DATE);
    expect(request.headers.get('x-amz-security-token')).toBe(CREDENTIALS.sessionToken);
    // Nothing of the client's reaches AWS: not its relay key, not its Anthropic headers.
    for (const name of ['x-api-key', 'anthropic-version', 'anthropic-beta'])
      expect(request.headers.has(name)).toBe(false);
    await expectSignedBy(request, body, {
      accept: 'application/vnd.amazon.eventstream',
      'x-amz-security-token': CREDENTIALS.sessionToken,
    });
  });

  it('a plain generate with a long-term key and a base URL override', async () => {
    const { sessionToken: _, ...longTerm } = CREDENTIALS;
    const request = await signing.buildRequest(
      call(
        {},
        { model: MODEL, max_tokens: 8, messages: MESSAGES, anthropic_beta: ['a'] },
        { 'anthropic-beta': 'a,b' },
        {
          baseUrl: 'https://bedrock-runtime-fips.us-west-2.amazonaws.com/',
          credential: JSON.stringify(longTerm),
        },
      ),
    );
    expect(request.url).toBe(
      'https://bedrock-runtime-fips.us-west-2.amazonaws.com/model/anthropic.claude-sonnet-4-20250514-v1%3A0/invoke',
    );
    expect(request.headers.get('accept')).toBe('application/json');
    expect(request.headers.has('x-amz-security-token')).toBe(false);
    const body = await request.text();
    expect(JSON.parse(body)).toMatchObject({
      anthropic_beta: ['a', 'b'],
      anthropic_version: 'bedrock-2023-05-31',
    });
    expect(JSON.parse(body)).not.toHaveProperty('model');
    await expectSignedBy(request, body, { accept: 'application/json' });
  });

  it('count_tokens: CountTokens on the bare model id, the invoke body base64 inside, max_tokens supplied', async () => {
    const request = await signing.buildRequest(
      call(
        { kind: 'count_tokens', model: `us.${MODEL}` },
        { model: `us.${MODEL}`, messages: MESSAGES, system: 'Be brief.' },
      ),
    );
    expect(request.url).toBe(`https://${HOST}/model/anthropic.claude-sonnet-4-20250514-v1%3A0/count-tokens`);
    const body = await request.text();
    const wrapped = JSON.parse(body) as { input: { invokeModel: { body: string } } };
    const inner = new TextDecoder().decode(
      Uint8Array.from(atob(wrapped.input.invokeModel.body), (c) => c.charCodeAt(0)),
    );
    expect(JSON.parse(inner)).toEqual({
      messages: MESSAGES,
      system: 'Be brief.',
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 1,
    });
    await expectSignedBy(request, body, {
      accept: 'application/json',
      'x-amz-security-token': CREDENTIALS.sessionToken,
    });
  });

  it('models: a signed GET of Anthropic foundation models on the control plane', async () => {
    const request = await signing.buildRequest(call({ kind: 'models', model: '' }, null));
    expect(request.method).toBe('GET');
    expect(request.url).toBe(
      'https://bedrock.us-west-2.amazonaws.com/foundation-models?byProvider=anthropic',
    );
    expect(request.body).toBeNull();
    await expectSignedBy(request, '', {
      accept: 'application/json',
      'x-amz-security-token': CREDENTIALS.sessionToken,
    });
    const fips = await signing.buildRequest(
      call(
        { kind: 'models', model: '' },
        null,
        {},
        { baseUrl: 'https://bedrock-runtime-fips.us-east-1.amazonaws.com' },
      ),
    );
    expect(fips.url).toBe(
      'https://bedrock-fips.us-east-1.amazonaws.com/foundation-models?byProvider=anthropic',
    );
  });

  it('refuses malformed credentials with a clear message that never repeats the secret', async () => {
    const secret = 'SUPER-SECRET-VALUE';
    const cases: Array<[string, RegExp]> = [
      ['not json', /Bedrock credentials must be JSON/],
      [JSON.stringify({ secretAccessKey: secret, region: 'us-east-1' }), /accessKeyId/],
      [JSON.stringify({ accessKeyId: 'AKIA', secretAccessKey: secret }), /region/],
      [JSON.stringify({ accessKeyId: 'AKIA', secretAccessKey: secret, region: 'evil.com/x' }), /region/],
      [
        JSON.stringify({ accessKeyId: 'AKIA', secretAccessKey: secret, region: 'us-east-1', secretKey: 1 }),
        /secretKey/,
      ],
    ];
    for (const [credential, message] of cases) {
      const attempt = Promise.resolve().then(() =>
        bedrock.buildRequest(call({}, { model: MODEL, messages: MESSAGES }, {}, { credential })),
      );
      await expect(attempt).rejects.toThrow(message);
      await expect(attempt).rejects.not.toThrow(secret);
    }
  });

  it('refuses a wire other than Anthropic', async () => {
    const attempt = Promise.resolve().then(() =>
      bedrock.buildRequest(call({ wire: 'openai-chat' }, { messages: [] })),
    );
    await expect(attempt).rejects.toThrow(/Anthropic wire/);
  });
});

// --- A tiny event-stream encoder, with its own bitwise CRC-32 -----------------------------------

function bitwiseCrc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function header(name: string, type: number, value: Uint8Array = new Uint8Array()): Uint8Array {
  const nameBytes = enc.encode(name);
  const length =
    type === 6 || type === 7 ? Uint8Array.of(value.length >> 8, value.length & 0xff) : new Uint8Array();
  return concat([Uint8Array.of(nameBytes.length), nameBytes, Uint8Array.of(type), length, value]);
}

const stringHeader = (name: string, value: string) => header(name, 7, enc.encode(value));

function frame(headers: Uint8Array[], payload: Uint8Array): Uint8Array {
  const headerBytes = concat(headers);
  const total = 12 + headerBytes.length + payload.length + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, total);
  view.setUint32(4, headerBytes.length);
  view.setUint32(8, bitwiseCrc32(out.subarray(0, 8)));
  out.set(headerBytes, 12);
  out.set(payload, 12 + headerBytes.length);
  view.setUint32(total - 4, bitwiseCrc32(out.subarray(0, total - 4)));
  return out;
}

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/** Every header type Bedrock might add, before the ones that matter, to prove each is skipped right. */
const OTHER_TYPES = [
  header('flag-true', 0),
  header('flag-false', 1),
  header('a-byte', 2, Uint8Array.of(7)),
  header('a-short', 3, Uint8Array.of(1, 2)),
  header('an-int', 4, Uint8Array.of(1, 2, 3, 4)),
  header('a-long', 5, new Uint8Array(8).fill(9)),
  header('some-bytes', 6, Uint8Array.of(0, 1, 2, 255)),
  header('a-timestamp', 8, new Uint8Array(8).fill(1)),
  header('a-uuid', 9, new Uint8Array(16).fill(0xab)),
];

function chunkFrame(event: unknown, extraHeaders: Uint8Array[] = []): Uint8Array {
  const payload = { bytes: base64(enc.encode(JSON.stringify(event))), p: 'abcdefghij' };
  return frame(
    [
      ...extraHeaders,
      stringHeader(':event-type', 'chunk'),
      stringHeader(':content-type', 'application/json'),
      stringHeader(':message-type', 'event'),
    ],
    enc.encode(JSON.stringify(payload)),
  );
}

function exceptionFrame(
  exceptionType: string,
  message: string,
  extra: Record<string, unknown> = {},
): Uint8Array {
  return frame(
    [
      stringHeader(':exception-type', exceptionType),
      stringHeader(':content-type', 'application/json'),
      stringHeader(':message-type', 'exception'),
    ],
    enc.encode(JSON.stringify({ message, ...extra })),
  );
}

const EVENTS = [
  {
    type: 'message_start',
    message: {
      id: 'msg_bdrk_01',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-20250514',
      content: [],
      stop_reason: null,
      usage: { input_tokens: 25, cache_read_input_tokens: 0, output_tokens: 1 },
    },
  },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'héllo 👋\n"quoted"' } },
  { type: 'content_block_stop', index: 0 },
  {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: 12 },
  },
  {
    type: 'message_stop',
    'amazon-bedrock-invocationMetrics': {
      inputTokenCount: 25,
      outputTokenCount: 12,
      invocationLatency: 812,
      firstByteLatency: 301,
    },
  },
];

const sse = (event: { type: string }) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
const errorSse = (type: string, message: string) =>
  `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message } })}\n\n`;

const FRAMES = EVENTS.map((event, i) => chunkFrame(event, i === 2 ? OTHER_TYPES : []));
const STREAM = concat(FRAMES);
const EXPECTED_SSE = EVENTS.map(sse).join('');

function decode(chunks: Uint8Array[]): Promise<string> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  return new Response(source.pipeThrough(anthropicSseFromEventStream())).text();
}

const inSizes = (bytes: Uint8Array, size: number) =>
  Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.slice(i * size, (i + 1) * size));

describe('Bedrock event stream → Anthropic SSE', () => {
  it('computes the standard CRC-32', () => {
    const check = enc.encode('123456789');
    expect(crc32(check)).toBe(0xcbf43926);
    expect(bitwiseCrc32(check)).toBe(0xcbf43926);
  });

  it('gives the same SSE whether the frames come whole, split at any byte, or one byte at a time', async () => {
    expect(await decode([STREAM])).toBe(EXPECTED_SSE);
    for (let cut = 1; cut < STREAM.length; cut++) {
      expect(await decode([STREAM.slice(0, cut), STREAM.slice(cut)]), `cut at ${cut}`).toBe(EXPECTED_SSE);
    }
    for (const size of [1, 2, 3, 5, 11, 64]) {
      expect(await decode(inSizes(STREAM, size)), `chunks of ${size}`).toBe(EXPECTED_SSE);
    }
    // Several frames in a chunk, with a frame boundary inside the next one.
    expect(
      await decode([
        concat([FRAMES[0]!, FRAMES[1]!, FRAMES[2]!.slice(0, 5)]),
        concat([FRAMES[2]!.slice(5), ...FRAMES.slice(3)]),
      ]),
    ).toBe(EXPECTED_SSE);
  });

  it('decodes through the adapter for a streamed generate; other successful bodies pass unchanged', async () => {
    const streamed = bedrock.decodeBody!(
      new Response(STREAM, { headers: { 'content-type': 'application/vnd.amazon.eventstream' } }),
      { wire: 'anthropic', kind: 'generate', model: MODEL, stream: true, search: '' },
    );
    expect(await new Response(streamed).text()).toBe(EXPECTED_SSE);
    const json = '{"id":"msg_1","type":"message","usage":{"input_tokens":3,"output_tokens":4}}';
    const plain = bedrock.decodeBody!(new Response(json), {
      wire: 'anthropic',
      kind: 'generate',
      model: MODEL,
      stream: false,
      search: '',
    });
    expect(await new Response(plain).text()).toBe(json);
    // An error answer to a stream request is JSON, not frames: AWS's `{"message"}`, its type in a
    // header, becomes Anthropic's error JSON.
    const failed = bedrock.decodeBody!(
      new Response('{"message":"Too many tokens"}', {
        status: 429,
        headers: {
          'x-amzn-ErrorType': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/',
        },
      }),
      { wire: 'anthropic', kind: 'generate', model: MODEL, stream: true, search: '' },
    );
    expect(await new Response(failed).json()).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'Too many tokens' },
    });
  });

  it.each([
    [400, 'ValidationException', 'invalid_request_error'],
    [403, 'AccessDeniedException', 'permission_error'],
    [404, 'ResourceNotFoundException', 'not_found_error'],
    [400, 'ServiceQuotaExceededException', 'rate_limit_error'],
    [429, 'ModelNotReadyException', 'overloaded_error'],
    [503, 'ServiceUnavailableException', 'overloaded_error'],
    [408, 'ModelTimeoutException', 'timeout_error'],
    [500, 'InternalServerException', 'api_error'],
    [424, 'ModelErrorException', 'api_error'],
    [529, null, 'overloaded_error'],
  ])('an HTTP %i %s becomes an Anthropic %s', async (status, exception, type) => {
    const body = bedrock.decodeBody!(
      new Response('{"message":"what AWS said"}', {
        status,
        headers: exception ? { 'x-amzn-ErrorType': exception } : {},
      }),
      { wire: 'anthropic', kind: 'generate', model: MODEL, stream: false, search: '' },
    );
    expect(await new Response(body).json()).toEqual({
      type: 'error',
      error: { type, message: 'what AWS said' },
    });
  });

  it('a bad message checksum ends the stream with an error event after the good frames', async () => {
    const corrupt = FRAMES[1]!.slice();
    corrupt[corrupt.length - 10]! ^= 0x01;
    const stream = concat([FRAMES[0]!, corrupt, ...FRAMES.slice(2)]);
    for (const chunks of [[stream], inSizes(stream, 1), inSizes(stream, 7)]) {
      expect(await decode(chunks)).toBe(
        sse(EVENTS[0]!) +
          errorSse(
            'api_error',
            "Bedrock's event stream could not be decoded: event stream message checksum mismatch",
          ),
      );
    }
  });

  it('a bad prelude checksum (a corrupt length) ends the stream at once, without waiting for bytes', async () => {
    const corrupt = FRAMES[1]!.slice();
    corrupt[1]! ^= 0x40; // the frame would claim ~4 MiB more
    const output = await decode([concat([FRAMES[0]!, corrupt.slice(0, 12)])]);
    expect(output).toBe(
      sse(EVENTS[0]!) +
        errorSse(
          'api_error',
          "Bedrock's event stream could not be decoded: event stream prelude checksum mismatch",
        ),
    );
  });

  it('a stream cut mid-frame ends with an error event', async () => {
    const stream = concat([FRAMES[0]!, FRAMES[1]!.slice(0, 20)]);
    expect(await decode(inSizes(stream, 3))).toBe(
      sse(EVENTS[0]!) + errorSse('api_error', "Bedrock's event stream ended mid-frame."),
    );
  });

  it('exception frames become Anthropic error events of the matching type, and end the stream', async () => {
    const cases: Array<[string, string, Record<string, unknown>?]> = [
      ['throttlingException', 'rate_limit_error'],
      ['serviceUnavailableException', 'overloaded_error'],
      ['modelStreamErrorException', 'api_error'],
      // Claude's own status inside Bedrock's wrapper: overloaded is what the client can act on.
      ['modelStreamErrorException', 'overloaded_error', { originalStatusCode: 529 }],
      ['modelStreamErrorException', 'rate_limit_error', { originalStatusCode: 429 }],
      ['internalServerException', 'api_error'],
      ['modelTimeoutException', 'timeout_error'],
      ['validationException', 'invalid_request_error'],
    ];
    for (const [exception, type, extra] of cases) {
      const stream = concat([
        FRAMES[0]!,
        exceptionFrame(exception, 'Too many requests, please wait.', extra),
        FRAMES[1]!,
      ]);
      for (const chunks of [[stream], inSizes(stream, 1)]) {
        expect(await decode(chunks)).toBe(
          sse(EVENTS[0]!) + errorSse(type, `Bedrock ${exception}: Too many requests, please wait.`),
        );
      }
    }
  });

  it('a malformed chunk payload ends the stream with an error event', async () => {
    const bad = frame(
      [stringHeader(':event-type', 'chunk'), stringHeader(':message-type', 'event')],
      enc.encode('{"bytes":"!!! not base64"}'),
    );
    const output = await decode([concat([FRAMES[0]!, bad, FRAMES[1]!])]);
    expect(output.startsWith(sse(EVENTS[0]!))).toBe(true);
    expect(output.slice(sse(EVENTS[0]!).length)).toMatch(/^event: error\ndata: .*"api_error".*\n\n$/);
  });
});

describe('Bedrock JSON answers', () => {
  const op = (kind: Operation['kind']): Operation => ({
    wire: 'anthropic',
    kind,
    model: MODEL,
    stream: false,
    search: '',
  });

  it('CountTokens → Anthropic count_tokens', async () => {
    const body = bedrock.decodeBody!(new Response('{"inputTokens":42}'), op('count_tokens'));
    expect(await new Response(body).json()).toEqual({ input_tokens: 42 });
  });

  it('foundation models → an Anthropic model list, provisioned-only variants left out', async () => {
    const answer = {
      modelSummaries: [
        {
          modelId: MODEL,
          modelName: 'Claude Sonnet 4',
          providerName: 'Anthropic',
          inferenceTypesSupported: ['INFERENCE_PROFILE'],
        },
        { modelId: `${MODEL}:200k`, modelName: 'Claude Sonnet 4', inferenceTypesSupported: ['PROVISIONED'] },
        {
          modelId: 'anthropic.claude-instant-v1',
          modelName: 'Claude Instant',
          inferenceTypesSupported: ['ON_DEMAND'],
        },
      ],
    };
    const body = bedrock.decodeBody!(new Response(JSON.stringify(answer)), op('models'));
    expect(await new Response(body).json()).toEqual({
      data: [
        { type: 'model', id: MODEL, display_name: 'Claude Sonnet 4', created_at: '2025-05-14T00:00:00Z' },
        {
          type: 'model',
          id: 'anthropic.claude-instant-v1',
          display_name: 'Claude Instant',
          created_at: '1970-01-01T00:00:00Z',
        },
      ],
      has_more: false,
      first_id: MODEL,
      last_id: 'anthropic.claude-instant-v1',
    });
  });

  it('an unrecognised answer passes unchanged; a failed one becomes Anthropic error JSON', async () => {
    const odd = bedrock.decodeBody!(new Response('{"somethingElse":1}'), op('count_tokens'));
    expect(await new Response(odd).text()).toBe('{"somethingElse":1}');
    const denied = bedrock.decodeBody!(new Response('{"message":"denied"}', { status: 403 }), op('models'));
    expect(await new Response(denied).json()).toEqual({
      type: 'error',
      error: { type: 'permission_error', message: 'denied' },
    });
    const html = bedrock.decodeBody!(new Response('<html>bad gateway</html>', { status: 502 }), op('models'));
    expect(await new Response(html).text()).toBe('<html>bad gateway</html>');
  });
});

describe('Bedrock error classification', () => {
  const cases: Array<[number, string | null, ErrorClass]> = [
    [429, 'ThrottlingException', { kind: 'rate_limited', status: 429, retryAfterMs: null }],
    [
      429,
      'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/',
      { kind: 'rate_limited', status: 429, retryAfterMs: null },
    ],
    [429, 'ModelNotReadyException', { kind: 'overloaded', status: 429 }],
    [503, 'ServiceUnavailableException', { kind: 'overloaded', status: 503 }],
    [500, 'InternalServerException', { kind: 'server_error', status: 500 }],
    [424, 'ModelErrorException', { kind: 'server_error', status: 424 }],
    [408, 'ModelTimeoutException', { kind: 'server_error', status: 408 }],
    [403, 'UnrecognizedClientException', { kind: 'auth_failed', status: 403 }],
    [403, 'AccessDeniedException', { kind: 'auth_failed', status: 403 }],
    [403, 'InvalidSignatureException', { kind: 'auth_failed', status: 403 }],
    [400, 'ServiceQuotaExceededException', { kind: 'rate_limited', status: 400, retryAfterMs: null }],
    [400, 'ValidationException', { kind: 'client_error', status: 400 }],
    [404, 'ResourceNotFoundException', { kind: 'client_error', status: 404 }],
    [502, null, { kind: 'server_error', status: 502 }],
    [429, null, { kind: 'rate_limited', status: 429, retryAfterMs: null }],
  ];
  it.each(cases)('%i %s', (status, errorType, expected) => {
    const headers = new Headers(errorType ? { 'x-amzn-ErrorType': errorType } : {});
    expect(bedrock.classifyError(status, headers)).toEqual(expected);
  });
});
