import { removeDotSegments } from '@sluice/protocol';

/**
 * Request-path normalisation exactly as Kong's `kong.tools.uri.normalize(uri, true)`, which Kong
 * applies (through `kong.router.utils.strip_uri_args`) before routing.
 *
 * Paths are handled as "binary strings": one UTF-16 code unit per byte (0–255), as Node's HTTP
 * parser delivers the request target. Percent-decoding therefore yields bytes, never code points.
 */

/** Bytes Kong never percent-decodes (RFC 3986 reserved plus `%`), by byte value. */
const IS_RESERVED = /* @__PURE__ */ (() => {
  const table = new Uint8Array(256);
  for (const ch of "!*'();:@&=+$,/?%#[]") table[ch.charCodeAt(0)] = 1;
  return table;
})();

const CH_PERCENT = 0x25;

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/**
 * Decodes `%XX` triplets of unreserved and "other" bytes and upper-cases the hex digits of the
 * reserved ones (`%2f` → `%2F`), as Kong's `normalize_decode`.
 */
function decodePercent(path: string): string {
  let out = '';
  let last = 0;
  const length = path.length;
  for (let i = 0; i < length; i++) {
    if (path.charCodeAt(i) !== CH_PERCENT || i + 2 >= length) continue;
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hi < 0 ? -1 : hexValue(path.charCodeAt(i + 2));
    if (lo < 0) continue;
    const byte = hi * 16 + lo;
    out += path.slice(last, i);
    out += IS_RESERVED[byte] === 1 ? path.slice(i, i + 3).toUpperCase() : String.fromCharCode(byte);
    last = i + 3;
    i += 2;
  }
  return last === 0 ? path : out + path.slice(last);
}

/**
 * The normalised form of a request path (no query string), as Kong routes on it: `%xx` of reserved
 * bytes upper-cased, every other `%xx` decoded, dot segments removed, `//` merged.
 */
export function normalizePath(path: string): string {
  if (path === '' || path === '/') return path;
  let uri = path.indexOf('%') === -1 ? path : decodePercent(path);
  if (uri.indexOf('.') === -1 && uri.indexOf('//') === -1) return uri;
  uri = removeDotSegments(uri, true);
  return uri;
}
