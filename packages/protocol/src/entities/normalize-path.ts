/**
 * Kong's URI path normalisation (`kong/tools/uri.lua: normalize`), used to check that a route's
 * prefix path is already normalised and by the router to normalise request paths.
 *
 * Percent-encoded unreserved and "other" characters are decoded, reserved ones are kept with
 * upper-case hex, dot segments are removed, and with `mergeSlashes` runs of `/` are merged.
 */

/** RFC 3986 reserved characters plus `%`, which normalisation keeps percent-encoded. */
const RESERVED_CHARS = "!*'();:@&=+$,/?%#[]";

const PERCENT_RUN = /(?:%[0-9A-Fa-f]{2})+/g;

/** Decodes a run of `%XX` triplets the way Kong does, byte by byte (UTF-8 sequences decoded whole). */
function decodeRun(run: string): string {
  const bytes = run.match(/%[0-9A-Fa-f]{2}/g) ?? [];
  let out = '';
  let high: string[] = [];
  const flushHigh = (): void => {
    if (high.length === 0) return;
    const joined = high.join('');
    try {
      out += decodeURIComponent(joined);
    } catch {
      out += joined.toUpperCase();
    }
    high = [];
  };
  for (const triplet of bytes) {
    const code = parseInt(triplet.slice(1), 16);
    if (code >= 0x80) {
      high.push(triplet);
      continue;
    }
    flushHigh();
    const ch = String.fromCharCode(code);
    out += RESERVED_CHARS.includes(ch) ? triplet.toUpperCase() : ch;
  }
  flushHigh();
  return out;
}

/** Normalises a URI path as Kong does; see the module comment. */
export function normalizePath(uri: string, mergeSlashes = false): string {
  if (uri === '' || uri === '/') return uri;
  if (uri.includes('%')) uri = uri.replace(PERCENT_RUN, decodeRun);
  if (!uri.includes('.')) {
    if (!mergeSlashes || !uri.includes('//')) return uri;
  }
  return removeDotSegments(uri, mergeSlashes);
}

const CH_DOT = 0x2e;
const CH_SLASH = 0x2f;

/**
 * Removes dot segments (and, with `mergeSlashes`, merges runs of `/`) the way Kong's `normalize`
 * loop does — not RFC 3986 section 5.2.4 verbatim: `/..` above the root is dropped, and an empty
 * result is `""`. Works on any string, UTF-16 or "binary" (one code unit per byte), since it only
 * looks at `.` and `/`. Shared by route validation and the data plane's router.
 */
export function removeDotSegments(input: string, mergeSlashes: boolean): string {
  const output: string[] = [];
  let uri = input;
  while (uri.length > 0) {
    const first = uri.charCodeAt(0);
    const second = uri.length > 1 ? uri.charCodeAt(1) : -1;
    const third = uri.length > 2 ? uri.charCodeAt(2) : -1;
    const fourth = uri.length > 3 ? uri.charCodeAt(3) : -1;
    if (uri === '/.') {
      uri = '/';
    } else if (uri === '/..') {
      uri = '/';
      output.pop();
    } else if (uri === '.' || uri === '..') {
      uri = '';
    } else if (first === CH_DOT && second === CH_DOT && third === CH_SLASH) {
      uri = uri.slice(3);
    } else if (first === CH_DOT && second === CH_SLASH) {
      uri = uri.slice(2);
    } else if (first === CH_SLASH && second === CH_DOT && third === CH_SLASH) {
      uri = uri.slice(2);
    } else if (first === CH_SLASH && second === CH_DOT && third === CH_DOT && fourth === CH_SLASH) {
      uri = uri.slice(3);
      output.pop();
    } else if (mergeSlashes && first === CH_SLASH && second === CH_SLASH) {
      uri = uri.slice(1);
    } else {
      const next = uri.indexOf('/', 1);
      if (next === -1) {
        output.push(uri);
        uri = '';
      } else {
        output.push(uri.slice(0, next));
        uri = uri.slice(next);
      }
    }
  }
  return output.join('');
}
