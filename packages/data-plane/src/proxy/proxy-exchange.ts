import { ServerResponse, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { DataPlaneErrorCode } from '../errors.js';
import type { RouteMatch, RouterRequest } from '../router/router.js';
import { accessLogLine } from './access-log.js';
import { dropConnectionListed, HEADER_KINDS, headerKind, REQUEST_ID_HEADER } from './header-names.js';
import type { ProxyContext } from './proxy-context.js';
import { debugMatchFor, proxiedResponseHeaders, pushDebugHeaders } from './response-headers.js';
import { SendTimeout } from './send-timeout.js';
import { classifyUpstreamError, errorCode, RETRY } from './upstream-errors.js';
import { CLIENT_CLOSED_STATUS } from './traffic-stats.js';
import type { Origin } from './origin-pools.js';

/** The upstream did not take the request body within the service's write_timeout. */
export class UpstreamWriteTimeoutError extends Error {
  override readonly name = 'UpstreamWriteTimeoutError';
  readonly code = DataPlaneErrorCode.UPSTREAM_WRITE_TIMEOUT;
}

/** The client went away before the response was complete. */
export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
  readonly code = DataPlaneErrorCode.CLIENT_GONE;
}

/**
 * The proxy's ServerResponse: the same, plus a slot for its exchange declared up front, so
 * attaching the exchange does not change the object's shape (and listeners need no closure).
 */
export class ProxyResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  exchange: ProxyExchange | null = null;
}

function onResponseClose(this: ProxyResponse): void {
  this.exchange?.onClientClose();
}

function onResponseDrain(this: ProxyResponse): void {
  this.exchange?.onClientDrain();
}

/** `::ffff:a.b.c.d` as `a.b.c.d`, as nginx reports IPv4 peers. */
export function peerAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.indexOf('.') !== -1 ? address.slice(7) : address;
}

/**
 * One proxied request: what the router reads (it is the {@link RouterRequest}), and the undici
 * dispatch handler streaming the upstream response to the client. One object per request, no
 * closures: event listeners find it through a symbol on the response.
 */
export class ProxyExchange implements RouterRequest, Dispatcher.DispatchHandler {
  readonly method: string;
  target: string;
  host: string | undefined = undefined;
  readonly port: number;
  readonly scheme = 'http';
  readonly id: string;
  readonly startMs: number;

  private xForwardedFor: string | undefined = undefined;
  private xForwardedProto: string | undefined = undefined;
  private xForwardedHost: string | undefined = undefined;
  private xForwardedPort: string | undefined = undefined;
  private xForwardedPath: string | undefined = undefined;
  private xForwardedPrefix: string | undefined = undefined;
  private xRealIp: string | undefined = undefined;
  private via: string | undefined = undefined;
  /** Value of the client's Upgrade header (WebSocket handshakes). */
  upgrade: string | undefined = undefined;
  private hasBody = false;
  /** The client's Content-Length as sent (the first, as Node keeps it), noted by the header scan. */
  private contentLength: string | undefined = undefined;
  /** The client headers that are forwarded (flat name/value list), filled by {@link scanHeaders}. */
  private readonly forwardedHeaders: string[] = [];

