import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { RouteMatch } from '../router/router.js';
import { connectionTokens, HEADER_KINDS, headerKind, REQUEST_ID_HEADER } from './header-names.js';
import type { ProxyContext } from './proxy-context.js';
import { ClientGoneError, ProxyExchange } from './proxy-exchange.js';
import { PROXY_MESSAGES, rawResponse } from './error-responses.js';
import type { UpstreamTarget } from './upstream-pools.js';

function headerText(item: Buffer | string): string {
  return typeof item === 'string' ? item : item.toString('latin1');
}

/**
 * One `Upgrade` handshake (WebSocket, as Kong proxies it on http/https routes): the request is
 * routed like any other, sent upstream with the same Upgrade, and on `101` the two sockets are
 * joined until either side closes. A non-101 answer is relayed and the connection closed.
 */
export class UpgradeExchange implements Dispatcher.DispatchHandler {
  readonly exchange: ProxyExchange;
  private upstreamSocket: Duplex | null = null;
  private abortUpstream: ((reason?: Error) => void) | null = null;
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
    const headers = this.exchange.upstreamHeaders(match, upstream);
    const path = this.exchange.upstreamPath(match);
    const readTimeout = upstream.readTimeoutMs;
    upstream.pool.dispatch(
      { path, method: this.exchange.method, headers, body: null, upgrade: this.exchange.upgrade ?? 'websocket', headersTimeout: readTimeout, bodyTimeout: readTimeout },
      this,
    );
  }

  /** Answers with a generated JSON error and closes the connection. */
  fail(status: number, message: string, extraHeaders?: readonly string[]): void {
    if (this.hasAnswered) return this.destroy();
    this.hasAnswered = true;
    if (this.socket.writable) this.socket.end(rawResponse(status, message, this.exchange.id, this.ctx.serverToken, extraHeaders));
    this.end();
  }

  /** Tears the tunnel down (both sockets). */
  destroy(): void {
    if (!this.isEnded) this.abortUpstream?.(new ClientGoneError('client closed the connection'));
    this.socket.destroy();
    this.upstreamSocket?.destroy();
    this.end();
  }

  private end(): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.onEnd(this);
  }

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
    let head = `HTTP/1.1 ${statusCode} Switching Protocols\r\n`;
    const raw = rawHeaders ?? [];
    for (let i = 0; i + 1 < raw.length; i += 2) head += `${headerText(raw[i]!)}: ${headerText(raw[i + 1]!)}\r\n`;
    head += `Via: ${this.ctx.viaToken}\r\n${REQUEST_ID_HEADER}: ${this.exchange.id}\r\n\r\n`;
    this.socket.write(head);
    if (this.head.length > 0) upstreamSocket.write(this.head);
    upstreamSocket.on('error', () => this.destroy());
    upstreamSocket.on('close', () => this.destroy());
    this.socket.pipe(upstreamSocket);
    upstreamSocket.pipe(this.socket);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null): boolean {
    if (statusCode < 200 || this.isEnded) return true;
    this.hasAnswered = true;
    let head = `HTTP/1.1 ${statusCode} ${statusCode < 300 ? 'OK' : 'Upstream Response'}\r\n`;
    const raw = rawHeaders ?? [];
    let connection: string[] | null = null;
    for (let i = 0; i + 1 < raw.length; i += 2) if (headerKind(headerText(raw[i]!)) === HEADER_KINDS.connection) connection = connectionTokens(headerText(raw[i + 1]!));
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = headerText(raw[i]!);
      const kind = headerKind(name);
      if (kind === HEADER_KINDS.hopByHop || kind === HEADER_KINDS.connection || kind === HEADER_KINDS.transferEncoding || kind === HEADER_KINDS.upgrade) continue;
      if (connection?.includes(name.toLowerCase())) continue;
      head += `${name}: ${headerText(raw[i + 1]!)}\r\n`;
    }
    head += `Connection: close\r\nVia: ${this.ctx.viaToken}\r\n${REQUEST_ID_HEADER}: ${this.exchange.id}\r\n\r\n`;
    this.socket.write(head);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (!this.isEnded) this.socket.write(chunk);
    return true;
  }

  onComplete(): void {
    if (!this.isEnded) this.socket.end();
    this.end();
  }

  onError(err: Error): void {
    if (this.isEnded) return;
    if (this.hasAnswered) return this.destroy();
    const code = (err as { code?: string }).code ?? '';
    const isTimeout = code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT';
    this.ctx.logger.warn({ err, code, requestId: this.exchange.id }, 'upstream upgrade failed');
    this.fail(isTimeout ? 504 : 502, isTimeout ? PROXY_MESSAGES.gatewayTimeout : PROXY_MESSAGES.badGateway);
  }
}
