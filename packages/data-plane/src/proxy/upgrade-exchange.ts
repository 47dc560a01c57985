import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { generatedResponse, PROXY_MESSAGES, rawResponseHead } from './error-responses.js';
import { EXCHANGE_STAGES } from './exchange-context.js';
import type { ProxyContext } from './proxy-context.js';
import { ExchangeBase } from './exchange-base.js';
import { debugMatchFor, proxiedResponseHeaders, pushDebugHeaders } from './response-headers.js';
import { SendTimeout } from './send-timeout.js';
import { CLIENT_CLOSED_STATUS } from './traffic-stats.js';
import { ClientGoneError, UpstreamCall, type UpstreamCallSink } from './upstream-call.js';
import type { UpstreamErrorAnswer } from './upstream-errors.js';

function onTunnelIdle(tunnel: UpgradeExchange): void {
  tunnel.onIdle();
}

/**
 * One `Upgrade` handshake (WebSocket, as Kong proxies it on http/https routes): the request is
 * routed like any other and its chain's rewrite and access handlers run, then it is sent upstream
 * with the same Upgrade, and on `101` the two sockets are joined until either side closes, until
 * nothing has crossed for the service's `read_timeout` (nginx's `proxy_read_timeout` on an upgraded
 * connection), or until one side takes nothing queued for it for its send timeout (`write_timeout`
 * upstream, `clientSendTimeoutMs` to the client). The handshake fails and is retried like a plain
 * GET (see {@link UpstreamCall}); a non-101 answer is relayed with the headers of any proxied
 * response, then the connection is closed. The header_filter handlers see the relayed head (101
 * or not); the log handlers run when the connection ends, so the request's latency spans the
 * tunnel's life, as nginx logs an upgraded request.
 */
export class UpgradeExchange extends ExchangeBase implements UpstreamCallSink {
  private call: UpstreamCall | null = null;
  private upstreamSocket: Duplex | null = null;
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
  private isEnded = false;

  constructor(
    ctx: ProxyContext,
    req: IncomingMessage,
    private readonly socket: Socket,
    private readonly head: Buffer,
    private readonly onEnd: (tunnel: UpgradeExchange) => void,
  ) {
    super(ctx, req, true);
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
  }

  protected get isOver(): boolean {
    return this.isEnded;
  }

  protected forward(): void {
    const match = this.match!;
    const origin = this.origin!;
    const view = this.view;
    const call = new UpstreamCall(this.ctx.pools, origin, this, view.method, match.service?.retries ?? 0);
    this.call = call;
    const headers = view.upstreamHeaders(match, origin);
    call.upgrade(view.upstreamPath(match), headers, view.upgrade ?? 'websocket');
  }

  /** Answers with a generated error (through the chain's header_filter) and closes the connection. */
  fail(status: number, message: string, extraHeaders?: readonly string[]): void {
    if (this.hasAnswered) return this.destroy();
    this.hasAnswered = true;
    this.status = status;
    if (this.socket.writable) {
      const ctx = this.ctx;
      const view = this.view;
      let extra = extraHeaders;
      const debugMatch = debugMatchFor(ctx, view.req, this.match);
      if (debugMatch !== null) {
        const withDebug = extra === undefined ? [] : [...extra];
        pushDebugHeaders(withDebug, debugMatch);
        extra = withDebug;
      }
      let response = generatedResponse(ctx.injected, ctx.serverToken, view.id, view.startMs, message, view.req.headers.accept, extra, true);
      try {
        this.context.filterHead(this.chain, status, response.headers);
      } catch (err) {
        ctx.logger.error({ err, requestId: view.id }, 'plugin handler failed; answered 500');
        this.status = status = 500;
        response = generatedResponse(ctx.injected, ctx.serverToken, view.id, view.startMs, PROXY_MESSAGES.internal, view.req.headers.accept, undefined, true);
        this.context.status = 500;
        this.context.responseHead = response.headers;
      }
      this.socket.end(rawResponseHead(status, response.headers) + response.body);
    }
    this.end();
  }

  /** Tears the tunnel down (both sockets). */
  destroy(): void {
    if (!this.isEnded) this.call?.cancel(new ClientGoneError('client closed the connection'));
    this.socket.destroy();
    this.upstreamSocket?.destroy();
    this.end();
  }

  /** Nothing crossed the tunnel for read_timeout: it is closed (both sockets), as nginx does. */
  onIdle(): void {
    this.idleTimer = null;
    if (this.isEnded) return;
    this.ctx.logger.info({ requestId: this.view.id, readTimeoutMs: this.origin!.readTimeoutMs }, 'upgraded connection idle for read_timeout, closed');
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
    this.runLogPhase();
    this.onEnd(this);
  }

