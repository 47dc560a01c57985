import type { ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { ProxyServer, type ProxyConfig } from '../src/proxy/proxy-server.js';
import { makeRoute, makeService } from './fixtures/entities.js';
import { configOf, startUpstream, waitFor } from './proxy-helpers.js';

// nginx's send_timeout: a client that takes nothing of what is queued for it is cut after
// clientSendTimeoutMs (here 1 s: room for a busy machine's timer delays), and the upstream request
// with it; one that reads slowly but steadily is not. Bodies are large enough to fill the loopback
// socket buffers. Progress inside one large write request (libuv's write queue size) is proven in
// src/proxy/send-timeout.test.ts: over loopback, when the kernel takes bytes depends on its window
// updates, too irregular for a timing test here.

const SEND_TIMEOUT_MS = 1000;
const BIG = 48 * 1024 * 1024;

let config: ProxyConfig | null = null;
let proxy: ProxyServer;
let proxyPort: number;

beforeAll(async () => {
  proxy = new ProxyServer({ getConfig: () => config, clientSendTimeoutMs: SEND_TIMEOUT_MS });
  proxyPort = (await proxy.listen('127.0.0.1', 0)).port;
});

afterAll(async () => {
  await proxy.close();
});

/** An upstream streaming `BIG` bytes with backpressure; `outcome` tells whether its response finished or was cut. */
async function bigUpstream(): Promise<{ port: number; outcome: () => string; close: () => Promise<void> }> {
  let outcome = 'pending';
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  const upstream = await startUpstream((_req, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG) });
    let sent = 0;
    const pump = (): void => {
      while (sent < BIG) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('finish', () => (outcome = 'finished'));
    res.on('close', () => {
      if (outcome === 'pending') outcome = 'aborted';
    });
    pump();
  });
  return { port: upstream.port, outcome: () => outcome, close: upstream.close };
}

function request(socket: Socket, path: string): void {
  socket.write(`GET ${path} HTTP/1.1\r\nHost: example.test\r\n\r\n`);
}

describe('client send timeout', () => {
  it('cuts a client that stops reading, and aborts the upstream request', async () => {
    const upstream = await bigUpstream();
    const service = makeService({ host: '127.0.0.1', port: upstream.port });
    config = configOf([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
    const socket = connect(proxyPort, '127.0.0.1');
    try {
      let received = 0;
      socket.on('data', (c: Buffer) => {
        received += c.length;
        // Read the head and a little, then stop reading for good.
        if (received > 64 * 1024) socket.pause();
      });
      socket.on('error', () => {});
      request(socket, '/big');
      await waitFor(() => upstream.outcome() !== 'pending', 10_000);
      expect(upstream.outcome()).toBe('aborted');
      await waitFor(() => proxy.inFlight === 0);
      expect(received).toBeLessThan(BIG);
    } finally {
      socket.destroy();
      await upstream.close();
    }
  });

  it('does not cut a client that reads slowly but steadily', async () => {
    const upstream = await bigUpstream();
    const service = makeService({ host: '127.0.0.1', port: upstream.port });
    config = configOf([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
    const socket = connect(proxyPort, '127.0.0.1');
    // At most 1 MiB every 50 ms (~20 MB/s, so the 48 MiB take over twice the send timeout): slower
    // than the upstream, so the proxy's writes are refused, but something is always taken well
    // within the 1 s send timeout.
    let budget = 1024 * 1024;
    const ticker = setInterval(() => {
      budget = 1024 * 1024;
      socket.resume();
    }, 50);
    try {
      let received = 0;
      let isClosed = false;
      socket.on('data', (c: Buffer) => {
        received += c.length;
        budget -= c.length;
        if (budget <= 0) socket.pause();
      });
      socket.on('close', () => (isClosed = true));
      request(socket, '/big');
      await waitFor(() => upstream.outcome() !== 'pending', 20_000);
      expect(upstream.outcome()).toBe('finished');
      await waitFor(() => received > BIG || isClosed, 20_000);
      expect(isClosed).toBe(false);
      expect(received).toBeGreaterThan(BIG);
    } finally {
      clearInterval(ticker);
      socket.destroy();
      await upstream.close();
    }
  });

  it('closes an upgraded tunnel whose client takes nothing of what the upstream sends', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const frame = Buffer.alloc(1024 * 1024, 0x62);
    wss.on('connection', (ws) => {
      // Flood the client, paced by the upstream socket's own backpressure.
      const flood = (): void => {
        while (ws.readyState === ws.OPEN && ws.bufferedAmount < 8 * 1024 * 1024) ws.send(frame);
        if (ws.readyState === ws.OPEN) setTimeout(flood, 10);
      };
      flood();
    });
    const service = makeService({ host: '127.0.0.1', port: (wss.address() as AddressInfo).port, read_timeout: 60_000 });
    config = configOf([makeRoute({ paths: ['/'], service: { id: service.id } })], [service]);
    const socket = connect(proxyPort, '127.0.0.1');
    try {
      let head = '';
      socket.on('data', (c: Buffer) => {
        head += c.toString('latin1', 0, Math.min(c.length, 256));
        socket.pause();
      });
      socket.on('error', () => {});
      socket.write(
        'GET /ws HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      await waitFor(() => proxy.tunnelCount === 1);
      await waitFor(() => proxy.tunnelCount === 0, 10_000);
      expect(head.startsWith('HTTP/1.1 101 ')).toBe(true);
    } finally {
      socket.destroy();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });
});
