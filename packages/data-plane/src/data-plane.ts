import { EventEmitter } from 'node:events';
import { ENTITY_KINDS, type EntityKind } from '@sluice/protocol';
import { ConfigCache, DEFAULT_CACHE_DIR } from './config/config-cache.js';
import { loadDeclarativeConfig } from './config/declarative-config.js';
import { loadedPluginNames } from './config/loaded-plugins.js';
import { loadOrCreateNodeId } from './config/node-id.js';
import { ConfigOrigin, type RuntimeConfig } from './config/runtime-config.js';
import { ackErrorName, InvalidArgumentError } from './errors.js';
import type { ListenAddress } from './listen-address.js';
import { createPluginEnv, createPluginRuntime } from './config/plugin-runtime.js';
import { BUNDLED_PLUGIN_FACTORIES } from './plugins/plugin-factories.js';
import type { PluginFactory, PluginRuntime } from './plugins/plugin-factory.js';
import { silentLogger, type Logger } from './logger.js';
import { ProxyServer } from './proxy/proxy-server.js';
import type { ProxyServerOptions } from './proxy/proxy-server-options.js';
import { EMPTY_TRAFFIC_SNAPSHOT, type TrafficSnapshot } from './proxy/traffic-stats.js';
import { RateLimitService } from './rate-limiting/rate-limit-service.js';
import { DataPlaneMetrics } from './status/data-plane-metrics.js';
import { StatusServer, type StatusView } from './status/status-server.js';
import type { ClusterTls } from './sync/cluster-tls.js';
import { SyncClient, type AppliedChange, type SyncClientOptions } from './sync/sync-client.js';
import { ProxyWorkerPool } from './workers/proxy-worker-pool.js';
import { deltaMessage, snapshotMessage } from './workers/worker-messages.js';

/** Options of `DataPlane`. */
export interface DataPlaneOptions {
  /**
   * The control plane origin, e.g. `ws://127.0.0.1:8005`, or the origins of several replicas
   * (failover between them, see `SyncClient`). Null/absent/empty: no control plane (declarative or
   * cache only).
   */
  readonly controlPlane?: string | readonly string[] | null;
  /**
   * Mutual TLS toward the control plane (`ClusterTls.fromFiles(...)`; needs a `wss://` origin):
   * the client certificate to present and how the control plane's certificate is verified.
   */
  readonly clusterTls?: ClusterTls | null;
  /** A declarative config file to serve instead of a control plane (DB-less mode). Exclusive with `controlPlane`. */
  readonly declarativeConfig?: string | null;
  /** Where the proxy listens (default none: no proxy in this process). */
  readonly proxyListen?: ListenAddress | null;
  /** Where the status server listens (default none). */
  readonly statusListen?: ListenAddress | null;
  /** The cache directory (default `.sluice/dp`). */
  readonly cacheDir?: string;
  /** The node id (default: the UUID persisted in the cache directory, created on first start). */
  readonly nodeId?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly buildVersion?: string;
  /**
   * Proxy worker processes (node:cluster; default 0 = the proxy runs in this process). With N > 0
   * this process keeps the one sync client, cache and status server, and forks N workers that run
   * the proxy on the shared port and receive each applied change over IPC (`workers/worker-messages.ts`).
   * The workers run `workerExec` (default: this process's script, i.e. the CLI) with the same
   * arguments; it must call `runProxyWorker` when `cluster.isWorker`.
   */
  readonly workers?: number;
  readonly workerExec?: string;
  readonly logger?: Logger;
  /** Proxy tuning (limits, timeouts, trusted IPs). */
  readonly proxy?: ProxyServerOptions;
  /** Sync tuning, for tests and unusual networks. */
  readonly sync?: Partial<Pick<SyncClientOptions, 'backoff' | 'heartbeatGraceMs' | 'maxFrameBytes' | 'resetAfterMs' | 'instanceId' | 'applySliceMs'>>;
  /** Least time between cache writes, in ms (default `CACHE_WRITE_INTERVAL_MS`). */
  readonly cacheWriteIntervalMs?: number;
  /**
   * The plugins this data plane runs (`--plugins`; default every bundled plugin,
   * `BUNDLED_PLUGIN_FACTORIES`). Hello announces their names (capability negotiation), and a
   * config (pushed, cached or declarative) naming any other plugin is refused, never served with
   * the plugin skipped. Their handlers share one environment per process, this data plane's
   * (its rate-limit counters included); proxy workers make their own.
   */
  readonly pluginFactories?: ReadonlyMap<string, PluginFactory>;
  /** Entries of the rate-limiting local counter table (default `DEFAULT_LOCAL_COUNTER_CAPACITY`, 100,000). */
  readonly rateLimitCounterCapacity?: number;
}

