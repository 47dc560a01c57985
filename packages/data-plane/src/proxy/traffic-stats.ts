import type { Route, Service } from '@sluice/protocol';

/**
 * Upper bounds of the latency histograms' buckets, in ms: Kong's Prometheus plugin defaults
 * (`kong_request_latency_ms`, `kong_upstream_latency_ms`). A last `+Inf` bucket follows.
 */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 7, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300, 400, 500, 1000, 2000, 5000, 10000, 30000, 60000] as const;

/**
 * Most (route, service) series one {@link TrafficStats} (and one merge of snapshots) keeps, default
 * 100,000. Traffic of further pairs is counted in the one overflow series, labelled
 * {@link OVERFLOW_LABEL} for both route and service: totals stay right, the split is lost.
 */
export const MAX_TRAFFIC_SERIES = 100_000;

/** The route and service label of the overflow series (see {@link MAX_TRAFFIC_SERIES}). */
export const OVERFLOW_LABEL = '(other)';

/** The status recorded for a request whose client left before any response head was sent (nginx's 499). */
export const CLIENT_CLOSED_STATUS = 499;

const BUCKET_SLOTS = LATENCY_BUCKETS_MS.length + 1;
const BUCKET_BOUNDS = Float64Array.from(LATENCY_BUCKETS_MS);

/** One latency histogram as plain JSON: per-bucket counts (not cumulative; the last is `+Inf`), sum and count. */
export interface HistogramSnapshot {
  readonly buckets: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/** One (route, service) series as plain JSON. */
export interface TrafficSeriesSnapshot {
  /** The route's name, else its id; `""` when no route matched. */
  readonly route: string;
  /** The service's name, else its id; `""` without one. */
  readonly service: string;
  /** `[status, responses]` pairs. */
  readonly codes: readonly (readonly [number, number])[];
  /** Arrival to response end. */
  readonly request: HistogramSnapshot;
  /** Upstream dispatch to upstream response head; null when no response came from an upstream. */
  readonly upstream: HistogramSnapshot | null;
}

/** What a proxy (or the merge of all workers' proxies) has counted, as plain JSON (sent over IPC). */
export interface TrafficSnapshot {
  /** Requests in flight (not counting WebSocket tunnels). */
  readonly inFlight: number;
  /** Open WebSocket tunnels. */
  readonly tunnels: number;
  readonly series: readonly TrafficSeriesSnapshot[];
  /** The upstream connection pools, one entry per origin address (gauges, read when the snapshot is taken). */
  readonly upstreams: readonly OriginPoolSnapshot[];
}

/**
 * One origin's connection pools at one moment. The field names (`upstream`) are those of the
 * metrics' label (`sluice_dp_upstream_connections{upstream}`) and of the IPC snapshot.
 */
export interface OriginPoolSnapshot {
  /** `host:port`, as the access log names it. */
  readonly upstream: string;
  /** Open connections. */
  readonly connections: number;
  /** Requests sent and awaiting or receiving their response. */
  readonly active: number;
  /** Requests waiting for a connection (not yet sent). */
  readonly pending: number;
}

/** A latency histogram with Kong's buckets: O(log buckets) to observe, nothing allocated. */
class LatencyHistogram {
  readonly buckets = new Float64Array(BUCKET_SLOTS);
  sum = 0;
  count = 0;

  observe(ms: number): void {
    // Binary search: the first bound >= ms (5 steps), else the +Inf slot.
    let lo = 0;
    let hi = BUCKET_BOUNDS.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ms > BUCKET_BOUNDS[mid]!) lo = mid + 1;
      else hi = mid;
    }
    this.buckets[lo]!++;
    this.sum += ms;
    this.count++;
  }

  add(other: HistogramSnapshot): void {
    for (let i = 0; i < BUCKET_SLOTS; i++) this.buckets[i]! += other.buckets[i] ?? 0;
    this.sum += other.sum;
    this.count += other.count;
  }

  snapshot(): HistogramSnapshot {
    return { buckets: Array.from(this.buckets), sum: this.sum, count: this.count };
  }
}

/** The counts of one (route, service) label pair. */
class TrafficSeries {
  /** Status codes seen, in first-seen order; parallel to `counts`. Grown by doubling (at most ~900 codes exist). */
  private codes = new Uint16Array(4);
  private counts = new Float64Array(4);
  private codeCount = 0;
  readonly request = new LatencyHistogram();
  upstream: LatencyHistogram | null = null;

  constructor(
    readonly route: string,
    readonly service: string,
  ) {}

  countStatus(status: number, responses = 1): void {
    const codes = this.codes;
    const n = this.codeCount;
    for (let i = 0; i < n; i++) {
      if (codes[i] === status) {
        this.counts[i]! += responses;
        return;
      }
    }
    if (n === codes.length) {
      this.codes = new Uint16Array(n * 2);
      this.codes.set(codes);
      const counts = new Float64Array(n * 2);
      counts.set(this.counts);
      this.counts = counts;
    }
    this.codes[n] = status;
    this.counts[n] = responses;
    this.codeCount = n + 1;
  }

  observeUpstream(ms: number): void {
    (this.upstream ??= new LatencyHistogram()).observe(ms);
  }

  add(other: TrafficSeriesSnapshot): void {
    for (const [code, responses] of other.codes) this.countStatus(code, responses);
    this.request.add(other.request);
    if (other.upstream !== null) (this.upstream ??= new LatencyHistogram()).add(other.upstream);
  }

