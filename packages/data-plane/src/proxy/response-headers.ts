import { DEBUG_REQUEST_HEADER, dropConnectionListed, HEADER_KINDS, headerKind, PROXY_LATENCY_HEADER, REQUEST_ID_HEADER, UPSTREAM_LATENCY_HEADER, UPSTREAM_STATUS_HEADER } from './header-names.js';
import type { IncomingMessage } from 'node:http';
import type { RouteMatch } from '../router/router.js';
import type { ProxyContext } from './proxy-context.js';

/** A raw header item from undici: a Buffer, or a string when the headers were given as strings. */
function headerText(item: Buffer | string): string {
  return typeof item === 'string' ? item : item.toString('latin1');
}

/**
 * The headers a proxied response carries to the client (Kong's header_filter), as a flat
 * name/value list for `writeHead` or a raw head: the upstream's, less the hop-by-hop ones
 * (RFC 9110 section 7.6.1, and those its Connection header names), Transfer-Encoding (Node frames
 * the body itself) and any upstream request id; then `Via` (the upstream's with ours appended),
 * the upstream and proxy latency headers, our request id, and `Server` when the upstream sent none
 * (each of ours as `ctx.injected` allows; without ours, the upstream's `Via` passes unchanged).
 * `isSwitching` (a 101 to an Upgrade) keeps Connection and Upgrade, which the switch needs.
 * Times are `performance.now()` ms: the request's arrival, the (last) upstream dispatch, and the
 * arrival of the upstream response head.
 */
export function proxiedResponseHeaders(
  ctx: ProxyContext,
  statusCode: number,
  rawHeaders: readonly (Buffer | string)[] | null,
  requestId: string,
  startMs: number,
  dispatchMs: number,
  headersMs: number,
  isSwitching: boolean,
  debugMatch: RouteMatch | null = null,
): string[] {
  const out: string[] = [];
  let via: string | undefined;
  let connection: string | undefined;
  let hasServer = false;
  const raw = rawHeaders ?? [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = headerText(raw[i]!);
    const value = headerText(raw[i + 1]!);
    switch (headerKind(name)) {
      case HEADER_KINDS.via:
        via = via === undefined ? value : `${via}, ${value}`;
        break;
      case HEADER_KINDS.server:
        hasServer = true;
        out.push(name, value);
        break;
      case HEADER_KINDS.connection:
        connection = connection === undefined ? value : `${connection}, ${value}`;
        if (isSwitching) out.push(name, value);
        break;
      case HEADER_KINDS.upgrade:
        if (isSwitching) out.push(name, value);
        break;
      case HEADER_KINDS.hopByHop:
      case HEADER_KINDS.transferEncoding:
      case HEADER_KINDS.requestId:
        break;
      default:
        out.push(name, value);
        break;
    }
  }
  if (connection !== undefined) dropConnectionListed(out, connection);
  const injected = ctx.injected;
  if (injected.via) out.push('Via', via === undefined ? ctx.viaToken : `${via}, ${ctx.viaToken}`);
  else if (via !== undefined) out.push('Via', via);
  if (injected.upstreamLatency) out.push(UPSTREAM_LATENCY_HEADER, String(Math.round(headersMs - dispatchMs)));
  if (injected.proxyLatency) out.push(PROXY_LATENCY_HEADER, String(Math.round(dispatchMs - startMs)));
  if (injected.requestId) out.push(REQUEST_ID_HEADER, requestId);
  if (injected.upstreamStatus) out.push(UPSTREAM_STATUS_HEADER, String(statusCode));
  if (!hasServer && injected.server) out.push('Server', ctx.serverToken);
  if (debugMatch !== null) pushDebugHeaders(out, debugMatch);
  return out;
}

const DEBUG_REQUEST_HEADER_KEY = DEBUG_REQUEST_HEADER.toLowerCase();

/**
 * The match to describe on the response of `req` (Kong's `allow_debug_header`): `match` when the
 * option is on and the request carries a `Sluice-Debug` header, else null.
 */
export function debugMatchFor(ctx: ProxyContext, req: IncomingMessage, match: RouteMatch | null): RouteMatch | null {
  if (match === null || !ctx.options.allowDebugHeader) return null;
  return req.headers[DEBUG_REQUEST_HEADER_KEY] === undefined ? null : match;
}

/** Appends `Sluice-Route-Id`/`-Name` and `Sluice-Service-Id`/`-Name` (names only when the entity has one). */
export function pushDebugHeaders(out: string[], match: RouteMatch): void {
  out.push('Sluice-Route-Id', match.route.id);
  if (typeof match.route.name === 'string') out.push('Sluice-Route-Name', match.route.name);
  const service = match.service;
  if (service === null) return;
  out.push('Sluice-Service-Id', service.id);
  if (typeof service.name === 'string') out.push('Sluice-Service-Name', service.name);
}
