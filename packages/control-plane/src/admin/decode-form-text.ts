/**
 * The text of a form key or value, decoded from its bytes (after percent-decoding) without losing
 * what was sent. Valid UTF-8 decodes as usual. Each byte that does not start a valid UTF-8
 * sequence (Unicode table 3-7) becomes one lone surrogate, U+DC80..U+DCFF (the byte plus 0xDC00,
 * Python's "surrogateescape"), instead of U+FFFD: the entity pipeline refuses lone surrogates in
 * every string field with Kong's `invalid utf-8 character sequence detected at position N`, N
 * counted in bytes as Kong does, so invalid input is refused and never stored rewritten.
 */

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Code points collected before each `String.fromCodePoint` call (bounded argument count). */
const CHUNK_CODE_POINTS = 8192;

function isContinuation(byte: number | undefined, low = 0x80, high = 0xbf): boolean {
  return byte !== undefined && byte >= low && byte <= high;
}

/** The length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there starts none. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i] as number;
  if (b0 < 0x80) return 1;
  if (b0 >= 0xc2 && b0 <= 0xdf) return isContinuation(bytes[i + 1]) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const low = b0 === 0xe0 ? 0xa0 : 0x80;
    const high = b0 === 0xed ? 0x9f : 0xbf;
    return isContinuation(bytes[i + 1], low, high) && isContinuation(bytes[i + 2]) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const low = b0 === 0xf0 ? 0x90 : 0x80;
    const high = b0 === 0xf4 ? 0x8f : 0xbf;
    return isContinuation(bytes[i + 1], low, high) && isContinuation(bytes[i + 2]) && isContinuation(bytes[i + 3]) ? 4 : 0;
  }
  return 0;
}

function codePointAt(bytes: Uint8Array, i: number, length: number): number {
  const b0 = bytes[i] as number;
  if (length === 1) return b0;
  if (length === 2) return ((b0 & 0x1f) << 6) | ((bytes[i + 1] as number) & 0x3f);
  if (length === 3) return ((b0 & 0x0f) << 12) | (((bytes[i + 1] as number) & 0x3f) << 6) | ((bytes[i + 2] as number) & 0x3f);
  return ((b0 & 0x07) << 18) | (((bytes[i + 1] as number) & 0x3f) << 12) | (((bytes[i + 2] as number) & 0x3f) << 6) | ((bytes[i + 3] as number) & 0x3f);
}

/** Decodes `bytes`; see the module comment. */
export function decodeFormText(bytes: Uint8Array): string {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    // Not valid UTF-8: decode it again, keeping each bad byte as an escape.
  }
  const parts: string[] = [];
  let codePoints: number[] = [];
  for (let i = 0; i < bytes.length; ) {
    const length = sequenceLength(bytes, i);
    if (length === 0) {
      codePoints.push(0xdc00 + (bytes[i] as number));
      i += 1;
    } else {
      codePoints.push(codePointAt(bytes, i, length));
      i += length;
    }
    if (codePoints.length >= CHUNK_CODE_POINTS) {
      parts.push(String.fromCodePoint(...codePoints));
      codePoints = [];
    }
  }
  parts.push(String.fromCodePoint(...codePoints));
  return parts.join('');
}
