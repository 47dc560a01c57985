import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createNetServer, connect, type AddressInfo, type Socket } from 'node:net';
import type { Route, Service } from '@sluice/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { ProxyServer, type ProxyConfig } from '../src/proxy/proxy-server.js';
import { makeRoute, makeService } from './fixtures/entities.js';
import { expandedPathJoiningTable } from './fixtures/path-joining-table.js';
import { configOf, refusingPort, send, sendRaw, sendUpgrade, startUpstream, waitFor, type Echo } from './proxy-helpers.js';

const HEX = /^[0-9a-f]{32}$/;

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let config: ProxyConfig | null = null;
let proxy: ProxyServer;
let proxyPort: number;

function serviceFor(overrides: Partial<Service> = {}): Service {
  return makeService({ host: '127.0.0.1', port: upstream.port, ...overrides });
}

function use(routes: Route[], services: Service[]): void {
  config = configOf(routes, services);
}

/** Closes a ws upstream, cutting its connections first (a failed assertion must not leave a tunnel up). */
function closeWss(wss: WebSocketServer): Promise<void> {
  for (const socket of wss.clients) socket.terminate();
  return new Promise<void>((resolve) => wss.close(() => resolve()));
}

function lastEcho(): Echo {
  return upstream.requests.at(-1)!;
}

