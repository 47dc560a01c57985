import cluster, { type Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { ConfigCache, DEFAULT_CACHE_DIR } from './config/config-cache.js';
import { ConfigFollower, deltaMessage, isConfigChannelMessage, snapshotMessage, type ConfigChannelMessage } from './workers/config-follower.js';
import { loadDeclarativeConfig } from './config/declarative-config.js';
import { loadOrCreateNodeId } from './config/node-id.js';
import { ConfigOrigin, type RuntimeConfig } from './config/runtime-config.js';
import { ackErrorName, InvalidArgumentError, LifecycleError } from './errors.js';
import { silentLogger, type Logger } from './logger.js';
import { ProxyServer } from './proxy/proxy-server.js';
import type { ProxyServerOptions } from './proxy/proxy-server-options.js';
import { EMPTY_TRAFFIC_SNAPSHOT, mergeTrafficSnapshots, type TrafficSnapshot } from './proxy/traffic-stats.js';
import { DataPlaneMetrics } from './status/data-plane-metrics.js';
import { StatusServer, type StatusView } from './status/status-server.js';
import { SyncClient, type AppliedChange, type SyncClientOptions } from './sync/sync-client.js';
import type { ClusterTls } from './sync/cluster-tls.js';

/** A host and port to listen on (port 0 picks a free port). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** How long proxy workers may take to start listening, in ms (default 30 s). */
export const WORKER_START_TIMEOUT_MS = 30_000;

/** Most proxy worker restarts per minute (default 10); a worker crashing faster is left down and logged. */
export const MAX_WORKER_RESTARTS_PER_MINUTE = 10;

/**
 * How long a `/metrics` scrape waits for the proxy workers' traffic counts, in ms (default 2 s). A
 * worker that has not answered by then is logged and counted with the counts it sent last.
 */
export const TRAFFIC_STATS_TIMEOUT_MS = 2_000;

/** Options of `DataPlane`. */
export interface DataPlaneOptions {
  /** The control plane origin, e.g. `ws://127.0.0.1:8005`. Null/absent: no control plane (declarative or cache only). */
  readonly controlPlane?: string | null;
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
   * the proxy on the shared port and receive each applied change over IPC (see `ConfigChannelMessage`).
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
  private currentConfig: RuntimeConfig | null = null;
  private readonly options: DataPlaneOptions;
  private readonly logger: Logger;
  private proxy: ProxyServer | null = null;
  private statusServer: StatusServer | null = null;
  private readonly workerPool: ProxyWorkerPool | null;
  private proxyAddressValue: ListenAddress | null = null;
  private statusAddressValue: ListenAddress | null = null;
  private closing: Promise<void> | null = null;

  private constructor(options: DataPlaneOptions, nodeId: string, cache: ConfigCache) {
    super();
    this.options = options;
    this.logger = options.logger ?? silentLogger;
    this.nodeId = nodeId;
    this.cache = cache;
    this.metrics = new DataPlaneMetrics({
      configVersion: () => this.currentConfig?.version ?? null,
      configAppliedAtMs: () => this.currentConfig?.appliedAtMs ?? null,
      isControlPlaneConnected: () => this.sync?.state === 'connected',
      isReady: () => this.isReady(),
      routeCount: () => this.currentConfig?.routes.size ?? 0,
      serviceCount: () => this.currentConfig?.services.size ?? 0,
      trafficSnapshot: () => this.trafficSnapshot(),
    });
    this.workerPool = (options.workers ?? 0) > 0 ? new ProxyWorkerPool(options.workers!, options.workerExec, () => this.currentConfig, this.logger) : null;
    this.sync = options.controlPlane
      ? new SyncClient({
          url: options.controlPlane,
          tls: options.clusterTls ?? undefined,
          nodeId,
          labels: options.labels,
          buildVersion: options.buildVersion,
          logger: this.logger,
          getConfig: () => this.currentConfig,
          commit: (config, change) => this.commit(config, change),
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
    if (options.controlPlane && options.declarativeConfig) {
      throw new InvalidArgumentError('--control-plane and --declarative-config are exclusive: a declarative config is served without a control plane');
    }
    const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
    const logger = options.logger ?? silentLogger;
    const cache = new ConfigCache({ dir: cacheDir, logger, writeIntervalMs: options.cacheWriteIntervalMs });
    await cache.open();
    const nodeId = options.nodeId ?? (await loadOrCreateNodeId(cacheDir));
    const dp = new DataPlane(options, nodeId, cache);
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
      const config = await loadDeclarativeConfig(options.declarativeConfig);
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
      control_plane: this.sync ? { state: this.sync.state, since: new Date(this.sync.stateSinceMs).toISOString(), url: this.sync.url, applying: this.applyingView() } : null,
      control_plane_head: this.sync?.head ?? null,
      last_error: lastError,
      routes: config?.routes.size ?? 0,
      services: config?.services.size ?? 0,
    };
  }

  /** The sync client's commit: swap, persist (coalesced), forward to workers. */
  private commit(config: RuntimeConfig, change: AppliedChange): void {
    const previous = this.currentConfig;
    this.swap(config);
    this.cache.schedule(config);
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
      await this.statusServer?.close();
    })();
    return this.closing;
  }
}

