import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConfigStateView, EntityKind } from '@sluice/protocol';
import type { ConfigOrigin } from '../config/runtime-config.js';
import { LifecycleError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { ConnectionState, PushInFlight } from '../sync/sync-client.js';
import type { RateLimitingStatus } from '../rate-limiting/rate-limit-service.js';
import type { DataPlaneMetrics } from './data-plane-metrics.js';

/** Default status listener (loopback only: status and metrics are for the operator, not the world). */
export const DEFAULT_STATUS_LISTEN = '127.0.0.1:8100';

/** How long a status request may take, in ms (default 10 s). */
export const STATUS_REQUEST_TIMEOUT_MS = 10_000;

/** The body of `GET /status`. */
export interface StatusView {
  readonly node_id: string;
  readonly epoch: string | null;
  readonly version: number | null;
  readonly hash: string | null;
  readonly ready: boolean;
  readonly config_source: ConfigOrigin | null;
  /** When the serving config was applied (ISO 8601), or null. */
  readonly config_applied_at: string | null;
  /**
   * Null in declarative (DB-less) mode. `applying`: the push being inflated, checked and built now
   * (the serving config is the previous one until it is swapped in), or null.
   */
  readonly control_plane: {
    readonly state: ConnectionState;
    readonly since: string;
    /** The control-plane origin connected now (or being connected or retried). */
    readonly url: string;
    /** Every control-plane origin configured (`--control-plane a,b,c`), in order. */
    readonly urls: readonly string[];
    /** The instance id of the replica connected now (`/clustering/status` names it), or null when not connected. */
    readonly instance_id: string | null;
    readonly applying: { readonly nonce: number; readonly kind: PushInFlight['kind']; readonly since: string } | null;
    /** The plugins the control plane's head uses that this data plane has not loaded: non-empty while it withholds the head (capability negotiation). */
    readonly missing_plugins: readonly string[];
  } | null;
  /** The control plane's head as last announced (HelloAck or Heartbeat), or null. */
  readonly control_plane_head: Readonly<ConfigStateView> | null;
  readonly last_error: { readonly code: string; readonly message: string; readonly at: string } | null;
  readonly routes: number;
  readonly services: number;
  /** Entities of the serving config by kind, every kind of the registry (0 when none is loaded). */
  readonly entities: Readonly<Record<EntityKind, number>>;
  /** The plugins this data plane loads (`--plugins`), sorted. */
  readonly loaded_plugins: readonly string[];
  /** The rate-limiting counters: the local table, the Redis servers (`degraded` while one is unreachable), decisions. */
  readonly rate_limiting: RateLimitingStatus;
}

/** What the status server reads: the data plane. */
export interface StatusSource {
  status(): StatusView;
  isReady(): boolean;
}

/** Options of `StatusServer`. */
export interface StatusServerOptions {
  readonly source: StatusSource;
  readonly metrics: DataPlaneMetrics;
  readonly logger?: Logger;
}

/**
 * The data plane's status listener (`--status-listen`, default 127.0.0.1:8100), on `node:http`:
 * `GET /status` (JSON: node, config epoch/version/hash and source, control-plane connection state
 * and since when, last error, counts), `GET /status/ready` (200 once a config is loaded, else 503;
 * for load balancers and orchestrators), `GET /metrics` (Prometheus text).
 */
export class StatusServer {
  private readonly server: Server;
  private readonly source: StatusSource;
  private readonly metrics: DataPlaneMetrics;
  private readonly logger: Logger;

  constructor(options: StatusServerOptions) {
    this.source = options.source;
    this.metrics = options.metrics;
    this.logger = options.logger ?? silentLogger;
    this.server = createServer({ requestTimeout: STATUS_REQUEST_TIMEOUT_MS, headersTimeout: STATUS_REQUEST_TIMEOUT_MS }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.logger.error({ err }, 'status request failed');
        if (!res.headersSent) json(res, 500, { message: 'internal error' });
        else res.destroy();
      });
    });
  }

  /** Listens; resolves with the bound address (port 0 picks a free port). */
  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(new LifecycleError(`status server cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const address = this.server.address() as AddressInfo;
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  /** Stops listening and closes open connections. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json(res, 405, { message: 'Method not allowed' });
    }
    if (path === '/status') return json(res, 200, this.source.status());
    if (path === '/status/ready') {
      const ready = this.source.isReady();
      return json(res, ready ? 200 : 503, ready ? { ready: true } : { ready: false, message: 'no config loaded yet' });
    }
    if (path === '/metrics') {
      const body = await this.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': this.metrics.registry.contentType, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    json(res, 404, { message: 'Not found' });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}
