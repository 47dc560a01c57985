import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { Service } from '@sluice/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProxyServer, type ProxyConfig } from '../src/proxy/proxy-server.js';
import { makeRoute, makeService } from './fixtures/entities.js';
import { configOf, send, startUpstream } from './proxy-helpers.js';

// HTTP/1.1 message semantics a client relies on through a proxy (RFC 9110/9112): bodiless
// responses, interim responses, framing changes between the two hops, repeated fields.

let config: ProxyConfig | null = null;
let proxy: ProxyServer;
let proxyPort: number;

beforeAll(async () => {
  proxy = new ProxyServer({ getConfig: () => config });
  proxyPort = (await proxy.listen('127.0.0.1', 0)).port;
});

afterAll(async () => {
  await proxy.close();
});

afterEach(() => {
  config = null;
});

function routeTo(service: Service): void {
  config = configOf([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
}

/** A response read whole from a keep-alive agent, with whether its socket was reused. */
interface AgentReply {
  status: number;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: string;
  reusedSocket: boolean;
}

function viaAgent(agent: Agent, method: string, path: string, headers: Record<string, string> = {}): Promise<AgentReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: proxyPort, method, path, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString(), reusedSocket: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A raw upstream answering every request with `answer` (the bytes after the request head). */
async function rawUpstream(answer: (head: string) => string, closeAfter = false): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buffered.slice(0, end);
      buffered = buffered.slice(end + 4);
      if (closeAfter) socket.end(answer(head));
      else socket.write(answer(head));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('bodiless responses', () => {
  it('HEAD keeps the Content-Length, sends no body, and the connection stays usable', async () => {
    const upstream = await startUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
      res.end(req.method === 'HEAD' ? undefined : 'hello');
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      routeTo(makeService({ port: upstream.port }));
      const head = await viaAgent(agent, 'HEAD', '/thing');
      expect(head.status).toBe(200);
      expect(head.headers['content-length']).toBe('5');
      expect(head.body).toBe('');
      const get = await viaAgent(agent, 'GET', '/thing');
      expect(get.body).toBe('hello');
      expect(get.reusedSocket).toBe(true);
      expect(upstream.requests.map((r) => r.method)).toEqual(['HEAD', 'GET']);
    } finally {
      agent.destroy();
      await upstream.close();
    }
  });

  it('204 and 304 arrive without a body or chunked framing, and the connection stays usable', async () => {
    const upstream = await startUpstream((req, res) => {
      if (req.url === '/empty') {
        res.writeHead(204, { 'x-kind': 'no-content' });
        res.end();
        return;
      }
      res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60' });
      res.end();
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      routeTo(makeService({ port: upstream.port }));
      const empty = await viaAgent(agent, 'DELETE', '/empty');
      expect(empty.status).toBe(204);
      expect(empty.headers['x-kind']).toBe('no-content');
      expect(empty.headers['transfer-encoding']).toBeUndefined();
      expect(empty.body).toBe('');
      const notModified = await viaAgent(agent, 'GET', '/cached', { 'if-none-match': '"v1"' });
      expect(notModified.status).toBe(304);
      expect(notModified.headers.etag).toBe('"v1"');
      expect(notModified.headers['transfer-encoding']).toBeUndefined();
      expect(notModified.body).toBe('');
      expect(notModified.reusedSocket).toBe(true);
      expect(upstream.requests[1]!.headers['if-none-match']).toBe('"v1"');
    } finally {
      agent.destroy();
      await upstream.close();
    }
  });
});

describe('framing between the two hops', () => {
  it('relays a chunked upstream body of unknown length whole', async () => {
    const parts = Array.from({ length: 20 }, (_, i) => `part-${i};`);
    const upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (const part of parts) res.write(part);
      res.end();
    });
    try {
      routeTo(makeService({ port: upstream.port }));
      const reply = await send(proxyPort, { path: '/stream' });
      expect(reply.status).toBe(200);
      expect(reply.body).toBe(parts.join(''));
      expect(reply.headers['content-length']).toBeUndefined();
      expect(reply.headers['transfer-encoding']).toBe('chunked');
    } finally {
      await upstream.close();
    }
  });

  it('relays a close-delimited upstream body (no Content-Length, no chunking) whole', async () => {
    const body = 'x'.repeat(100_000);
    const upstream = await rawUpstream(() => `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${body}`, true);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      routeTo(makeService({ port: upstream.port }));
      const first = await viaAgent(agent, 'GET', '/legacy');
      expect(first.status).toBe(200);
      expect(first.body).toBe(body);
      // The upstream's Connection: close is about its own hop: the client's connection stays open.
      expect(first.headers.connection).not.toBe('close');
      const second = await viaAgent(agent, 'GET', '/legacy');
      expect(second.body).toBe(body);
      expect(second.reusedSocket).toBe(true);
    } finally {
      agent.destroy();
      await upstream.close();
    }
  });

  it('cuts the client connection when the upstream closes before the Content-Length it announced', async () => {
    const upstream = await rawUpstream(() => 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort', true);
    try {
      routeTo(makeService({ port: upstream.port, retries: 0 }));
      // The head was already relayed: the client sees the connection cut, never a complete-looking short body.
      const outcome = await send(proxyPort, { path: '/' }).then(
        (reply) => ({ complete: true, body: reply.body }),
        () => ({ complete: false, body: '' }),
      );
      expect(outcome.complete).toBe(false);
    } finally {
      await upstream.close();
    }
  });
});

