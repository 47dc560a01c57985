import type { Metric, Registry } from 'prom-client';
import { LATENCY_BUCKETS_MS, type HistogramSnapshot, type TrafficSnapshot } from '../proxy/traffic-stats.js';

/** Where the traffic metrics read their counts at scrape time (the local proxy, or the merged workers). */
export type TrafficSnapshotSource = () => TrafficSnapshot | Promise<TrafficSnapshot>;

type MetricType = 'counter' | 'gauge' | 'histogram';

/** One exposed sample, in the shape prom-client's `Registry.metrics()` formats. */
interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

/** What `Registry.metrics()` reads of a metric: name, help, type, and `get()`. */
interface MetricView {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly aggregator: 'sum';
  readonly values: Sample[];
}

/**
 * One metric whose samples are computed from a {@link TrafficSnapshot} at scrape time, not
 * recorded through prom-client (the proxy counts in its own allocation-free aggregation).
 * Implements the part of prom-client's metric interface a Registry uses: `get()` and `reset()`.
 */
class SnapshotMetric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    private readonly snapshot: () => Promise<TrafficSnapshot>,
    private readonly samples: (snapshot: TrafficSnapshot, name: string) => Sample[],
  ) {}

  async get(): Promise<MetricView> {
    const snapshot = await this.snapshot();
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum', values: this.samples(snapshot, this.name) };
  }

  /** Nothing to reset: the counts belong to the proxy. */
  reset(): void {}
}

/** The cumulative `_bucket`, `_sum` and `_count` samples of one histogram series. */
function histogramSamples(out: Sample[], name: string, labels: Record<string, string>, histogram: HistogramSnapshot): void {
  let cumulative = 0;
  for (let i = 0; i <= LATENCY_BUCKETS_MS.length; i++) {
    cumulative += histogram.buckets[i] ?? 0;
    out.push({ labels: { ...labels, le: i < LATENCY_BUCKETS_MS.length ? LATENCY_BUCKETS_MS[i]! : '+Inf' }, value: cumulative, metricName: `${name}_bucket` });
  }
  out.push({ labels, value: histogram.sum, metricName: `${name}_sum` });
  out.push({ labels, value: histogram.count, metricName: `${name}_count` });
}

/**
 * Registers the proxied-traffic metrics in `registry`:
 * `sluice_dp_http_requests_total{service,route,code}`, `sluice_dp_request_latency_ms{service,route}`,
 * `sluice_dp_upstream_latency_ms{service,route}`, `sluice_dp_http_requests_in_flight`,
 * `sluice_dp_websocket_tunnels`, and per upstream origin `sluice_dp_upstream_connections`,
 * `sluice_dp_upstream_requests_active` and `sluice_dp_upstream_requests_pending`. One scrape reads one snapshot: the metrics' concurrent `get()`
 * calls share the one pending read (with workers, one IPC round).
 */
export function registerTrafficMetrics(registry: Registry, source: TrafficSnapshotSource): void {
  let pending: Promise<TrafficSnapshot> | null = null;
  const snapshot = (): Promise<TrafficSnapshot> => {
    if (pending !== null) return pending;
    const read = Promise.resolve().then(source);
    pending = read;
    const clear = (): void => {
      pending = null;
    };
    read.then(clear, clear);
    return read;
  };
  const metrics = [
    new SnapshotMetric('sluice_dp_http_requests_total', 'Responses to proxied requests (upstream or generated), by service, route and status.', 'counter', snapshot, (s) => {
      const out: Sample[] = [];
      for (const series of s.series) for (const [code, count] of series.codes) out.push({ labels: { service: series.service, route: series.route, code }, value: count });
      return out;
    }),
    new SnapshotMetric('sluice_dp_request_latency_ms', 'Time from request arrival to response end, ms.', 'histogram', snapshot, (s, name) => {
      const out: Sample[] = [];
      for (const series of s.series) histogramSamples(out, name, { service: series.service, route: series.route }, series.request);
      return out;
    }),
    new SnapshotMetric('sluice_dp_upstream_latency_ms', 'Time from upstream dispatch to the upstream response head, ms (responses from an upstream only).', 'histogram', snapshot, (s, name) => {
      const out: Sample[] = [];
      for (const series of s.series) if (series.upstream !== null) histogramSamples(out, name, { service: series.service, route: series.route }, series.upstream);
      return out;
    }),
    new SnapshotMetric('sluice_dp_http_requests_in_flight', 'Proxied requests in flight (WebSocket tunnels not included).', 'gauge', snapshot, (s) => [{ labels: {}, value: s.inFlight }]),
    new SnapshotMetric('sluice_dp_websocket_tunnels', 'Open WebSocket (upgraded) tunnels.', 'gauge', snapshot, (s) => [{ labels: {}, value: s.tunnels }]),
    new SnapshotMetric('sluice_dp_upstream_connections', 'Open connections to the upstream (host:port).', 'gauge', snapshot, (s) => s.upstreams.map((u) => ({ labels: { upstream: u.upstream }, value: u.connections }))),
    new SnapshotMetric('sluice_dp_upstream_requests_active', 'Requests sent to the upstream and awaiting or receiving their response.', 'gauge', snapshot, (s) =>
      s.upstreams.map((u) => ({ labels: { upstream: u.upstream }, value: u.active })),
    ),
    new SnapshotMetric('sluice_dp_upstream_requests_pending', 'Requests waiting for a connection to the upstream (every one busy, upstreamConnections reached).', 'gauge', snapshot, (s) =>
      s.upstreams.map((u) => ({ labels: { upstream: u.upstream }, value: u.pending })),
    ),
  ];
  // prom-client types registerMetric() with its own classes; a Registry only calls get() and reset().
  for (const metric of metrics) registry.registerMetric(metric as unknown as Metric);
}