  snapshot(): TrafficSeriesSnapshot {
    const codes: [number, number][] = [];
    for (let i = 0; i < this.codeCount; i++) codes.push([this.codes[i]!, this.counts[i]!]);
    return { route: this.route, service: this.service, codes, request: this.request.snapshot(), upstream: this.upstream?.snapshot() ?? null };
  }
}

/** The series a route resolved to, for as long as its service object stays the same. */
interface SeriesBinding {
  readonly service: Service | null;
  readonly series: TrafficSeries;
}

/** A route's or service's label value: its name, else its id. */
function labelOf(entity: { readonly name?: string | null; readonly id: string } | null): string {
  if (entity === null) return '';
  return typeof entity.name === 'string' && entity.name !== '' ? entity.name : entity.id;
}

/** The series of label pairs, bounded: past `maxSeries`, pairs share one overflow series. */
class SeriesTable {
  private readonly byLabels = new Map<string, TrafficSeries>();
  private overflow: TrafficSeries | null = null;

  constructor(private readonly maxSeries: number) {}

  get(route: string, service: string): TrafficSeries {
    if (route === OVERFLOW_LABEL && service === OVERFLOW_LABEL) return this.overflowSeries();
    const key = `${route}\n${service}`;
    let series = this.byLabels.get(key);
    if (series !== undefined) return series;
    if (this.byLabels.size >= this.maxSeries) return this.overflowSeries();
    series = new TrafficSeries(route, service);
    this.byLabels.set(key, series);
    return series;
  }

  private overflowSeries(): TrafficSeries {
    return (this.overflow ??= new TrafficSeries(OVERFLOW_LABEL, OVERFLOW_LABEL));
  }

  snapshots(): TrafficSeriesSnapshot[] {
    const out: TrafficSeriesSnapshot[] = [];
    for (const series of this.byLabels.values()) out.push(series.snapshot());
    if (this.overflow !== null) out.push(this.overflow.snapshot());
    return out;
  }
}

/**
 * The proxy's traffic counts: per (route, service) pair, responses per status code and two latency
 * histograms (Kong's buckets). Recording is O(1) and allocates nothing once a pair and a status
 * have been seen: the series is found through a WeakMap keyed by the Route object (the config
 * keeps unchanged routes' objects across versions), then by the pair's labels on a miss. Series
 * live for the process (counters never go down); at most `maxSeries`, see {@link MAX_TRAFFIC_SERIES}.
 */
export class TrafficStats {
  private readonly table: SeriesTable;
  private readonly byRoute = new WeakMap<Route, SeriesBinding>();
  /** Requests no route matched (and those answered before routing: no config, bad target). */
  private noRoute: TrafficSeries | null = null;

  constructor(maxSeries = MAX_TRAFFIC_SERIES) {
    this.table = new SeriesTable(maxSeries);
  }

  /**
   * Counts one response.
   * @param requestMs arrival to response end.
   * @param upstreamMs upstream dispatch to upstream response head; negative when the response did not come from an upstream.
   */
  record(route: Route | null, service: Service | null, status: number, requestMs: number, upstreamMs: number): void {
    const series = this.seriesFor(route, service);
    series.countStatus(status);
    series.request.observe(requestMs);
    if (upstreamMs >= 0) series.observeUpstream(upstreamMs);
  }

  /** Everything counted so far, as plain JSON. O(series). */
  snapshot(inFlight: number, tunnels: number, upstreams: readonly OriginPoolSnapshot[] = []): TrafficSnapshot {
    const series = this.table.snapshots();
    if (this.noRoute !== null) series.push(this.noRoute.snapshot());
    return { inFlight, tunnels, series, upstreams };
  }

  private seriesFor(route: Route | null, service: Service | null): TrafficSeries {
    if (route === null) return (this.noRoute ??= new TrafficSeries('', ''));
    const binding = this.byRoute.get(route);
    if (binding !== undefined && binding.service === service) return binding.series;
    const series = this.table.get(labelOf(route), labelOf(service));
    this.byRoute.set(route, { service, series });
    return series;
  }
}

/**
 * Sums snapshots (of the proxy workers) per label pair: counts, buckets, gauges. The result holds
 * at most `maxSeries` pairs; further ones go to the overflow series.
 */
export function mergeTrafficSnapshots(snapshots: readonly TrafficSnapshot[], maxSeries = MAX_TRAFFIC_SERIES): TrafficSnapshot {
  const table = new SeriesTable(maxSeries);
  let inFlight = 0;
  let tunnels = 0;
  for (const snapshot of snapshots) {
    inFlight += snapshot.inFlight;
    tunnels += snapshot.tunnels;
    for (const series of snapshot.series) table.get(series.route, series.service).add(series);
  }
  return { inFlight, tunnels, series: table.snapshots(), upstreams: sumOriginPools(snapshots.flatMap((s) => s.upstreams)) };
}

/** Pool gauges summed per origin address (the inputs are left as they were). */
export function sumOriginPools(pools: Iterable<OriginPoolSnapshot>): OriginPoolSnapshot[] {
  const sums = new Map<string, { upstream: string; connections: number; active: number; pending: number }>();
  for (const pool of pools) {
    const sum = sums.get(pool.upstream);
    if (sum === undefined) {
      sums.set(pool.upstream, { ...pool });
      continue;
    }
    sum.connections += pool.connections;
    sum.active += pool.active;
    sum.pending += pool.pending;
  }
  return [...sums.values()];
}

/** An empty snapshot (no proxy in this process). */
export const EMPTY_TRAFFIC_SNAPSHOT: TrafficSnapshot = { inFlight: 0, tunnels: 0, series: [], upstreams: [] };
