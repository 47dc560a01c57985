/**
 * Kong's typedef validators (`kong/db/schema/typedefs.lua`, `kong/tools/ip.lua`), one function per
 * typedef. Each returns the error message Kong gives, or `null` when the value is valid.
 */
import { normalizePath } from './normalize-path.js';
import { checkRouteRegex } from './route-regex.js';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID in its canonical textual form (any version, as Kong's `is_valid_uuid`). */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** Kong's `utf8_name`: ASCII alphanumerics, `.`, `-`, `_`, `~`, plus any non-ASCII character. */
export function validateUtf8Name(name: string): string | null {
  const utf8 = validateUtf8String(name);
  if (utf8 !== null) return utf8;
  if (!/^[A-Za-z0-9._~\u0080-\u{10FFFF}-]+$/u.test(name)) {
    return `invalid value '${name}': the only accepted ascii characters are alphanumerics or ., -, _, and ~`;
  }
  return null;
}

/** A lone UTF-16 surrogate: in `u` mode a surrogate pair is one code point and does not match. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** The number of UTF-8 bytes of `value[0, end)`; a lone surrogate counts as one (an escaped byte). */
function utf8Length(value: string, end: number): number {
  let bytes = 0;
  for (let i = 0; i < end; i++) {
    const unit = value.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < end && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else if (unit >= 0xd800 && unit <= 0xdfff) bytes += 1;
    else bytes += 3;
  }
  return bytes;
}

/**
 * Kong's `validate_utf8_string`: refuses a string that is not valid UTF-8, with the 1-based byte
 * position of the first bad sequence. In a JavaScript string "not UTF-8" is a lone surrogate: form
 * bodies decode each invalid byte to one (U+DC80..U+DCFF, see the Admin API's form decoder), so
 * the position counts bytes as Kong's does.
 */
export function validateUtf8String(value: string): string | null {
  const lone = LONE_SURROGATE.exec(value);
  return lone ? `invalid utf-8 character sequence detected at position ${utf8Length(value, lone.index) + 1}` : null;
}

/** Kong's `tag`: printable ASCII except `,` and `/` (space included), or non-ASCII characters. */
export function validateTag(tag: string): string | null {
  const utf8 = validateUtf8String(tag);
  if (utf8 !== null) return utf8;
  if (!/^[\u0020-\u002B\u002D\u002E\u0030-\u007E\u0080-\u{10FFFF}]+$/u.test(tag)) {
    return `invalid tag '${tag}': expected printable ascii (except \`,\` and \`/\`) or valid utf-8 sequences`;
  }
  return null;
}

/** The result of Kong's `normalize_ip`: a host, its kind and an optional port. */
export interface ParsedHost {
  type: 'ipv4' | 'ipv6' | 'name';
  host: string;
  port: number | null;
}

/** Kong's `hostname_type`: decided by exclusion, not validation. */
function hostnameType(name: string): ParsedHost['type'] {
  const colons = (name.match(/:/g) ?? []).length;
  if (colons > 1) return 'ipv6';
  if (/^[\d.]+$/.test(name.replace(/:/g, ''))) return 'ipv4';
  return 'name';
}

function normalizeIpv4(address: string): ParsedHost | string {
  const m = address.includes(':')
    ? /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d+)$/.exec(address)
    : /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (!m) return `invalid ipv4 address: ${address}`;
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) return `invalid ipv4 address: ${address}`;
  let port: number | null = null;
  if (m[5] !== undefined) {
    port = Number(m[5]);
    if (port > 65535) return 'invalid port number';
  }
  return { type: 'ipv4', host: octets.join('.'), port };
}

function normalizeIpv6(address: string): ParsedHost | string {
  let check = address;
  let port: number | null = null;
  const bracketed = /^\[([^\]]*)\](.*)$/.exec(address);
  if (bracketed) {
    check = bracketed[1] ?? '';
    const rest = bracketed[2] ?? '';
    if (rest !== '') {
      const p = /^:(\d*)$/.exec(rest);
      if (!p) return 'invalid ipv6 address';
      port = Number(p[1]);
      if (port > 65535) return 'invalid port number';
    }
  }
  if (check.startsWith(':')) check = `0${check}`;
  if (check.endsWith(':')) check = `${check}0`;
  if (check.includes('::')) {
    const count = (check.match(/:/g) ?? []).length;
    check = check.replace('::', `:${'0:'.repeat(Math.max(0, 8 - count))}`);
  }
  const groups = check.split(':');
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) {
    return `invalid ipv6 address: ${address}`;
  }
  return { type: 'ipv6', host: groups.map((g) => g.padStart(4, '0').toLowerCase()).join(':'), port };
}

function checkHostname(address: string): ParsedHost | string {
  let name = address;
  let port: number | null = null;
  const p = /:(\d+)$/.exec(address);
  if (p?.[1] !== undefined) {
    name = name.slice(0, -(p[1].length + 1));
    port = Number(p[1]);
    if (port > 65535) return 'invalid port number';
  }
  if (!/^[\dA-Za-z\-._]+$/.test(name)) return `invalid hostname: ${address}`;
  const segments = name.split('.');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] ?? '';
    if (segment.endsWith('-') || (segment === '' && i !== segments.length - 1)) return `invalid hostname: ${address}`;
  }
  return { type: 'name', host: name, port };
}

