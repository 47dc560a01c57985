import type { Route, Service } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_MS, mergeTrafficSnapshots, OVERFLOW_LABEL, TrafficStats, type TrafficSeriesSnapshot, type TrafficSnapshot } from './traffic-stats.js';

function route(id: string, name: string | null = null): Route {
  return { id, name } as Route;
}

function service(id: string, name: string | null = null): Service {
  return { id, name } as Service;
}

function seriesOf(snapshot: TrafficSnapshot, routeLabel: string, serviceLabel: string): TrafficSeriesSnapshot {
  const found = snapshot.series.find((s) => s.route === routeLabel && s.service === serviceLabel);
  if (found === undefined) throw new Error(`no series route=${routeLabel} service=${serviceLabel}`);
  return found;
}

/** The cumulative count at bucket `le` (what Prometheus exposes as `_bucket{le}`). */
function cumulativeAt(buckets: readonly number[], le: number): number {
  const index = LATENCY_BUCKETS_MS.indexOf(le as (typeof LATENCY_BUCKETS_MS)[number]);
  return buckets.slice(0, index + 1).reduce((a, b) => a + b, 0);
}

describe('TrafficStats', () => {
  it('counts responses per status code, labelled by name, else id', () => {
    const stats = new TrafficStats();
    const named = route('r1', 'orders');
    const svc = service('s1', 'orders-svc');
    const unnamed = route('r2');
    stats.record(named, svc, 200, 3, 2);
    stats.record(named, svc, 200, 3, 2);
    stats.record(named, svc, 502, 10, -1);
    stats.record(unnamed, service('s2'), 201, 1, 1);
    stats.record(null, null, 404, 0.5, -1);
    const snapshot = stats.snapshot(1, 2);
    expect(snapshot).toMatchObject({ inFlight: 1, tunnels: 2 });
    expect(seriesOf(snapshot, 'orders', 'orders-svc').codes).toEqual([
      [200, 2],
      [502, 1],
    ]);
    expect(seriesOf(snapshot, 'r2', 's2').codes).toEqual([[201, 1]]);
    expect(seriesOf(snapshot, '', '').codes).toEqual([[404, 1]]);
    expect(seriesOf(snapshot, '', '').upstream).toBeNull();
  });

  it('a 3 ms request lands in le=5 and above, not in le=2', () => {
    const stats = new TrafficStats();
    stats.record(route('r'), service('s'), 200, 3, 1.5);
    const { request, upstream } = seriesOf(stats.snapshot(0, 0), 'r', 's');
    expect(cumulativeAt(request.buckets, 2)).toBe(0);
    expect(cumulativeAt(request.buckets, 5)).toBe(1);
    expect(cumulativeAt(request.buckets, 60000)).toBe(1);
    expect(request).toMatchObject({ sum: 3, count: 1 });
    expect(cumulativeAt(upstream!.buckets, 1)).toBe(0);
    expect(cumulativeAt(upstream!.buckets, 2)).toBe(1);
  });

  it('a bound is inclusive (le): 5 ms is in le=5; past 60 s only in +Inf', () => {
    const stats = new TrafficStats();
    stats.record(route('r'), service('s'), 200, 5, -1);
    stats.record(route('r'), service('s'), 200, 90_000, -1);
    const { request } = seriesOf(stats.snapshot(0, 0), 'r', 's');
    expect(cumulativeAt(request.buckets, 5)).toBe(1);
    expect(cumulativeAt(request.buckets, 60000)).toBe(1);
    expect(request.buckets.at(-1)).toBe(1);
    expect(request.buckets).toHaveLength(LATENCY_BUCKETS_MS.length + 1);
  });

  it('a route whose service object changes (renamed) counts under the new label', () => {
    const stats = new TrafficStats();
    const r = route('r', 'route');
    stats.record(r, service('s', 'before'), 200, 1, 1);
    stats.record(r, service('s', 'after'), 200, 1, 1);
    const snapshot = stats.snapshot(0, 0);
    expect(seriesOf(snapshot, 'route', 'before').codes).toEqual([[200, 1]]);
    expect(seriesOf(snapshot, 'route', 'after').codes).toEqual([[200, 1]]);
  });

  it('two Route objects with the same labels (a new config version) share one series', () => {
    const stats = new TrafficStats();
    stats.record(route('r', 'route'), service('s'), 200, 1, 1);
    stats.record(route('r', 'route'), service('s'), 200, 1, 1);
    expect(stats.snapshot(0, 0).series).toHaveLength(1);
    expect(seriesOf(stats.snapshot(0, 0), 'route', 's').codes).toEqual([[200, 2]]);
  });

  it('keeps many distinct status codes of one series', () => {
    const stats = new TrafficStats();
    for (let code = 200; code < 220; code++) stats.record(route('r'), service('s'), code, 1, 1);
    stats.record(route('r'), service('s'), 219, 1, 1);
    const { codes } = seriesOf(stats.snapshot(0, 0), 'r', 's');
    expect(codes).toHaveLength(20);
    expect(codes.at(-1)).toEqual([219, 2]);
  });

  it('regression: past maxSeries pairs, traffic goes to the one overflow series, totals kept', () => {
    const stats = new TrafficStats(3);
    for (let i = 0; i < 10; i++) stats.record(route(`r${i}`), service('s'), 200, 1, 1);
    stats.record(null, null, 404, 1, -1);
    const snapshot = stats.snapshot(0, 0);
    // 3 pairs, the overflow, and the no-route series.
    expect(snapshot.series).toHaveLength(5);
    expect(seriesOf(snapshot, OVERFLOW_LABEL, OVERFLOW_LABEL).codes).toEqual([[200, 7]]);
    expect(snapshot.series.reduce((n, s) => n + s.request.count, 0)).toBe(11);
  });
});

