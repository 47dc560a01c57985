import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Service } from '@sluice/protocol';
import { LifecycleError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { RouteMatch, Router } from '../router/router.js';
import { errorBody, generatedResponseHeaders, PROXY_MESSAGES, rawResponse } from './error-responses.js';
import { injectedHeaders } from './injected-headers.js';
import type { ProxyContext } from './proxy-context.js';
import { ProxyExchange, ProxyResponse } from './proxy-exchange.js';
import { PROXY_SERVER_DEFAULTS, type ProxyServerOptions, type ResolvedProxyServerOptions } from './proxy-server-options.js';
import { RequestIdGenerator } from './request-id.js';
import { TrafficStats, type TrafficSnapshot } from './traffic-stats.js';
import { TrustedIps } from './trusted-ips.js';
import { UpgradeExchange } from './upgrade-exchange.js';
import { OriginPools } from './origin-pools.js';

/** What sends a generated response: the exchange of a request, or the tunnel of an upgrade handshake. */
interface Answerer {
  fail(status: number, message: string, extraHeaders?: readonly string[]): void;
}

/** A match the proxy can forward: its route has a service. */
type ForwardableMatch = RouteMatch & { readonly service: Service };

/** The configuration one request is served with, start to end (swap it atomically by returning another). */
export interface ProxyConfig {
  readonly router: Router;
  readonly services: ReadonlyMap<string, Service>;
  readonly version: number;
}

function resolveOptions(options: ProxyServerOptions): ResolvedProxyServerOptions {
  const resolved: Record<string, unknown> = { ...PROXY_SERVER_DEFAULTS, logger: silentLogger, accessLog: null };
  for (const [key, value] of Object.entries(options)) if (value !== undefined && key !== 'getConfig') resolved[key] = value;
  return resolved as ResolvedProxyServerOptions;
}

/**
 * The data plane's reverse proxy: a `node:http` server that routes each request with the config
 * `getConfig()` returns at its start, and forwards it through undici pools (one per upstream
 * origin), with Kong's path joining, forwarding headers, timeouts, retries and JSON errors.
 * WebSocket (any `Upgrade`) handshakes are tunnelled. `getConfig()` returning null means not
 * ready: every request gets 503.
 */
export class ProxyServer {
  private readonly server: Server;
  private readonly getConfig: () => ProxyConfig | null;
  private readonly ctx: ProxyContext & { listenerPort: number; listenerPortText: string };
  /**
   * Requests in flight. A counter, not a Set of exchanges: a long-lived Set that every request
   * enters and leaves kept each request's object graph alive into the old generation (measured:
   * ~3.5 KB promoted per request, 3x the scavenge time).
   */
  private inFlightCount = 0;
  private readonly tunnels = new Set<UpgradeExchange>();
  private readonly sockets = new Set<Socket>();
  private isListening = false;
  private closing: Promise<void> | null = null;
  private drainWaiter: (() => void) | null = null;

  constructor(options: ProxyServerOptions & { getConfig: () => ProxyConfig | null }) {
    const resolved = resolveOptions(options);
    // Settings that can be refused are checked before anything is opened.
    const injected = injectedHeaders(resolved.headers, resolved.headersUpstream);
    const trustedIps = new TrustedIps(resolved.trustedIps);
    this.getConfig = options.getConfig;
    const logger: Logger = resolved.logger;
    const server = this;
    this.ctx = {
      options: resolved,
      logger,
      pools: new OriginPools({
        connections: resolved.upstreamConnections,
        pipelining: resolved.upstreamPipelining,
        keepAliveTimeoutMs: resolved.upstreamKeepAliveTimeoutMs,
        keepAliveMaxTimeoutMs: resolved.upstreamKeepAliveMaxTimeoutMs,
        maxHeaderBytes: resolved.maxUpstreamHeaderBytes,
        maxResponseBytes: resolved.maxUpstreamResponseBytes,
        idleCloseMs: resolved.upstreamPoolIdleCloseMs,
      }),
      requestIds: new RequestIdGenerator(),
      trustedIps,
      listenerPort: 0,
      listenerPortText: '0',
      viaToken: `1.1 sluice/${resolved.serverVersion}`,
      serverToken: `sluice/${resolved.serverVersion}`,
      injected,
      traffic: new TrafficStats(),
      accessLog: resolved.accessLog,
      onExchangeEnd() {
        server.inFlightCount--;
        server.notifyIfDrained();
      },
      respond: (res, requestId, startMs, status, message, extraHeaders) => this.respond(res, requestId, startMs, status, message, extraHeaders),
    };
    this.server = createServer(
      {
        keepAliveTimeout: resolved.clientKeepAliveTimeoutMs,
        headersTimeout: resolved.clientHeadersTimeoutMs,
        requestTimeout: resolved.clientRequestTimeoutMs,
        maxHeaderSize: resolved.maxRequestHeaderBytes,
        noDelay: true,
        ServerResponse: ProxyResponse,
      },
      (req, res) => this.onRequest(req, res),
    );
    this.server.maxConnections = resolved.maxClientConnections;
    this.server.maxRequestsPerSocket = resolved.maxRequestsPerConnection;
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket as Socket, head));
    this.server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => this.onClientError(err, socket as Socket));
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Requests in flight (not counting WebSocket tunnels). */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Open WebSocket (upgraded) tunnels. */
  get tunnelCount(): number {
    return this.tunnels.size;
  }

  /**
   * What this proxy has counted since it started (responses per route, service and status; latency
   * histograms), with the in-flight, tunnel and upstream-pool gauges, as plain JSON. O(series + pools).
   */
  trafficSnapshot(): TrafficSnapshot {
    return this.ctx.traffic.snapshot(this.inFlightCount, this.tunnels.size, this.ctx.pools.snapshot());
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    if (this.isListening || this.closing !== null) return Promise.reject(new LifecycleError('proxy server already listening or closed'));
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new LifecycleError(`proxy cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        this.isListening = true;
        const address = this.server.address();
        const bound = typeof address === 'object' && address !== null ? { host: address.address, port: address.port } : { host, port };
        this.ctx.listenerPort = bound.port;
        this.ctx.listenerPortText = String(bound.port);
        resolve(bound);
      });
    });
  }

  /**
   * Stops accepting, lets in-flight requests and tunnels finish for up to `drainTimeoutMs`, then
   * destroys what is left, closes the origin pools and flushes the access log.
   */
  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      if (!this.isListening) return resolve();
      this.server.close(() => resolve());
    });
    this.server.closeIdleConnections();
    if (this.inFlightCount > 0 || this.tunnels.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.ctx.options.drainTimeoutMs);
        timer.unref();
        this.drainWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const tunnel of this.tunnels) tunnel.destroy();
    this.server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
    await this.ctx.pools.close(this.inFlightCount > 0);
    await this.ctx.accessLog?.flush?.();
  }

  /** Wakes a draining close() once the last request or tunnel has ended. */
  private notifyIfDrained(): void {
    if (this.drainWaiter !== null && this.inFlightCount === 0 && this.tunnels.size === 0) this.drainWaiter();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const exchange = new ProxyExchange(this.ctx, req, res);
    this.inFlightCount++;
    if (this.closing !== null) res.shouldKeepAlive = false;
    try {
      const match = this.routeOrAnswer(exchange, exchange, false);
      if (match !== null) exchange.forward(match, this.ctx.pools.originFor(match.service));
    } catch (err) {
      this.ctx.logger.error({ err, requestId: exchange.id }, 'proxy failed to handle a request');
      exchange.fail(500, PROXY_MESSAGES.internal);
    }
  }

  /**
   * Routes a request or an upgrade handshake with the config of the moment. Returns the match to
   * forward (its route has a service), or null once `answerer` has sent the generated response
   * (no config yet, unroutable target, no route, https-only route, route without service).
   */
  private routeOrAnswer(exchange: ProxyExchange, answerer: Answerer, isUpgrade: boolean): ForwardableMatch | null {
    const config = this.getConfig();
    exchange.scanHeaders();
    if (config === null) return answered(answerer, 503, PROXY_MESSAGES.noService);
    if (!normalizeTarget(exchange)) return answered(answerer, 400, PROXY_MESSAGES.badRequest);
    const match = config.router.match(exchange);
    if (match === null) return answered(answerer, 404, PROXY_MESSAGES.noRoute);
    // Noted before any refusal below, so the traffic stats count it against its route.
    exchange.match = match;
    const protocols = Array.isArray(match.route.protocols) ? match.route.protocols : [];
    if (protocols.includes('https') && !protocols.includes('http')) {
      // A handshake is never redirected: 426 whatever https_redirect_status_code says.
      refuseHttp(exchange, answerer, isUpgrade ? 426 : match.route.https_redirect_status_code);
      return null;
    }
    if (protocols.includes('grpc') || protocols.includes('grpcs')) {
      // This listener speaks HTTP/1.1: a gRPC route can only be refused, as Kong refuses it there.
      const contentType = exchange.req.headers['content-type'];
      if (contentType !== undefined && contentType.toLowerCase().startsWith('application/grpc')) {
        return answered(answerer, 426, PROXY_MESSAGES.useHttp2, ['Connection', 'Upgrade', 'Upgrade', 'HTTP/2']);
      }
      return answered(answerer, 415, PROXY_MESSAGES.nonGrpc);
    }
    if (match.service === null) return answered(answerer, 503, PROXY_MESSAGES.noService);
    return match as ForwardableMatch;
  }

  private respond(res: ServerResponse, requestId: string, startMs: number, status: number, message: string, extraHeaders?: readonly string[]): number {
    const { contentType, body } = errorBody(message, requestId, res.req?.headers.accept);
    const bodyBytes = Buffer.byteLength(body);
    const headers = ['Content-Type', contentType, 'Content-Length', String(bodyBytes), ...generatedResponseHeaders(this.ctx.injected, this.ctx.serverToken, requestId, startMs)];
    if (extraHeaders !== undefined) headers.push(...extraHeaders);
    res.writeHead(status, headers);
    res.end(body);
    return bodyBytes;
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const tunnel = new UpgradeExchange(this.ctx, req, socket, head, (t) => {
      this.tunnels.delete(t);
      this.notifyIfDrained();
    });
    this.tunnels.add(tunnel);
    if (this.closing !== null) return tunnel.fail(503, PROXY_MESSAGES.noService);
    try {
      const match = this.routeOrAnswer(tunnel.exchange, tunnel, true);
      if (match !== null) tunnel.forward(match, this.ctx.pools.originFor(match.service));
    } catch (err) {
      this.ctx.logger.error({ err, requestId: tunnel.exchange.id }, 'proxy failed to handle an upgrade');
      tunnel.fail(500, PROXY_MESSAGES.internal);
    }
  }

  private onClientError(err: Error & { code?: string }, socket: Socket): void {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const requestId = this.ctx.requestIds.next();
    const isTimeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const status = isTimeout ? 408 : 400;
    const message = isTimeout ? PROXY_MESSAGES.requestTimeout : err.code === 'HPE_HEADER_OVERFLOW' ? PROXY_MESSAGES.headerTooLarge : PROXY_MESSAGES.badRequest;
    socket.end(rawResponse(status, message, requestId, generatedResponseHeaders(this.ctx.injected, this.ctx.serverToken, requestId, performance.now())));
  }
}

/** Sends a generated response through `answerer`; null, for `return answered(...)` in a router step. */
function answered(answerer: Answerer, status: number, message: string, extraHeaders?: readonly string[]): null {
  answerer.fail(status, message, extraHeaders);
  return null;
}

/** Answers a request on an https-only route: a redirect for a 301/302/307/308 `code`, else 426. */
function refuseHttp(exchange: ProxyExchange, answerer: Answerer, code: number): void {
  if (code === 301 || code === 302 || code === 307 || code === 308) {
    const host = (exchange.host ?? '').replace(/:\d+$/, '').toLowerCase();
    return answerer.fail(code, PROXY_MESSAGES.useHttps, ['Location', `https://${host}${exchange.target}`]);
  }
  answerer.fail(426, PROXY_MESSAGES.useHttps, ['Connection', 'Upgrade', 'Upgrade', 'TLS/1.2, HTTP/1.1']);
}


/**
 * Accepts origin-form targets (`/path?query`) and rewrites absolute-form ones
 * (`http://host/path`) to origin-form, taking the host from them when the Host header is absent.
 * @returns false for a target the proxy cannot route (`*`, garbage): answer 400.
 */
function normalizeTarget(exchange: ProxyExchange): boolean {
  const target = exchange.target;
  if (target.charCodeAt(0) === 0x2f) return true;
  const match = /^https?:\/\/([^/?#]*)(.*)$/i.exec(target);
  if (match === null) return false;
  exchange.host ??= match[1];
  const rest = match[2] ?? '';
  exchange.target = rest.startsWith('/') ? rest : `/${rest}`;
  return true;
}
