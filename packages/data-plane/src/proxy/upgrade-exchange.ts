import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { RouteMatch } from '../router/router.js';
import type { ProxyContext } from './proxy-context.js';
import { ClientGoneError, ProxyExchange } from './proxy-exchange.js';
import { generatedResponseHeaders, rawResponse } from './error-responses.js';
import { debugMatchFor, proxiedResponseHeaders, pushDebugHeaders } from './response-headers.js';
import { SendTimeout } from './send-timeout.js';
import { CLIENT_CLOSED_STATUS } from './traffic-stats.js';
import { classifyUpstreamError, errorCode, RETRY } from './upstream-errors.js';
import type { Origin } from './origin-pools.js';

function onTunnelIdle(tunnel: UpgradeExchange): void {
  tunnel.onIdle();
}

/**
 * One `Upgrade` handshake (WebSocket, as Kong proxies it on http/https routes): the request is
 * routed like any other, sent upstream with the same Upgrade, and on `101` the two sockets are
 * joined until either side closes, until nothing has crossed for the service's `read_timeout`
 * (nginx's `proxy_read_timeout` on an upgraded connection), or until one side takes nothing queued
 * for it for its send timeout (`write_timeout` upstream, `clientSendTimeoutMs` to the client). The handshake fails and
 * is retried like a plain GET (see {@link classifyUpstreamError}); a non-101 answer is relayed
 * with the headers of any proxied response, then the connection is closed.
 */