/** Messages between the primary and a proxy worker, besides the config channel's. */
type WorkerControlMessage =
  | { readonly type: 'sluice:worker-listening'; readonly host: string; readonly port: number }
  | { readonly type: 'sluice:worker-stop' }
  /** The primary asks for the worker's traffic counts (a scrape of /metrics). */
  | { readonly type: 'sluice:traffic-stats-request'; readonly id: number }
  /** The worker's answer: everything it has counted since it started. */
  | { readonly type: 'sluice:traffic-stats'; readonly id: number; readonly snapshot: TrafficSnapshot };

/** One scrape's collection of the workers' traffic counts. */
interface TrafficRound {
  readonly id: number;
  answered(worker: Worker): void;
  gone(worker: Worker): void;
}

/**
 * The proxy workers of a data plane (`--workers N`): forks them, sends each the serving config
 * when it comes online and every change after, answers their resync requests, and restarts a
 * crashed worker (at most `MAX_WORKER_RESTARTS_PER_MINUTE`).
 */
class ProxyWorkerPool {
  private readonly workers = new Set<Worker>();
  private isStopping = false;
  private restarts: number[] = [];
  private listen: ListenAddress | null = null;
  /** Each live worker's last traffic counts, used when it misses a scrape's deadline. */
  private readonly lastTraffic = new Map<Worker, TrafficSnapshot>();
  /** The last counts of exited workers, so the merged counters never go down when one is restarted. */
  private retiredTraffic: TrafficSnapshot = EMPTY_TRAFFIC_SNAPSHOT;
  private trafficRound: TrafficRound | null = null;
  private collecting: Promise<TrafficSnapshot> | null = null;
  private nextTrafficRoundId = 1;

  constructor(
    private readonly count: number,
    private readonly exec: string | undefined,
    private readonly getConfig: () => RuntimeConfig | null,
    private readonly logger: Logger,
  ) {}

  async start(listen: ListenAddress): Promise<ListenAddress> {
    if (!cluster.isPrimary) throw new LifecycleError('proxy workers can only be forked by the primary process');
    this.listen = listen;
    if (this.exec) cluster.setupPrimary({ exec: this.exec });
    const addresses = Array.from({ length: this.count }, () => this.fork());
    const timeout = new Promise<never>((_, reject) => {
      const t = setTimeout(() => reject(new LifecycleError(`proxy workers did not listen within ${WORKER_START_TIMEOUT_MS} ms`)), WORKER_START_TIMEOUT_MS);
      t.unref();
    });
    const bound = await Promise.race([Promise.all(addresses), timeout]);
    return bound[0];
  }

  private fork(): Promise<ListenAddress> {
    const worker = cluster.fork({ SLUICE_DP_WORKER: '1', SLUICE_DP_WORKER_LISTEN: `${this.listen!.host}:${this.listen!.port}` });
    this.workers.add(worker);
    return new Promise((resolve, reject) => {
      worker.on('message', (message: ConfigChannelMessage | WorkerControlMessage) => {
        if (message?.type === 'sluice:worker-listening') resolve({ host: message.host, port: message.port });
        else if (message?.type === 'sluice:traffic-stats') this.onTraffic(worker, message.id, message.snapshot);
        else if (isConfigChannelMessage(message) && message.type === 'sluice:config-resync') {
          const config = this.getConfig();
          worker.send(config ? snapshotMessage(config) : { type: 'sluice:config-none' });
        }
      });
      worker.on('exit', (code, signal) => {
        this.workers.delete(worker);
        this.retireTraffic(worker);
        reject(new LifecycleError(`proxy worker exited before listening (code ${code}, signal ${signal})`));
        if (this.isStopping) return;
        const now = Date.now();
        this.restarts = this.restarts.filter((t) => now - t < 60_000);
        if (this.restarts.length >= MAX_WORKER_RESTARTS_PER_MINUTE) {
          this.logger.error({ code, signal }, 'proxy worker died; too many restarts in the last minute, leaving it down');
          return;
        }
        this.restarts.push(now);
        this.logger.warn({ code, signal }, 'proxy worker died; restarting it');
        this.fork().catch((err: unknown) => this.logger.error({ err }, 'proxy worker restart failed'));
      });
    });
  }

