import type { Route, Service } from '@sluice/protocol';

/**
 * One compiled matcher: a route, or the part of a route holding the paths of one kind and length.
 * Kong splits a route whose paths differ in kind (regex or prefix) or prefix length into one ATC
 * matcher per group (`split_routes_and_services_by_path`), each with its own priority.
 */
export interface RouteGroup {
  readonly route: Route;
  readonly service: Service | null;
  /** Priority bits 51–63 of Kong's 64-bit value: weight, plain-host, header count, regex. */
  readonly priorityHigh: number;
  /** Priority bits 0–50: regex_priority (signed) × 2^19 + prefix length. */
  readonly priorityLow: number;
  readonly methods: readonly string[] | null;
  readonly hosts: readonly HostCondition[] | null;
  readonly headers: readonly HeaderCondition[] | null;
  readonly snis: readonly string[] | null;
  /** The group's paths (one entry for a route without paths), exact-size: the trie may share it. */
  readonly entries: readonly PathEntry[];
}

/** Kinds of host condition: `example.com`, `*.example.com` (suffix), `example.*` (prefix). */
export const HOST_KINDS = { exact: 0, suffix: 1, prefix: 2 } as const;
export type HostKind = (typeof HOST_KINDS)[keyof typeof HOST_KINDS];

/** One entry of route.hosts, split as Kong's `split_host_port` does. */
export interface HostCondition {
  readonly kind: HostKind;
  /** The host without its `*` (so a suffix starts with `.`, a prefix ends with `.`). */
  readonly value: string;
  /** Required port, or -1 for any port. */
  readonly port: number;
}

/** One header of route.headers: any request value (lower-cased) equal to a value or matching a regex. */
export interface HeaderCondition {
  /** Lower-case request header name (`_` in the route's name read as `-`, like ngx's header table). */
  readonly name: string;
  /** Lower-cased values, exact-size (the shared empty array when none). */
  readonly values: readonly string[];
  /** The `~*` values, exact-size (the shared empty array when none). */
  readonly regexes: readonly RegExp[];
}

/** One path of a group, placed in the path trie under `key`. */
export interface PathEntry {
  readonly group: RouteGroup;
  /**
   * Index of the path in route.paths: earlier paths win ties inside a group, as Kong's `||` does.
   * {@link NO_PATH} (-1) for the one entry of a route without paths.
   */
  readonly ordinal: number;
  /**
   * Trie key: the prefix path (binary string; also what a prefix entry matched), the literal text
   * every match of the regex starts with, or '' for a route without paths.
   */
  readonly key: string;
  /** The regex of a regex path, or null for a prefix path or a route without paths. */
  readonly regex: RegExp | null;
}

/** {@link PathEntry.ordinal} of the entry of a route without paths: it matches any path. */
export const NO_PATH = -1;

/** The path text a matching entry matched, without its regex's match: the prefix, or null. */
export function matchedPrefix(entry: PathEntry): string | null {
  return entry.regex === null && entry.ordinal !== NO_PATH ? entry.key : null;
}

/**
 * Total order of entries, best first: priority (high bits, then low bits), then the higher route
 * id (Kong/atc-router iterates `BTreeMap<(priority, Uuid)>` in reverse), then the earlier path.
 * @returns negative when `a` is better than `b`.
 */
export function compareEntries(a: PathEntry, b: PathEntry): number {
  const ga = a.group;
  const gb = b.group;
  if (ga.priorityHigh !== gb.priorityHigh) return gb.priorityHigh - ga.priorityHigh;
  if (ga.priorityLow !== gb.priorityLow) return gb.priorityLow - ga.priorityLow;
  const ia = ga.route.id;
  const ib = gb.route.id;
  if (ia !== ib) return ia < ib ? 1 : -1;
  return a.ordinal - b.ordinal;
}

const MAX_HEADER_COUNT = 255;
const PREFIX_LENGTH_MASK = 0x7ffff;
const REGEX_PRIORITY_MIN = -(2 ** 31);
const REGEX_PRIORITY_MAX = 2 ** 31 - 1;
const REGEX_META = new Set(['\\', '.', '[', ']', '(', ')', '{', '}', '*', '+', '?', '^', '$', '|']);

const NONE: readonly never[] = Object.freeze([]);

/** `list` (grown by push, so with spare capacity) as an exact-size array, or the shared empty one. */
function exact<T>(list: T[]): readonly T[] {
  return list.length === 0 ? NONE : list.slice();
}

function isNonEmptyArray<T>(value: readonly T[] | null | undefined): value is readonly T[] {
  return Array.isArray(value) && value.length > 0;
}

/** A route's text as the bytes Kong compares (UTF-8 bytes, one code unit each). */
function toBinary(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text : Buffer.from(text, 'utf8').toString('latin1');
}

/** Compiles a regex written for Rust's `regex` crate (Kong's ATC) into a JS RegExp, or null. */
export function compileRegex(source: string): RegExp | null {
  try {
    return new RegExp(source.replaceAll('(?P<', '(?<'));
  } catch {
    return null;
  }
}

/**
 * The literal text every match of an anchored regex body starts with, used only to place the regex
 * in the path trie (the regex still decides). Empty when the body has an alternation or starts with
 * a construct.
 */
export function literalPrefix(body: string): string {
  if (body.includes('|')) return '';
  let end = 0;
  while (end < body.length && !REGEX_META.has(body[end]!)) end++;
  const next = body[end];
  // A quantifier applies to the character before it, which is then not certain to be there.
  if (next === '?' || next === '*' || next === '{') end = Math.max(0, end - 1);
  return toBinary(body.slice(0, end));
}

