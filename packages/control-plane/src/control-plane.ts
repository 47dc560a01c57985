/**
 * The control-plane process as a library: opens the store (running migrations), then serves the
 * Admin API. Composable: more servers (the cluster stream) and Admin API extensions are added through
 * the options, and `start()` returns every listening address.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { AdminAuthenticator, type AdminApiLimits, type AdminTls, buildAdminApi } from './admin/index.js';
import { assertAdminExposure } from './admin/admin-exposure.js';
import { ClosedError } from './errors.js';
import { type DatabaseTimeouts, type Store, openStore } from './store/index.js';
import { randomUUID } from 'node:crypto';
import { ConfigMirror } from './changes/config-mirror.js';
import { ChangeLogJanitor } from './changes/change-log-janitor.js';
import { ExpiredEntityJanitor } from './changes/expired-entity-janitor.js';
import { MirrorEntityReader } from './changes/mirror-entity-reader.js';
import { ControlPlaneMetrics } from './metrics/control-plane-metrics.js';
import { metricsEndpoint } from './metrics/metrics-endpoint.js';
import { AdminGuiServer } from './gui/admin-gui-server.js';
import { guiOrigins } from './gui/gui-origins.js';
import { clusteringApi } from './stream/clustering-api.js';
import { DataPlaneRegistry, STALE_AFTER_HEARTBEATS } from './stream/data-plane-registry.js';
import { StreamServer } from './stream/stream-server.js';
import { DEFAULT_STREAM_LIMITS, type StreamLimits } from './stream/stream-limits.js';
import type { ClusterTls } from './stream/cluster-tls.js';

/** Default Admin API address. */
export const DEFAULT_ADMIN_LISTEN = '127.0.0.1:8001';

/** Default cluster stream address: data planes connect here. */
export const DEFAULT_CLUSTER_LISTEN = '0.0.0.0:8005';

/** While stopping, how often Admin API connections left idle (their request done) are closed, in ms (default 50). */
const IDLE_SWEEP_INTERVAL_MS = 50;
/** Default address of the Sluice UI (Kong Manager's port). */
export const DEFAULT_ADMIN_GUI_LISTEN = '127.0.0.1:8002';

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
  /** Connect, statement and transaction timeouts of the database server (default `DEFAULT_DATABASE_TIMEOUTS`). */
  databaseTimeouts?: Partial<DatabaseTimeouts>;
  adminLimits?: Partial<AdminApiLimits>;
  /** Origins whose web pages may call the Admin API (`--admin-gui-origin`); default none besides the UI's own. */
  adminAllowedOrigins?: readonly string[];
  /**
   * Who may call the Admin API (tokens and roles, swappable while serving); default open. An open
   * Admin API on a non-loopback `adminListen` refuses to start unless `adminAllowOpen`.
   */
  adminAuth?: AdminAuthenticator;
  /** Serve the Admin API without tokens on a non-loopback address (`--admin-allow-open`); default false. */
  adminAllowOpen?: boolean;
  /** TLS for the Admin API (`--admin-cert`, `--admin-cert-key`); default plain HTTP. */
  adminTls?: AdminTls;
  /**
   * The Sluice UI's address (port 0 picks a free port); absent or `null` serves no UI (`sluice-cp`
   * defaults to {@link DEFAULT_ADMIN_GUI_LISTEN}).
   * Its origins are always allowed to call the Admin API (`gui/gui-origins.ts`).
   */
  adminGuiListen?: ListenAddress | null;
  /**
   * The Admin API URL the UI's pages call (Kong's `admin_gui_api_url`), e.g. behind a proxy. Default:
   * the Admin API's address, or for a wildcard one, the name the UI was reached under with the
   * Admin API's port.
   */
  adminGuiApiUrl?: string;
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
  /** `https` when the Admin API has TLS, else `http`. */
  adminScheme: 'http' | 'https';
  /** The cluster stream, unless disabled. */
  cluster: ListenAddress | null;
  /** `wss` when the cluster stream uses mutual TLS, else `ws`. */
  clusterScheme: 'ws' | 'wss';
  /** The Sluice UI, unless disabled. */
  adminGui: ListenAddress | null;
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

/** A listener as Kong's `GET /` shows it under `configuration.*_listeners`. */
function listenerView(address: ListenAddress, ssl = false): Record<string, unknown> {
  return {
    ip: address.host,
    port: address.port,
    ssl,
    http2: false,
    proxy_protocol: false,
    deferred: false,
    reuseport: false,
    bind: false,
    backlog: false,
    ipv6only: false,
    so_keepalive: false,
    listener: formatListenAddress(address),
  };
}

/**
 * The Admin API's URL as a browser reaches it: its address, or for a wildcard address the host
 * name the page came from (`requestHost`, the UI's `Host` header) with the Admin API's port.
 */
