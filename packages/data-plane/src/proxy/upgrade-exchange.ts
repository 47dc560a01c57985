import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { RouteMatch } from '../router/router.js';
import { RESPONSE_LATENCY_HEADER } from './header-names.js';
import type { ProxyContext } from './proxy-context.js';
import { ClientGoneError, ProxyExchange } from './proxy-exchange.js';
import { rawResponse } from './error-responses.js';
import { proxiedResponseHeaders } from './response-headers.js';
import { classifyUpstreamError, errorCode, RETRY } from './upstream-errors.js';
import type { UpstreamTarget } from './upstream-pools.js';

function onTunnelIdle(tunnel: UpgradeExchange): void {
  tunnel.onIdle();
}

/**
 * One `Upgrade` handshake (WebSocket, as Kong proxies it on http/https routes): the request is
 * routed like any other, sent upstream with the same Upgrade, and on `101` the two sockets are
 * joined until either side closes, or until the upstream has sent nothing for the service's
 * `read_timeout` (nginx's `proxy_read_timeout` on an upgraded connection). The handshake fails and
 * is retried like a plain GET (see {@link classifyUpstreamError}); a non-101 answer is relayed
 * with the headers of any proxied response, then the connection is closed.
 */
export class UpgradeExchange implements Dispatcher.DispatchHandler {
  readonly exchange: ProxyExchange;
  private upstream: UpstreamTarget | null = null;
  /** service.retries of the matched route's service. */
  private retries = 0;
  private dispatchOptions: Dispatcher.DispatchOptions | null = null;
  private attempts = 0;
  private dispatchMs = 0;
  private upstreamSocket: Duplex | null = null;
  private abortUpstream: ((reason?: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  /** Closes an upgraded tunnel silent both ways for read_timeout; refreshed on each chunk, either way. */
  private idleTimer: NodeJS.Timeout | null = null;
  private isPaused = false;
  private isListeningForDrain = false;
  private hasAnswered = false;
  private isEnded = false;

  constructor(
    private readonly ctx: ProxyContext,
    req: IncomingMessage,
    private readonly socket: Socket,
    private readonly head: Buffer,
    private readonly onEnd: (tunnel: UpgradeExchange) => void,
  ) {
    this.exchange = new ProxyExchange(ctx, req, null);
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
  }

  /** Sends the upgrade request upstream. */
  forward(match: RouteMatch, upstream: UpstreamTarget): void {
    this.upstream = upstream;
    this.retries = match.service?.retries ?? 0;
    const headers = this.exchange.upstreamHeaders(match, upstream);
    const path = this.exchange.upstreamPath(match);
    const readTimeout = upstream.readTimeoutMs;
    this.dispatchWith({
      path,
      method: this.exchange.method,
      headers,
      body: null,
      upgrade: this.exchange.upgrade ?? 'websocket',
      headersTimeout: readTimeout,
      bodyTimeout: readTimeout,
    });
  }

  private dispatchWith(options: Dispatcher.DispatchOptions): void {
    if (this.isEnded) return;
    this.dispatchOptions = options;
    this.attempts++;
    this.dispatchMs = performance.now();
    this.ctx.pools.touch(this.upstream!, Date.now());
    this.upstream!.pool.dispatch(options, this);
  }

  /** Answers with a generated JSON error and closes the connection. */
  fail(status: number, message: string, extraHeaders?: readonly string[]): void {
    if (this.hasAnswered) return this.destroy();
    this.hasAnswered = true;
    if (this.socket.writable) {
      const headers = [RESPONSE_LATENCY_HEADER, String(Math.round(performance.now() - this.exchange.startMs))];
      if (extraHeaders !== undefined) headers.push(...extraHeaders);
      this.socket.end(rawResponse(status, message, this.exchange.id, this.ctx.serverToken, headers));
    }
    this.end();
  }

  /** Tears the tunnel down (both sockets). */
  destroy(): void {
    if (!this.isEnded) this.abortUpstream?.(new ClientGoneError('client closed the connection'));
    this.socket.destroy();
    this.upstreamSocket?.destroy();
    this.end();
  }

  /** Nothing crossed the tunnel for read_timeout: it is closed (both sockets), as nginx does. */
  onIdle(): void {
    this.idleTimer = null;
    if (this.isEnded) return;
    this.ctx.logger.info({ requestId: this.exchange.id, readTimeoutMs: this.upstream!.readTimeoutMs }, 'upgraded connection idle for read_timeout, closed');
    this.destroy();
  }

  private end(): void {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    if (this.isEnded) return;
    this.isEnded = true;
    this.onEnd(this);
  }

  /**
   * The head relayed to the client, with the headers of any proxied response
   * ({@link proxiedResponseHeaders}): a 101 keeps its Connection and Upgrade; any other answer ends
   * with `Connection: close`.
   */
  private responseHead(statusCode: number, rawHeaders: Buffer[] | string[] | null, isSwitching: boolean): string {
    const headers = proxiedResponseHeaders(this.ctx, rawHeaders, this.exchange.id, this.exchange.startMs, this.dispatchMs, performance.now(), isSwitching);
    let head = `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? 'unknown'}\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    if (!isSwitching) head += 'Connection: close\r\n';
    return `${head}\r\n`;
  }

  // --- undici DispatchHandler (legacy callbacks) ---

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.isEnded) abort(new ClientGoneError('client closed the connection'));
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, upstreamSocket: Duplex): void {
    this.upstreamSocket = upstreamSocket;
    if (this.isEnded) {
      upstreamSocket.destroy();
      return;
    }
    this.hasAnswered = true;
    this.socket.write(this.responseHead(statusCode, rawHeaders, true));
    if (this.head.length > 0) upstreamSocket.write(this.head);
    upstreamSocket.on('error', () => this.destroy());
    upstreamSocket.on('close', () => this.destroy());
    this.idleTimer = setTimeout(onTunnelIdle, this.upstream!.readTimeoutMs, this);
    this.idleTimer.unref();
    // nginx re-arms proxy_read_timeout on every event of an upgraded connection, either way.
    upstreamSocket.on('data', () => this.idleTimer?.refresh());
    this.socket.on('data', () => this.idleTimer?.refresh());
    this.socket.pipe(upstreamSocket);
    upstreamSocket.pipe(this.socket);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null, resume: () => void): boolean {
    if (statusCode < 200 || this.isEnded) return true;
    this.hasAnswered = true;
    this.resumeUpstream = resume;
    this.socket.write(this.responseHead(statusCode, rawHeaders, false));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.isEnded || this.socket.write(chunk)) return true;
    this.isPaused = true;
    if (!this.isListeningForDrain) {
      this.isListeningForDrain = true;
      this.socket.on('drain', () => this.onClientDrain());
    }
    return false;
  }

  onComplete(): void {
    if (!this.isEnded) this.socket.end();
    this.end();
  }

  onError(err: Error): void {
    if (this.isEnded) return;
    if (this.hasAnswered) return this.destroy();
    const code = errorCode(err);
    // A handshake has no body: always replayable.
    const verdict = classifyUpstreamError(code, this.exchange.method, true, this.attempts, this.retries);
    if (verdict === RETRY) {
      this.abortUpstream = null;
      this.dispatchWith(this.dispatchOptions!);
      return;
    }
    this.ctx.logger.warn({ err, code, requestId: this.exchange.id, attempts: this.attempts }, 'upstream upgrade failed');
    this.fail(verdict.status, verdict.message);
  }

  /** The client socket drained: let the upstream send the rest of a non-101 body. */
  private onClientDrain(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    this.resumeUpstream?.();
  }
}