function compileHosts(hosts: readonly string[]): readonly HostCondition[] {
  const out: HostCondition[] = [];
  for (const raw of hosts) {
    if (typeof raw !== 'string' || raw === '') continue;
    let host = raw;
    let port = -1;
    const colon = raw.indexOf(':');
    if (colon !== -1) {
      const portText = raw.slice(colon + 1);
      if (/^[0-9]+$/.test(portText)) {
        host = raw.slice(0, colon);
        port = Number(portText);
      }
    }
    if (host.startsWith('*')) out.push({ kind: HOST_KINDS.suffix, value: host.slice(1), port });
    else if (host.endsWith('*')) out.push({ kind: HOST_KINDS.prefix, value: host.slice(0, -1), port });
    else out.push({ kind: HOST_KINDS.exact, value: host, port });
  }
  return exact(out);
}

function compileHeaders(headers: Readonly<Record<string, readonly string[]>>): readonly HeaderCondition[] {
  const out: HeaderCondition[] = [];
  for (const [rawName, rawValues] of Object.entries(headers)) {
    const values: string[] = [];
    const regexes: RegExp[] = [];
    for (const value of Array.isArray(rawValues) ? rawValues : []) {
      if (typeof value !== 'string') continue;
      if (value.startsWith('~*')) {
        const regex = compileRegex(value.slice(2).toLowerCase());
        if (regex !== null) regexes.push(regex);
      } else {
        values.push(value.toLowerCase());
      }
    }
    out.push({ name: rawName.toLowerCase().replaceAll('_', '-'), values: exact(values), regexes: exact(regexes) });
  }
  return exact(out);
}

interface PathGroupSpec {
  readonly isRegex: boolean;
  readonly length: number;
  readonly paths: { readonly path: string; readonly ordinal: number }[];
}

function splitPaths(paths: readonly string[]): PathGroupSpec[] {
  const groups: PathGroupSpec[] = [];
  paths.forEach((path, ordinal) => {
    if (typeof path !== 'string') return;
    const isRegex = path.startsWith('~');
    const length = isRegex ? 0 : Buffer.byteLength(path, 'utf8');
    let group = groups.find((g) => g.isRegex === isRegex && g.length === length);
    if (group === undefined) {
      group = { isRegex, length, paths: [] };
      groups.push(group);
    }
    group.paths.push({ path, ordinal });
  });
  return groups;
}

/**
 * The matchers of a route, with Kong's traditional_compatible priorities. Never throws: values the
 * router cannot use (a regex JS cannot compile, a non-string) are skipped.
 */
export function compileRoute(route: Route, service: Service | null): readonly RouteGroup[] {
  const methods = isNonEmptyArray(route.methods) ? route.methods : null;
  const hostList = isNonEmptyArray(route.hosts) ? route.hosts : null;
  const headerMap = route.headers !== null && typeof route.headers === 'object' ? route.headers : null;
  const headerCount = headerMap === null ? 0 : Object.keys(headerMap).length;
  const snis = isNonEmptyArray(route.snis) ? route.snis.map((s) => (s.length > 1 && s.endsWith('.') ? s.slice(0, -1) : s)) : null;
  const paths = isNonEmptyArray(route.paths) ? route.paths : null;

  const weight = (methods ? 1 : 0) + (hostList ? 1 : 0) + (headerCount > 0 ? 1 : 0) + (snis ? 1 : 0) + (paths ? 1 : 0);
  // Kong: `plain_host_only = type(hosts) == "table"` then cleared by any `*`; a null hosts has no bit.
  const isPlainHostOnly = Array.isArray(route.hosts) && !route.hosts.some((h) => typeof h === 'string' && h.includes('*'));
  const cappedHeaderCount = Math.min(headerCount, MAX_HEADER_COUNT);
  const hosts = hostList ? compileHosts(hostList) : null;
  const headers = headerCount > 0 && headerMap ? compileHeaders(headerMap) : null;
  const regexPriority = Math.min(REGEX_PRIORITY_MAX, Math.max(REGEX_PRIORITY_MIN, Math.trunc(Number(route.regex_priority) || 0)));

  const specs: PathGroupSpec[] = paths ? splitPaths(paths) : [{ isRegex: false, length: 0, paths: [] }];
  const groups: RouteGroup[] = [];
  for (const spec of specs) {
    const priorityHigh = (weight << 10) | ((isPlainHostOnly ? 1 : 0) << 9) | (cappedHeaderCount << 1) | (spec.isRegex ? 1 : 0);
    const priorityLow = spec.isRegex ? regexPriority * 2 ** 19 : spec.length & PREFIX_LENGTH_MASK;
    // The group is made first (its entries point at it), then given its entries, exact-size.
    const group: { -readonly [K in keyof RouteGroup]: RouteGroup[K] } = { route, service, priorityHigh, priorityLow, methods, hosts, headers, snis, entries: NONE };
    const entries: PathEntry[] = [];
    if (spec.paths.length === 0) {
      entries.push({ group, ordinal: NO_PATH, key: '', regex: null });
    }
    for (const { path, ordinal } of spec.paths) {
      if (spec.isRegex) {
        const body = path.slice(1);
        const regex = compileRegex('^' + toBinary(body));
        if (regex === null) continue;
        entries.push({ group, ordinal, key: literalPrefix(body), regex });
      } else {
        entries.push({ group, ordinal, key: toBinary(path), regex: null });
      }
    }
    group.entries = exact(entries);
    if (entries.length > 0) groups.push(group);
  }
  return exact(groups);
}
