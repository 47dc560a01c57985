import type { Service } from '@sluice/protocol';
import { Pool } from 'undici';
import { LifecycleError } from '../errors.js';
import { sumOriginPools, type OriginPoolSnapshot } from './traffic-stats.js';

/** Limits of the connection pool kept for each origin. */
export interface OriginPoolLimits {
  /** Most connections open to one origin at once; more requests queue. */
  readonly connections: number;
  /** HTTP/1.1 requests in flight per connection (1 = no pipelining). */
  readonly pipelining: number;
  /** How long an idle upstream connection is kept, ms (capped by the upstream's `Keep-Alive: timeout`). */
  readonly keepAliveTimeoutMs: number;
  /** Upper bound on a keep-alive timeout the upstream advertises, ms. */
  readonly keepAliveMaxTimeoutMs: number;
  /** Largest upstream response head (status line + headers), bytes. */
  readonly maxHeaderBytes: number;
  /** Largest upstream response body, bytes; -1 = no limit (bodies are streamed). */
  readonly maxResponseBytes: number;
  /** A pool unused for this long is closed, ms. */
  readonly idleCloseMs: number;
}

/** Kong's default for a service's connect, write and read timeouts, used when one is missing or not positive, ms. */
const DEFAULT_UPSTREAM_TIMEOUT_MS = 60_000;

/**
 * Where and how to send requests for one service, resolved once per Service object: the service's
 * origin (scheme, host, port) and its pool, with the service's timeouts. Not Kong's Upstream or
 * Target entities (a load-balanced set of addresses), which a later balancer resolves to origins.
 */
export interface Origin {
  readonly pool: Pool;
  /** Host header when the route does not preserve the client's: `host`, plus `:port` when not the scheme default. */
  readonly hostHeader: string;
  /** `host:port` of the origin (an IPv6 host in brackets), as logged. */
  readonly address: string;
  /** service.read_timeout: most time between two reads of the upstream response (head, then body chunks), ms. */
  readonly readTimeoutMs: number;
  /** service.write_timeout: most time between two writes of a streamed request body, ms. */
  readonly writeTimeoutMs: number;
  /** The pool's key, for diagnostics. */
  readonly key: string;
  /** Book-keeping of the shared pool. */
  readonly entry: PoolEntry;
}

/** A pool and when it was last used. */
export interface PoolEntry {
  readonly pool: Pool;
  /** `host:port` of its origin. */
  readonly address: string;
  lastUsedMs: number;
  isClosed: boolean;
}

/**
 * The undici pools of a proxy, one per (origin, connect timeout, TLS settings). Services sharing an
 * origin share a pool; pools idle for `idleCloseMs` are closed by {@link sweep}. Config swaps keep
 * pools: a new Service object with the same origin finds the same pool.
 */
export class OriginPools {
  private readonly pools = new Map<string, PoolEntry>();
  private readonly origins = new WeakMap<Service, Origin>();
  private readonly sweepTimer: NodeJS.Timeout;
  private isClosed = false;

  constructor(private readonly limits: OriginPoolLimits) {
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), Math.max(1000, Math.floor(limits.idleCloseMs / 2)));
    this.sweepTimer.unref();
  }

  /**
   * The origin of `service` (cached per Service object).
   * @throws LifecycleError after {@link close} when the service's pool is not open.
   */
  originFor(service: Service): Origin {
    let origin = this.origins.get(service);
    if (origin === undefined) {
      origin = this.createOrigin(service);
      this.origins.set(service, origin);
    }
    if (origin.entry.isClosed) {
      // The pool was swept while this Service object lived on: make a new one.
      this.origins.delete(service);
      return this.originFor(service);
    }
    return origin;
  }

  /** Marks the pool of `origin` as used now (cheap; called per request). */
  touch(origin: Origin, nowMs: number): void {
    origin.entry.lastUsedMs = nowMs;
  }

  private createOrigin(service: Service): Origin {
    const isHttps = service.protocol === 'https' || service.protocol === 'grpcs' || service.protocol === 'tls';
    const defaultPort = isHttps ? 443 : 80;
    const port = Number.isInteger(service.port) && service.port > 0 ? service.port : defaultPort;
    const hostForUrl = service.host.includes(':') && !service.host.startsWith('[') ? `[${service.host}]` : service.host;
    const origin = `${isHttps ? 'https' : 'http'}://${hostForUrl}:${port}`;
    const connectTimeout = timeoutOf(service.connect_timeout);
    const verify = isHttps && service.tls_verify === true;
    const key = `${origin}|${connectTimeout}|${verify ? 'verify' : 'noverify'}`;
    let entry = this.pools.get(key);
    if (entry === undefined) {
      if (this.isClosed) throw new LifecycleError('origin pools are closed');
      const pool = new Pool(origin, {
        connections: this.limits.connections,
        pipelining: this.limits.pipelining,
        keepAliveTimeout: this.limits.keepAliveTimeoutMs,
        keepAliveMaxTimeout: this.limits.keepAliveMaxTimeoutMs,
        maxHeaderSize: this.limits.maxHeaderBytes,
        maxResponseSize: this.limits.maxResponseBytes,
        connectTimeout,
        strictContentLength: true,
        ...(isHttps ? { connect: { rejectUnauthorized: verify, servername: isIpLiteral(service.host) ? undefined : service.host } } : {}),
      });
      entry = { pool, address: `${hostForUrl}:${port}`, lastUsedMs: Date.now(), isClosed: false };
      this.pools.set(key, entry);
    }
    return {
      pool: entry.pool,
      hostHeader: port === defaultPort ? hostForUrl : `${hostForUrl}:${port}`,
      address: entry.address,
      readTimeoutMs: timeoutOf(service.read_timeout),
      writeTimeoutMs: timeoutOf(service.write_timeout),
      key,
      entry,
    };
  }

  /** Closes pools unused since `nowMs - idleCloseMs`; their in-flight requests finish first. */
  sweep(nowMs: number): void {
    for (const [key, entry] of this.pools) {
      if (nowMs - entry.lastUsedMs >= this.limits.idleCloseMs) {
        this.pools.delete(key);
        entry.isClosed = true;
        entry.pool.close().catch(() => {});
      }
    }
  }

  /**
   * Connections and requests of the open pools, summed per origin address (pools of one origin
   * with different connect timeouts or TLS settings count together). O(pools × connections).
   */
  snapshot(): OriginPoolSnapshot[] {
    return sumOriginPools(
      [...this.pools.values()].map(({ address, pool: { stats } }) => ({ upstream: address, connections: stats.connected, active: stats.running, pending: stats.pending })),
    );
  }

  /** Number of open pools. */
  get size(): number {
    return this.pools.size;
  }

  /** Closes every pool, letting in-flight requests finish (`force`: destroy them instead). */
  async close(force = false): Promise<void> {
    this.isClosed = true;
    clearInterval(this.sweepTimer);
    for (const entry of this.pools.values()) entry.isClosed = true;
    const pools = [...this.pools.values()].map((e) => e.pool);
    this.pools.clear();
    await Promise.all(pools.map((pool) => (force ? pool.destroy() : pool.close()).catch(() => {})));
  }
}

function timeoutOf(serviceTimeoutMs: number): number {
  return serviceTimeoutMs > 0 ? serviceTimeoutMs : DEFAULT_UPSTREAM_TIMEOUT_MS;
}

function isIpLiteral(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':');
}
