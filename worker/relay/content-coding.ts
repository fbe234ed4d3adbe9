// Request bodies a client compressed. Codex compresses its Responses bodies with zstd (level 3)
// when it believes it talks to OpenAI's own backend, and a proxy between a CLI and the relay may
// gzip: read as they come, they were refused as "not valid JSON". The relay decodes them, bounded
// by MAX_BODY_BYTES *decoded* (a few KB of zstd can claim gigabytes), and forwards plain JSON:
// `content-encoding` is on no provider's allow-list, so the upstream is never told otherwise.
import { Decompress } from 'fzstd';
import { RelayError } from './dialect';

export type ContentCoding = 'identity' | 'gzip' | 'deflate' | 'zstd';

const SUPPORTED = 'gzip, deflate, zstd or none';

/** The one coding a body was sent in. Stacked codings (`gzip, zstd`) are refused with the rest. */
export function contentCodingOf(header: string | null): ContentCoding {
  const coding = (header ?? '').trim().toLowerCase();
  if (coding === '' || coding === 'identity') return 'identity';
  if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
  if (coding === 'deflate' || coding === 'zstd') return coding;
  throw new RelayError(
    'unsupported_encoding',
    `Content-Encoding "${coding.slice(0, 40)}" is not supported; send the body as ${SUPPORTED}.`,
  );
}

/** The body decoded; a RelayError (400 corrupt, 413 too large decoded) otherwise. */
export async function decodeBody(
  body: ArrayBuffer,
  coding: Exclude<ContentCoding, 'identity'>,
  maxBytes: number,
): Promise<ArrayBuffer> {
  return coding === 'zstd'
    ? decodeZstd(new Uint8Array(body), maxBytes)
    : decodeStream(body, coding, maxBytes);
}

async function decodeStream(
  body: ArrayBuffer,
  coding: 'gzip' | 'deflate',
  maxBytes: number,
): Promise<ArrayBuffer> {
  const reader = new Blob([body]).stream().pipeThrough(new DecompressionStream(coding)).getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch {
      throw corrupt(coding);
    }
    if (next.done) break;
    size += next.value.byteLength;
    if (size > maxBytes) {
      void reader.cancel().catch(() => {});
      throw tooLargeDecoded(maxBytes);
    }
    parts.push(next.value);
  }
  return joined(parts, size);
}

class Overflow extends Error {}

function decodeZstd(body: Uint8Array, maxBytes: number): ArrayBuffer {
  // fzstd allocates each frame's window as the frame header declares it: checked first.
  const window = largestZstdWindow(body);
  if (window === null) throw corrupt('zstd');
  if (window > maxBytes) throw tooLargeDecoded(maxBytes);
  const parts: Uint8Array[] = [];
  let size = 0;
  const decoder = new Decompress((chunk) => {
    size += chunk.byteLength;
    if (size > maxBytes) throw new Overflow();
    parts.push(chunk);
  });
  try {
    decoder.push(body, true);
  } catch (error) {
    throw error instanceof Overflow ? tooLargeDecoded(maxBytes) : corrupt('zstd');
  }
  return joined(parts, size);
}

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * The largest window any frame of a zstd body declares (RFC 8878 §3.1), walking frame and block
 * headers without decoding; null when the body is not a well-formed sequence of frames.
 */
export function largestZstdWindow(bytes: Uint8Array): number | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  let largest = 0;
  if (bytes.byteLength === 0) return null;
  while (at < bytes.byteLength) {
    if (at + 4 > bytes.byteLength) return null;
    const magic = view.getUint32(at, true);
    at += 4;
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      // A skippable frame: its size, then that many bytes nobody decodes.
      if (at + 4 > bytes.byteLength) return null;
      at += 4 + view.getUint32(at, true);
      continue;
    }
    if (magic !== ZSTD_MAGIC || at + 1 > bytes.byteLength) return null;
    const descriptor = bytes[at++]!;
    const contentSizeFlag = descriptor >> 6;
    const singleSegment = (descriptor >> 5) & 1;
    const hasChecksum = (descriptor >> 2) & 1;
    const dictionaryBytes = [0, 1, 2, 4][descriptor & 3]!;
    let window = 0;
    if (!singleSegment) {
      if (at + 1 > bytes.byteLength) return null;
      const exponent = bytes[at]! >> 3;
      const base = 2 ** (10 + exponent);
      window = base + (base / 8) * (bytes[at]! & 7);
      at += 1;
    }
    at += dictionaryBytes;
    const sizeBytes = [singleSegment, 2, 4, 8][contentSizeFlag]!;
    if (at + sizeBytes > bytes.byteLength) return null;
    if (singleSegment) {
      let contentSize = 0;
      for (let i = sizeBytes - 1; i >= 0; i--) contentSize = contentSize * 256 + bytes[at + i]!;
      window = contentSize + (sizeBytes === 2 ? 256 : 0);
    }
    at += sizeBytes;
    largest = Math.max(largest, window);
    for (;;) {
      if (at + 3 > bytes.byteLength) return null;
      const header = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16);
      at += 3;
      const type = (header >> 1) & 3;
      if (type === 3) return null;
      // An RLE block's size is what it expands to; its content is the one byte repeated.
      at += type === 1 ? 1 : header >>> 3;
      if (header & 1) break;
    }
    at += hasChecksum ? 4 : 0;
    if (at > bytes.byteLength) return null;
  }
  return largest;
}

function joined(parts: Uint8Array[], size: number): ArrayBuffer {
  if (parts.length === 1 && parts[0]!.byteLength === parts[0]!.buffer.byteLength)
    return parts[0]!.buffer as ArrayBuffer;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out.buffer;
}

function corrupt(coding: string): RelayError {
  return new RelayError(
    'invalid_request',
    `The request body is not valid ${coding} data (Content-Encoding: ${coding}).`,
  );
}

function tooLargeDecoded(maxBytes: number): RelayError {
  return new RelayError('too_large', `Request body exceeds the limit of ${maxBytes} bytes once decoded.`);
}