  /**
   * The workers' traffic counts merged (plus those of exited workers), asked over IPC. Waits at
   * most {@link TRAFFIC_STATS_TIMEOUT_MS}; concurrent scrapes share one round.
   */
  trafficSnapshot(): Promise<TrafficSnapshot> {
    this.collecting ??= this.collectTraffic().finally(() => {
      this.collecting = null;
    });
    return this.collecting;
  }

  private collectTraffic(): Promise<TrafficSnapshot> {
    const id = this.nextTrafficRoundId++;
    const waiting = new Set([...this.workers].filter((worker) => worker.isConnected()));
    return new Promise((resolve) => {
      let isFinished = false;
      const finish = (): void => {
        if (isFinished) return;
        isFinished = true;
        clearTimeout(timer);
        this.trafficRound = null;
        if (waiting.size > 0) {
          this.logger.warn({ workers: [...waiting].map((w) => w.process.pid), timeoutMs: TRAFFIC_STATS_TIMEOUT_MS }, 'proxy workers did not send their traffic counts in time; using the last they sent');
        }
        resolve(mergeTrafficSnapshots([this.retiredTraffic, ...this.lastTraffic.values()]));
      };
      const timer = setTimeout(finish, TRAFFIC_STATS_TIMEOUT_MS);
      this.trafficRound = {
        id,
        answered: (worker) => {
          if (waiting.delete(worker) && waiting.size === 0) finish();
        },
        gone: (worker) => {
          if (waiting.delete(worker) && waiting.size === 0) finish();
        },
      };
      for (const worker of waiting) worker.send({ type: 'sluice:traffic-stats-request', id } satisfies WorkerControlMessage);
      if (waiting.size === 0) finish();
    });
  }

  private onTraffic(worker: Worker, id: number, snapshot: TrafficSnapshot): void {
    if (!this.workers.has(worker)) return;
    this.lastTraffic.set(worker, snapshot);
    if (this.trafficRound?.id === id) this.trafficRound.answered(worker);
  }

  /** Keeps an exited worker's last counts (its gauges dropped): the totals stay monotonic. */
  private retireTraffic(worker: Worker): void {
    const last = this.lastTraffic.get(worker);
    this.lastTraffic.delete(worker);
    if (last !== undefined) this.retiredTraffic = mergeTrafficSnapshots([this.retiredTraffic, { ...last, inFlight: 0, tunnels: 0, upstreams: [] }]);
    this.trafficRound?.gone(worker);
  }

  broadcast(message: ConfigChannelMessage): void {
    for (const worker of this.workers) if (worker.isConnected()) worker.send(message);
  }

  async stop(): Promise<void> {
    this.isStopping = true;
    await Promise.all(
      [...this.workers].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            if (worker.isConnected()) worker.send({ type: 'sluice:worker-stop' } satisfies WorkerControlMessage);
            else worker.kill();
          }),
      ),
    );
  }
}

/**
 * The body of a proxy worker process (`--workers N`): serves the proxy on the shared port with the
 * config the primary sends over IPC, and drains and exits when the primary says stop (or on
 * SIGTERM/SIGINT). Returns once listening.
 */
export async function runProxyWorker(options: { listen: ListenAddress; proxy?: ProxyServerOptions; logger?: Logger }): Promise<void> {
  if (!cluster.isWorker || !process.send) throw new LifecycleError('runProxyWorker runs in a node:cluster worker');
  const logger = options.logger ?? silentLogger;
  const port = { send: (m: ConfigChannelMessage) => process.send!(m) };
  const follower = new ConfigFollower(port, logger);
  const proxy = new ProxyServer({ ...options.proxy, logger: options.proxy?.logger ?? logger, getConfig: () => follower.current });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void proxy.close().finally(() => process.exit(0));
  };
  process.on('message', (message: unknown) => {
    if (follower.handle(message)) return;
    const control = message as WorkerControlMessage | null;
    if (control?.type === 'sluice:worker-stop') stop();
    else if (control?.type === 'sluice:traffic-stats-request' && process.connected) {
      process.send!({ type: 'sluice:traffic-stats', id: control.id, snapshot: proxy.trafficSnapshot() } satisfies WorkerControlMessage);
    }
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Listen only once the primary's config is here (or it said it has none), so a worker never
  // answers 503 while the primary is ready.
  await follower.requestInitial();
  const address = await proxy.listen(options.listen.host, options.listen.port);
  process.send({ type: 'sluice:worker-listening', host: address.host, port: address.port } satisfies WorkerControlMessage);
}
