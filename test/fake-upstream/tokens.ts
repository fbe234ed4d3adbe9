// Deterministic token counting and reply slicing, shared by every provider format so tests can predict usage.
const encoder = new TextEncoder();

export function utf8Length(text: string): number {
  return encoder.encode(text).length;
}

/** Four UTF-8 bytes per token, rounded up: coarse, but any test can compute it from what it sent. */
export function tokensForBytes(bytes: number): number {
  return Math.ceil(bytes / 4);
}

export function tokensForText(text: string): number {
  return tokensForBytes(utf8Length(text));
}

/** The longest prefix of whole code points that fits in `maxTokens`. */
export function truncateToTokens(text: string, maxTokens: number): string {
  let kept = '';
  for (const codePoint of text) {
    if (tokensForText(kept + codePoint) > maxTokens) break;
    kept += codePoint;
  }
  return kept;
}

/** Splits text into at most `chunks` non-empty pieces of near-equal length, never inside a code point. */
export function splitText(text: string, chunks: number): string[] {
  const codePoints = Array.from(text);
  const count = Math.max(1, Math.min(chunks, codePoints.length));
  const pieces: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const from = Math.floor((i * codePoints.length) / count);
    const to = Math.floor(((i + 1) * codePoints.length) / count);
    pieces.push(codePoints.slice(from, to).join(''));
  }
  return pieces;
}