  match: RouteMatch | null = null;
  private upstream: Origin | null = null;
  private dispatchOptions: Dispatcher.DispatchOptions | null = null;
  private attempts = 0;
  private abortUpstream: ((reason?: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  /** When the upstream request was last dispatched (performance.now()); -1 until then. */
  dispatchMs = -1;
  /** When the upstream response head arrived (performance.now()); -1 until then. */
  private upstreamHeadMs = -1;
  /** Response body bytes handed to the client's socket (for the access log). */
  private bodyBytesSent = 0;
  private writeTimer: NodeJS.Timeout | null = null;
  private isPaused = false;
  private isListeningForDrain = false;
  /** nginx's send_timeout on the response, created on the first write the client's socket refused. */
  private sendTimeout: SendTimeout | null = null;
  private isResponseStarted = false;
  /** The exchange is over: response complete, failed, or the client left. */
  isDone = false;
  private isClientGone = false;

  constructor(
    private readonly ctx: ProxyContext,
    readonly req: IncomingMessage,
    readonly res: ServerResponse | null,
  ) {
    this.method = req.method ?? 'GET';
    this.target = req.url ?? '/';
    this.port = ctx.listenerPort;
    this.id = ctx.requestIds.next();
    this.startMs = performance.now();
    if (res !== null) {
      if (res instanceof ProxyResponse) res.exchange = this;
      res.on('close', onResponseClose);
    }
  }

  /** Request headers for header-matching routes (computed by Node on first read). */
  get headers(): Readonly<Record<string, string | readonly string[] | undefined>> {
    return this.req.headersDistinct;
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
   * The upstream request's headers (flat name/value list): the client's forwarded ones from
   * {@link scanHeaders}, then those the proxy sets (Kong's nginx template and handler). Call once.
   */
  upstreamHeaders(match: RouteMatch, upstream: Origin): string[] {
    const out = this.forwardedHeaders;
    const ctx = this.ctx;
    const peer = peerAddress(this.req.socket.remoteAddress);
    const isTrusted = !ctx.trustedIps.isEmpty && ctx.trustedIps.has(this.req.socket.remoteAddress);
    const hostHeader = this.host;
    out.push('Host', match.route.preserve_host === true && hostHeader !== undefined ? hostHeader : upstream.hostHeader);
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

  /** Starts the upstream request for `match` (the route has a service). */
  forward(match: RouteMatch, upstream: Origin): void {
    this.match = match;
    this.upstream = upstream;
    const headers = this.upstreamHeaders(match, upstream);
    const path = this.upstreamPath(match);
    const readTimeout = upstream.readTimeoutMs;
    if (!this.hasBody) {
      this.dispatchWith({ path, method: this.method, headers, body: null, headersTimeout: readTimeout, bodyTimeout: readTimeout });
      return;
    }
    if (match.route.request_buffering !== false) {
      this.bufferBody(path, headers, readTimeout);
      return;
    }
    this.dispatchWith({ path, method: this.method, headers, body: this.req, headersTimeout: readTimeout, bodyTimeout: readTimeout });
  }

  /** The upstream request target: the matched route's upstream path, then the client's query string as sent. */
  upstreamPath(match: RouteMatch): string {
    const queryAt = this.target.indexOf('?', 1);
    return queryAt === -1 ? match.upstreamPath : match.upstreamPath + this.target.slice(queryAt);
  }

  private bufferBody(path: string, headers: string[], readTimeout: number): void {
    const limit = this.ctx.options.requestBufferBytes;
    const declared = Number(this.contentLength);
    if (Number.isFinite(declared) && declared > limit) {
      this.dispatchWith({ path, method: this.method, headers, body: this.req, headersTimeout: readTimeout, bodyTimeout: readTimeout });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const req = this.req;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) {
        // Over the bound: stop buffering and stream what we hold followed by the rest.
        cleanup();
        req.pause();
        this.dispatchWith({ path, method: this.method, headers, body: concatStream(chunks, req), headersTimeout: readTimeout, bodyTimeout: readTimeout });
      }
    };
    const onEnd = (): void => {
      cleanup();
      if (this.isDone) return;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      if (!headers.some((h, i) => i % 2 === 0 && headerKind(h) === HEADER_KINDS.contentLength)) headers.push('Content-Length', String(body.length));
      this.dispatchWith({ path, method: this.method, headers, body, headersTimeout: readTimeout, bodyTimeout: readTimeout });
    };
    const onError = (): void => {
      cleanup();
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  }

  private dispatchWith(options: Dispatcher.DispatchOptions): void {
    if (this.isDone) return;
    this.dispatchOptions = options;
    this.attempts++;
    this.dispatchMs = performance.now();
    this.ctx.pools.touch(this.upstream!, Date.now());
    const body = options.body;
    if (body !== null && body !== undefined && !Buffer.isBuffer(body)) {
      this.writeTimer = setTimeout(() => this.abortUpstream?.(new UpstreamWriteTimeoutError('upstream write timed out')), this.upstream!.writeTimeoutMs);
    }
    this.upstream!.pool.dispatch(options, this);
  }

  // --- undici DispatchHandler (legacy callbacks: no header parsing into objects) ---

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.isClientGone) abort(new ClientGoneError('client closed the connection'));
  }

  onBodySent(): void {
    this.writeTimer?.refresh();
  }

  onRequestSent(): void {
    if (this.writeTimer !== null) {
      clearTimeout(this.writeTimer);
      this.writeTimer = null;
    }
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null, resume: () => void): boolean {
    if (statusCode < 200) return true;
    const res = this.res!;
    if (this.isDone || res.destroyed) return true;
    this.resumeUpstream = resume;
    const headMs = performance.now();
    const out = proxiedResponseHeaders(this.ctx, statusCode, rawHeaders, this.id, this.startMs, this.dispatchMs, headMs, false, debugMatchFor(this.ctx, this.req, this.match));
    try {
      res.writeHead(statusCode, out);
    } catch (err) {
      // An upstream header Node refuses to send (invalid characters): the response is unusable.
      this.ctx.logger.warn({ err, requestId: this.id }, 'invalid upstream response headers');
      this.abortUpstream?.(err as Error);
      return false;
    }
    this.isResponseStarted = true;
    this.upstreamHeadMs = headMs;
    return true;
  }

  onData(chunk: Buffer): boolean {
    const res = this.res!;
    if (res.destroyed) return true;
    const isAccepted = res.write(chunk);
    this.bodyBytesSent += chunk.length;
    if (this.sendTimeout !== null) this.sendTimeout.wrote(chunk.length, isAccepted);
    if (isAccepted) return true;
    if (!this.isListeningForDrain) {
      this.isListeningForDrain = true;
      res.on('drain', onResponseDrain);
      this.sendTimeout = new SendTimeout(res, this.ctx.options.clientSendTimeoutMs, () => this.onClientStalled());
      this.sendTimeout.wrote(chunk.length, false);
    }
    const isBuffering = this.match!.route.response_buffering !== false;
    if (isBuffering && res.writableLength < this.ctx.options.responseBufferBytes) return true;
    this.isPaused = true;
    return false;
  }

  /** The client took nothing of its queued response for clientSendTimeoutMs: cut it (and the upstream request). */
  private onClientStalled(): void {
    this.ctx.logger.info({ requestId: this.id, sendTimeoutMs: this.ctx.options.clientSendTimeoutMs }, 'client took nothing of the response for send_timeout, closed');
    this.res!.destroy();
  }

  onComplete(): void {
    this.finishTimers();
    this.isDone = true;
    this.res!.end();
  }

  onError(err: Error): void {
    this.finishTimers();
    if (this.isDone || this.isClientGone) return;
    const res = this.res!;
    if (this.isResponseStarted) {
      this.isDone = true;
      this.ctx.logger.warn({ err, requestId: this.id }, 'upstream response failed mid-body');
      res.destroy(err);
      return;
    }
    const code = errorCode(err);
    const options = this.dispatchOptions!;
    const isReplayable = options.body === null || options.body === undefined || Buffer.isBuffer(options.body);
    const verdict = classifyUpstreamError(code, this.method, isReplayable, this.attempts, this.match!.service!.retries);
    if (verdict === RETRY) {
      this.abortUpstream = null;
      this.dispatchWith(options);
      return;
    }
    this.ctx.logger.warn({ err, code, requestId: this.id, attempts: this.attempts }, 'upstream request failed');
    this.fail(verdict.status, verdict.message);
  }

  private finishTimers(): void {
    if (this.writeTimer !== null) {
      clearTimeout(this.writeTimer);
      this.writeTimer = null;
    }
  }

  // --- client side ---

  /** The response socket drained: let the upstream send again. */
  onClientDrain(): void {
    this.sendTimeout?.drained();
    if (!this.isPaused) return;
    this.isPaused = false;
    this.resumeUpstream?.();
  }

  /** The response closed: complete (nothing to do) or the client left (abort the upstream request). */
  onClientClose(): void {
    this.sendTimeout?.stop();
    this.ctx.onExchangeEnd();
    this.recordTraffic();
    if (this.isDone) return;
    this.isDone = true;
    this.isClientGone = true;
    this.finishTimers();
    this.abortUpstream?.(new ClientGoneError('client closed the connection'));
  }

  /**
   * Counts the response in the traffic stats: the status sent (499 when the client left before a
   * response head), arrival to now, and dispatch to upstream head for a response from an upstream.
   * Writes its access-log line when there is an access log.
   */
  private recordTraffic(): void {
    const res = this.res!;
    const match = this.match;
    const status = res.headersSent ? res.statusCode : CLIENT_CLOSED_STATUS;
    const upstreamMs = this.upstreamHeadMs < 0 ? -1 : this.upstreamHeadMs - this.dispatchMs;
    const endMs = performance.now();
    this.ctx.traffic.record(match === null ? null : match.route, match === null ? null : match.service, status, endMs - this.startMs, upstreamMs);
    if (this.ctx.accessLog !== null) this.ctx.accessLog.write(this.accessLogLine(status, endMs, this.upstreamHeadMs, this.bodyBytesSent, this.upstream));
  }

  /**
   * This exchange's access-log line (see {@link accessLogLine}); `bodyBytesSent` null when not
   * counted; `upstream` the target it was sent to, if any.
   */
  accessLogLine(status: number, endMs: number, upstreamHeadMs: number, bodyBytesSent: number | null, upstream: Origin | null): string {
    const match = this.match;
    const userAgent = this.req.headers['user-agent'];
    return accessLogLine({
      requestId: this.id,
      startMs: this.startMs,
      dispatchMs: this.dispatchMs,
      upstreamHeadMs,
      endMs,
      clientIp: peerAddress(this.req.socket.remoteAddress),
      method: this.method,
      uri: this.req.url ?? '/',
      host: this.host,
      status,
      bodyBytesSent,
      route: match === null ? null : match.route,
      service: match === null ? null : match.service,
      upstream: upstream === null || this.dispatchMs < 0 ? null : upstream.address,
      userAgent,
    });
  }

  /** Answers with a generated JSON error (or cuts the connection if the response already started). */
  fail(status: number, message: string, extraHeaders?: readonly string[]): void {
    this.isDone = true;
    const res = this.res!;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const debugMatch = debugMatchFor(this.ctx, this.req, this.match);
    let headers = extraHeaders;
    if (debugMatch !== null) {
      const withDebug = extraHeaders === undefined ? [] : [...extraHeaders];
      pushDebugHeaders(withDebug, debugMatch);
      headers = withDebug;
    }
    this.bodyBytesSent = this.ctx.respond(res, this.id, this.startMs, status, message, headers);
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

function rawPath(target: string): string {
  const queryAt = target.indexOf('?', 1);
  return queryAt === -1 ? target : target.slice(0, queryAt);
}

async function* concatChunks(head: readonly Buffer[], rest: Readable): AsyncGenerator<Buffer> {
  yield* head;
  for await (const chunk of rest) yield chunk as Buffer;
}

function concatStream(head: readonly Buffer[], rest: Readable): Readable {
  return Readable.from(concatChunks(head, rest), { objectMode: false });
}