/** Kong's `normalize_ip`: parses a name, IPv4 or IPv6 address with an optional port. */
export function parseHost(address: string): ParsedHost | string {
  const type = hostnameType(address);
  if (type === 'ipv4') return normalizeIpv4(address);
  if (type === 'ipv6') return normalizeIpv6(address);
  return checkHostname(address);
}

/** Kong's `host` typedef (service.host): a name or IP, no port. */
export function validateHost(host: string): string | null {
  const parsed = parseHost(host);
  if (typeof parsed === 'string') return parsed === 'invalid port number' ? 'must not have a port' : `invalid value: ${host}`;
  if (parsed.port !== null) return 'must not have a port';
  return null;
}

/** Kong's `path` typedef (service.path). */
export function validateServicePath(path: string): string | null {
  if (!path.startsWith('/')) return 'should start with: /';
  if (path.includes('//')) return 'must not have empty segments';
  return validateRfc3986Path(path);
}

/** Kong's `validate_path`: RFC 3986 characters only, well-formed percent-encoding. */
/** A path made only of RFC 3986 unreserved, sub-delim, `:`, `@`, `/` and `%` characters. */
const RFC3986_PATH = /^\/[A-Za-z0-9.\-_~/%:@!$&'()*+,;=]*$/;

function validateRfc3986Path(path: string): string | null {
  if (!RFC3986_PATH.test(path)) {
    return `invalid path: '${path}' (characters outside of the reserved list of RFC 3986 found)`;
  }
  return checkPercentEncoding(path);
}

function checkPercentEncoding(path: string): string | null {
  const raw = path.replace(/%[0-9A-Fa-f]{2}/g, '___');
  const at = raw.indexOf('%');
  if (at >= 0) return `invalid url-encoded value: '${raw.slice(at, at + 3)}'`;
  return null;
}

/** Kong's `http_method` typedef: upper-case letters only. */
export function validateHttpMethod(method: string): string | null {
  return /^[A-Z]+$/.test(method) ? null : `invalid value: ${method}`;
}

/** Kong's `header_name` typedef. */
export function validateHeaderName(name: string): string | null {
  return /^[a-zA-Z0-9_-]+$/.test(name) ? null : `bad header name '${name}', allowed characters are A-Z, a-z, 0-9, '_', and '-'`;
}

/** An element of `route.hosts`: a host with an optional port and at most one wildcard on an edge label. */
export function validateRouteHost(host: string): string | null {
  if (!/^[^*]*\*?[^*]*$/.test(host)) return 'invalid wildcard: must have at most one wildcard';
  if (!(/^\*\./.test(host) || /\.\*$/.test(host) || /^[^*]*$/.test(host))) {
    return 'invalid wildcard: must be placed at leftmost or rightmost label';
  }
  const parsed = parseHost(host.replace(/\*/g, 'abc'));
  return typeof parsed === 'string' ? parsed : null;
}

/** Kong's `wildcard_host` typedef (route.snis under traditional_compatible). */
export function validateWildcardHost(host: string): string | null {
  let candidate = host;
  const idx = host.indexOf('*');
  if (idx >= 0) {
    if (idx !== 0 && idx !== host.length - 1) return 'wildcard must be leftmost or rightmost character';
    if ((host.match(/\*/g) ?? []).length > 1) return 'only one wildcard must be specified';
    candidate = host.replace(/\*/g, 'wildcard');
  }
  const parsed = parseHost(candidate);
  if (typeof parsed === 'string') {
    return parsed === 'invalid port number' ? 'must not have a port' : `invalid value: ${candidate}`;
  }
  if (parsed.type !== 'name') return 'must not be an IP';
  if (parsed.port !== null) return 'must not have a port';
  return null;
}

/**
 * Kong's `router_path` typedef: a normalised prefix `/…` or a regex `~/…`. As in Kong
 * (`validate_path_with_regexes`), only the percent-encoding part of the RFC 3986 path check is
 * enforced, and only on prefix paths made of RFC 3986 characters.
 */
export function validateRouterPath(path: string): string | null {
  if (!(path.startsWith('/') || path.startsWith('~/'))) return 'should start with: / (fixed path) or ~/ (regex path)';
  if (path.includes('//')) return 'must not have empty segments';
  if (!path.startsWith('~')) {
    if (RFC3986_PATH.test(path)) {
      const percent = checkPercentEncoding(path);
      if (percent !== null) return percent;
    }
    const normalized = normalizePath(path, true);
    if (normalized !== path) return `non-normalized path, consider use '${normalized}' instead`;
    return null;
  }
  const regex = path.slice(1);
  const problem = checkRouteRegex(regex);
  return problem === null ? null : `invalid regex: '${regex}' (${problem})`;
}
