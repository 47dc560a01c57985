import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { injectedHeaders } from './injected-headers.js';
import type { ProxyContext } from './proxy-context.js';
import { RequestIdGenerator } from './request-id.js';
import { UpgradeExchange } from './upgrade-exchange.js';

/** The client socket side an UpgradeExchange writes a refused handshake's answer to; `isFull` makes write() report backpressure. */
class ClientSocket extends EventEmitter {
  isFull = false;
  writableLength = 0;
  readonly written: string[] = [];
  writable = true;
  write(chunk: string | Buffer): boolean {
    this.written.push(chunk.toString());
    return !this.isFull;
  }
  end(): void {}
  destroy(): void {}
}

function tunnelOver(socket: ClientSocket): UpgradeExchange {
  const ctx = { listenerPort: 8000, requestIds: new RequestIdGenerator(), viaToken: '1.1 sluice/9.9.9', serverToken: 'sluice/9.9.9', injected: injectedHeaders(), logger: silentLogger, options: { clientSendTimeoutMs: 60_000 } };
  const req = { method: 'GET', url: '/ws', headers: {}, rawHeaders: [] };
  return new UpgradeExchange(ctx as unknown as ProxyContext, req as unknown as IncomingMessage, socket as unknown as Socket, Buffer.alloc(0), () => {});
}

describe('UpgradeExchange, non-101 answer', () => {
  it('pauses the upstream while the client socket is full and resumes it on drain', () => {
    const socket = new ClientSocket();
    const tunnel = tunnelOver(socket);
    let resumed = 0;
    expect(tunnel.onHeaders(403, ['Content-Length', '6'], () => resumed++)).toBe(true);
    expect(socket.written[0]).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(tunnel.onData(Buffer.from('den'))).toBe(true);
    socket.isFull = true;
    expect(tunnel.onData(Buffer.from('ied'))).toBe(false);
    expect(resumed).toBe(0);
    socket.emit('drain');
    expect(resumed).toBe(1);
    // A drain with nothing paused resumes nothing (the parser may be paused for another request by then).
    socket.emit('drain');
    expect(resumed).toBe(1);
    expect(socket.listenerCount('drain')).toBe(1);
  });
});
