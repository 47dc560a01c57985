/** The data plane's public API: what `test/`, `bench/` and embedders may import. */
export { DataPlane, runProxyWorker, WORKER_START_TIMEOUT_MS, MAX_WORKER_RESTARTS_PER_MINUTE, TRAFFIC_STATS_TIMEOUT_MS, type DataPlaneOptions, type DataPlaneEvents, type ListenAddress } from './data-plane.js';
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
export { RuntimeConfig, ConfigSource, resourceKey, type ConfigResource, type RuntimeConfigParts } from './config/runtime-config.js';
export { ImmutableMap } from './config/immutable-map.js';
export { applySnapshot, snapshotSteps, type ApplyOptions, type ApplyResult, type ConfigTarget } from './config/apply-snapshot.js';
export { applyDelta, deltaSteps, type DeltaInput } from './config/apply-delta.js';
export { runSteps, runStepsSliced, StepsCancelledError, APPLY_SLICE_MS, type Steps, type SliceOptions } from './steps.js';
export { MAX_RESOURCE_ERRORS } from './config/entity-checks.js';
export {
  ConfigCache,
  DEFAULT_CACHE_DIR,
  CACHE_FILE_NAME,
  CACHE_PREVIOUS_FILE_NAME,
  CACHE_WRITE_INTERVAL_MS,
  CACHE_MAX_LAG_MS,
  type ConfigCacheOptions,
  type CacheLoadResult,
  type CachedState,
} from './config/config-cache.js';
export { encodeCacheFile, decodeCacheFile, CACHE_MAGIC, CACHE_FORMAT_VERSION, MAX_CACHE_EPOCH_BYTES, type CacheFileContents } from './config/cache-file.js';
export { writeFileAtomic, WriteStep, type WriteFileAtomicOptions } from './config/write-file-atomic.js';
export { loadOrCreateNodeId, NODE_ID_FILE_NAME } from './config/node-id.js';
export { buildDeclarativeConfig, loadDeclarativeConfig, DECLARATIVE_EPOCH, MAX_DECLARATIVE_CONFIG_BYTES } from './config/declarative-config.js';
export { ConfigFollower, snapshotMessage, deltaMessage, isConfigChannelMessage, type ConfigChannelMessage, type ConfigChannelPort } from './config/config-channel.js';
export {
  SyncClient,
  ConnectionState,
  STREAM_PATH,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_GRACE_MS,
  CONNECT_TIMEOUT_MS,
  HELLO_ACK_TIMEOUT_MS,
  CLOSE_TIMEOUT_MS,
  type SyncClientOptions,
  type SyncClientEvents,
  type AppliedChange,
  type SyncErrorView,
  type PushInFlight,
} from './sync/sync-client.js';
export { ReconnectBackoff, RECONNECT_BASE_MS, RECONNECT_CAP_MS, RECONNECT_RESET_AFTER_MS, type ReconnectBackoffOptions } from './sync/reconnect-backoff.js';
export { StatusServer, DEFAULT_STATUS_LISTEN, STATUS_REQUEST_TIMEOUT_MS, type StatusView, type StatusSource, type StatusServerOptions } from './status/status-server.js';
export { DataPlaneMetrics, type MetricsSource } from './status/data-plane-metrics.js';
export { Router, type RouterRequest, type RouteMatch, type RouterChange } from './router/router.js';
export { ProxyServer, type ProxyConfig } from './proxy/proxy-server.js';
export { PROXY_SERVER_DEFAULTS, type ProxyServerOptions } from './proxy/proxy-server-options.js';
export { injectedHeaders, DEFAULT_RESPONSE_HEADERS, DEFAULT_UPSTREAM_HEADERS, type InjectedHeaders } from './proxy/injected-headers.js';
export {
  LATENCY_BUCKETS_MS,
  MAX_TRAFFIC_SERIES,
  OVERFLOW_LABEL,
  CLIENT_CLOSED_STATUS,
  mergeTrafficSnapshots,
  type TrafficSnapshot,
  type OriginPoolSnapshot,
  type TrafficSeriesSnapshot,
  type HistogramSnapshot,
} from './proxy/traffic-stats.js';
export { ClusterTls, ClusterMtlsMode, type ClusterTlsOptions, type ClusterTlsFiles } from './sync/cluster-tls.js';
