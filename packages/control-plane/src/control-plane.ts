/**
 * The control-plane process as a library: opens the store (running migrations), then serves the
 * Admin API. Composable: more servers (the cluster stream) and Admin API extensions are added through
 * the options, and `start()` returns every listening address.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { type AdminApiLimits, buildAdminApi } from './admin/index.js';
import { ClosedError } from './errors.js';
import { type Store, openStore } from './store/index.js';
import { randomUUID } from 'node:crypto';
import { ConfigMirror } from './changes/config-mirror.js';
import { ChangeLogJanitor } from './changes/change-log-janitor.js';
import { clusteringApi } from './stream/clustering-api.js';
import { DataPlaneRegistry, STALE_AFTER_HEARTBEATS } from './stream/data-plane-registry.js';
import { StreamServer } from './stream/stream-server.js';
import { DEFAULT_STREAM_LIMITS, type StreamLimits } from './stream/stream-limits.js';
import type { ClusterTls } from './stream/cluster-tls.js';

/** Default Admin API address. */
export const DEFAULT_ADMIN_LISTEN = '127.0.0.1:8001';

/** Default cluster stream address: data planes connect here. */
export const DEFAULT_CLUSTER_LISTEN = '0.0.0.0:8005';

/** A `host:port` to listen on. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Options of {@link ControlPlane}. */
export interface ControlPlaneOptions {
  logger: Logger;
  /** Admin API address (default 127.0.0.1:8001; port 0 picks a free port). */
  adminListen?: ListenAddress;
  /** A `postgres://` URL; without it the embedded database in `dataDir` is used. */
  databaseUrl?: string;
  /** Embedded database directory (default `.sluice/cp`). */
  dataDir?: string;
  adminLimits?: Partial<AdminApiLimits>;
  /** Origins whose web pages may call the Admin API (`--admin-gui-origin`); default none. */
  adminAllowedOrigins?: readonly string[];
  /** Extra Admin API endpoints (e.g. `/clustering/*`), given the started store. */
  adminExtensions?: (store: Store) => FastifyPluginAsync[];
  /** A store to use instead of opening one (the control plane then does not close it). */
  store?: Store;
  /** Cluster stream address (default 0.0.0.0:8005; port 0 picks a free port); `null` runs no stream server. */
  clusterListen?: ListenAddress | null;
  /** Cluster stream limits and timings. */
  streamLimits?: Partial<StreamLimits>;
  /**
   * Mutual TLS on the cluster stream (`ClusterTls.fromFiles({certFile, keyFile, caFile?, mode?})`):
   * wss:// and only data planes with an admitted certificate. Without it the stream is plain ws://
   * and unauthenticated (a warning is logged at start).
   */
  clusterTls?: ClusterTls;
  /** How often the change log is polled when no NOTIFY arrives, in ms (default 1000). */
  changePollIntervalMs?: number;
  /** Change-log versions kept behind the head (default 10,000); data planes further behind get a snapshot. */
  changeLogRetentionVersions?: number;
  /** Data-plane registry rows kept, across replicas (default `MAX_DATA_PLANE_ROWS`, 20,000); see `RegistryAdmission`. */
  maxDataPlanes?: number;
}

/** The addresses a started control plane listens on. */
export interface ControlPlaneAddresses {
  admin: ListenAddress;
  /** The cluster stream, unless disabled. */
  cluster: ListenAddress | null;
  /** `wss` when the cluster stream uses mutual TLS, else `ws`. */
  clusterScheme: 'ws' | 'wss';
}