/** Events of a DataPlane. */
export interface DataPlaneEvents {
  /** A new config is served (from the cache, the control plane or a declarative file). */
  config: [config: RuntimeConfig];
}

/**
 * One data plane: composes the disk cache, the status server, the proxy (in-process or in
 * workers) and the sync client, and owns the one reference to the serving config. Start order is
 * cache → status → proxy → sync, so a valid cache is served (and `/status/ready` says so) before
 * the control plane answers. `close()` stops the sync, drains the proxy, flushes the cache and
 * stops the status server.
 */
export class DataPlane extends EventEmitter<DataPlaneEvents> {
  readonly nodeId: string;
  readonly cache: ConfigCache;
  readonly metrics: DataPlaneMetrics;
  /** The sync client, or null without a control plane. */
  readonly sync: SyncClient | null;
  /** The names of the plugins this data plane runs (`DataPlaneOptions.pluginFactories`): what its Hello announces. */
  readonly loadedPlugins: ReadonlySet<string>;
  /**
   * The rate-limiting counters of this data plane: the local table and the Redis connections.
   * In this process with the in-process proxy; with `--workers` the workers count through it.
   */
  readonly rateLimits: RateLimitService;
  /** The plugin runtime of every apply of this process (`pluginFactories` and the shared env). */
  private readonly plugins: PluginRuntime;
  private currentConfig: RuntimeConfig | null = null;
  private readonly options: DataPlaneOptions;
  private readonly logger: Logger;
  private proxy: ProxyServer | null = null;
  private statusServer: StatusServer | null = null;
  private readonly workerPool: ProxyWorkerPool | null;
  private proxyAddressValue: ListenAddress | null = null;
  private statusAddressValue: ListenAddress | null = null;
  private closing: Promise<void> | null = null;

  private constructor(options: DataPlaneOptions, nodeId: string, cache: ConfigCache, plugins: PluginRuntime, rateLimits: RateLimitService) {
    super();
    this.options = options;
    this.logger = options.logger ?? silentLogger;
    this.nodeId = nodeId;
    this.cache = cache;
    this.plugins = plugins;
    this.loadedPlugins = loadedPluginNames(plugins);
    this.rateLimits = rateLimits;
    this.metrics = new DataPlaneMetrics({
      configVersion: () => this.currentConfig?.version ?? null,
      configAppliedAtMs: () => this.currentConfig?.appliedAtMs ?? null,
      isControlPlaneConnected: () => this.sync?.state === 'connected',
      isReady: () => this.isReady(),
      routeCount: () => this.currentConfig?.routes.size ?? 0,
      serviceCount: () => this.currentConfig?.services.size ?? 0,
      entityCounts: () => entityCounts(this.currentConfig),
      trafficSnapshot: () => this.trafficSnapshot(),
      rateLimiting: () => this.rateLimits.status(),
    });
    this.workerPool =
      (options.workers ?? 0) > 0 ? new ProxyWorkerPool({ count: options.workers!, exec: options.workerExec, getConfig: () => this.currentConfig, rateLimits: this.rateLimits, logger: this.logger }) : null;
    this.sync = hasControlPlane(options)
      ? new SyncClient({
          url: options.controlPlane!,
          tls: options.clusterTls ?? undefined,
          nodeId,
          labels: options.labels,
          buildVersion: options.buildVersion,
          logger: this.logger,
          getConfig: () => this.currentConfig,
          commit: (config, change) => this.commit(config, change),
          plugins,
          ...options.sync,
        })
      : null;
    if (this.sync) {
      // One push is applied at a time: its start, to time it when it is ACKed or NACKed.
      let applying: { nonce: number; kind: string; startMs: number } | null = null;
      const observeApply = (nonce: number, result: 'applied' | 'rejected') => {
        if (applying === null || applying.nonce !== nonce) return;
        this.metrics.applyDuration.observe({ kind: applying.kind, result }, (performance.now() - applying.startMs) / 1000);
        applying = null;
      };
      this.sync.on('applying', ({ nonce, kind }) => (applying = { nonce, kind, startMs: performance.now() }));
      this.sync.on('applied', ({ nonce }) => observeApply(nonce, 'applied'));
      this.sync.on('rejected', ({ error, nonce }) => {
        this.metrics.rejections.inc({ error: ackErrorName(error.ackError) });
        observeApply(nonce, 'rejected');
      });
      this.sync.on('disconnected', ({ retryInMs }) => {
        // A push in flight on a closed connection is abandoned, not ACKed: nothing to time.
        applying = null;
        if (retryInMs !== null) this.metrics.reconnects.inc();
      });
    }
  }

