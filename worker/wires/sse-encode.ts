// Writing SSE: one place for the framing every wire and converter uses.
const encoder = new TextEncoder();

/** `event: <name>\ndata: <json>\n\n`, or a data-only event when no name is given. */
export function sseEvent(data: unknown, event?: string): Uint8Array {
  const json = typeof data === 'string' ? data : JSON.stringify(data);
  return encoder.encode(event ? `event: ${event}\ndata: ${json}\n\n` : `data: ${json}\n\n`);
}
