// Reading a client's request body once, within the size limit, and the few fields routing needs.
// The bytes read are the bytes forwarded: nothing is re-serialised unless a model is remapped.
import { MODEL_NAME_MAX } from '../limits';
import { contentCodingOf, decodeBody } from './content-coding';
import { RelayError } from './dialect';

/** The body as JSON bytes: decoded when the client compressed it (content-coding.ts). */
export async function readBody(req: Request, maxBytes: number): Promise<ArrayBuffer> {
  const coding = contentCodingOf(req.headers.get('content-encoding'));
  const declared = Number(req.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const body = await req.arrayBuffer();
  if (body.byteLength > maxBytes) throw tooLarge(maxBytes);
  return coding === 'identity' ? body : decodeBody(body, coding, maxBytes);
}

export function parseJsonObject(body: ArrayBuffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new RelayError('invalid_request', 'The request body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RelayError('invalid_request', 'The request body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

export function requireModel(body: Record<string, unknown>): string {
  const model = body.model;
  if (typeof model !== 'string' || model.length === 0) {
    throw new RelayError('invalid_request', 'model: Field required');
  }
  return checkModelName(model);
}

/** A model name within bounds: it is repeated into logs, usage events and error messages. */
export function checkModelName(model: string): string {
  if (model.length > MODEL_NAME_MAX) {
    throw new RelayError(
      'invalid_request',
      `model: at most ${MODEL_NAME_MAX} characters, this one has ${model.length}.`,
    );
  }
  return model;
}

function tooLarge(maxBytes: number): RelayError {
  return new RelayError('too_large', `Request body exceeds the limit of ${maxBytes} bytes.`);
}