  /** Starts a data plane: cache, status, proxy, sync, in that order. Closes what it opened if a step fails. */
  static async start(options: DataPlaneOptions): Promise<DataPlane> {
    if (hasControlPlane(options) && options.declarativeConfig) {
      throw new InvalidArgumentError('--control-plane and --declarative-config are exclusive: a declarative config is served without a control plane');
    }
    const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
    const logger = options.logger ?? silentLogger;
    // One runtime for every apply of this process (pushed, cached, declarative): its handlers share
    // one env, whose rate-limit counters are this data plane's (the fleet size comes from its sync client).
    let connectedDataPlanes: () => number | null = () => null;
    const rateLimits = new RateLimitService({ logger, localCapacity: options.rateLimitCounterCapacity, connectedDataPlanes: () => connectedDataPlanes() });
    const plugins = createPluginRuntime(options.pluginFactories ?? BUNDLED_PLUGIN_FACTORIES, createPluginEnv({ logger, rateLimitCounters: rateLimits }));
    const cache = new ConfigCache({ dir: cacheDir, logger, writeIntervalMs: options.cacheWriteIntervalMs, plugins });
    await cache.open();
    const nodeId = options.nodeId ?? (await loadOrCreateNodeId(cacheDir));
    const dp = new DataPlane(options, nodeId, cache, plugins, rateLimits);
    connectedDataPlanes = () => dp.sync?.connectedDataPlanes ?? null;
    try {
      await dp.boot();
    } catch (err) {
      await dp.close().catch(() => undefined);
      throw err;
    }
    return dp;
  }

  private async boot(): Promise<void> {
    const options = this.options;
    if (options.declarativeConfig) {
      const config = await loadDeclarativeConfig(options.declarativeConfig, { plugins: this.plugins });
      this.swap(config);
      this.metrics.applies.inc({ kind: 'declarative' });
      this.logger.info({ file: options.declarativeConfig, routes: config.routes.size, services: config.services.size, hash: config.hashHex }, 'serving the declarative config');
    } else {
      const loaded = await this.cache.load();
      if (loaded.config) {
        this.swap(loaded.config);
        this.metrics.applies.inc({ kind: 'cache' });
        this.logger.info({ file: loaded.file, epoch: loaded.config.epoch, version: loaded.config.version, routes: loaded.config.routes.size }, 'serving the cached config');
      } else if (loaded.errors.length === 0) {
        this.logger.info({ dir: this.cache.dir }, 'no cached config; not ready until the control plane sends one');
      }
    }
    if (options.statusListen) {
      this.statusServer = new StatusServer({ source: this, metrics: this.metrics, logger: this.logger });
      this.statusAddressValue = await this.statusServer.listen(options.statusListen.host, options.statusListen.port);
    }
    if (options.proxyListen) {
      if (this.workerPool) {
        this.proxyAddressValue = await this.workerPool.start(options.proxyListen);
      } else {
        this.proxy = new ProxyServer({ ...options.proxy, logger: options.proxy?.logger ?? this.logger, getConfig: () => this.currentConfig });
        this.proxyAddressValue = await this.proxy.listen(options.proxyListen.host, options.proxyListen.port);
      }
    }
    this.sync?.start();
  }

  /** The serving config, or null before one is loaded. */
  get config(): RuntimeConfig | null {
    return this.currentConfig;
  }

  /** Where the proxy listens (null without a proxy). */
  get proxyAddress(): ListenAddress | null {
    return this.proxyAddressValue;
  }

  /** Where the status server listens (null without one). */
  get statusAddress(): ListenAddress | null {
    return this.statusAddressValue;
  }

