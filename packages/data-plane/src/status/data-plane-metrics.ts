import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { EMPTY_TRAFFIC_SNAPSHOT, type TrafficSnapshot } from '../proxy/traffic-stats.js';
import type { RateLimitingStatus } from '../rate-limiting/rate-limit-service.js';
import { registerTrafficMetrics } from './traffic-metrics.js';

/** What the metrics read at scrape time (gauges are computed then, not pushed). */
export interface MetricsSource {
  /** The applied config version, or null when none is loaded. */
  configVersion(): number | null;
  /** When the serving config was applied, in ms since the Unix epoch, or null. */
  configAppliedAtMs(): number | null;
  /** Whether the control plane connection is up (handshake done). */
  isControlPlaneConnected(): boolean;
  /** Whether a config is loaded (what `/status/ready` answers). */
  isReady(): boolean;
  routeCount(): number;
  serviceCount(): number;
  /** Entities of the serving config by kind (absent: the gauge has no series). */
  entityCounts?(): Readonly<Record<string, number>>;
  /**
   * The proxied traffic counted so far (the local proxy's, or the merge of the workers'). Absent:
   * the traffic metrics are exposed with no series and zero gauges.
   */
  trafficSnapshot?(): TrafficSnapshot | Promise<TrafficSnapshot>;
  /** The rate-limiting counters' state (absent: the rate-limiting metrics read zero). */
  rateLimiting?(): RateLimitingStatus;
}

/** Buckets of `sluice_dp_config_apply_duration_seconds`: a one-route delta (~1 ms) to a large snapshot (seconds). */
export const APPLY_DURATION_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The data plane's Prometheus metrics, in a registry of their own (never prom-client's global one,
 * so two data planes in one process, as in tests, do not collide). Names start `sluice_dp_`.
 */
export class DataPlaneMetrics {
  readonly registry = new Registry();
  /** Configs applied, by kind (`snapshot`, `delta`, `cache`, `declarative`). */
  readonly applies: Counter<'kind'>;
  /** Configs refused (NACKed), by Ack error name. */
  readonly rejections: Counter<'error'>;
  /** Connection attempts to the control plane after the first. */
  readonly reconnects: Counter;
  /**
   * Seconds from the start of a push's check and build (in slices, once it is whole and decoded)
   * to its ACK or NACK, by kind (`snapshot`, `delta`) and result (`applied`, `rejected`).
   */
  readonly applyDuration: Histogram<'kind' | 'result'>;

  constructor(source: MetricsSource, options: { collectProcessMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.applies = new Counter({ name: 'sluice_dp_config_applies_total', help: 'Configs applied, by kind.', labelNames: ['kind'], registers });
    this.rejections = new Counter({ name: 'sluice_dp_config_rejections_total', help: 'Configs refused (NACKed), by Ack error.', labelNames: ['error'], registers });
    this.reconnects = new Counter({ name: 'sluice_dp_control_plane_reconnects_total', help: 'Connection attempts to the control plane after the first.', registers });
    this.applyDuration = new Histogram({
      name: 'sluice_dp_config_apply_duration_seconds',
      help: 'Seconds from the start of a push\'s check and build to its ACK or NACK, by kind and result.',
      labelNames: ['kind', 'result'],
      buckets: APPLY_DURATION_BUCKETS_SECONDS,
      registers,
    });
    new Gauge({
      name: 'sluice_dp_config_version',
      help: 'Applied config version (0 when none is loaded).',
      registers,
      collect() {
        this.set(source.configVersion() ?? 0);
      },
    });
    new Gauge({
      name: 'sluice_dp_config_age_seconds',
      help: 'Seconds since the serving config was applied (absent when none is loaded).',
      registers,
      collect() {
        const at = source.configAppliedAtMs();
        this.reset();
        if (at !== null) this.set((Date.now() - at) / 1000);
      },
    });
    new Gauge({
      name: 'sluice_dp_control_plane_connected',
      help: '1 when the control plane stream is connected, else 0.',
      registers,
      collect() {
        this.set(source.isControlPlaneConnected() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'sluice_dp_ready',
      help: '1 once a config is loaded (from the control plane, the cache or a declarative file), else 0.',
      registers,
      collect() {
        this.set(source.isReady() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'sluice_dp_routes',
      help: 'Routes in the serving config.',
      registers,
      collect() {
        this.set(source.routeCount());
      },
    });
    new Gauge({
      name: 'sluice_dp_services',
      help: 'Services in the serving config.',
      registers,
      collect() {
        this.set(source.serviceCount());
      },
    });
    new Gauge({
      name: 'sluice_dp_config_entities',
      help: 'Entities in the serving config, by kind (every kind of the entity registry).',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        for (const [kind, count] of Object.entries(source.entityCounts?.() ?? {})) this.set({ kind }, count);
      },
    });
    const rateLimiting = () => source.rateLimiting?.();
    new Gauge({
      name: 'sluice_dp_rate_limiting_degraded',
      help: '1 while a Redis server of the rate-limiting redis policy is unreachable (its requests decided from this data plane\'s share of the limit), else 0.',
      registers,
      collect() {
        this.set(rateLimiting()?.redis.state === 'degraded' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'sluice_dp_rate_limiting_connected_data_planes',
      help: 'Data planes connected across the cluster as the control plane last said (0: not known); degraded mode divides limits by it.',
      registers,
      collect() {
        this.set(rateLimiting()?.connected_data_planes ?? 0);
      },
    });
    new Counter({
      name: 'sluice_dp_rate_limiting_decisions_total',
      help: 'Rate-limited requests decided, by store: local (the local policy), redis, degraded (locally while Redis was unreachable), failed (not decided: Redis failed and the plugin is not fault tolerant).',
      labelNames: ['store'],
      registers,
      collect() {
        const d = rateLimiting()?.decisions;
        this.reset();
        for (const store of ['local', 'redis', 'degraded', 'failed'] as const) this.inc({ store }, d?.[store] ?? 0);
      },
    });
    new Counter({
      name: 'sluice_dp_rate_limiting_redis_failures_total',
      help: 'Redis calls of the rate-limiting redis policy that failed or timed out.',
      registers,
      collect() {
        this.reset();
        this.inc(rateLimiting()?.decisions.redisFailures ?? 0);
      },
    });
    new Gauge({
      name: 'sluice_dp_rate_limiting_local_counters',
      help: 'Entries in the rate-limiting local counter table (the local policy and degraded mode).',
      registers,
      collect() {
        this.set(rateLimiting()?.local.entries ?? 0);
      },
    });
    new Counter({
      name: 'sluice_dp_rate_limiting_local_evictions_total',
      help: 'Local counter entries dropped to stay within the table\'s capacity while one of their windows still ran (their counts were lost).',
      registers,
      collect() {
        this.reset();
        this.inc(rateLimiting()?.local.evictions ?? 0);
      },
    });
    registerTrafficMetrics(this.registry, () => source.trafficSnapshot?.() ?? EMPTY_TRAFFIC_SNAPSHOT);
    if (options.collectProcessMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'sluice_dp_' });
  }
}
