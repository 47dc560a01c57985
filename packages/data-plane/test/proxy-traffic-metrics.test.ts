import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { ProxyServer, type ProxyConfig } from '../src/proxy/proxy-server.js';
import type { TrafficSnapshot } from '../src/proxy/traffic-stats.js';
import { DataPlaneMetrics } from '../src/status/data-plane-metrics.js';
import { makeRoute, makeService } from './fixtures/entities.js';
import { configOf, refusingPort, send, startUpstream, waitFor } from './proxy-helpers.js';

// The proxied-traffic metrics of a ProxyServer, as /metrics exposes them: real sockets on loopback.

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let config: ProxyConfig | null = null;
let proxy: ProxyServer;
let proxyPort: number;
let metrics: DataPlaneMetrics;

function metricsOf(source: () => TrafficSnapshot): DataPlaneMetrics {
  return new DataPlaneMetrics(
    { configVersion: () => null, configAppliedAtMs: () => null, isControlPlaneConnected: () => false, isReady: () => true, routeCount: () => 0, serviceCount: () => 0, trafficSnapshot: source },
    { collectProcessMetrics: false },
  );
}

/** The value of one exposition line (`name{labels}`), or undefined when absent. */
function sampleOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Responses counted for one (service, route, code), read from the proxy's aggregation. */
function countOf(service: string, route: string, code: number): number {
  const series = proxy.trafficSnapshot().series.find((s) => s.service === service && s.route === route);
  return series?.codes.find(([c]) => c === code)?.[1] ?? 0;
}

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    if (req.url?.startsWith('/hang')) return; // never answers: the client leaves first
    res.writeHead(200, { 'content-length': '2' });
    res.end('ok');
  });
  proxy = new ProxyServer({ getConfig: () => config });
  proxyPort = (await proxy.listen('127.0.0.1', 0)).port;
  metrics = metricsOf(() => proxy.trafficSnapshot());
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

describe('proxied-traffic metrics', () => {
  it('counts 200s by service and route name, a 404 without labels, a 502 by ids and a 503 for a route without service', async () => {
    const named = makeService({ name: 'orders-svc', host: '127.0.0.1', port: upstream.port });
    const refusing = makeService({ host: '127.0.0.1', port: await refusingPort(), retries: 0 });
    const ordersRoute = makeRoute({ name: 'orders', hosts: ['orders.test'], paths: ['/'], service: { id: named.id } });
    const brokenRoute = makeRoute({ hosts: ['broken.test'], paths: ['/'], service: { id: refusing.id } });
    const orphanRoute = makeRoute({ name: 'orphan', hosts: ['orphan.test'], paths: ['/'], service: null });
    config = configOf([ordersRoute, brokenRoute, orphanRoute], [named, refusing]);

    for (let i = 0; i < 3; i++) expect((await send(proxyPort, { path: '/a', headers: { host: 'orders.test' } })).status).toBe(200);
    expect((await send(proxyPort, { path: '/a', headers: { host: 'nowhere.test' } })).status).toBe(404);
    expect((await send(proxyPort, { path: '/a', headers: { host: 'broken.test' } })).status).toBe(502);
    expect((await send(proxyPort, { path: '/a', headers: { host: 'orphan.test' } })).status).toBe(503);
    // Counted when each response closes, which may follow the client's read.
    await waitFor(() => countOf('orders-svc', 'orders', 200) === 3 && countOf('', '', 404) === 1 && countOf(refusing.id, brokenRoute.id, 502) === 1 && countOf('', 'orphan', 503) === 1);

    const text = await metrics.registry.metrics();
    expect(sampleOf(text, 'sluice_dp_http_requests_total{service="orders-svc",route="orders",code="200"}')).toBe(3);
    expect(sampleOf(text, 'sluice_dp_http_requests_total{service="",route="",code="404"}')).toBe(1);
    expect(sampleOf(text, `sluice_dp_http_requests_total{service="${refusing.id}",route="${brokenRoute.id}",code="502"}`)).toBe(1);
    expect(sampleOf(text, 'sluice_dp_http_requests_total{service="",route="orphan",code="503"}')).toBe(1);
    expect(text).toContain('# TYPE sluice_dp_http_requests_total counter');
    expect(text).toContain('# TYPE sluice_dp_request_latency_ms histogram');
    expect(sampleOf(text, 'sluice_dp_request_latency_ms_bucket{service="orders-svc",route="orders",le="+Inf"}')).toBe(3);
    expect(sampleOf(text, 'sluice_dp_request_latency_ms_count{service="orders-svc",route="orders"}')).toBe(3);
    expect(sampleOf(text, 'sluice_dp_request_latency_ms_sum{service="orders-svc",route="orders"}')).toBeGreaterThan(0);
    expect(sampleOf(text, 'sluice_dp_request_latency_ms_count{service="",route=""}')).toBe(1);
    // Upstream latency: only responses that came from an upstream.
    expect(sampleOf(text, 'sluice_dp_upstream_latency_ms_count{service="orders-svc",route="orders"}')).toBe(3);
    expect(sampleOf(text, 'sluice_dp_upstream_latency_ms_count{service="",route=""}')).toBeUndefined();
    expect(sampleOf(text, `sluice_dp_upstream_latency_ms_count{service="${refusing.id}",route="${brokenRoute.id}"}`)).toBeUndefined();
    // Buckets are cumulative and Kong's.
    const le1 = sampleOf(text, 'sluice_dp_request_latency_ms_bucket{service="orders-svc",route="orders",le="1"}')!;
    const le60000 = sampleOf(text, 'sluice_dp_request_latency_ms_bucket{service="orders-svc",route="orders",le="60000"}')!;
    expect(le1).toBeLessThanOrEqual(le60000);
    expect(le60000).toBe(3);
    expect(sampleOf(text, 'sluice_dp_http_requests_in_flight')).toBe(0);
    expect(sampleOf(text, 'sluice_dp_websocket_tunnels')).toBe(0);
  });

  it('regression: a client that leaves before the response head is counted as 499, with no upstream latency', async () => {
    const service = makeService({ name: 'hang-svc', host: '127.0.0.1', port: upstream.port });
    config = configOf([makeRoute({ name: 'hang', hosts: ['hang.test'], paths: ['/'], service: { id: service.id } })], [service]);
    const req = httpRequest({ host: '127.0.0.1', port: proxyPort, path: '/hang', headers: { host: 'hang.test' }, agent: false });
    req.on('error', () => undefined);
    req.end();
    await waitFor(() => upstream.requests.some((r) => r.url === '/hang'));
    expect(proxy.inFlight).toBe(1);
    const text = await metrics.registry.metrics();
    expect(sampleOf(text, 'sluice_dp_http_requests_in_flight')).toBe(1);
    req.destroy();
    await waitFor(() => countOf('hang-svc', 'hang', 499) === 1);
    const after = await metrics.registry.metrics();
    expect(sampleOf(after, 'sluice_dp_http_requests_in_flight')).toBe(0);
    expect(sampleOf(after, 'sluice_dp_upstream_latency_ms_count{service="hang-svc",route="hang"}')).toBeUndefined();
  });

  it('counts a WebSocket handshake (101) when its tunnel closes; the tunnel gauge shows it while open', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    try {
      const service = makeService({ name: 'ws-svc', host: '127.0.0.1', port: (wss.address() as AddressInfo).port });
      config = configOf([makeRoute({ name: 'ws', paths: ['/ws'], service: { id: service.id } })], [service]);
      const client = new WebSocket(`ws://127.0.0.1:${proxyPort}/ws`);
      await new Promise<void>((resolve, reject) => {
        client.on('open', () => resolve());
        client.on('error', reject);
      });
      expect(sampleOf(await metrics.registry.metrics(), 'sluice_dp_websocket_tunnels')).toBe(1);
      client.close();
      await waitFor(() => countOf('ws-svc', 'ws', 101) === 1);
      const text = await metrics.registry.metrics();
      expect(sampleOf(text, 'sluice_dp_http_requests_total{service="ws-svc",route="ws",code="101"}')).toBe(1);
      expect(sampleOf(text, 'sluice_dp_upstream_latency_ms_count{service="ws-svc",route="ws"}')).toBe(1);
      expect(sampleOf(text, 'sluice_dp_websocket_tunnels')).toBe(0);
    } finally {
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });

  it('counts a 400 for a target the proxy cannot route, without labels', async () => {
    config = configOf([], []);
    const before = countOf('', '', 400);
    const reply = await send(proxyPort, { method: 'OPTIONS', path: '*' });
    expect(reply.status).toBe(400);
    await waitFor(() => countOf('', '', 400) === before + 1);
  });
});