beforeAll(async () => {
  upstream = await startUpstream();
  proxy = new ProxyServer({ getConfig: () => config, serverVersion: '9.9.9' });
  proxyPort = (await proxy.listen('127.0.0.1', 0)).port;
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

afterEach(() => {
  config = null;
});

describe("path joining through the proxy (Kong's table)", () => {
  it('every row of the table', async () => {
    const failures: string[] = [];
    for (const row of expandedPathJoiningTable()) {
      const service = serviceFor({ path: row.servicePath });
      const route = makeRoute({
        paths: row.routePath === null ? null : [row.routePath],
        hosts: row.routePath === null ? ['example.com'] : null,
        strip_path: row.stripPath,
        service: { id: service.id },
      });
      use([route], [service]);
      const reply = await send(proxyPort, { path: row.requestPath, headers: { host: 'example.com' } });
      const got = reply.status === 200 ? lastEcho().url : `status ${reply.status}`;
      if (got !== row.expected) failures.push(`${JSON.stringify(row)} → ${got}`);
    }
    expect(failures).toEqual([]);
  });

  it('passes the query string untouched, including an empty "?"', async () => {
    const service = serviceFor({ path: '/s' });
    use([makeRoute({ paths: ['/r'], service: { id: service.id } })], [service]);
    await send(proxyPort, { path: '/r/x?a=%2F&b=c+d&&e' });
    expect(lastEcho().url).toBe('/s/x?a=%2F&b=c+d&&e');
    await send(proxyPort, { path: '/r/y?' });
    expect(lastEcho().url).toBe('/s/y?');
  });

  it('normalises before matching and re-escapes upstream', async () => {
    const service = serviceFor();
    use([makeRoute({ paths: ['/a'], strip_path: false, service: { id: service.id } })], [service]);
    const reply = await send(proxyPort, { path: '/x/../a/%7e%2f%20' });
    expect(reply.status).toBe(200);
    expect(lastEcho().url).toBe('/a/~%2F%20');
  });
});

describe('headers', () => {
  it('adds forwarding headers, Via and a request id; removes hop-by-hop ones', async () => {
    const service = serviceFor({ path: null, port: upstream.port });
    use([makeRoute({ paths: ['/api'], service: { id: service.id } })], [service]);
    const reply = await send(proxyPort, {
      path: '/api/v1/users?q=1',
      headers: {
        host: 'Gateway.Example.com:8443',
        'x-forwarded-for': '10.0.0.1',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'spoofed',
        'x-real-ip': '6.6.6.6',
        via: '1.0 corp',
        connection: 'keep-alive, x-secret',
        'x-secret': 'drop me',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'proxy-authorization': 'x',
        'x-sluice-request-id': 'client-made',
        'x-custom': 'kept',
      },
    });
    expect(reply.status).toBe(200);
    const h = lastEcho().headers;
    expect(h.host).toBe(`127.0.0.1:${upstream.port}`);
    expect(h['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('gateway.example.com');
    expect(h['x-forwarded-port']).toBe(String(proxyPort));
    expect(h['x-forwarded-path']).toBe('/api/v1/users');
    expect(h['x-forwarded-prefix']).toBe('/api');
    expect(h['x-real-ip']).toBe('127.0.0.1');
    expect(h.via).toBe('1.0 corp, 1.1 sluice/9.9.9');
    expect(h['x-custom']).toBe('kept');
    for (const gone of ['x-secret', 'keep-alive', 'te', 'proxy-authorization']) expect(h[gone]).toBeUndefined();
    expect(h['x-sluice-request-id']).toMatch(HEX);
    expect(reply.headers['x-sluice-request-id']).toBe(h['x-sluice-request-id']);
    expect(reply.headers['x-sluice-upstream-latency']).toMatch(/^\d+$/);
    expect(reply.headers['x-sluice-proxy-latency']).toMatch(/^\d+$/);
    expect(reply.headers.via).toBe('1.1 sluice/9.9.9');
    expect(reply.headers.server).toBe('sluice/9.9.9');
  });

  it('omits X-Forwarded-Prefix when nothing (or only "/") was stripped', async () => {
    const service = serviceFor();
    use(
      [makeRoute({ paths: ['/nostrip'], strip_path: false, service: { id: service.id } }), makeRoute({ paths: ['/'], service: { id: service.id } })],
      [service],
    );
    await send(proxyPort, { path: '/nostrip/x' });
    expect(lastEcho().headers['x-forwarded-prefix']).toBeUndefined();
    await send(proxyPort, { path: '/other' });
    expect(lastEcho().headers['x-forwarded-prefix']).toBeUndefined();
  });

  it('preserve_host sends the client Host; otherwise the service host (port only when not default)', async () => {
    const service = serviceFor();
    use(
      [
        makeRoute({ paths: ['/keep'], preserve_host: true, service: { id: service.id } }),
        makeRoute({ paths: ['/swap'], service: { id: service.id } }),
      ],
      [service],
    );
    await send(proxyPort, { path: '/keep', headers: { host: 'Client.Example:1234' } });
    expect(lastEcho().headers.host).toBe('Client.Example:1234');
    await send(proxyPort, { path: '/swap', headers: { host: 'client.example' } });
    expect(lastEcho().headers.host).toBe(`127.0.0.1:${upstream.port}`);
  });

  it('drops hop-by-hop response headers and appends to the upstream Via', async () => {
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { connection: 'x-up-secret', 'x-up-secret': '1', via: '1.1 backend', server: 'backend/1', 'content-length': '2' });
      res.end('ok');
    });
    try {
      const service = makeService({ host: '127.0.0.1', port: up.port });
      use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
      const reply = await send(proxyPort, { path: '/' });
      expect(reply.body).toBe('ok');
      expect(reply.headers['x-up-secret']).toBeUndefined();
      expect(reply.headers.via).toBe('1.1 backend, 1.1 sluice/9.9.9');
      expect(reply.headers.server).toBe('backend/1');
    } finally {
      await up.close();
    }
  });
});

describe('trusted IPs', () => {
  it("keeps a trusted client's X-Forwarded-* and X-Real-IP", async () => {
    const trusting = new ProxyServer({ getConfig: () => config, trustedIps: ['127.0.0.0/8'] });
    const { port } = await trusting.listen('127.0.0.1', 0);
    try {
      const service = serviceFor();
      use([makeRoute({ paths: ['/p'], service: { id: service.id } })], [service]);
      await send(port, {
        path: '/p/x',
        headers: {
          'x-forwarded-for': '1.2.3.4',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'public.example',
          'x-forwarded-port': '443',
          'x-forwarded-path': '/orig',
          'x-forwarded-prefix': '/edge',
          'x-real-ip': '1.2.3.4',
        },
      });
      const h = lastEcho().headers;
      expect(h['x-forwarded-for']).toBe('1.2.3.4, 127.0.0.1');
      expect(h['x-forwarded-proto']).toBe('https');
      expect(h['x-forwarded-host']).toBe('public.example');
      expect(h['x-forwarded-port']).toBe('443');
      expect(h['x-forwarded-path']).toBe('/orig');
      expect(h['x-forwarded-prefix']).toBe('/edge');
      expect(h['x-real-ip']).toBe('1.2.3.4');
    } finally {
      await trusting.close();
    }
  });
});

describe("the proxy's own headers (Kong's headers / headers_upstream)", () => {
  /** A proxy with `options`, the request through it, and what the upstream saw; then closes it. */
  async function through(options: { headers?: string[]; headersUpstream?: string[] }, path: string, headers: Record<string, string> = {}) {
    const proxy2 = new ProxyServer({ getConfig: () => config, serverVersion: '9.9.9', ...options });
    const { port } = await proxy2.listen('127.0.0.1', 0);
    try {
      const reply = await send(port, { path, headers });
      return { reply, upstreamHeaders: reply.status === 200 ? lastEcho().headers : null };
    } finally {
      await proxy2.close();
    }
  }

  it('off: no Via, Server, latency or request id header on responses; the upstream\'s Via and Server pass unchanged', async () => {
    const viaUpstream = await startUpstream((_req, res) => {
      res.writeHead(200, { via: '1.0 upstream-cache', server: 'upstream/1', 'content-length': '2' });
      res.end('ok');
    });
    try {
      const plain = serviceFor();
      const withVia = makeService({ host: '127.0.0.1', port: viaUpstream.port });
      use([makeRoute({ paths: ['/plain'], service: { id: plain.id } }), makeRoute({ paths: ['/via'], service: { id: withVia.id } })], [plain, withVia]);
      const { reply } = await through({ headers: ['off'] }, '/plain');
      expect(reply.status).toBe(200);
      for (const name of ['via', 'server', 'x-sluice-upstream-latency', 'x-sluice-proxy-latency', 'x-sluice-request-id', 'x-sluice-upstream-status']) expect(reply.headers[name], name).toBeUndefined();
      const relayed = await through({ headers: ['off'] }, '/via');
      expect(relayed.reply.headers.via).toBe('1.0 upstream-cache');
      expect(relayed.reply.headers.server).toBe('upstream/1');
      // Generated responses too; the body keeps its request id (the only trace left of it).
      const miss = await through({ headers: ['off'] }, '/nothing');
      expect(miss.reply.status).toBe(404);
      for (const name of ['server', 'x-sluice-response-latency', 'x-sluice-request-id']) expect(miss.reply.headers[name], name).toBeUndefined();
      expect(miss.reply.json().request_id).toMatch(HEX);
    } finally {
      await viaUpstream.close();
    }
  });

  it('a list turns on exactly what it names; names are case-insensitive; the upstream still gets Via and X-Forwarded-*', async () => {
    const service = serviceFor();
    use([makeRoute({ paths: ['/p'], service: { id: service.id } })], [service]);
    const { reply, upstreamHeaders } = await through({ headers: ['via', 'X-SLUICE-REQUEST-ID'], headersUpstream: ['off'] }, '/p');
    expect(reply.headers.via).toBe('1.1 sluice/9.9.9');
    expect(reply.headers['x-sluice-request-id']).toMatch(HEX);
    for (const name of ['server', 'x-sluice-upstream-latency', 'x-sluice-proxy-latency']) expect(reply.headers[name], name).toBeUndefined();
    expect(upstreamHeaders!['x-sluice-request-id']).toBeUndefined();
    expect(upstreamHeaders!.via).toBe('1.1 sluice/9.9.9');
    expect(upstreamHeaders!['x-forwarded-for']).toBe('127.0.0.1');

    const status = await through({ headers: ['X-Sluice-Upstream-Status'] }, '/p');
    expect(status.reply.headers['x-sluice-upstream-status']).toBe('200');
    expect(status.reply.headers['x-sluice-request-id']).toBeUndefined();

    const latency = await through({ headers: ['latency_tokens'] }, '/p');
    expect(latency.reply.headers['x-sluice-upstream-latency']).toMatch(/^\d+$/);
    expect(latency.reply.headers['x-sluice-proxy-latency']).toMatch(/^\d+$/);
    expect(latency.reply.headers.via).toBeUndefined();
    expect(latency.upstreamHeaders!['x-sluice-request-id']).toMatch(HEX);
  });

  it('allowDebugHeader: a request with Sluice-Debug gets the matched route and service; off by default', async () => {
    const service = serviceFor({ name: 'orders-svc' });
    const orphan = makeRoute({ name: 'orphan', paths: ['/orphan'] });
    const route = makeRoute({ name: 'orders', paths: ['/p'], service: { id: service.id } });
    use([route, orphan], [service]);
    const debugging = new ProxyServer({ getConfig: () => config, allowDebugHeader: true });
    const { port } = await debugging.listen('127.0.0.1', 0);
    try {
      const asked = await send(port, { path: '/p/x', headers: { 'sluice-debug': '1' } });
      expect(asked.status).toBe(200);
      expect(asked.headers).toMatchObject({ 'sluice-route-id': route.id, 'sluice-route-name': 'orders', 'sluice-service-id': service.id, 'sluice-service-name': 'orders-svc' });
      // A generated answer for a matched route carries them too; a service-less route has only its own.
      const noService = await send(port, { path: '/orphan', headers: { 'sluice-debug': '1' } });
      expect(noService.status).toBe(503);
      expect(noService.headers['sluice-route-name']).toBe('orphan');
      expect(noService.headers['sluice-service-id']).toBeUndefined();
      // Not asked: nothing.
      expect((await send(port, { path: '/p/x' })).headers['sluice-route-id']).toBeUndefined();
    } finally {
      await debugging.close();
    }
    // The default proxy ignores the request header.
    expect((await send(proxyPort, { path: '/p/x', headers: { 'sluice-debug': '1' } })).headers['sluice-route-id']).toBeUndefined();
  });

  it('refuses unknown values, and "off" mixed with others', () => {
    expect(() => new ProxyServer({ getConfig: () => null, headers: ['server_tokens', 'X-Kong-Request-Id'] })).toThrow(/headers: unknown value "x-kong-request-id"/);
    expect(() => new ProxyServer({ getConfig: () => null, headers: ['off', 'via'] })).toThrow(/"off" cannot be combined/);
    expect(() => new ProxyServer({ getConfig: () => null, headersUpstream: ['Via'] })).toThrow(/headers_upstream: unknown value "via"/);
  });
});

describe('generated responses', () => {
  it('503 JSON when no config is loaded yet', async () => {
    config = null;
    const reply = await send(proxyPort, { path: '/' });
    expect(reply.status).toBe(503);
    expect(reply.json()).toEqual({ message: 'no Service found with those values', request_id: reply.headers['x-sluice-request-id'] });
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(reply.headers['x-sluice-response-latency']).toMatch(/^\d+$/);
  });

  it('answers in the format Accept asks for: HTML, XML, plain text, else JSON', async () => {
    use([makeRoute({ paths: ['/only'] })], []);
    const html = await send(proxyPort, { path: '/nothing', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(html.status).toBe(404);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.body).toContain(`<p>request_id: ${html.headers['x-sluice-request-id']}</p>`);
    expect(Number(html.headers['content-length'])).toBe(Buffer.byteLength(html.body));
    const xml = await send(proxyPort, { path: '/nothing', headers: { accept: 'application/xml' } });
    expect(xml.headers['content-type']).toBe('application/xml; charset=utf-8');
    expect(xml.body).toContain('<message>no Route matched with those values</message>');
    const plain = await send(proxyPort, { path: '/nothing', headers: { accept: 'text/plain' } });
    expect(plain.body).toBe(`no Route matched with those values\nrequest_id: ${plain.headers['x-sluice-request-id']}\n`);
    const anything = await send(proxyPort, { path: '/nothing', headers: { accept: 'image/webp' } });
    expect(anything.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('404 when no route matches, 503 for a route without service', async () => {
    use([makeRoute({ paths: ['/orphan'] })], []);
    const miss = await send(proxyPort, { path: '/nothing' });
    expect(miss.status).toBe(404);
    expect(miss.json()).toEqual({ message: 'no Route matched with those values', request_id: miss.headers['x-sluice-request-id'] });
    expect(miss.headers['x-sluice-request-id']).toMatch(HEX);
    expect(miss.headers.server).toBe('sluice/9.9.9');
    const orphan = await send(proxyPort, { path: '/orphan' });
    expect(orphan.status).toBe(503);
    expect(orphan.json().message).toBe('no Service found with those values');
  });

  it('https-only routes answer 426, or redirect with https_redirect_status_code', async () => {
    const service = serviceFor();
    use(
      [
        makeRoute({ paths: ['/secure'], protocols: ['https'], service: { id: service.id } }),
        makeRoute({ paths: ['/moved'], protocols: ['https'], https_redirect_status_code: 301, service: { id: service.id } }),
      ],
      [service],
    );
    const upgrade = await send(proxyPort, { path: '/secure' });
    expect(upgrade.status).toBe(426);
    expect(upgrade.json().message).toBe('Please use HTTPS protocol');
    expect(upgrade.headers.upgrade).toBe('TLS/1.2, HTTP/1.1');
    const moved = await send(proxyPort, { path: '/moved/x?y=1', headers: { host: 'Api.Example.com:8000' } });
    expect(moved.status).toBe(301);
    expect(moved.headers.location).toBe('https://api.example.com/moved/x?y=1');
  });

  it("a gRPC route on this HTTP/1.1 listener: 415 for a request that is not gRPC, 426 (use HTTP/2) for one that is, as Kong", async () => {
    const service = serviceFor({ protocol: 'grpc' });
    use([makeRoute({ paths: ['/pkg.Svc'], protocols: ['grpc', 'grpcs'], strip_path: false, service: { id: service.id } })], [service]);
    const plain = await send(proxyPort, { path: '/pkg.Svc/Method' });
    expect(plain.status).toBe(415);
    expect(plain.json().message).toBe('Non-gRPC request matched gRPC route');
    const grpc = await send(proxyPort, { method: 'POST', path: '/pkg.Svc/Method', headers: { 'content-type': 'application/grpc+proto' }, body: '' });
    expect(grpc.status).toBe(426);
    expect(grpc.json().message).toBe('Please use HTTP2 protocol');
    expect(grpc.headers.upgrade).toBe('HTTP/2');
    expect(upstream.requests.some((r) => r.url.startsWith('/pkg.Svc'))).toBe(false);
  });

  it('400 JSON for a malformed request', async () => {
    const raw = await new Promise<string>((resolve) => {
      const socket = connect(proxyPort, '127.0.0.1', () => socket.write('GARBAGE\r\n\r\n'));
      let data = '';
      socket.on('data', (c) => (data += c.toString()));
      socket.on('close', () => resolve(data));
    });
    expect(raw.startsWith('HTTP/1.1 400')).toBe(true);
    expect(raw).toContain('"message":"Bad request"');
    expect(raw).toMatch(/X-Sluice-Request-Id: [0-9a-f]{32}/);
  });

  it('a request with two Host headers is 400 Bad request and its connection closed, whichever Host a route would match (RFC 9112 §3.2, as nginx)', async () => {
    const service = serviceFor();
    use([makeRoute({ hosts: ['good.example'], service: { id: service.id } }), makeRoute({ hosts: ['secret.internal'], service: { id: service.id } })], [service]);
    const before = upstream.requests.length;
    for (const hosts of [
      ['Host: good.example', 'Host: secret.internal'],
      ['host: secret.internal', 'HOST: good.example'],
      ['Host: good.example', 'Host: good.example'],
    ]) {
      // No Connection header: the proxy closes the connection itself (sendRaw waits for that).
      const reply = await sendRaw(proxyPort, `GET /h HTTP/1.1\r\n${hosts.join('\r\n')}\r\n\r\n`);
      expect(reply.status, hosts.join(' ')).toBe(400);
      expect(JSON.parse(reply.body)).toEqual({ message: 'Bad request', request_id: expect.stringMatching(HEX) });
      expect(reply.headers.connection).toBe('close');
    }
    // A WebSocket handshake too.
    const upgrade = await sendRaw(proxyPort, 'GET /h HTTP/1.1\r\nHost: good.example\r\nHost: secret.internal\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    expect(upgrade.status).toBe(400);
    expect(JSON.parse(upgrade.body).message).toBe('Bad request');
    expect(upstream.requests.length).toBe(before);
    // One Host is routed as before.
    const one = await sendRaw(proxyPort, 'GET /h HTTP/1.1\r\nHost: good.example\r\nConnection: close\r\n\r\n');
    expect(one.status).toBe(200);
    expect(upstream.requests.length).toBe(before + 1);
  });
});

describe('upstream failures, timeouts and retries', () => {
  it('502 for an upstream answer that is not HTTP or carries a header Node cannot send; the proxy keeps serving', async () => {
    const answers = ['NOT HTTP AT ALL\r\n\r\n', 'HTTP/1.1 200 OK\r\nX-Bad: a\u0001b\r\nContent-Length: 2\r\n\r\nok'];
    const raw = createNetServer((socket: Socket) => {
      socket.once('data', () => socket.end(answers.shift() ?? ''));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    try {
      const broken = makeService({ host: '127.0.0.1', port: (raw.address() as AddressInfo).port, retries: 0 });
      const good = serviceFor();
      use([makeRoute({ paths: ['/broken'], service: { id: broken.id } }), makeRoute({ paths: ['/good'], service: { id: good.id } })], [broken, good]);
      for (let i = 0; i < 2; i++) {
        const reply = await send(proxyPort, { path: '/broken' });
        expect(reply.status, `answer ${i}`).toBe(502);
        expect(reply.json().message).toBe('An invalid response was received from the upstream server');
      }
      expect((await send(proxyPort, { path: '/good' })).status).toBe(200);
    } finally {
      await new Promise((resolve) => raw.close(resolve));
    }
  });

  it('502 when the upstream refuses connections', async () => {
    const port = await refusingPort();
    const service = makeService({ host: '127.0.0.1', port, retries: 2 });
    use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
    const reply = await send(proxyPort, { path: '/' });
    expect(reply.status).toBe(502);
    expect(reply.json().message).toBe('An invalid response was received from the upstream server');
    expect(reply.json().request_id).toBe(reply.headers['x-sluice-request-id']);
  });

  it('503 when the service host does not resolve', async () => {
    const service = makeService({ host: 'no-such-host.invalid', port: 80, retries: 0 });
    use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
    const reply = await send(proxyPort, { path: '/' });
    expect(reply.status).toBe(503);
    expect(reply.json().message).toBe('name resolution failed');
  });

  it('retries idempotent requests on connection failures, up to service.retries, and never POST', async () => {
    let accepted = 0;
    let failFirst = 2;
    const flaky = createNetServer((socket: Socket) => {
      accepted++;
      if (failFirst > 0) {
        failFirst--;
        socket.destroy();
        return;
      }
      socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'));
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    const port = (flaky.address() as AddressInfo).port;
    try {
      const service = makeService({ host: '127.0.0.1', port, retries: 5 });
      use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
      const ok = await send(proxyPort, { path: '/' });
      expect(ok.status).toBe(200);
      expect(ok.body).toBe('ok');
      expect(accepted).toBe(3);

      failFirst = 1;
      accepted = 0;
      const post = await send(proxyPort, { method: 'POST', path: '/', body: 'x' });
      expect(post.status).toBe(502);
      expect(accepted).toBe(1);

      failFirst = 10;
      accepted = 0;
      const noRetries = makeService({ host: '127.0.0.1', port, retries: 0 });
      use([makeRoute({ paths: ['/'], service: { id: noRetries.id } })], [noRetries]);
      expect((await send(proxyPort, { path: '/' })).status).toBe(502);
      expect(accepted).toBe(1);
    } finally {
      flaky.close();
    }
  });

  it('504 when the upstream does not answer within read_timeout', async () => {
    const silent = await startUpstream(() => {});
    try {
      const service = makeService({ host: '127.0.0.1', port: silent.port, read_timeout: 150, retries: 0 });
      use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
      const reply = await send(proxyPort, { path: '/' });
      expect(reply.status).toBe(504);
      expect(reply.json().message).toBe('The upstream server is timing out');
    } finally {
      await silent.close();
    }
  });

  it('504 when the upstream stops taking the request body for write_timeout', async () => {
    const stalled = createNetServer((socket: Socket) => socket.pause());
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const port = (stalled.address() as AddressInfo).port;
    try {
      const service = makeService({ host: '127.0.0.1', port, write_timeout: 200, retries: 0 });
      use([makeRoute({ paths: ['/'], request_buffering: false, service: { id: service.id } })], [service]);
      const reply = await send(proxyPort, { method: 'POST', path: '/', body: Buffer.alloc(64 * 1024 * 1024, 1) });
      expect(reply.status).toBe(504);
      expect(reply.json().message).toBe('The upstream server is timing out');
    } finally {
      stalled.close();
    }
  });

  it('a client that disconnects aborts the upstream request', async () => {
    let upstreamClosed = false;
    const slow = await startUpstream((req) => {
      req.socket.on('close', () => (upstreamClosed = true));
    });
    try {
      const service = makeService({ host: '127.0.0.1', port: slow.port });
      use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
      const socket = connect(proxyPort, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      await waitFor(() => slow.requests.length === 1);
      socket.destroy();
      await waitFor(() => upstreamClosed);
      await waitFor(() => proxy.inFlight === 0);
    } finally {
      await slow.close();
    }
  });
});

describe('bodies', () => {
  it('streams request and response bodies both ways, with and without buffering', async () => {
    const service = serviceFor();
    use(
      [
        makeRoute({ paths: ['/buffered'], service: { id: service.id } }),
        makeRoute({ paths: ['/streamed'], request_buffering: false, response_buffering: false, service: { id: service.id } }),
      ],
      [service],
    );
    const big = 'x'.repeat(3 * 1024 * 1024);
    for (const path of ['/buffered', '/streamed']) {
      const reply = await send(proxyPort, { method: 'POST', path, body: big, headers: { 'content-type': 'text/plain' } });
      expect(reply.status).toBe(200);
      expect(lastEcho().body.length).toBe(big.length);
      expect(JSON.parse(reply.body).body.length).toBe(big.length);
    }
    const chunked = await send(proxyPort, { method: 'POST', path: '/buffered', body: 'abc', headers: { 'transfer-encoding': 'chunked' } });
    expect(chunked.status).toBe(200);
    expect(lastEcho().body).toBe('abc');
    expect(lastEcho().headers['content-length']).toBe('3');
  });

  it('streams a buffered-route body larger than requestBufferBytes instead of refusing it', async () => {
    const small = new ProxyServer({ getConfig: () => config, requestBufferBytes: 1024 });
    const { port } = await small.listen('127.0.0.1', 0);
    try {
      const service = serviceFor();
      use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
      const body = 'y'.repeat(100_000);
      const reply = await send(port, { method: 'PUT', path: '/', body, headers: { 'transfer-encoding': 'chunked' } });
      expect(reply.status).toBe(200);
      expect(lastEcho().body).toBe(body);
    } finally {
      await small.close();
    }
  });

  it('starts streaming at once a body whose Content-Length is over requestBufferBytes', async () => {
    let upstreamHead = '';
    const upstreamSeen = createNetServer((socket: Socket) => {
      socket.on('data', (c: Buffer) => (upstreamHead += c.toString('latin1')));
    });
    await new Promise<void>((resolve) => upstreamSeen.listen(0, '127.0.0.1', resolve));
    const small = new ProxyServer({ getConfig: () => config, requestBufferBytes: 1024 });
    const { port } = await small.listen('127.0.0.1', 0);
    const client = connect(port, '127.0.0.1');
    try {
      const service = makeService({ host: '127.0.0.1', port: (upstreamSeen.address() as AddressInfo).port });
      use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
      // Only the first 10 of 100000 declared bytes: a buffering proxy would wait for the rest.
      client.write('PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n0123456789');
      await waitFor(() => upstreamHead.includes('0123456789'));
      expect(upstreamHead).toMatch(/^PUT \/ HTTP\/1\.1\r\n/);
    } finally {
      client.destroy();
      await small.close();
      upstreamSeen.close();
    }
  });
});

describe('WebSocket upgrade', () => {
  it('tunnels a WebSocket through an http route', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const wsPort = (wss.address() as AddressInfo).port;
    let upstreamPath = '';
    let forwardedFor = '';
    wss.on('connection', (socket, req) => {
      upstreamPath = req.url ?? '';
      forwardedFor = String(req.headers['x-forwarded-for']);
      socket.on('message', (data) => socket.send(`echo:${data.toString()}`));
    });
    // Headers the proxy must rewrite on the 101: its own request id replaces the upstream's, Via is appended to.
    wss.on('headers', (headers) => headers.push('X-Sluice-Request-Id: upstream-made', 'Via: 1.1 backend'));
    try {
      const service = makeService({ host: '127.0.0.1', port: wsPort, path: '/ws-up' });
      use([makeRoute({ paths: ['/ws'], service: { id: service.id } })], [service]);
      const client = new WebSocket(`ws://127.0.0.1:${proxyPort}/ws/room?x=1`);
      let switched: IncomingMessage | undefined;
      client.on('upgrade', (res) => (switched = res));
      const reply = await new Promise<string>((resolve, reject) => {
        client.on('open', () => client.send('hi'));
        client.on('message', (data) => resolve(data.toString()));
        client.on('error', reject);
      });
      expect(reply).toBe('echo:hi');
      expect(upstreamPath).toBe('/ws-up/room?x=1');
      expect(forwardedFor).toBe('127.0.0.1');
      const h = switched!.headers;
      expect(switched!.statusCode).toBe(101);
      expect(h.connection?.toLowerCase()).toBe('upgrade');
      expect(h.upgrade).toBe('websocket');
      expect(h['sec-websocket-accept']).toBeDefined();
      expect(h['x-sluice-request-id']).toMatch(HEX);
      expect(h.via).toBe('1.1 backend, 1.1 sluice/9.9.9');
      expect(h['x-sluice-upstream-latency']).toMatch(/^\d+$/);
      expect(h['x-sluice-proxy-latency']).toMatch(/^\d+$/);
      expect(proxy.tunnelCount).toBe(1);
      client.close();
      await waitFor(() => proxy.tunnelCount === 0);
    } finally {
      await closeWss(wss);
    }
  });

  it('answers 404 to an upgrade that matches no route', async () => {
    use([], []);
    const client = new WebSocket(`ws://127.0.0.1:${proxyPort}/none`);
    const status = await new Promise<number>((resolve) => client.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(404);
  });

  it('answers 503 to an upgrade whose service host does not resolve', async () => {
    const service = makeService({ host: 'no-such-host.invalid', port: 80, retries: 0 });
    use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
    const reply = await sendUpgrade(proxyPort, '/');
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body)).toEqual({ message: 'name resolution failed', request_id: reply.headers['x-sluice-request-id'] });
    expect(reply.headers['x-sluice-request-id']).toMatch(HEX);
    expect(reply.headers['x-sluice-response-latency']).toMatch(/^\d+$/);
    expect(reply.headers.server).toBe('sluice/9.9.9');
  });

  it('answers 502 to an upgrade when the upstream refuses connections, after its retries', async () => {
    const port = await refusingPort();
    const service = makeService({ host: '127.0.0.1', port, retries: 2 });
    use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
    const reply = await sendUpgrade(proxyPort, '/');
    expect(reply.status).toBe(502);
    expect(JSON.parse(reply.body)).toEqual({ message: 'An invalid response was received from the upstream server', request_id: reply.headers['x-sluice-request-id'] });
  });

  it('retries a handshake whose upstream connection failed, up to service.retries', async () => {
    const server = createHttpServer();
    const wss = new WebSocketServer({ server });
    let accepted = 0;
    server.on('connection', (socket: Socket) => {
      accepted++;
      if (accepted === 1) socket.destroy();
    });
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo:${data.toString()}`)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const service = makeService({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, retries: 1 });
      use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
      const client = new WebSocket(`ws://127.0.0.1:${proxyPort}/`);
      const reply = await new Promise<string>((resolve, reject) => {
        client.on('open', () => client.send('again'));
        client.on('message', (data) => resolve(data.toString()));
        client.on('error', reject);
      });
      expect(reply).toBe('echo:again');
      expect(accepted).toBe(2);
      client.close();
      await waitFor(() => proxy.tunnelCount === 0);
    } finally {
      await closeWss(wss);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('relays a refused upgrade like a plain response: reason phrase, body, Via, Server, latency and request id', async () => {
    const refusing = await startUpstream((_req, res) => {
      res.writeHead(403, {
        'content-type': 'text/plain',
        'content-length': '6',
        connection: 'x-up-secret',
        'x-up-secret': '1',
        'keep-alive': 'timeout=5',
        via: '1.1 backend',
        'x-sluice-request-id': 'upstream-made',
      });
      res.end('denied');
    });
    try {
      const service = makeService({ host: '127.0.0.1', port: refusing.port });
      use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
      const reply = await sendUpgrade(proxyPort, '/');
      expect(reply.status).toBe(403);
      expect(reply.reason).toBe('Forbidden');
      expect(reply.body).toBe('denied');
      expect(reply.headers['content-type']).toBe('text/plain');
      expect(reply.headers['x-sluice-request-id']).toMatch(HEX);
      expect(reply.headers['x-sluice-request-id']).toBe(refusing.requests.at(-1)!.headers['x-sluice-request-id']);
      expect(reply.headers.via).toBe('1.1 backend, 1.1 sluice/9.9.9');
      expect(reply.headers.server).toBe('sluice/9.9.9');
      expect(reply.headers['x-sluice-upstream-latency']).toMatch(/^\d+$/);
      expect(reply.headers['x-sluice-proxy-latency']).toMatch(/^\d+$/);
      expect(reply.headers.connection).toBe('close');
      for (const gone of ['x-up-secret', 'keep-alive', 'upgrade']) expect(reply.headers[gone]).toBeUndefined();
      expect(reply.headerNames.at(-1)).toBe('Connection');
      await waitFor(() => proxy.tunnelCount === 0);
    } finally {
      await refusing.close();
    }
  });

  it('relays a large refused-upgrade body to a client that stops reading (the upstream is paused, then resumed)', async () => {
    const size = 48 * 1024 * 1024;
    let isUpstreamBlocked = false;
    const big = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      const pump = (): void => {
        while (sent < size) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            isUpstreamBlocked = true;
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    try {
      const service = makeService({ host: '127.0.0.1', port: big.port });
      use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
      let client: Socket | undefined;
      const pending = sendUpgrade(proxyPort, '/', (socket) => {
        client = socket;
        socket.pause();
      });
      await waitFor(() => isUpstreamBlocked);
      client!.resume();
      const reply = await pending;
      expect(reply.status).toBe(200);
      expect(reply.reason).toBe('OK');
      expect(reply.body.length).toBe(size);
    } finally {
      await big.close();
    }
  });

  it('closes a tunnel across which nothing passes for read_timeout', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    try {
      const service = makeService({ host: '127.0.0.1', port: (wss.address() as AddressInfo).port, read_timeout: 200 });
      use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
      const client = new WebSocket(`ws://127.0.0.1:${proxyPort}/`);
      let isClosed = false;
      client.on('close', () => (isClosed = true));
      client.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        client.on('open', () => resolve());
        client.on('unexpected-response', () => reject(new Error('handshake refused')));
      });
      expect(proxy.tunnelCount).toBe(1);
      await waitFor(() => isClosed);
      await waitFor(() => proxy.tunnelCount === 0);
    } finally {
      await closeWss(wss);
    }
  });

  it('keeps a tunnel open past read_timeout while the upstream keeps sending', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const tickers = new Set<NodeJS.Timeout>();
    wss.on('connection', (socket) => {
      const ticker = setInterval(() => socket.send('tick'), 50);
      tickers.add(ticker);
      socket.on('close', () => clearInterval(ticker));
    });
    try {
      const service = makeService({ host: '127.0.0.1', port: (wss.address() as AddressInfo).port, read_timeout: 600 });
      use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
      const client = new WebSocket(`ws://127.0.0.1:${proxyPort}/`);
      let ticks = 0;
      let isClosed = false;
      client.on('message', () => ticks++);
      client.on('close', () => (isClosed = true));
      const openedMs = await new Promise<number>((resolve, reject) => {
        client.on('open', () => resolve(Date.now()));
        client.on('error', reject);
      });
      // Three read_timeouts' worth of ticks (a timeout of 600 ms leaves room for a busy machine's timer delays).
      await waitFor(() => Date.now() - openedMs >= 1800 && ticks >= 20);
      expect(isClosed).toBe(false);
      expect(client.readyState).toBe(WebSocket.OPEN);
      expect(proxy.tunnelCount).toBe(1);
      client.close();
      await waitFor(() => proxy.tunnelCount === 0);
    } finally {
      for (const ticker of tickers) clearInterval(ticker);
      await closeWss(wss);
    }
  });
  it('keeps a tunnel open past read_timeout while only the client sends (nginx re-arms the timer either way)', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    let received = 0;
    wss.on('connection', (socket) => socket.on('message', () => received++));
    let ticker: NodeJS.Timeout | undefined;
    try {
      const service = makeService({ host: '127.0.0.1', port: (wss.address() as AddressInfo).port, read_timeout: 600 });
      use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
      const client = new WebSocket(`ws://127.0.0.1:${proxyPort}/`);
      let isClosed = false;
      client.on('close', () => (isClosed = true));
      const openedMs = await new Promise<number>((resolve, reject) => {
        client.on('open', () => resolve(Date.now()));
        client.on('error', reject);
      });
      ticker = setInterval(() => client.send('tick'), 50);
      await waitFor(() => Date.now() - openedMs >= 1800 && received >= 20);
      expect(isClosed).toBe(false);
      expect(proxy.tunnelCount).toBe(1);
      clearInterval(ticker);
      // Silent both ways now: the timeout applies.
      await waitFor(() => isClosed);
      await waitFor(() => proxy.tunnelCount === 0);
    } finally {
      clearInterval(ticker);
      await closeWss(wss);
    }
  });
});

describe('config swaps', () => {
  it('serves each request with the config read at its start', async () => {
    const a = serviceFor({ path: '/a' });
    const b = serviceFor({ path: '/b' });
    const configA = configOf([makeRoute({ paths: ['/'], service: { id: a.id } })], [a], 1);
    const configB = configOf([makeRoute({ paths: ['/'], service: { id: b.id } })], [b], 2);
    config = configA;
    await send(proxyPort, { path: '/x' });
    expect(lastEcho().url).toBe('/a/x');
    config = configB;
    await send(proxyPort, { path: '/x' });
    expect(lastEcho().url).toBe('/b/x');
  });
});

describe('close()', () => {
  it('drains an in-flight request, then stops listening', async () => {
    let release: () => void = () => {};
    const held = await startUpstream((_req, res) => {
      release = () => res.end('late');
    });
    const draining = new ProxyServer({ getConfig: () => config });
    const { port } = await draining.listen('127.0.0.1', 0);
    try {
      const service = makeService({ host: '127.0.0.1', port: held.port });
      use([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
      const pending = send(port, { path: '/' });
      await waitFor(() => held.requests.length === 1);
      const closing = draining.close();
      release();
      const reply = await pending;
      expect(reply.body).toBe('late');
      await closing;
      await expect(send(port, { path: '/' })).rejects.toThrow();
    } finally {
      await held.close();
    }
  });
});