export class UpgradeExchange implements Dispatcher.DispatchHandler {
  readonly exchange: ProxyExchange;
  private upstream: Origin | null = null;
  /** service.retries of the matched route's service. */
  private retries = 0;
  private dispatchOptions: Dispatcher.DispatchOptions | null = null;
  private attempts = 0;
  private upstreamSocket: Duplex | null = null;
  private abortUpstream: ((reason?: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  /** Closes an upgraded tunnel silent both ways for read_timeout; refreshed on each chunk, either way. */
  private idleTimer: NodeJS.Timeout | null = null;
  private isPaused = false;
  private isListeningForDrain = false;
  /** nginx's send_timeout on a relayed non-101 answer, created on the first write the client refused. */
  private sendTimeout: SendTimeout | null = null;
  /** The send timeouts of the two directions of an upgraded tunnel. */
  private readonly relayTimeouts: SendTimeout[] = [];
  private hasAnswered = false;
  /** The status answered to the client (101, the upstream's, or a generated one); 499 until then. */
  private status = CLIENT_CLOSED_STATUS;
  /** When the upstream's answer head arrived (performance.now()); -1 until then. */
  private upstreamHeadMs = -1;
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
  forward(match: RouteMatch, upstream: Origin): void {
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
    this.exchange.dispatchMs = performance.now();
    this.ctx.pools.touch(this.upstream!, Date.now());
    this.upstream!.pool.dispatch(options, this);
  }

  /** Answers with a generated JSON error and closes the connection. */
  fail(status: number, message: string, extraHeaders?: readonly string[]): void {
    if (this.hasAnswered) return this.destroy();
    this.hasAnswered = true;
    this.status = status;
    if (this.socket.writable) {
      const headers = generatedResponseHeaders(this.ctx.injected, this.ctx.serverToken, this.exchange.id, this.exchange.startMs);
      if (extraHeaders !== undefined) headers.push(...extraHeaders);
      const debugMatch = debugMatchFor(this.ctx, this.exchange.req, this.exchange.match);
      if (debugMatch !== null) pushDebugHeaders(headers, debugMatch);
      this.socket.end(rawResponse(status, message, this.exchange.id, headers, this.exchange.req.headers.accept));
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
    this.sendTimeout?.stop();
    for (const timeout of this.relayTimeouts) timeout.stop();
    if (this.isEnded) return;
    this.isEnded = true;
    this.recordTraffic();
    this.onEnd(this);
  }

  /**
   * Counts the handshake in the traffic stats when the connection ends, as nginx logs an upgraded
   * request: its latency spans the tunnel's whole life.
   */
  private recordTraffic(): void {
    const match = this.exchange.match;
    const upstreamMs = this.upstreamHeadMs < 0 ? -1 : this.upstreamHeadMs - this.exchange.dispatchMs;
    const endMs = performance.now();
    this.ctx.traffic.record(match === null ? null : match.route, match === null ? null : match.service, this.status, endMs - this.exchange.startMs, upstreamMs);
    if (this.ctx.accessLog !== null) this.ctx.accessLog.write(this.exchange.accessLogLine(this.status, endMs, this.upstreamHeadMs, null, this.upstream));
  }

  /**
   * The head relayed to the client, with the headers of any proxied response
   * ({@link proxiedResponseHeaders}): a 101 keeps its Connection and Upgrade; any other answer ends
   * with `Connection: close`.
   */
  private responseHead(statusCode: number, rawHeaders: Buffer[] | string[] | null, isSwitching: boolean): string {
    const debugMatch = debugMatchFor(this.ctx, this.exchange.req, this.exchange.match);
    const headers = proxiedResponseHeaders(this.ctx, statusCode, rawHeaders, this.exchange.id, this.exchange.startMs, this.exchange.dispatchMs, performance.now(), isSwitching, debugMatch);
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
    this.status = statusCode;
    this.upstreamHeadMs = performance.now();
    this.socket.write(this.responseHead(statusCode, rawHeaders, true));
    if (this.head.length > 0) upstreamSocket.write(this.head);
    upstreamSocket.on('error', () => this.destroy());
    upstreamSocket.on('close', () => this.destroy());
    this.idleTimer = setTimeout(onTunnelIdle, this.upstream!.readTimeoutMs, this);
    this.idleTimer.unref();
    // nginx: proxy_send_timeout (the service's write_timeout) towards the upstream, send_timeout
    // towards the client.
    this.relay(this.socket, upstreamSocket, this.upstream!.writeTimeoutMs, 'upstream');
    this.relay(upstreamSocket, this.socket, this.ctx.options.clientSendTimeoutMs, 'client');
  }

  /**
   * Copies `from` to `to` with backpressure (`from` paused while `to` is full), re-arming the idle
   * timer on every chunk (nginx re-arms proxy_read_timeout on every event of an upgraded
   * connection, either way), and closing the tunnel when `to` takes none of what is queued for it
   * for `sendTimeoutMs`. An end on one side ends the other's writing side.
   */
  private relay(from: Duplex, to: Duplex, sendTimeoutMs: number, toName: 'client' | 'upstream'): void {
    const timeout = new SendTimeout(to, sendTimeoutMs, () => {
      this.ctx.logger.info({ requestId: this.exchange.id, to: toName, sendTimeoutMs }, 'upgraded connection: peer took nothing for the send timeout, closed');
      this.destroy();
    });
    from.on('data', (chunk: Buffer) => {
      this.idleTimer?.refresh();
      const isAccepted = to.write(chunk);
      timeout.wrote(chunk.length, isAccepted);
      if (!isAccepted) from.pause();
    });
    to.on('drain', () => {
      timeout.drained();
      from.resume();
    });
    from.on('end', () => to.end());
    this.relayTimeouts.push(timeout);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null, resume: () => void): boolean {
    if (statusCode < 200 || this.isEnded) return true;
    this.hasAnswered = true;
    this.status = statusCode;
    this.upstreamHeadMs = performance.now();
    this.resumeUpstream = resume;
    this.socket.write(this.responseHead(statusCode, rawHeaders, false));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.isEnded) return true;
    const isAccepted = this.socket.write(chunk);
    if (this.sendTimeout !== null) this.sendTimeout.wrote(chunk.length, isAccepted);
    if (isAccepted) return true;
    this.isPaused = true;
    if (!this.isListeningForDrain) {
      this.isListeningForDrain = true;
      this.socket.on('drain', () => this.onClientDrain());
      this.sendTimeout = new SendTimeout(this.socket, this.ctx.options.clientSendTimeoutMs, () => this.destroy());
      this.sendTimeout.wrote(chunk.length, false);
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
    this.sendTimeout?.drained();
    if (!this.isPaused) return;
    this.isPaused = false;
    this.resumeUpstream?.();
  }
}