/** Parses `host:port` (IPv6 hosts in brackets: `[::1]:8001`). */
export function parseListenAddress(value: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new TypeError(`invalid listen address '${value}': expected host:port`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** Formats an address for logs and URLs. */
export function formatListenAddress(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** This package's version, from its package.json (the same relative path from src/ and dist/). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** See the module comment. */
export class ControlPlane {
  readonly #options: ControlPlaneOptions;
  #store: Store | null = null;
  #admin: FastifyInstance | null = null;
  #mirror: ConfigMirror | null = null;
  #janitor: ChangeLogJanitor | null = null;
  #stream: StreamServer | null = null;
  #registry: DataPlaneRegistry | null = null;
  #isStopped = false;
  /** This process's id among control-plane replicas (stamped on the data planes it serves). */
  readonly instanceId = randomUUID();

  constructor(options: ControlPlaneOptions) {
    this.#options = options;
  }

  /** The store, once started. */
  get store(): Store {
    if (!this.#store) throw new ClosedError('control plane (not started)');
    return this.#store;
  }

  /** Opens the store and starts listening; resolves with the bound addresses. */
  async start(): Promise<ControlPlaneAddresses> {
    const { logger } = this.#options;
    const adminListen = this.#options.adminListen ?? parseListenAddress(DEFAULT_ADMIN_LISTEN);
    const store =
      this.#options.store ?? (await openStore({ databaseUrl: this.#options.databaseUrl, dataDir: this.#options.dataDir, logger: logger.child({ component: 'store' }) }));
    this.#store = store;
    try {
      const head = await store.readHead();
      logger.info({ database: store.kind, epoch: head.epoch, version: head.version }, 'store ready');
      const mirror = new ConfigMirror({ source: store, logger: logger.child({ component: 'mirror' }), pollIntervalMs: this.#options.changePollIntervalMs });
      await mirror.start();
      this.#mirror = mirror;
      const janitor = new ChangeLogJanitor({ db: store.db, logger: logger.child({ component: 'janitor' }), retentionVersions: this.#options.changeLogRetentionVersions });
      janitor.start();
      this.#janitor = janitor;
      const registry = new DataPlaneRegistry({
        db: store.db,
        logger: logger.child({ component: 'registry' }),
        cpInstanceId: this.instanceId,
        staleAfterMs: STALE_AFTER_HEARTBEATS * (this.#options.streamLimits?.heartbeatIntervalMs ?? DEFAULT_STREAM_LIMITS.heartbeatIntervalMs),
        maxRows: this.#options.maxDataPlanes,
      });
      this.#registry = registry;
      const clusterListen = this.#options.clusterListen === undefined ? parseListenAddress(DEFAULT_CLUSTER_LISTEN) : this.#options.clusterListen;
      const stream = clusterListen
        ? new StreamServer({ mirror, registry, logger: logger.child({ component: 'stream' }), cpInstanceId: this.instanceId, limits: this.#options.streamLimits, tls: this.#options.clusterTls })
        : null;
      this.#stream = stream;
      const admin = buildAdminApi({
        store,
        logger,
        limits: this.#options.adminLimits,
        allowedOrigins: this.#options.adminAllowedOrigins,
        extensions: [clusteringApi({ mirror, registry, stream: stream ?? undefined }), ...(this.#options.adminExtensions?.(store) ?? [])],
        nodeInfo: {
          version: packageVersion(),
          configuration: {
            admin_listen: [formatListenAddress(adminListen)],
            database: 'postgres',
            embedded_database: store.kind === 'pglite',
          },
        },
      });
      this.#admin = admin;
      await admin.listen({ host: adminListen.host, port: adminListen.port });
      const bound = admin.server.address();
      const admin_ = typeof bound === 'object' && bound !== null ? { host: adminListen.host, port: bound.port } : adminListen;
      const cluster = stream && clusterListen ? await stream.listen(clusterListen.host, clusterListen.port) : null;
      return { admin: admin_, cluster: cluster ? { host: clusterListen!.host, port: cluster.port } : null, clusterScheme: stream?.scheme ?? 'ws' };
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Stops accepting requests, lets in-flight ones finish, then closes the store. Idempotent. */
  async stop(): Promise<void> {
    if (this.#isStopped) return;
    this.#isStopped = true;
    const stream = this.#stream;
    this.#stream = null;
    if (stream) await stream.close();
    // The disconnections of the data planes just closed, and any batch still waiting, are written.
    await this.#registry?.close();
    this.#mirror?.stop();
    this.#janitor?.stop();
    const admin = this.#admin;
    this.#admin = null;
    if (admin) await admin.close();
    const store = this.#store;
    if (store && !this.#options.store) await store.close();
  }
}
