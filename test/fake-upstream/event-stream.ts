// The AWS event-stream binary framing (application/vnd.amazon.eventstream) that Bedrock streams in; tests build frames with it too.

const crcTable = Array.from({ length: 256 }, (_, index) => {
  let crc = index;
  for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  return crc >>> 0;
});

/** CRC-32 (IEEE 802.3), the checksum each frame carries over its prelude and over the whole message. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (crcTable[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const encoder = new TextEncoder();
// Header value type 7 is a string with a 16-bit length; Bedrock uses no other type.
const stringType = 7;

function encodeHeaders(headers: Readonly<Record<string, string>>): Uint8Array {
  const parts: number[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const nameBytes = encoder.encode(name);
    const valueBytes = encoder.encode(value);
    parts.push(
      nameBytes.length,
      ...nameBytes,
      stringType,
      valueBytes.length >>> 8,
      valueBytes.length & 0xff,
      ...valueBytes,
    );
  }
  return Uint8Array.from(parts);
}

/**
 * One frame: total length, headers length, prelude CRC (all u32 big-endian), headers, payload, message CRC.
 * Header order is kept as given.
 */
export function encodeEventStreamFrame(
  headers: Readonly<Record<string, string>>,
  payload: Uint8Array | string,
): Uint8Array {
  const headerBytes = encodeHeaders(headers);
  const payloadBytes = typeof payload === 'string' ? encoder.encode(payload) : payload;
  const total = 12 + headerBytes.length + payloadBytes.length + 4;
  const frame = new Uint8Array(total);
  const view = new DataView(frame.buffer);
  view.setUint32(0, total);
  view.setUint32(4, headerBytes.length);
  view.setUint32(8, crc32(frame.subarray(0, 8)));
  frame.set(headerBytes, 12);
  frame.set(payloadBytes, 12 + headerBytes.length);
  view.setUint32(total - 4, crc32(frame.subarray(0, total - 4)));
  return frame;
}
