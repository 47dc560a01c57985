import type { Logger } from '../logger.js';
import type { AccessLogSink } from '../plugins/access-log/access-log-sink.js';
import { DEFAULT_RESPONSE_HEADERS, DEFAULT_UPSTREAM_HEADERS } from './injected-headers.js';

/**
 * Options of a {@link ProxyServer}. Every limit has a unit and a default; nothing is unbounded.
 * Defaults follow Kong's where Kong has one (its nginx template and `kong.conf.default`).
 */
export interface ProxyServerOptions {
  /** Logger for upstream failures and client errors. Default: silent. */
  readonly logger?: Logger;
  /** Version in `Via: 1.1 sluice/<version>` and `Server: sluice/<version>`. Default {@link SLUICE_VERSION}. */
  readonly serverVersion?: string;
  /**
   * Addresses and CIDR blocks (IPv4/IPv6) whose client-sent `X-Forwarded-Proto/Host/Port/Path/Prefix`
   * and `X-Real-IP` are forwarded as sent (Kong's `trusted_ips`). Default: none trusted, so those
   * headers are always overwritten. `X-Forwarded-For` is always appended to, as Kong does.
   */
  readonly trustedIps?: readonly string[];
  /**
   * The proxy's own headers on client responses (Kong's `headers`): any of `server_tokens` (Server
   * and Via), `latency_tokens` (the three latency headers), `Server`, `Via`,
   * `X-Sluice-Proxy-Latency`, `X-Sluice-Upstream-Latency`, `X-Sluice-Response-Latency`,
   * `X-Sluice-Request-Id`, `X-Sluice-Upstream-Status`; or `off` alone. Default `server_tokens, latency_tokens, X-Sluice-Request-Id`.
   * Invalid values make the constructor throw `InvalidArgumentError`.
   */
  readonly headers?: readonly string[];
  /** The proxy's own headers on upstream requests (Kong's `headers_upstream`): `X-Sluice-Request-Id` (default) or `off`. */
  readonly headersUpstream?: readonly string[];
  /**
   * Kong's `allow_debug_header`: a request carrying a `Sluice-Debug` header gets `Sluice-Route-Id`,
   * `Sluice-Route-Name`, `Sluice-Service-Id` and `Sluice-Service-Name` (names when set) on its
   * response. Default false: they reveal config to any client.
   */
  readonly allowDebugHeader?: boolean;
  /**
   * Where to write one JSON line per finished exchange (proxied, generated, or left by the client):
   * time, request id, client, request, status, body bytes, latencies, route, service, upstream.
   * Default null: no access log, and no cost beyond one check per request. The sink bounds its own
   * buffer (the CLI's drops lines past 8 MiB queued); `close()` calls its `flush()`.
   */
  readonly accessLog?: AccessLogSink | null;

  /** Most concurrent client connections; further ones are refused by the kernel backlog. Default 16384. */
  readonly maxClientConnections?: number;
  /** Idle time after which a client keep-alive connection is closed, ms. Default 60000 (Kong `keepalive_timeout 60s`). */
  readonly clientKeepAliveTimeoutMs?: number;
  /** Requests served on one client connection before it is closed. Default 10000 (Kong `keepalive_requests`). */
  readonly maxRequestsPerConnection?: number;
  /** Time allowed to receive a request's headers, ms. Default 60000 (nginx `client_header_timeout`). */
  readonly clientHeadersTimeoutMs?: number;
  /** Time allowed to receive a whole request, body included, ms. Default 300000 (Node's default). */
  readonly clientRequestTimeoutMs?: number;
  /**
   * Time a response (or an upgraded connection) may wait on a client that takes none of the bytes
   * queued for it, ms; then the connection is closed and the upstream request aborted. Default
   * 60000 (nginx `send_timeout`). A client that reads slowly but steadily is not cut.
   */
  readonly clientSendTimeoutMs?: number;
  /** Largest request head (request line + headers), bytes. Default 16384; beyond it: 400. */
  readonly maxRequestHeaderBytes?: number;

