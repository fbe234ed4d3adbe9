// Incremental decoder for the binary AWS event stream (`application/vnd.amazon.eventstream`):
// frames cut anywhere by the network are reassembled, checked against both CRCs and parsed.
import { crc32 } from './crc32';

export interface EventStreamMessage {
  /** String-valued headers only: every header Bedrock routes on (`:event-type`, …) is a string. */
  headers: Record<string, string>;
  payload: Uint8Array;
}

/** The stream cannot be trusted past this point (bad checksum, impossible length, bad header). */
export class EventStreamError extends Error {}

const PRELUDE_BYTES = 12;
const CRC_BYTES = 4;
/** AWS caps a payload at 16 MiB and headers at 128 KiB; a larger length means a corrupt prelude. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024 + 128 * 1024 + PRELUDE_BYTES + CRC_BYTES;

/** Value sizes of the fixed-width header types, by type byte; 6 and 7 carry a u16 length instead. */
const FIXED_VALUE_BYTES: Readonly<Record<number, number>> = {
  0: 0,
  1: 0,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  8: 8,
  9: 16,
};
const STRING_TYPE = 7;
const BYTES_TYPE = 6;

const utf8 = new TextDecoder();

export class EventStreamDecoder {
  private readonly chunks: Uint8Array[] = [];
  /** Bytes of `chunks[0]` already consumed. */
  private head = 0;
  private buffered = 0;
  /** The next frame's total length, once its prelude has been read and checked. */
  private frameLength: number | null = null;

  /** Bytes received that do not yet make a whole frame; non-zero at the end means a cut stream. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /**
   * Adds bytes (at once, not lazily like a generator body) and returns the frames they complete;
   * iterating throws EventStreamError on corruption.
   */
  push(chunk: Uint8Array): Generator<EventStreamMessage> {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    return this.frames();
  }

  private *frames(): Generator<EventStreamMessage> {
    while (true) {
      if (this.frameLength === null) {
        if (this.buffered < PRELUDE_BYTES) return;
        // Checked before waiting for the rest, so a corrupt length cannot make us buffer forever.
        this.frameLength = checkPrelude(this.peek(PRELUDE_BYTES));
      }
      if (this.buffered < this.frameLength) return;
      const frame = this.peek(this.frameLength);
      this.skip(this.frameLength);
      this.frameLength = null;
      yield parseFrame(frame);
    }
  }

  /** The first `n` buffered bytes, copied only when they span chunks. */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = new Uint8Array(n);
    let filled = 0;
    let offset = this.head;
    for (let i = 0; filled < n; i++) {
      const part = this.chunks[i]!.subarray(offset, offset + n - filled);
      out.set(part, filled);
      filled += part.length;
      offset = 0;
    }
    return out;
  }

  private skip(n: number): void {
    this.buffered -= n;
    let whole = 0;
    let left = n;
    while (left > 0) {
      const available = this.chunks[whole]!.length - this.head;
      if (available > left) {
        this.head += left;
        break;
      }
      left -= available;
      whole++;
      this.head = 0;
    }
    // One splice rather than a shift per chunk: a frame may arrive as hundreds of tiny chunks.
    this.chunks.splice(0, whole);
  }
}

/** Validates the 12-byte prelude and returns the frame's total length. */
function checkPrelude(prelude: Uint8Array): number {
  const view = new DataView(prelude.buffer, prelude.byteOffset, prelude.byteLength);
  const total = view.getUint32(0);
  const headersLength = view.getUint32(4);
  if (crc32(prelude.subarray(0, 8)) !== view.getUint32(8)) {
    throw new EventStreamError('event stream prelude checksum mismatch');
  }
  if (total < PRELUDE_BYTES + CRC_BYTES || total > MAX_MESSAGE_BYTES) {
    throw new EventStreamError(`event stream frame length ${total} is out of range`);
  }
  if (headersLength > total - PRELUDE_BYTES - CRC_BYTES) {
    throw new EventStreamError('event stream headers overrun the frame');
  }
  return total;
}

function parseFrame(frame: Uint8Array): EventStreamMessage {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const crcAt = frame.length - CRC_BYTES;
  if (crc32(frame.subarray(0, crcAt)) !== view.getUint32(crcAt)) {
    throw new EventStreamError('event stream message checksum mismatch');
  }
  const headersEnd = PRELUDE_BYTES + view.getUint32(4);
  return {
    headers: parseHeaders(frame, view, PRELUDE_BYTES, headersEnd),
    payload: frame.subarray(headersEnd, crcAt),
  };
}

function parseHeaders(frame: Uint8Array, view: DataView, start: number, end: number): Record<string, string> {
  const headers: Record<string, string> = {};
  let at = start;
  const need = (n: number): void => {
    if (at + n > end) throw new EventStreamError('event stream header overruns the header block');
  };
  while (at < end) {
    need(1);
    const nameLength = view.getUint8(at);
    at += 1;
    need(nameLength + 1);
    const name = utf8.decode(frame.subarray(at, at + nameLength));
    const type = view.getUint8(at + nameLength);
    at += nameLength + 1;
    let valueLength = FIXED_VALUE_BYTES[type];
    if (type === STRING_TYPE || type === BYTES_TYPE) {
      need(2);
      valueLength = view.getUint16(at);
      at += 2;
    }
    if (valueLength === undefined) throw new EventStreamError(`event stream header type ${type} is unknown`);
    need(valueLength);
    if (type === STRING_TYPE) headers[name] = utf8.decode(frame.subarray(at, at + valueLength));
    at += valueLength;
  }
  return headers;
}