describe('upstream pool metrics', () => {
  it('shows, per upstream, the open connections, the requests in progress and those waiting for a connection', async () => {
    // An upstream that holds every response until released, behind a proxy allowing 2 connections per origin.
    const held: (() => void)[] = [];
    const slow = await startUpstream((_req, res) => {
      held.push(() => {
        res.writeHead(200, { 'content-length': '2' });
        res.end('ok');
      });
    });
    const narrow = new ProxyServer({ getConfig: () => narrowConfig, upstreamConnections: 2 });
    const service = makeService({ host: '127.0.0.1', port: slow.port });
    const narrowConfig = configOf([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
    const port = (await narrow.listen('127.0.0.1', 0)).port;
    const narrowMetrics = metricsOf(() => narrow.trafficSnapshot());
    const upstreamLabel = `{upstream="127.0.0.1:${slow.port}"}`;
    try {
      const replies = Promise.all(Array.from({ length: 5 }, () => send(port, { path: '/x' })));
      await waitFor(() => held.length === 2);
      const busy = await narrowMetrics.registry.metrics();
      expect(sampleOf(busy, `sluice_dp_upstream_connections${upstreamLabel}`)).toBe(2);
      expect(sampleOf(busy, `sluice_dp_upstream_requests_active${upstreamLabel}`)).toBe(2);
      await waitFor(() => narrow.trafficSnapshot().upstreams[0]?.pending === 3);
      expect(sampleOf(await narrowMetrics.registry.metrics(), `sluice_dp_upstream_requests_pending${upstreamLabel}`)).toBe(3);

      // Released one by one, the waiting requests go out on the two connections.
      for (let released = 0; released < 5; released++) {
        await waitFor(() => held.length > 0);
        held.shift()!();
      }
      expect((await replies).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      await waitFor(() => narrow.trafficSnapshot().upstreams[0]?.active === 0);
      const idle = await narrowMetrics.registry.metrics();
      expect(sampleOf(idle, `sluice_dp_upstream_requests_active${upstreamLabel}`)).toBe(0);
      expect(sampleOf(idle, `sluice_dp_upstream_requests_pending${upstreamLabel}`)).toBe(0);
      // Kept alive for the next requests.
      expect(sampleOf(idle, `sluice_dp_upstream_connections${upstreamLabel}`)).toBe(2);
      expect(idle).toContain('# TYPE sluice_dp_upstream_connections gauge');
    } finally {
      for (const release of held.splice(0)) release();
      await narrow.close();
      await slow.close();
    }
  });
});
