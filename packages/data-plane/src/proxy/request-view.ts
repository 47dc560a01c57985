import { validateHeaderName, validateHeaderValue, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { InvalidArgumentError } from '../errors.js';
import { decodeQueryComponent } from '../plugins/query-args.js';
import type { RouteMatch, RouterRequest } from '../router/router.js';
import { dropConnectionListed, firstHeaderValue, HEADER_KINDS, headerKind, removeHeader, REQUEST_ID_HEADER } from './header-names.js';
import type { Origin } from './origin-pools.js';
import type { ProxyContext } from './proxy-context.js';

/** `::ffff:a.b.c.d` as `a.b.c.d`, as nginx reports IPv4 peers. */
export function peerAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.indexOf('.') !== -1 ? address.slice(7) : address;
}

/**
 * What the proxy knows of one client request, read once: method, target, Host, the forwarding
 * headers it rewrites, and the headers it forwards (scanned from `rawHeaders` in one pass). It is
 * the {@link RouterRequest} the router matches, builds the upstream request's head (Kong's nginx
 * template), and carries the header changes plugin handlers make.
 */
export class RequestView implements RouterRequest {
  readonly method: string;
  /** The request target: as received, then origin-form after {@link normalizeTarget}. */
  target: string;
  host: string | undefined = undefined;
  readonly port: number;
  readonly scheme = 'http';
  readonly id: string;
  /** Arrival, performance.now() ms. */
  readonly startMs: number;

  private xForwardedFor: string | undefined = undefined;
  private xForwardedProto: string | undefined = undefined;
  private xForwardedHost: string | undefined = undefined;
  private xForwardedPort: string | undefined = undefined;
  private xForwardedPath: string | undefined = undefined;
  private xForwardedPrefix: string | undefined = undefined;
  private xRealIp: string | undefined = undefined;
  private via: string | undefined = undefined;
  /** A Host a plugin set for the upstream request (replaces the service's or the preserved one). */
  private upstreamHost: string | undefined = undefined;
  /** Value of the client's Upgrade header (WebSocket handshakes). */
  upgrade: string | undefined = undefined;
  /** Whether the request has a body (a non-zero Content-Length, or Transfer-Encoding). */
  hasBody = false;
  /** The client's Content-Length as sent (the first, as Node keeps it), noted by the header scan. */
  contentLength: string | undefined = undefined;
  /** The upstream query string (without `?`) once a plugin changed it; null: the client's, as sent. */
  private upstreamQuery: string | null = null;
  /** The body a plugin read (or set): what is sent upstream in place of the client's stream; null until read. */
  private bodyBuffer: Buffer | null = null;
  /** A body read only in part (past the bound): the chunks read, to send before the rest of the stream. */
  private bodyPrefix: Buffer[] | null = null;
  private bodyReading: Promise<Buffer | null> | null = null;
  /** The client headers that are forwarded (flat name/value list), filled by {@link scanHeaders}. */
  private readonly forwardedHeaders: string[] = [];

  constructor(
    private readonly ctx: ProxyContext,
    readonly req: IncomingMessage,
  ) {
    this.method = req.method ?? 'GET';
    this.target = req.url ?? '/';
    this.port = ctx.listenerPort;
    this.id = ctx.requestIds.next();
    this.startMs = performance.now();
  }

  /** Request headers for header-matching routes (computed by Node on first read). */
  get headers(): Readonly<Record<string, string | readonly string[] | undefined>> {
    return this.req.headersDistinct;
  }

  /** The request target as received (absolute-form included), query included. */
  get uri(): string {
    return this.req.url ?? '/';
  }

  /** The path of the (origin-form) target, without its query string. */
  get path(): string {
    return rawPath(this.target);
  }

  /** The client's address (the TCP peer). */
  get clientIp(): string {
    return peerAddress(this.req.socket.remoteAddress);
  }

