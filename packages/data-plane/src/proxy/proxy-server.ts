import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Service } from '@sluice/protocol';
import { LifecycleError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { RouteMatch, Router } from '../router/router.js';
import { AccessLogHandler } from '../plugins/access-log/handler.js';
import { EMPTY_CHAIN, type PluginChain } from '../plugins/plugin-chain.js';
import type { ConsumerDirectoryView } from '../plugins/plugin-context.js';
import type { PluginHandler } from '../plugins/plugin-handler.js';
import { TrafficStatsHandler } from '../plugins/traffic-stats/handler.js';
import { generatedResponseHeaders, PROXY_MESSAGES, rawResponse } from './error-responses.js';
import { injectedHeaders } from './injected-headers.js';
import { OriginPools } from './origin-pools.js';
import type { ProxyContext } from './proxy-context.js';
import { ProxyExchange } from './proxy-exchange.js';
import { PROXY_SERVER_DEFAULTS, type ProxyServerOptions, type ResolvedProxyServerOptions } from './proxy-server-options.js';
import type { RequestView } from './request-view.js';
import { RequestIdGenerator } from './request-id.js';
import { ProxyResponse } from './response-writer.js';
import { TrafficStats, type TrafficSnapshot } from './traffic-stats.js';
import { TrustedIps } from './trusted-ips.js';
import { UpgradeExchange } from './upgrade-exchange.js';

/** What routing answers through: the exchange of a request, or the tunnel of an upgrade handshake. */
interface Answerer {
  /** Notes the matched route (before any refusal, so the log phase counts the response against it). */
  noteMatch(match: RouteMatch): void;
  /** Sets the chain whose header_filter, body_filter and log handlers run on the answer (no route: the global one). */
  useChain(chain: PluginChain): void;
  fail(status: number, message: string, extraHeaders?: readonly string[]): void;
}

/** A match the proxy can forward: its route has a service. */
type ForwardableMatch = RouteMatch & { readonly service: Service };

/** The configuration one request is served with, start to end (swap it atomically by returning another). */
export interface ProxyConfig {
  readonly router: Router;
  readonly services: ReadonlyMap<string, Service>;
  readonly version: number;
  /**
   * The plugin chain of each route, by route id, compiled when the config was applied (a
   * projection: the same PluginChain object for as long as the route's plugins are unchanged).
   * No entry (or no map): the route has no plugins.
   */
  readonly chains?: ReadonlyMap<string, PluginChain>;
  /**
   * What a request matching no route runs on its 404: the global plugin instances' header_filter,
   * body_filter and log handlers (Kong). Absent: none.
   */
  readonly globalChain?: PluginChain;
  /** The consumers and credentials the auth plugins look up (`ctx.consumers`). Absent: none. */
  readonly consumers?: ConsumerDirectoryView;
}

function resolveOptions(options: ProxyServerOptions): ResolvedProxyServerOptions {
  const resolved: Record<string, unknown> = { ...PROXY_SERVER_DEFAULTS, logger: silentLogger, accessLog: null };
  for (const [key, value] of Object.entries(options)) if (value !== undefined && key !== 'getConfig') resolved[key] = value;
  return resolved as ResolvedProxyServerOptions;
}

/**
 * The data plane's reverse proxy: a `node:http` server that routes each request with the config
 * `getConfig()` returns at its start, runs its route's plugin chain (`ProxyConfig.chains`, behind
 * the process-wide log handlers: traffic statistics, the access log), and forwards it through
 * undici pools (one per origin), with Kong's path joining, forwarding headers, timeouts, retries
 * and JSON errors. WebSocket (any `Upgrade`) handshakes are tunnelled. `getConfig()` returning
 * null means not ready: every request gets 503.
 */
export class ProxyServer {
  private readonly server: Server;
  private readonly getConfig: () => ProxyConfig | null;
  private readonly ctx: ProxyContext & { listenerPort: number; listenerPortText: string };
  private readonly traffic = new TrafficStats();
  /** The process-wide handlers, run first in every chain: traffic statistics, then the access log. */
  private readonly processHandlers: readonly PluginHandler[];
  /**
   * Each route chain with the process-wide handlers put first, composed on first use and kept for
   * as long as the config keeps the route chain (a WeakMap: no per-request composition).
   */
  private readonly composedChains = new WeakMap<PluginChain, PluginChain>();
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
    this.processHandlers = resolved.accessLog === null ? [new TrafficStatsHandler(this.traffic)] : [new TrafficStatsHandler(this.traffic), new AccessLogHandler(resolved.accessLog)];
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
      baseChain: EMPTY_CHAIN.withFirst(this.processHandlers),
      reportLogError(err, context) {
        logger.error({ err, requestId: context.requestId }, 'plugin log handler failed');
      },
      onExchangeEnd() {
        server.inFlightCount--;
        server.notifyIfDrained();
      },
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
    return this.traffic.snapshot(this.inFlightCount, this.tunnels.size, this.ctx.pools.snapshot());
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
    await this.ctx.options.accessLog?.flush?.();
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
      const config = this.getConfig();
      const match = this.routeOrAnswer(config, exchange.view, exchange, false);
      if (match !== null) {
        if (config!.consumers !== undefined) exchange.context.consumers = config!.consumers;
        exchange.start(this.chainFor(config!, match), this.ctx.pools.originFor(match.service));
      }
    } catch (err) {
      this.ctx.logger.error({ err, requestId: exchange.view.id }, 'proxy failed to handle a request');
      exchange.fail(500, PROXY_MESSAGES.internal);
    }
  }

  /**
   * The chain a forwardable match runs: its route's chain from the config with the process-wide
   * handlers first. A route without plugins costs one map lookup.
   */
  private chainFor(config: ProxyConfig, match: RouteMatch): PluginChain {
    return this.composed(config.chains?.get(match.route.id));
  }

  /** `routeChain` with the process-wide handlers first, composed once per chain object. */
  private composed(routeChain: PluginChain | undefined): PluginChain {
    if (routeChain === undefined || routeChain === EMPTY_CHAIN) return this.ctx.baseChain;
    let chain = this.composedChains.get(routeChain);
    if (chain === undefined) {
      chain = routeChain.withFirst(this.processHandlers);
      this.composedChains.set(routeChain, chain);
    }
    return chain;
  }

  /**
   * Routes a request or an upgrade handshake with `config` (the config of the moment). Returns
   * the match to forward (its route has a service), or null once `answerer` has sent the generated
   * response (no config yet, unroutable target, no route, https-only route, route without service).
   */
  private routeOrAnswer(config: ProxyConfig | null, view: RequestView, answerer: Answerer, isUpgrade: boolean): ForwardableMatch | null {
    view.scanHeaders();
    // Refused before anything else, as nginx refuses it while reading the head (Kong never sees it).
    if (hasRepeatedHost(view.req.rawHeaders)) return answered(answerer, 400, PROXY_MESSAGES.badRequest, CLOSE_CONNECTION);
    if (config === null) return answered(answerer, 503, PROXY_MESSAGES.noService);
    if (!view.normalizeTarget()) return answered(answerer, 400, PROXY_MESSAGES.badRequest);
    const match = config.router.match(view);
    if (match === null) {
      if (config.globalChain !== undefined) answerer.useChain(this.composed(config.globalChain));
      return answered(answerer, 404, PROXY_MESSAGES.noRoute);
    }
    // Noted before any refusal below, so the traffic stats count it against its route.
    answerer.noteMatch(match);
    const protocols = Array.isArray(match.route.protocols) ? match.route.protocols : [];
    if (protocols.includes('https') && !protocols.includes('http')) {
      // A handshake is never redirected: 426 whatever https_redirect_status_code says.
      refuseHttp(view, answerer, isUpgrade ? 426 : match.route.https_redirect_status_code);
      return null;
    }
    if (protocols.includes('grpc') || protocols.includes('grpcs')) {
      // This listener speaks HTTP/1.1: a gRPC route can only be refused, as Kong refuses it there.
      const contentType = view.req.headers['content-type'];
      if (contentType !== undefined && contentType.toLowerCase().startsWith('application/grpc')) {
        return answered(answerer, 426, PROXY_MESSAGES.useHttp2, ['Connection', 'Upgrade', 'Upgrade', 'HTTP/2']);
      }
      return answered(answerer, 415, PROXY_MESSAGES.nonGrpc);
    }
    if (match.service === null) return answered(answerer, 503, PROXY_MESSAGES.noService);
    return match as ForwardableMatch;
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const tunnel = new UpgradeExchange(this.ctx, req, socket, head, (t) => {
      this.tunnels.delete(t);
      this.notifyIfDrained();
    });
    this.tunnels.add(tunnel);
    if (this.closing !== null) return tunnel.fail(503, PROXY_MESSAGES.noService);
    try {
      const config = this.getConfig();
      const match = this.routeOrAnswer(config, tunnel.view, tunnel, true);
      if (match !== null) {
        if (config!.consumers !== undefined) tunnel.context.consumers = config!.consumers;
        tunnel.start(this.chainFor(config!, match), this.ctx.pools.originFor(match.service));
      }
    } catch (err) {
      this.ctx.logger.error({ err, requestId: tunnel.view.id }, 'proxy failed to handle an upgrade');
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

/** Extra headers of a generated response after which the connection is closed (nginx drops keep-alive after a 400). */
const CLOSE_CONNECTION: readonly string[] = ['Connection', 'close'];

/**
 * Whether a request head carries more than one Host header. RFC 9112 §3.2 requires a 400 for it,
 * and nginx (so Kong) answers 400; node:http keeps only the first in `req.headers`, so without
 * this check the request would be routed by one Host while a cache or WAF in front of the proxy
 * may have judged it by the other. Only `rawHeaders` still has the second one.
 */
function hasRepeatedHost(rawHeaders: readonly string[]): boolean {
  let isSeen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length !== 4 || name.toLowerCase() !== 'host') continue;
    if (isSeen) return true;
    isSeen = true;
  }
  return false;
}

/** Sends a generated response through `answerer`; null, for `return answered(...)` in a router step. */
function answered(answerer: Answerer, status: number, message: string, extraHeaders?: readonly string[]): null {
  answerer.fail(status, message, extraHeaders);
  return null;
}

/** Answers a request on an https-only route: a redirect for a 301/302/307/308 `code`, else 426. */
function refuseHttp(view: RequestView, answerer: Answerer, code: number): void {
  if (code === 301 || code === 302 || code === 307 || code === 308) {
    const host = (view.host ?? '').replace(/:\d+$/, '').toLowerCase();
    return answerer.fail(code, PROXY_MESSAGES.useHttps, ['Location', `https://${host}${view.target}`]);
  }
  answerer.fail(426, PROXY_MESSAGES.useHttps, ['Connection', 'Upgrade', 'Upgrade', 'TLS/1.2, HTTP/1.1']);
}