  /** The chain's log handlers, when the connection ends: the status answered (499 if none), the tunnel's whole life. */
  private runLogPhase(): void {
    const context = this.context;
    context.status = this.status;
    context.endMs = performance.now();
    const call = this.call;
    if (call !== null) {
      context.dispatchMs = call.dispatchMs;
      context.upstreamAddress = call.dispatchMs < 0 ? null : call.origin.address;
    }
    context.stage = EXCHANGE_STAGES.sent;
    this.chain.runLog(context, this.ctx.reportLogError);
  }

  /**
   * The head relayed to the client, with the headers of any proxied response
   * ({@link proxiedResponseHeaders}) through the chain's header_filter: a 101 keeps its Connection
   * and Upgrade; any other answer ends with `Connection: close`.
   * @throws PluginHandlerError from a header_filter handler.
   */
  private responseHead(statusCode: number, rawHeaders: Buffer[] | string[] | null, isSwitching: boolean): string {
    const view = this.view;
    const debugMatch = debugMatchFor(this.ctx, view.req, this.match);
    const dispatchMs = this.call?.dispatchMs ?? -1;
    const headers = proxiedResponseHeaders(this.ctx, statusCode, rawHeaders, view.id, view.startMs, dispatchMs, performance.now(), isSwitching, debugMatch);
    this.context.filterHead(this.chain, statusCode, headers);
    let head = `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? 'unknown'}\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    if (!isSwitching) head += 'Connection: close\r\n';
    return `${head}\r\n`;
  }

  /** A header_filter handler threw on the relayed head: 500 instead, and the upstream side closed. */
  private failHead(err: unknown, upstreamSocket: Duplex | null): void {
    this.ctx.logger.error({ err, requestId: this.view.id }, 'plugin handler failed; answered 500');
    upstreamSocket?.destroy();
    this.call?.cancel(err as Error);
    this.fail(500, PROXY_MESSAGES.internal);
  }

  // --- the upstream call's sink ---

  onUpstreamUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, upstreamSocket: Duplex): void {
    this.upstreamSocket = upstreamSocket;
    if (this.isEnded) {
      upstreamSocket.destroy();
      return;
    }
    let head: string;
    try {
      head = this.responseHead(statusCode, rawHeaders, true);
    } catch (err) {
      return this.failHead(err, upstreamSocket);
    }
    this.hasAnswered = true;
    this.status = statusCode;
    this.call!.isResponseStarted = true;
    this.context.upstreamHeadMs = performance.now();
    this.socket.write(head);
    if (this.head.length > 0) upstreamSocket.write(this.head);
    upstreamSocket.on('error', () => this.destroy());
    upstreamSocket.on('close', () => this.destroy());
    const origin = this.origin!;
    this.idleTimer = setTimeout(onTunnelIdle, origin.readTimeoutMs, this);
    this.idleTimer.unref();
    // nginx: proxy_send_timeout (the service's write_timeout) towards the upstream, send_timeout
    // towards the client.
    this.relay(this.socket, upstreamSocket, origin.writeTimeoutMs, 'upstream');
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
      this.ctx.logger.info({ requestId: this.view.id, to: toName, sendTimeoutMs }, 'upgraded connection: peer took nothing for the send timeout, closed');
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

  onUpstreamHead(statusCode: number, rawHeaders: Buffer[] | string[] | null): boolean {
    if (this.isEnded) return true;
    let head: string;
    try {
      head = this.responseHead(statusCode, rawHeaders, false);
    } catch (err) {
      this.failHead(err, null);
      return false;
    }
    this.hasAnswered = true;
    this.status = statusCode;
    if (this.call !== null) this.call.isResponseStarted = true;
    this.context.upstreamHeadMs = performance.now();
    this.socket.write(head);
    return true;
  }

  onUpstreamData(chunk: Buffer): boolean {
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

  onUpstreamComplete(): void {
    if (!this.isEnded) this.socket.end();
    this.end();
  }

  onUpstreamFailed(answer: UpstreamErrorAnswer, err: Error, code: string, attempts: number): void {
    if (this.isEnded) return;
    this.ctx.logger.warn({ err, code, requestId: this.view.id, attempts }, 'upstream upgrade failed');
    this.fail(answer.status, answer.message);
  }

  onUpstreamBroken(): void {
    if (this.isEnded) return;
    this.destroy();
  }

  /** The client socket drained: let the upstream send the rest of a non-101 body. */
  private onClientDrain(): void {
    this.sendTimeout?.drained();
    if (!this.isPaused) return;
    this.isPaused = false;
    this.call?.resume();
  }
}
