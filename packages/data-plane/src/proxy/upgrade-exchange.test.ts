import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { EMPTY_CHAIN } from '../plugins/plugin-chain.js';
import type { RouteMatch } from '../router/router.js';
import { injectedHeaders } from './injected-headers.js';
import type { Origin } from './origin-pools.js';
import type { ProxyContext } from './proxy-context.js';
import { RequestIdGenerator } from './request-id.js';
import { TrustedIps } from './trusted-ips.js';
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

/**
 * A tunnel over `socket` whose handshake was sent to a fake origin: returns the undici dispatch
 * handler it was sent with, which the test drives as undici would.
 */
function tunnelOver(socket: ClientSocket): Dispatcher.DispatchHandler {
  const ctx = {
    listenerPort: 8000,
    listenerPortText: '8000',
    requestIds: new RequestIdGenerator(),
    trustedIps: new TrustedIps([]),
    viaToken: '1.1 sluice/9.9.9',
    serverToken: 'sluice/9.9.9',
    injected: injectedHeaders(),
    logger: silentLogger,
    options: { clientSendTimeoutMs: 60_000 },
    baseChain: EMPTY_CHAIN,
    pools: { touch() {} },
    reportLogError() {},
  };
  const req = { method: 'GET', url: '/ws', headers: {}, rawHeaders: [], socket: { remoteAddress: '127.0.0.1' } };
  let handler: Dispatcher.DispatchHandler | null = null;
  const origin = { pool: { dispatch: (_options: unknown, h: Dispatcher.DispatchHandler) => (handler = h) }, hostHeader: 'upstream', address: 'upstream:80', readTimeoutMs: 60_000, writeTimeoutMs: 60_000 };
  const match = { route: { id: 'r' }, service: { retries: 0 }, strippedPrefix: null, upstreamPath: '/ws' };
  const tunnel = new UpgradeExchange(ctx as unknown as ProxyContext, req as unknown as IncomingMessage, socket as unknown as Socket, Buffer.alloc(0), () => {});
  tunnel.view.scanHeaders();
  tunnel.noteMatch(match as unknown as RouteMatch);
  tunnel.start(EMPTY_CHAIN, origin as unknown as Origin);
  return handler!;
}

describe('UpgradeExchange, non-101 answer', () => {
  it('pauses the upstream while the client socket is full and resumes it on drain', () => {
    const socket = new ClientSocket();
    const tunnel = tunnelOver(socket);
    let resumed = 0;
    expect(tunnel.onHeaders!(403, [Buffer.from('Content-Length'), Buffer.from('6')], () => resumed++, 'Forbidden')).toBe(true);
    expect(socket.written[0]).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(tunnel.onData!(Buffer.from('den'))).toBe(true);
    socket.isFull = true;
    expect(tunnel.onData!(Buffer.from('ied'))).toBe(false);
    expect(resumed).toBe(0);
    socket.emit('drain');
    expect(resumed).toBe(1);
    // A drain with nothing paused resumes nothing (the parser may be paused for another request by then).
    socket.emit('drain');
    expect(resumed).toBe(1);
    expect(socket.listenerCount('drain')).toBe(1);
  });
});
