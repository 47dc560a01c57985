/**
 * Header names the proxy treats specially, classified once: lookups try the name as sent, then its
 * lower-case form, so the common spellings cost one Map hit.
 */
export const HEADER_KINDS = {
  other: 0,
  /** Hop-by-hop (RFC 9110 section 7.6.1 plus the legacy ones): never forwarded. */
  hopByHop: 1,
  connection: 2,
  host: 3,
  xForwardedFor: 4,
  xForwardedProto: 5,
  xForwardedHost: 6,
  xForwardedPort: 7,
  xForwardedPath: 8,
  xForwardedPrefix: 9,
  xRealIp: 10,
  via: 11,
  requestId: 12,
  upgrade: 13,
  contentLength: 14,
  transferEncoding: 15,
  server: 16,
  expect: 17,
} as const;
export type HeaderKind = (typeof HEADER_KINDS)[keyof typeof HEADER_KINDS];

/** The request id header, sent upstream and on every response (Kong's is `X-Kong-Request-Id`). */
export const REQUEST_ID_HEADER = 'X-Sluice-Request-Id';
/** Time from the request's arrival to the upstream dispatch, ms (Kong's `X-Kong-Proxy-Latency`). */
export const PROXY_LATENCY_HEADER = 'X-Sluice-Proxy-Latency';
/** Time from the upstream dispatch to the upstream response headers, ms (`X-Kong-Upstream-Latency`). */
export const UPSTREAM_LATENCY_HEADER = 'X-Sluice-Upstream-Latency';
/** Time to produce a response the proxy generated itself, ms (`X-Kong-Response-Latency`). */
export const RESPONSE_LATENCY_HEADER = 'X-Sluice-Response-Latency';
/** The status the upstream answered with, on proxied responses when enabled in `headers` (Kong's `X-Kong-Upstream-Status`). */
export const UPSTREAM_STATUS_HEADER = 'X-Sluice-Upstream-Status';
/** A request carrying it gets the matched route and service on its response, when `allowDebugHeader` is on (Kong's `Kong-Debug`). */
export const DEBUG_REQUEST_HEADER = 'Sluice-Debug';

const KINDS = new Map<string, HeaderKind>();
function add(name: string, kind: HeaderKind): void {
  KINDS.set(name, kind);
  KINDS.set(name.replace(/(^|-)([a-z])/g, (_, sep: string, c: string) => sep + c.toUpperCase()), kind);
  KINDS.set(name.toUpperCase(), kind);
}
for (const name of ['keep-alive', 'proxy-connection', 'te', 'trailer', 'proxy-authenticate', 'proxy-authorization']) add(name, HEADER_KINDS.hopByHop);
add('connection', HEADER_KINDS.connection);
add('host', HEADER_KINDS.host);
add('x-forwarded-for', HEADER_KINDS.xForwardedFor);
add('x-forwarded-proto', HEADER_KINDS.xForwardedProto);
add('x-forwarded-host', HEADER_KINDS.xForwardedHost);
add('x-forwarded-port', HEADER_KINDS.xForwardedPort);
add('x-forwarded-path', HEADER_KINDS.xForwardedPath);
add('x-forwarded-prefix', HEADER_KINDS.xForwardedPrefix);
add('x-real-ip', HEADER_KINDS.xRealIp);
add('via', HEADER_KINDS.via);
add('x-sluice-request-id', HEADER_KINDS.requestId);
add('upgrade', HEADER_KINDS.upgrade);
add('content-length', HEADER_KINDS.contentLength);
add('transfer-encoding', HEADER_KINDS.transferEncoding);
add('server', HEADER_KINDS.server);
add('expect', HEADER_KINDS.expect);
// Common names of no special kind, in their usual spellings, so classifying them allocates nothing.
for (const name of [
  'date', 'content-type', 'content-encoding', 'cache-control', 'etag', 'last-modified', 'expires', 'vary', 'set-cookie',
  'accept-ranges', 'location', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'cookie', 'authorization',
  'origin', 'referer', 'if-none-match', 'if-modified-since', 'x-request-id', 'access-control-allow-origin', 'age',
]) {
  add(name, HEADER_KINDS.other);
}

/** The kind of a header name, whatever its case. */
export function headerKind(name: string): HeaderKind {
  const kind = KINDS.get(name);
  if (kind !== undefined) return kind;
  const lower = name.toLowerCase();
  return lower === name ? HEADER_KINDS.other : (KINDS.get(lower) ?? HEADER_KINDS.other);
}

/** The lower-case header names listed in a Connection header value (`close`/`keep-alive`/`upgrade` excluded). */
export function connectionTokens(value: string): string[] | null {
  if (value.length <= 10) {
    const lower = value.toLowerCase();
    if (lower === 'keep-alive' || lower === 'close' || lower === 'upgrade') return null;
  }
  let out: string[] | null = null;
  for (const raw of value.split(',')) {
    const token = raw.trim().toLowerCase();
    if (token === '' || token === 'close' || token === 'keep-alive' || token === 'upgrade') continue;
    (out ??= []).push(token);
  }
  return out;
}

/** Removes from a flat name/value header list the headers a Connection header value names (hop-by-hop too). */
export function dropConnectionListed(headers: string[], connection: string): void {
  const listed = connectionTokens(connection);
  if (listed === null) return;
  for (let i = headers.length - 2; i >= 0; i -= 2) if (listed.includes(headers[i]!.toLowerCase())) headers.splice(i, 2);
}

/** The first value of header `lowerName` (lower-case) in a flat name/value list, or undefined. */
export function firstHeaderValue(headers: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i + 1 < headers.length; i += 2) if (headers[i]!.length === lowerName.length && headers[i]!.toLowerCase() === lowerName) return headers[i + 1];
  return undefined;
}

/** Removes every `lowerName` (lower-case) header from a flat name/value list. */
export function removeHeader(headers: string[], lowerName: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i]!.length === lowerName.length && headers[i]!.toLowerCase() === lowerName) headers.splice(i, 2);
}
