/**
 * The data plane's public API: what `test/`, `bench/`, the CLI's embedders and tools may import.
 * Nothing else: the parts `DataPlane` composes (sync sessions, the stream transport, the push
 * pipeline, the worker pool and its IPC messages, the status server, the backoff, the cache's
 * atomic writer, `ImmutableMap`, the proxy's internals) are imported by relative path, by the
 * package's own code and tests, so they can change without a breaking release.
 *
 * What is here, and why:
 * - `DataPlane` with its options and events, `runProxyWorker` (a `--workers` embedder must call it
 *   in its worker processes), `ListenAddress`, `ClusterTls` (the `clusterTls` option), `Logger`.
 * - The types of what `DataPlane` exposes (`config`, `sync`, `status()`, `trafficSnapshot()`), so
 *   an embedder can name them; `ConfigOrigin` and `ConnectionState` are the values they compare.
 * - Every error class and code (`DataPlaneErrorCode`, `AckError`, `ResourceErrorCode`), as
 *   `docs/errors.md` lists them: callers branch on codes.
 * - Limits a caller sets or waits on: the defaults of `DataPlaneOptions` fields (cache dir and
 *   write interval, heartbeat grace, apply slice, backoff) and the bounds of what `DataPlane` does
 *   (`CACHE_MAX_LAG_MS`, the worker start, restart and traffic-scrape bounds).
 * - `ConfigCache` (`DataPlane.cache`, and the way to seed a cache directory) and the cache file
 *   format (`decodeCacheFile`, file names, magic and version), for tools that read a cache dir, and
 *   the journal's bounds (the defaults of `ConfigCacheOptions.journalLimits`).
 * - The declarative (DB-less) loader.
 * - The building blocks `bench/` measures, usable on their own: `Router`, `ProxyServer` (to embed
 *   a proxy with a config of one's own), `applySnapshot` / `snapshotSteps` / `deltaSteps` /
 *   `runStepsSliced`.
 * - The plugin runtime (`DataPlaneOptions.plugins`): the bundled factories and how to make a
 *   runtime of a subset of them (Kong's `plugins` setting).
 */
export { DataPlane, type DataPlaneOptions, type DataPlaneEvents } from './data-plane.js';
export type { ListenAddress } from './listen-address.js';
export { runProxyWorker, type ProxyWorkerOptions } from './workers/proxy-worker.js';
export { WORKER_START_TIMEOUT_MS, MAX_WORKER_RESTARTS_PER_MINUTE, TRAFFIC_STATS_TIMEOUT_MS } from './workers/proxy-worker-pool.js';
export {
  DataPlaneError,
  DataPlaneErrorCode,
  ConfigRejectedError,
  CacheCorruptError,
  CacheIoError,
  DeclarativeConfigError,
  SyncProtocolError,
  SyncConnectionError,
  SyncTlsError,
  InvalidArgumentError,
  LifecycleError,
  ResourceErrorCode,
  AckError,
  ackErrorName,
  type ResourceErrorView,
} from './errors.js';
export { silentLogger, type Logger } from './logger.js';
export { RuntimeConfig, ConfigOrigin } from './config/runtime-config.js';
export { applySnapshot, snapshotSteps, type ApplyOptions, type ApplyResult, type ConfigTarget } from './config/apply-snapshot.js';
export { deltaSteps, type DeltaInput } from './config/apply-delta.js';
export { runStepsSliced, StepsCancelledError, APPLY_SLICE_MS, type Steps, type SliceOptions } from './steps.js';
export {
  ConfigCache,
  DEFAULT_CACHE_DIR,
  CACHE_FILE_NAME,
  CACHE_PREVIOUS_FILE_NAME,
  CACHE_JOURNAL_FILE_NAME,
  CACHE_WRITE_INTERVAL_MS,
  CACHE_MAX_LAG_MS,
  type ConfigCacheOptions,
  type CacheLoadResult,
  type CachedState,
  type ScheduledDelta,
} from './config/config-cache.js';
export { CACHE_JOURNAL_MAX_RECORDS, CACHE_JOURNAL_MAX_BYTES, CACHE_JOURNAL_MAX_APPEND_BYTES, type JournalLimits } from './config/cache-journal.js';
export { encodeCacheFile, decodeCacheFile, CACHE_MAGIC, CACHE_FORMAT_VERSION, MAX_CACHE_EPOCH_BYTES, type CacheFileContents } from './config/cache-file.js';
export { NODE_ID_FILE_NAME } from './config/node-id.js';
export { buildDeclarativeConfig, loadDeclarativeConfig, parseDeclarativeText, DECLARATIVE_EPOCH, MAX_DECLARATIVE_CONFIG_BYTES } from './config/declarative-config.js';
export { ConnectionState, type SyncClient, type SyncClientOptions, type SyncClientEvents, type AppliedChange, type SyncErrorView, type PushInFlight } from './sync/sync-client.js';
export { HEARTBEAT_GRACE_MS } from './sync/sync-session.js';
export { RECONNECT_BASE_MS, RECONNECT_CAP_MS, RECONNECT_RESET_AFTER_MS, type ReconnectBackoffOptions } from './sync/reconnect-backoff.js';
export { ClusterTls, ClusterMtlsMode, type ClusterTlsOptions, type ClusterTlsFiles } from './sync/cluster-tls.js';
export type { StatusView } from './status/status-server.js';
export type { DataPlaneMetrics } from './status/data-plane-metrics.js';
export { Router, type RouterRequest, type RouteMatch, type RouterChange } from './router/router.js';
export { ProxyServer, type ProxyConfig } from './proxy/proxy-server.js';
export { BUNDLED_PLUGIN_FACTORIES } from './plugins/plugin-factories.js';
export { createPluginEnv, createPluginRuntime, defaultPluginRuntime, type PluginEnvOptions } from './config/plugin-runtime.js';
export type { PluginEnv, PluginFactory, PluginRuntime, PluginLogger } from './plugins/plugin-factory.js';
export { PROXY_SERVER_DEFAULTS, type ProxyServerOptions } from './proxy/proxy-server-options.js';
export type { TrafficSnapshot } from './proxy/traffic-stats.js';