  /** Most connections to one upstream origin; more requests queue for a free one. Default 512. */
  readonly upstreamConnections?: number;
  /** Requests in flight per upstream connection (1 = no HTTP/1.1 pipelining). Default 1. */
  readonly upstreamPipelining?: number;
  /** Idle time after which an upstream keep-alive connection is closed, ms. Default 60000. */
  readonly upstreamKeepAliveTimeoutMs?: number;
  /** Upper bound on a keep-alive timeout an upstream advertises (`Keep-Alive: timeout=`), ms. Default 600000. */
  readonly upstreamKeepAliveMaxTimeoutMs?: number;
  /** Largest upstream response head, bytes; beyond it: 502. Default 32768. */
  readonly maxUpstreamHeaderBytes?: number;
  /** Largest upstream response body, bytes; beyond it the response is cut. Default -1 (no limit: streamed). */
  readonly maxUpstreamResponseBytes?: number;
  /** An upstream pool unused this long is closed, ms. Default 120000. */
  readonly upstreamPoolIdleCloseMs?: number;

  /**
   * Most request-body bytes held in memory for a route with `request_buffering` (the body is read
   * whole before the upstream request starts, and can be replayed on retry). A larger body is
   * streamed instead of refused (nginx would spill it to disk). Default 8388608 (8 MiB).
   */
  readonly requestBufferBytes?: number;
  /**
   * Most response bytes queued for a slow client, for a route with `response_buffering`, before the
   * upstream is paused (the upstream connection is freed sooner, like nginx `proxy_buffering`).
   * Without buffering the upstream is paused as soon as the client socket's buffer is full.
   * Default 1048576 (1 MiB).
   */
  readonly responseBufferBytes?: number;

  /** How long {@link ProxyServer.close} waits for in-flight requests and tunnels before destroying them, ms. Default 30000. */
  readonly drainTimeoutMs?: number;
}

/** The Sluice version reported in `Via` and `Server`. */
export const SLUICE_VERSION = '0.1.0';

/** The defaults of {@link ProxyServerOptions}. */
export const PROXY_SERVER_DEFAULTS = {
  serverVersion: SLUICE_VERSION,
  trustedIps: [] as readonly string[],
  headers: DEFAULT_RESPONSE_HEADERS,
  headersUpstream: DEFAULT_UPSTREAM_HEADERS,
  allowDebugHeader: false as boolean,
  maxClientConnections: 16_384,
  clientKeepAliveTimeoutMs: 60_000,
  maxRequestsPerConnection: 10_000,
  clientHeadersTimeoutMs: 60_000,
  clientRequestTimeoutMs: 300_000,
  clientSendTimeoutMs: 60_000,
  maxRequestHeaderBytes: 16_384,
  upstreamConnections: 512,
  upstreamPipelining: 1,
  upstreamKeepAliveTimeoutMs: 60_000,
  upstreamKeepAliveMaxTimeoutMs: 600_000,
  maxUpstreamHeaderBytes: 32_768,
  maxUpstreamResponseBytes: -1,
  upstreamPoolIdleCloseMs: 120_000,
  requestBufferBytes: 8 * 1024 * 1024,
  responseBufferBytes: 1024 * 1024,
  drainTimeoutMs: 30_000,
} as const;

/** Options with every default filled in. */
export type ResolvedProxyServerOptions = { -readonly [K in keyof typeof PROXY_SERVER_DEFAULTS]: (typeof PROXY_SERVER_DEFAULTS)[K] extends number ? number : (typeof PROXY_SERVER_DEFAULTS)[K] extends string ? string : (typeof PROXY_SERVER_DEFAULTS)[K] extends boolean ? boolean : readonly string[] } & { logger: Logger; accessLog: AccessLogSink | null };