export function adminUrlFor(admin: ListenAddress, requestHost: string | undefined): string {
  const isWildcard = admin.host === '0.0.0.0' || admin.host === '::' || admin.host === '';
  if (!isWildcard) return `http://${formatListenAddress(admin)}`;
  let host = '127.0.0.1';
  if (requestHost !== undefined) {
    try {
      host = new URL(`http://${requestHost}`).hostname || host;
    } catch {
      // A Host header that is not one: keep the loopback address.
    }
  }
  return `http://${host}:${admin.port}`;
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
  #expiryJanitor: ExpiredEntityJanitor | null = null;
  #stream: StreamServer | null = null;
  #metrics: ControlPlaneMetrics | null = null;
  #gui: AdminGuiServer | null = null;
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

  /** The Prometheus metrics (also at the Admin API's `GET /metrics`), once started. */
  get metrics(): ControlPlaneMetrics {
    if (!this.#metrics) throw new ClosedError('control plane (not started)');
    return this.#metrics;
  }

  /** Opens the store and starts listening; resolves with the bound addresses. */
  async start(): Promise<ControlPlaneAddresses> {
    const { logger } = this.#options;
    const adminListen = this.#options.adminListen ?? parseListenAddress(DEFAULT_ADMIN_LISTEN);
    const adminAuth = this.#options.adminAuth ?? new AdminAuthenticator();
    assertAdminExposure({ host: adminListen.host, hasTokens: !adminAuth.isOpen, allowOpen: this.#options.adminAllowOpen === true });
    const store =
      this.#options.store ??
      (await openStore({
        databaseUrl: this.#options.databaseUrl,
        dataDir: this.#options.dataDir,
        timeouts: this.#options.databaseTimeouts,
        logger: logger.child({ component: 'store' }),
      }));
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
      const expiryJanitor = new ExpiredEntityJanitor({ store, logger: logger.child({ component: 'expiry-janitor' }) });
      expiryJanitor.start();
      this.#expiryJanitor = expiryJanitor;
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
      const metrics = new ControlPlaneMetrics({
        database: store.health,
        isListening: () => store.isListening,
        poolCounts: () => store.poolCounts(),
        mirror,
        stream: stream ?? undefined,
      });
      this.#metrics = metrics;
      // The UI binds first: its origins join the Admin API's CORS list; the Admin API's bound port
      // is read by the UI per request.
      let adminBound: ListenAddress = adminListen;
      const guiListen = this.#options.adminGuiListen ?? null;
      const guiApiUrl = this.#options.adminGuiApiUrl;
      const gui = guiListen
        ? new AdminGuiServer({
            version: packageVersion(),
            adminApiUrl: guiApiUrl ?? ((requestHost) => adminUrlFor(adminBound, requestHost)),
          })
        : null;
      this.#gui = gui;
      const guiBound = gui && guiListen ? await gui.listen(guiListen) : null;
      const configuration: Record<string, unknown> = {
        admin_listen: [formatListenAddress(adminListen)],
        database: 'postgres',
        embedded_database: store.kind === 'pglite',
        admin_gui_listen: guiBound ? [formatListenAddress(guiBound)] : [],
        admin_gui_listeners: guiBound ? [listenerView(guiBound)] : [],
        admin_gui_api_url: guiApiUrl ?? null,
        admin_gui_origin: [...(this.#options.adminAllowedOrigins ?? [])],
        proxy_listen: [],
        proxy_listeners: [],
      };
      const admin = buildAdminApi({
        store,
        logger,
        limits: this.#options.adminLimits,
        allowedOrigins: [...(this.#options.adminAllowedOrigins ?? []), ...(guiBound ? guiOrigins(guiBound) : [])],
        auth: adminAuth,
        tls: this.#options.adminTls,
        memory: new MirrorEntityReader(mirror),
        observer: (outcome) => metrics.observe(outcome),
        extensions: [
          clusteringApi({ mirror, registry, stream: stream ?? undefined, health: store.health }),
          metricsEndpoint(metrics),
          ...(this.#options.adminExtensions?.(store) ?? []),
        ],
        nodeInfo: { version: packageVersion(), configuration },
      });
      this.#admin = admin;
      await admin.listen({ host: adminListen.host, port: adminListen.port });
      const bound = admin.server.address();
      adminBound = typeof bound === 'object' && bound !== null ? { host: adminListen.host, port: bound.port } : adminListen;
      const cluster = stream && clusterListen ? await stream.listen(clusterListen.host, clusterListen.port) : null;
      const clusterBound = cluster && clusterListen ? { host: clusterListen.host, port: cluster.port } : null;
      // `GET /` reads this object per request: the bound ports are known from here on.
      Object.assign(configuration, {
        admin_listen: [formatListenAddress(adminBound)],
        admin_listeners: [listenerView(adminBound)],
        cluster_listen: clusterBound ? [formatListenAddress(clusterBound)] : [],
        cluster_listeners: clusterBound ? [listenerView(clusterBound, stream?.scheme === 'wss')] : [],
      });
      return { admin: adminBound, adminScheme: this.#options.adminTls ? 'https' : 'http', cluster: clusterBound, clusterScheme: stream?.scheme ?? 'ws', adminGui: guiBound };
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * Stops accepting Admin API requests and lets in-flight ones finish, drains the cluster stream
   * (`StreamServer.close`: GoAway, then up to `streamLimits.drainTimeoutMs` for the data planes to
   * move to another replica), then closes the store. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#isStopped) return;
    this.#isStopped = true;
    const stream = this.#stream;
    this.#stream = null;
    const admin = this.#admin;
    this.#admin = null;
    // At once: the Admin API stops taking requests and finishes those in flight, while the stream
    // drains (GoAway; data planes move to another replica, pushes still flowing until they do). A
    // keep-alive connection whose request finished is closed then, not at its keep-alive timeout.
    const idleSweep = admin ? setInterval(() => admin.server.closeIdleConnections(), IDLE_SWEEP_INTERVAL_MS) : null;
    try {
      await Promise.all([stream?.close(), admin?.close()]);
    } finally {
      if (idleSweep) clearInterval(idleSweep);
    }
    // The disconnections of the data planes just closed, and any batch still waiting, are written.
    await this.#registry?.close();
    this.#mirror?.stop();
    this.#janitor?.stop();
    this.#expiryJanitor?.stop();
    const gui = this.#gui;
    this.#gui = null;
    if (gui) await gui.close();
    const store = this.#store;
    if (store && !this.#options.store) await store.close();
  }
}