describe('interim responses and repeated fields', () => {
  it('Expect: 100-continue gets 100 Continue from the proxy, then the body reaches the upstream', async () => {
    const upstream = await startUpstream();
    try {
      routeTo(makeService({ port: upstream.port }));
      const outcome = await new Promise<{ sawContinue: boolean; status: number; body: string }>((resolve, reject) => {
        let sawContinue = false;
        const req = httpRequest(
          { host: '127.0.0.1', port: proxyPort, method: 'POST', path: '/upload', agent: false, headers: { expect: '100-continue', 'content-length': '7' } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ sawContinue, status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
          },
        );
        req.on('continue', () => {
          sawContinue = true;
          req.end('payload');
        });
        req.on('error', reject);
      });
      expect(outcome.sawContinue).toBe(true);
      expect(outcome.status).toBe(200);
      const echo = JSON.parse(outcome.body) as { body: string; headers: Record<string, string> };
      expect(echo.body).toBe('payload');
      expect(echo.headers.expect).toBeUndefined();
    } finally {
      await upstream.close();
    }
  });

  it('keeps repeated Set-Cookie response fields separate and forwards repeated request fields', async () => {
    const upstream = await startUpstream((_req, res) => {
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
      res.setHeader('content-length', '2');
      res.end('ok');
    });
    try {
      routeTo(makeService({ port: upstream.port }));
      const reply = await send(proxyPort, { path: '/', headers: { 'x-tag': ['one', 'two'] } });
      expect(reply.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
      const seen = upstream.requests[0]!.rawHeaders;
      const tags = seen.filter((_, i) => i % 2 === 1 && seen[i - 1]!.toLowerCase() === 'x-tag');
      expect(tags).toEqual(['one', 'two']);
    } finally {
      await upstream.close();
    }
  });

  it("passes the upstream's own error responses through untouched", async () => {
    const upstream = await startUpstream((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/plain', 'content-length': '9' });
      res.end('app error');
    });
    try {
      routeTo(makeService({ port: upstream.port }));
      const reply = await send(proxyPort, { path: '/' });
      expect(reply.status).toBe(502);
      expect(reply.body).toBe('app error');
      expect(reply.headers['content-type']).toBe('text/plain');
    } finally {
      await upstream.close();
    }
  });

  it('closes the client connection after the response when the client asks with Connection: close', async () => {
    const upstream = await startUpstream();
    try {
      routeTo(makeService({ port: upstream.port }));
      const socket = connect(proxyPort, '127.0.0.1');
      const received = await new Promise<string>((resolve, reject) => {
        let data = '';
        socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
        socket.write('GET /bye HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
      });
      expect(received.startsWith('HTTP/1.1 200 ')).toBe(true);
      expect(received.toLowerCase()).toContain('\r\nconnection: close\r\n');
      expect(upstream.requests[0]!.headers.connection).not.toBe('close');
      socket.destroy();
    } finally {
      await upstream.close();
    }
  });
});