  /** True once a config is loaded (from the control plane, the cache or a declarative file). */
  isReady(): boolean {
    return this.currentConfig !== null;
  }

  /** The proxied traffic counted so far: the in-process proxy's, or the merge of the workers'. */
  trafficSnapshot(): TrafficSnapshot | Promise<TrafficSnapshot> {
    if (this.workerPool) return this.workerPool.trafficSnapshot();
    return this.proxy?.trafficSnapshot() ?? EMPTY_TRAFFIC_SNAPSHOT;
  }

  private applyingView(): NonNullable<StatusView['control_plane']>['applying'] {
    const applying = this.sync?.applying ?? null;
    return applying === null ? null : { nonce: applying.nonce, kind: applying.kind, since: new Date(applying.sinceMs).toISOString() };
  }

  /** The body of `GET /status`. */
  status(): StatusView {
    const config = this.currentConfig;
    const syncError = this.sync?.lastError ?? null;
    const cacheError = this.cache.lastError;
    let lastError: StatusView['last_error'] = null;
    if (syncError && (!cacheError || syncError.atMs >= this.cache.lastErrorAtMs)) {
      lastError = { code: syncError.code, message: syncError.message, at: new Date(syncError.atMs).toISOString() };
    } else if (cacheError) {
      lastError = { code: cacheError.code, message: cacheError.message, at: new Date(this.cache.lastErrorAtMs).toISOString() };
    }
    return {
      node_id: this.nodeId,
      epoch: config?.epoch ?? null,
      version: config?.version ?? null,
      hash: config?.hashHex ?? null,
      ready: config !== null,
      config_source: config?.source ?? null,
      config_applied_at: config ? new Date(config.appliedAtMs).toISOString() : null,
      control_plane: this.sync
        ? {
            state: this.sync.state,
            since: new Date(this.sync.stateSinceMs).toISOString(),
            url: this.sync.url,
            urls: this.sync.urls,
            instance_id: this.sync.cpInstanceId,
            applying: this.applyingView(),
            missing_plugins: this.sync.missingPlugins,
          }
        : null,
      control_plane_head: this.sync?.head ?? null,
      last_error: lastError,
      routes: config?.routes.size ?? 0,
      services: config?.services.size ?? 0,
      entities: entityCounts(config),
      loaded_plugins: [...this.loadedPlugins].sort(),
      rate_limiting: this.rateLimits.status(),
    };
  }

  /** The sync client's commit: swap, persist (coalesced), forward to workers. */
  private commit(config: RuntimeConfig, change: AppliedChange): void {
    const previous = this.currentConfig;
    this.swap(config);
    // A delta is journaled (its record appended) rather than the whole config rewritten.
    this.cache.schedule(config, change.kind === 'delta' ? change.delta : undefined);
    this.metrics.applies.inc({ kind: change.kind });
    if (this.workerPool) {
      if (change.kind === 'delta' && previous && previous.epoch === change.delta.epoch && previous.version === change.delta.fromVersion) {
        this.workerPool.broadcast(deltaMessage(change.delta));
      } else {
        this.workerPool.broadcast(snapshotMessage(config));
      }
    }
  }

  private swap(config: RuntimeConfig): void {
    this.currentConfig = config;
    if (this.workerPool && config.source !== ConfigOrigin.CONTROL_PLANE) this.workerPool.broadcast(snapshotMessage(config));
    this.emit('config', config);
  }

  /** Stops the sync, drains the proxy, flushes the cache, stops the status server. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.sync?.stop();
      await this.proxy?.close();
      await this.workerPool?.stop();
      await this.cache.close();
      await this.rateLimits.close();
      await this.statusServer?.close();
    })();
    return this.closing;
  }
}

/** Whether the options name a control plane (one origin or a non-empty list). */
function hasControlPlane(options: DataPlaneOptions): boolean {
  const cp = options.controlPlane;
  return typeof cp === 'string' ? cp !== '' : (cp?.length ?? 0) > 0;
}

/** How many entities of each kind `config` holds (every kind of the registry; 0 without a config). */
function entityCounts(config: RuntimeConfig | null): Record<EntityKind, number> {
  return Object.fromEntries(ENTITY_KINDS.map((kind) => [kind, config?.entities[kind].size ?? 0])) as Record<EntityKind, number>;
}
