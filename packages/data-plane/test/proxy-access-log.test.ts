import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessLogSink } from '../src/plugins/access-log/access-log-sink.js';
import { ProxyServer, type ProxyConfig } from '../src/proxy/proxy-server.js';
import { makeRoute, makeService } from './fixtures/entities.js';
import { configOf, send, startUpstream, waitFor } from './proxy-helpers.js';

// The access log of a ProxyServer with an in-memory sink: real sockets on loopback.

/** The access-log line's shape, as parsed back. */
interface AccessLogEntry {
  time: string;
  request_id: string;
  client_ip: string;
  method: string;
  uri: string;
  host: string | null;
  status: number;
  body_bytes_sent: number | null;
  latencies: { request: number; proxy: number | null; upstream: number | null };
  route: { id: string; name: string | null } | null;
  service: { id: string; name: string | null } | null;
  upstream: string | null;
  user_agent: string | null;
}

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let config: ProxyConfig | null = null;
let proxy: ProxyServer;
let proxyPort: number;
const lines: string[] = [];
let flushes = 0;
const sink: AccessLogSink = {
  write: (line) => lines.push(line),
  flush: () => {
    flushes++;
    return Promise.resolve();
  },
};

/** The entry whose request id is `id`, once written. */
async function entryFor(id: string): Promise<AccessLogEntry> {
  let found: AccessLogEntry | undefined;
  await waitFor(() => {
    found = lines.map((l) => JSON.parse(l) as AccessLogEntry).find((e) => e.request_id === id);
    return found !== undefined;
  });
  return found!;
}

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    if (req.url?.startsWith('/hang')) return; // never answers: the client leaves first
    res.writeHead(200, { 'content-length': '5' });
    res.end('hello');
  });
  proxy = new ProxyServer({ getConfig: () => config, accessLog: sink });
  proxyPort = (await proxy.listen('127.0.0.1', 0)).port;
});

afterAll(async () => {
  await upstream.close();
});

describe('access log', () => {
  it('writes one JSON line for a proxied 200 with every field', async () => {
    const service = makeService({ name: 'orders-svc', host: '127.0.0.1', port: upstream.port });
    const route = makeRoute({ name: 'orders', hosts: ['orders.test'], paths: ['/'], service: { id: service.id } });
    config = configOf([route], [service]);
    const before = Date.now();
    const reply = await send(proxyPort, { path: '/a/b?x=1&y=2', headers: { host: 'orders.test', 'user-agent': 'probe/1.0' } });
    expect(reply.status).toBe(200);
    const id = reply.headers['x-sluice-request-id'] as string;
    const entry = await entryFor(id);
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    expect(Date.parse(entry.time)).toBeGreaterThanOrEqual(before - 5);
    expect(Date.parse(entry.time)).toBeLessThanOrEqual(Date.now());
    expect(entry).toMatchObject({
      request_id: id,
      client_ip: '127.0.0.1',
      method: 'GET',
      uri: '/a/b?x=1&y=2',
      host: 'orders.test',
      status: 200,
      body_bytes_sent: 5,
      route: { id: route.id, name: 'orders' },
      service: { id: service.id, name: 'orders-svc' },
      upstream: `127.0.0.1:${upstream.port}`,
      user_agent: 'probe/1.0',
    });
    const { request, proxy: proxyMs, upstream: upstreamMs } = entry.latencies;
    expect(proxyMs).not.toBeNull();
    expect(upstreamMs).not.toBeNull();
    expect(proxyMs!).toBeGreaterThanOrEqual(0);
    expect(upstreamMs!).toBeGreaterThanOrEqual(0);
    expect(request).toBeGreaterThanOrEqual(proxyMs! + upstreamMs!);
  });

  it('writes a generated 404 (no route) with route, service, upstream and its latencies null', async () => {
    const reply = await send(proxyPort, { method: 'POST', path: '/nowhere', headers: { host: 'nowhere.test' } });
    expect(reply.status).toBe(404);
    const entry = await entryFor(reply.headers['x-sluice-request-id'] as string);
    expect(entry).toMatchObject({ method: 'POST', uri: '/nowhere', host: 'nowhere.test', status: 404, route: null, service: null, upstream: null, user_agent: null });
    expect(entry.body_bytes_sent).toBe(Buffer.byteLength(reply.body));
    expect(entry.latencies.proxy).toBeNull();
    expect(entry.latencies.upstream).toBeNull();
    expect(entry.latencies.request).toBeGreaterThanOrEqual(0);
  });

  it('writes 499 for a client that leaves before the response head, with no upstream latency', async () => {
    const service = makeService({ name: 'hang-svc', host: '127.0.0.1', port: upstream.port });
    const route = makeRoute({ name: 'hang', hosts: ['hang.test'], paths: ['/'], service: { id: service.id } });
    config = configOf([route], [service]);
    const req = httpRequest({ host: '127.0.0.1', port: proxyPort, path: '/hang', headers: { host: 'hang.test' }, agent: false });
    req.on('error', () => undefined);
    req.end();
    await waitFor(() => upstream.requests.some((r) => r.url === '/hang'));
    const id = upstream.requests.find((r) => r.url === '/hang')!.headers['x-sluice-request-id'] as string;
    req.destroy();
    const entry = await entryFor(id);
    expect(entry).toMatchObject({ uri: '/hang', status: 499, body_bytes_sent: 0, route: { id: route.id, name: 'hang' }, service: { id: service.id, name: 'hang-svc' }, upstream: `127.0.0.1:${upstream.port}` });
    expect(entry.latencies.proxy).not.toBeNull();
    expect(entry.latencies.upstream).toBeNull();
  });

  it('writes a WebSocket handshake (101) when its tunnel closes, without a body byte count', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    try {
      const service = makeService({ name: 'ws-svc', host: '127.0.0.1', port: (wss.address() as AddressInfo).port });
      const route = makeRoute({ name: 'ws', paths: ['/ws'], service: { id: service.id } });
      config = configOf([route], [service]);
      const client = new WebSocket(`ws://127.0.0.1:${proxyPort}/ws?room=1`);
      await new Promise<void>((resolve, reject) => {
        client.on('open', () => resolve());
        client.on('error', reject);
      });
      const countBefore = lines.length;
      client.close();
      await waitFor(() => lines.length > countBefore);
      const entry = JSON.parse(lines[lines.length - 1]!) as AccessLogEntry;
      expect(entry).toMatchObject({ method: 'GET', uri: '/ws?room=1', status: 101, body_bytes_sent: null, route: { id: route.id, name: 'ws' }, service: { id: service.id, name: 'ws-svc' } });
      expect(entry.latencies.upstream).not.toBeNull();
    } finally {
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });

  it('flushes the sink once when the proxy closes', async () => {
    expect(flushes).toBe(0);
    await proxy.close();
    expect(flushes).toBe(1);
  });
});