describe('mergeTrafficSnapshots', () => {
  it('sums the upstream pool gauges per upstream address', () => {
    const a = new TrafficStats().snapshot(0, 0, [{ upstream: 'a:80', connections: 2, active: 1, pending: 0 }]);
    const b = new TrafficStats().snapshot(0, 0, [
      { upstream: 'a:80', connections: 3, active: 2, pending: 4 },
      { upstream: 'b:443', connections: 1, active: 0, pending: 0 },
    ]);
    const merged = mergeTrafficSnapshots([a, b]);
    expect([...merged.upstreams].sort((x, y) => x.upstream.localeCompare(y.upstream))).toEqual([
      { upstream: 'a:80', connections: 5, active: 3, pending: 4 },
      { upstream: 'b:443', connections: 1, active: 0, pending: 0 },
    ]);
    // The inputs are left as they were.
    expect(a.upstreams[0]).toEqual({ upstream: 'a:80', connections: 2, active: 1, pending: 0 });
  });

  it('sums counts, buckets and gauges per label pair', () => {
    const a = new TrafficStats();
    const b = new TrafficStats();
    a.record(route('r', 'route'), service('s', 'svc'), 200, 3, 2);
    a.record(null, null, 404, 1, -1);
    b.record(route('r', 'route'), service('s', 'svc'), 200, 30, 20);
    b.record(route('r', 'route'), service('s', 'svc'), 503, 1, -1);
    b.record(route('other'), service('s', 'svc'), 200, 1, 1);
    const merged = mergeTrafficSnapshots([a.snapshot(1, 0), b.snapshot(2, 3)]);
    expect(merged).toMatchObject({ inFlight: 3, tunnels: 3 });
    expect(merged.series).toHaveLength(3);
    const series = seriesOf(merged, 'route', 'svc');
    expect(series.codes).toEqual([
      [200, 2],
      [503, 1],
    ]);
    expect(series.request).toMatchObject({ sum: 34, count: 3 });
    expect(cumulativeAt(series.request.buckets, 5)).toBe(2);
    expect(cumulativeAt(series.request.buckets, 30)).toBe(3);
    expect(series.upstream).toMatchObject({ sum: 22, count: 2 });
    expect(seriesOf(merged, '', '').codes).toEqual([[404, 1]]);
  });

  it('is plain JSON: survives a JSON round trip (the IPC encoding)', () => {
    const a = new TrafficStats();
    a.record(route('r'), service('s'), 200, 3, 2);
    const snapshot = a.snapshot(0, 0);
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
  });

  it('bounds the merged pairs and folds overflow series together', () => {
    const a = new TrafficStats(2);
    const b = new TrafficStats(2);
    for (let i = 0; i < 4; i++) a.record(route(`a${i}`), service('s'), 200, 1, 1);
    for (let i = 0; i < 4; i++) b.record(route(`b${i}`), service('s'), 200, 1, 1);
    const merged = mergeTrafficSnapshots([a.snapshot(0, 0), b.snapshot(0, 0)], 3);
    expect(merged.series).toHaveLength(4);
    expect(seriesOf(merged, OVERFLOW_LABEL, OVERFLOW_LABEL).codes).toEqual([[200, 5]]);
    expect(merged.series.reduce((n, s) => n + s.request.count, 0)).toBe(8);
  });
});
