/**
 * The control plane's Prometheus metrics, served by the Admin API at `GET /metrics`, in a
 * registry of their own (never prom-client's global one, so two control planes in one process, as
 * in tests, do not collide). Names start `sluice_cp_`. Gauges and the stream's counters are read
 * at scrape time from the objects that keep them; nothing here waits on the database.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AdminRequestOutcome } from '../admin/index.js';
import type { PoolCounts } from '../store/index.js';

/** What the metrics read at scrape time. */
export interface ControlPlaneMetricsSource {
  /** The store's health. */
  database: { readonly isReachable: boolean; readonly faults: number };
  /** Whether the LISTEN for config changes is in effect. */
  isListening(): boolean;
  /** The pool's connections (`null` with PGlite). */
  poolCounts(): PoolCounts | null;
  /** The in-memory config. */
  mirror: {
    readonly version: number;
    readonly lastReadMs: number;
    lagVersions(): number;
    readonly lastPackedSnapshot: { readonly body: { readonly rawSize: number; readonly data: Uint8Array } } | null;
  };
  /** The cluster stream, unless disabled. */
  stream?: {
    readonly sessions: { readonly size: number };
    readonly refusedConnections: number;
    readonly stats: Readonly<{ snapshotsSent: number; deltasSent: number; acks: number; nacks: number; bytesSent: number; snapshotsStalled: number }>;
  };
}

/** Buckets of `sluice_cp_admin_write_duration_seconds`: a loopback write (~2 ms) to the default transaction timeout (10 s). */
export const WRITE_DURATION_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];

/** How a response counts in `result` labels. */
function resultOf(status: number): string {
  if (status === 503) return 'unavailable';
  if (status >= 500) return 'error';
  if (status >= 400) return 'refused';
  return 'ok';
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A counter whose value is read at scrape time from a running total kept elsewhere. */
function observedCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** See the module comment. */
export class ControlPlaneMetrics {
  readonly registry = new Registry();
  /** Admin API requests answered, by method and status. */
  readonly adminRequests: Counter<'method' | 'status'>;
  /** Admin API reads answered from memory (stale) while the database was unreachable. */
  readonly staleReads: Counter;
  /** Admin API writes, seconds from request to response, by method and result. */
  readonly writeDuration: Histogram<'method' | 'result'>;

  constructor(source: ControlPlaneMetricsSource, options: { collectProcessMetrics?: boolean } = {}) {
    const registry = this.registry;
    const registers = [registry];
    this.adminRequests = new Counter({ name: 'sluice_cp_admin_requests_total', help: 'Admin API requests answered, by method and status.', labelNames: ['method', 'status'], registers });
    this.staleReads = new Counter({ name: 'sluice_cp_admin_stale_reads_total', help: 'Admin API reads answered from the in-memory config (X-Sluice-Stale) while the database was unreachable.', registers });
    this.writeDuration = new Histogram({
      name: 'sluice_cp_admin_write_duration_seconds',
      help: 'Admin API writes (POST, PUT, PATCH, DELETE), seconds from request to response, by method and result (ok, refused, unavailable, error).',
      labelNames: ['method', 'result'],
      buckets: WRITE_DURATION_BUCKETS_SECONDS,
      registers,
    });
    new Gauge({
      name: 'sluice_cp_config_version',
      help: 'Config version held in memory and served to data planes.',
      registers,
      collect() {
        this.set(source.mirror.version);
      },
    });
    new Gauge({
      name: 'sluice_cp_change_log_lag_versions',
      help: 'Versions announced by NOTIFY that the in-memory config has not read from the change log yet.',
      registers,
      collect() {
        this.set(source.mirror.lagVersions());
      },
    });
    new Gauge({
      name: 'sluice_cp_change_log_read_age_seconds',
      help: 'Seconds since the change log was last read successfully (grows while the database is unreachable).',
      registers,
      collect() {
        this.set((Date.now() - source.mirror.lastReadMs) / 1000);
      },
    });
    new Gauge({
      name: 'sluice_cp_snapshot_bytes',
      help: 'Size of the last config snapshot packed for data planes, raw and as sent (packed).',
      labelNames: ['encoding'],
      registers,
      collect() {
        this.reset();
        const snapshot = source.mirror.lastPackedSnapshot;
        if (!snapshot) return;
        this.set({ encoding: 'raw' }, snapshot.body.rawSize);
        this.set({ encoding: 'packed' }, snapshot.body.data.byteLength);
      },
    });
    new Gauge({
      name: 'sluice_cp_database_reachable',
      help: '1 while the database answers this replica\'s queries, else 0.',
      registers,
      collect() {
        this.set(source.database.isReachable ? 1 : 0);
      },
    });
    observedCounter(registry, 'sluice_cp_database_faults_total', 'Database connection faults and timeouts.', () => source.database.faults);
    new Gauge({
      name: 'sluice_cp_database_listening',
      help: '1 while the LISTEN for config changes is in effect, else 0.',
      registers,
      collect() {
        this.set(source.isListening() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'sluice_cp_database_pool_connections',
      help: 'Database pool connections by state (total, idle, waiting: callers queued for one); absent with the embedded database.',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const counts = source.poolCounts();
        if (!counts) return;
        this.set({ state: 'total' }, counts.total);
        this.set({ state: 'idle' }, counts.idle);
        this.set({ state: 'waiting' }, counts.waiting);
      },
    });
    const stream = source.stream;
    new Gauge({
      name: 'sluice_cp_stream_connections',
      help: 'Data planes connected to this replica\'s cluster stream.',
      registers,
      collect() {
        this.set(stream?.sessions.size ?? 0);
      },
    });
    observedCounter(registry, 'sluice_cp_stream_refused_connections_total', 'Cluster stream connections refused (limits, TLS, admission).', () => stream?.refusedConnections ?? 0);
    new Counter({
      name: 'sluice_cp_stream_pushes_total',
      help: 'Configs pushed to data planes, by kind (snapshot, delta).',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        this.inc({ kind: 'snapshot' }, stream?.stats.snapshotsSent ?? 0);
        this.inc({ kind: 'delta' }, stream?.stats.deltasSent ?? 0);
      },
    });
    observedCounter(registry, 'sluice_cp_stream_snapshots_stalled_total', 'Snapshots abandoned because the data plane stopped reading.', () => stream?.stats.snapshotsStalled ?? 0);
    observedCounter(registry, 'sluice_cp_stream_acks_total', 'ACKs received from data planes (a config applied).', () => stream?.stats.acks ?? 0);
    observedCounter(registry, 'sluice_cp_stream_nacks_total', 'NACKs received from data planes (a config refused).', () => stream?.stats.nacks ?? 0);
    observedCounter(registry, 'sluice_cp_stream_sent_bytes_total', 'Bytes sent on the cluster stream.', () => stream?.stats.bytesSent ?? 0);
    if (options.collectProcessMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'sluice_cp_' });
  }

  /** Counts one answered Admin API request (the Admin API's observer). */
  observe(outcome: AdminRequestOutcome): void {
    this.adminRequests.inc({ method: outcome.method, status: String(outcome.status) });
    if (outcome.isStale) this.staleReads.inc();
    if (WRITE_METHODS.has(outcome.method)) this.writeDuration.observe({ method: outcome.method, result: resultOf(outcome.status) }, outcome.durationMs / 1000);
  }
}