  /**
   * Reads the client's headers once: keeps those that are forwarded (for {@link upstreamHeaders})
   * and notes those the proxy rewrites. Call before routing: it sets {@link host}.
   */
  scanHeaders(): void {
    const out = this.forwardedHeaders;
    const raw = this.req.rawHeaders;
    let connection: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      const value = raw[i + 1]!;
      switch (headerKind(name)) {
        case HEADER_KINDS.other:
        case HEADER_KINDS.server:
          out.push(name, value);
          break;
        case HEADER_KINDS.contentLength:
          this.hasBody ||= value !== '0';
          this.contentLength ??= value;
          out.push(name, value);
          break;
        case HEADER_KINDS.transferEncoding:
          this.hasBody = true;
          break;
        case HEADER_KINDS.host:
          this.host ??= value;
          break;
        case HEADER_KINDS.connection:
          connection = connection === undefined ? value : `${connection}, ${value}`;
          break;
        case HEADER_KINDS.upgrade:
          this.upgrade ??= value;
          break;
        case HEADER_KINDS.xForwardedFor:
          this.xForwardedFor = this.xForwardedFor === undefined ? value : `${this.xForwardedFor}, ${value}`;
          break;
        case HEADER_KINDS.via:
          this.via = this.via === undefined ? value : `${this.via}, ${value}`;
          break;
        case HEADER_KINDS.xForwardedProto:
          this.xForwardedProto ??= value;
          break;
        case HEADER_KINDS.xForwardedHost:
          this.xForwardedHost ??= value;
          break;
        case HEADER_KINDS.xForwardedPort:
          this.xForwardedPort ??= value;
          break;
        case HEADER_KINDS.xForwardedPath:
          this.xForwardedPath ??= value;
          break;
        case HEADER_KINDS.xForwardedPrefix:
          this.xForwardedPrefix ??= value;
          break;
        case HEADER_KINDS.xRealIp:
          this.xRealIp ??= value;
          break;
        default:
          // hop-by-hop, expect, client-sent request id: dropped
          break;
      }
    }
    if (connection !== undefined) dropConnectionListed(out, connection);
  }

  /**
   * Accepts origin-form targets (`/path?query`) and rewrites absolute-form ones
   * (`http://host/path`) to origin-form, taking the host from them when the Host header is absent.
   * @returns false for a target the proxy cannot route (`*`, garbage): answer 400.
   */
  normalizeTarget(): boolean {
    const target = this.target;
    if (target.charCodeAt(0) === 0x2f) return true;
    const match = /^https?:\/\/([^/?#]*)(.*)$/i.exec(target);
    if (match === null) return false;
    this.host ??= match[1];
    const rest = match[2] ?? '';
    this.target = rest.startsWith('/') ? rest : `/${rest}`;
    return true;
  }

  /**
   * The upstream request's headers (flat name/value list): the client's forwarded ones from
   * {@link scanHeaders} (with plugin changes), then those the proxy sets (Kong's nginx template and
   * handler). Call once.
   */
  upstreamHeaders(match: RouteMatch, origin: Origin): string[] {
    const out = this.forwardedHeaders;
    const ctx = this.ctx;
    const peer = peerAddress(this.req.socket.remoteAddress);
    const isTrusted = !ctx.trustedIps.isEmpty && ctx.trustedIps.has(this.req.socket.remoteAddress);
    const hostHeader = this.host;
    out.push('Host', this.upstreamHost ?? (match.route.preserve_host === true && hostHeader !== undefined ? hostHeader : origin.hostHeader));
    out.push('X-Forwarded-For', this.xForwardedFor === undefined ? peer : `${this.xForwardedFor}, ${peer}`);
    out.push('X-Forwarded-Proto', isTrusted && this.xForwardedProto !== undefined ? this.xForwardedProto : this.scheme);
    const forwardedHost = isTrusted && this.xForwardedHost !== undefined ? this.xForwardedHost : hostWithoutPort(hostHeader);
    if (forwardedHost !== undefined) out.push('X-Forwarded-Host', forwardedHost);
    out.push('X-Forwarded-Port', isTrusted && this.xForwardedPort !== undefined ? this.xForwardedPort : ctx.listenerPortText);
    out.push('X-Forwarded-Path', isTrusted && this.xForwardedPath !== undefined ? this.xForwardedPath : rawPath(this.target));
    const stripped = match.strippedPrefix;
    const prefix = isTrusted && this.xForwardedPrefix !== undefined ? this.xForwardedPrefix : stripped !== null && stripped !== '/' ? stripped : undefined;
    if (prefix !== undefined) out.push('X-Forwarded-Prefix', prefix);
    out.push('X-Real-IP', isTrusted && this.xRealIp !== undefined ? this.xRealIp : peer);
    out.push('Via', this.via === undefined ? ctx.viaToken : `${this.via}, ${ctx.viaToken}`);
    if (ctx.injected.upstreamRequestId) out.push(REQUEST_ID_HEADER, this.id);
    return out;
  }

  /**
   * Reads the client's body whole, up to `limit` bytes (see `PluginContext.readBody`): an empty
   * buffer without a body, null past the bound (what was read is kept to be forwarded first).
   */
  readBody(limit: number): Promise<Buffer | null> {
    if (this.bodyReading !== null) return this.bodyReading;
    if (!this.hasBody) return (this.bodyReading = Promise.resolve((this.bodyBuffer = Buffer.alloc(0))));
    const req = this.req;
    this.bodyReading = new Promise<Buffer | null>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const cleanup = (): void => {
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('error', onError);
        req.off('aborted', onAborted);
      };
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        size += chunk.length;
        if (size > limit) {
          cleanup();
          req.pause();
          this.bodyPrefix = chunks;
          resolve(null);
        }
      };
      const onEnd = (): void => {
        cleanup();
        this.bodyBuffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
        resolve(this.bodyBuffer);
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(err);
      };
      const onAborted = (): void => onError(new Error('the client closed the connection while sending its body'));
      req.on('data', onData);
      req.on('end', onEnd);
      req.on('error', onError);
      req.on('aborted', onAborted);
    });
    return this.bodyReading;
  }

  /** Replaces the body sent upstream, with its Content-Length. */
  setBody(body: Buffer): void {
    this.bodyBuffer = body;
    this.bodyPrefix = null;
    this.hasBody = true;
    removeHeader(this.forwardedHeaders, 'content-length');
    this.forwardedHeaders.push('Content-Length', String(body.length));
    this.contentLength = String(body.length);
  }

  /** What to send upstream as the body: the buffer a plugin read or set, the read part then the rest of the stream, or the client's stream. */
  upstreamBody(): IncomingMessage | Readable | Buffer | null {
    if (this.bodyBuffer !== null) return this.bodyBuffer.length === 0 && !this.hasBody ? null : this.bodyBuffer;
    if (this.bodyPrefix !== null) return Readable.from(prefixThenRest(this.bodyPrefix, this.req), { objectMode: false });
    return this.hasBody ? this.req : null;
  }

  /** The upstream request target: the matched route's upstream path, then the client's query string as sent. */
  upstreamPath(match: RouteMatch): string {
    if (this.upstreamQuery !== null) return this.upstreamQuery === '' ? match.upstreamPath : `${match.upstreamPath}?${this.upstreamQuery}`;
    const queryAt = this.target.indexOf('?', 1);
    return queryAt === -1 ? match.upstreamPath : match.upstreamPath + this.target.slice(queryAt);
  }

  /** Removes every `name` argument (names compared decoded) from the upstream query, keeping the others in order. */
  clearQueryArg(name: string): void {
    let query = this.upstreamQuery;
    if (query === null) {
      const queryAt = this.target.indexOf('?', 1);
      if (queryAt === -1) return;
      query = this.target.slice(queryAt + 1);
    }
    const args = query.split('&');
    const kept = args.filter((arg) => arg === '' || decodeQueryComponent(arg.split('=', 1)[0]!) !== name);
    if (kept.length === args.length) return; // nothing removed: the query goes as sent
    this.upstreamQuery = kept.filter((arg) => arg !== '').join('&');
  }

  // --- the plugin context's request header view (see RequestHeaderView) ---

  /** The first value of header `name` as it will go upstream. */
  header(name: string): string | undefined {
    switch (headerKind(name)) {
      case HEADER_KINDS.other:
      case HEADER_KINDS.server:
      case HEADER_KINDS.contentLength:
        return firstHeaderValue(this.forwardedHeaders, name.toLowerCase());
      case HEADER_KINDS.host:
        return this.upstreamHost ?? this.host;
      case HEADER_KINDS.xForwardedFor:
        return this.xForwardedFor;
      case HEADER_KINDS.via:
        return this.via;
      case HEADER_KINDS.xForwardedProto:
        return this.xForwardedProto;
      case HEADER_KINDS.xForwardedHost:
        return this.xForwardedHost;
      case HEADER_KINDS.xForwardedPort:
        return this.xForwardedPort;
      case HEADER_KINDS.xForwardedPath:
        return this.xForwardedPath;
      case HEADER_KINDS.xForwardedPrefix:
        return this.xForwardedPrefix;
      case HEADER_KINDS.xRealIp:
        return this.xRealIp;
      case HEADER_KINDS.upgrade:
        return this.upgrade;
      default: {
        const value = this.req.headers[name.toLowerCase()];
        return Array.isArray(value) ? value[0] : value;
      }
    }
  }

  /** Every value of header `name` as it will go upstream (the client's, for headers the proxy does not forward). */
  headerValues(name: string): readonly string[] {
    const kind = headerKind(name);
    if (kind === HEADER_KINDS.other || kind === HEADER_KINDS.server || kind === HEADER_KINDS.contentLength) {
      const lower = name.toLowerCase();
      const out: string[] = [];
      const list = this.forwardedHeaders;
      for (let i = 0; i + 1 < list.length; i += 2) if (list[i]!.length === lower.length && list[i]!.toLowerCase() === lower) out.push(list[i + 1]!);
      return out;
    }
    if (kind === HEADER_KINDS.hopByHop || kind === HEADER_KINDS.expect || kind === HEADER_KINDS.requestId || kind === HEADER_KINDS.connection || kind === HEADER_KINDS.transferEncoding) {
      return this.req.headersDistinct[name.toLowerCase()] ?? [];
    }
    const value = this.header(name);
    return value === undefined ? [] : [value];
  }

  /** Sets (`value` a string) or clears (undefined) header `name` on the upstream request. */
  setHeader(name: string, value: string | undefined): void {
    validateHeaderName(name);
    if (value !== undefined) validateHeaderValue(name, value);
    switch (headerKind(name)) {
      case HEADER_KINDS.other:
      case HEADER_KINDS.server:
        removeHeader(this.forwardedHeaders, name.toLowerCase());
        if (value !== undefined) this.forwardedHeaders.push(name, value);
        return;
      case HEADER_KINDS.host:
        this.upstreamHost = value;
        return;
      case HEADER_KINDS.xForwardedFor:
        this.xForwardedFor = value;
        return;
      case HEADER_KINDS.via:
        this.via = value;
        return;
      case HEADER_KINDS.xForwardedProto:
        this.xForwardedProto = value;
        return;
      case HEADER_KINDS.xForwardedHost:
        this.xForwardedHost = value;
        return;
      case HEADER_KINDS.xForwardedPort:
        this.xForwardedPort = value;
        return;
      case HEADER_KINDS.xForwardedPath:
        this.xForwardedPath = value;
        return;
      case HEADER_KINDS.xForwardedPrefix:
        this.xForwardedPrefix = value;
        return;
      case HEADER_KINDS.xRealIp:
        this.xRealIp = value;
        return;
      default:
        throw new InvalidArgumentError(`the proxy frames the upstream request's ${name} header itself; a plugin cannot set or clear it`);
    }
  }
}

function hostWithoutPort(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  let end = host.length;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    end = close === -1 ? end : close + 1;
  } else {
    const colon = host.indexOf(':');
    if (colon !== -1) end = colon;
  }
  const bare = end === host.length ? host : host.slice(0, end);
  return bare.toLowerCase();
}

async function* prefixThenRest(prefix: readonly Buffer[], rest: IncomingMessage): AsyncGenerator<Buffer> {
  yield* prefix;
  for await (const chunk of rest) yield chunk as Buffer;
}

function rawPath(target: string): string {
  const queryAt = target.indexOf('?', 1);
  return queryAt === -1 ? target : target.slice(0, queryAt);
}
