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
  const output: string[] = [];
  while (uri.length > 0) {
    if (uri === '/.') {
      uri = '/';
    } else if (uri === '/..') {
      uri = '/';
      output.pop();
    } else if (uri === '.' || uri === '..') {
      uri = '';
    } else if (uri.startsWith('../')) {
      uri = uri.slice(3);
    } else if (uri.startsWith('./')) {
      uri = uri.slice(2);
    } else if (uri.startsWith('/./')) {
      uri = uri.slice(2);
    } else if (uri.startsWith('/../')) {
      uri = uri.slice(3);
      output.pop();
    } else if (mergeSlashes && uri.startsWith('//')) {
      uri = uri.slice(1);
    } else {
      const i = uri.indexOf('/', 1);
      if (i >= 0) {
        output.push(uri.slice(0, i));
        uri = uri.slice(i);
      } else {
        output.push(uri);
        uri = '';
      }
    }
  }
  return output.join('');
}
