import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePluginChain, type PluginChain } from '../src/plugins/plugin-chain.js';
import type { PluginHandler } from '../src/plugins/plugin-handler.js';
import { ProxyServer, type ProxyConfig } from '../src/proxy/proxy-server.js';
import { makeRoute, makeService } from './fixtures/entities.js';
import { configOf, send, startUpstream } from './proxy-helpers.js';

// A plugin reading and replacing the request body through a real ProxyServer (key-auth's
// key_in_body): the body read whole is what goes upstream (Content-Length follows a replacement),
// a body past `requestBufferBytes` gives null and still reaches the upstream whole, and a request
// without a body reads as empty.

const LIMIT_BYTES = 64;
let upstream: Awaited<ReturnType<typeof startUpstream>>;
let proxy: ProxyServer;
let port: number;
let config: ProxyConfig;
const seen: (string | null)[] = [];

const reader: PluginHandler = {
  name: 'reader',
  priority: 1,
  async access(ctx) {
    const body = await ctx.readBody();
    seen.push(body === null ? null : body.toString());
    if (body !== null && ctx.request.get('x-replace') !== undefined) ctx.setBody(Buffer.from(body.toString().toUpperCase() + '!'));
  },
};

beforeAll(async () => {
  upstream = await startUpstream();
  const service = makeService({ name: 'echo', host: '127.0.0.1', port: upstream.port });
  const route = makeRoute({ name: 'body', paths: ['/body'], service: { id: service.id } });
  const chains = new Map<string, PluginChain>([[route.id, compilePluginChain([reader])]]);
  config = { ...configOf([route], [service]), chains };
  proxy = new ProxyServer({ getConfig: () => config, requestBufferBytes: LIMIT_BYTES });
  port = (await proxy.listen('127.0.0.1', 0)).port;
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

describe('plugin body access', () => {
  it('reads the body whole and forwards it; a replacement goes upstream with its Content-Length', async () => {
    seen.length = 0;
    const kept = await send(port, { method: 'POST', path: '/body', body: 'a=1&b=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(kept.json()).toMatchObject({ body: 'a=1&b=2' });
    const replaced = await send(port, { method: 'POST', path: '/body', body: 'abc', headers: { 'x-replace': '1' } });
    const echo = replaced.json() as { body: string; headers: Record<string, string> };
    expect(echo.body).toBe('ABC!');
    expect(echo.headers['content-length']).toBe('4');
    expect(seen).toEqual(['a=1&b=2', 'abc']);
  });

  it('reads a chunked body whole too', async () => {
    seen.length = 0;
    const reply = await send(port, { method: 'POST', path: '/body', body: 'chunked!', headers: { 'transfer-encoding': 'chunked' } });
    expect((reply.json() as { body: string; headers: Record<string, string> }).body).toBe('chunked!');
    expect(seen).toEqual(['chunked!']);
  });

  it('gives null past requestBufferBytes, and the upstream still gets the whole body', async () => {
    seen.length = 0;
    const big = 'x'.repeat(LIMIT_BYTES * 4);
    const reply = await send(port, { method: 'POST', path: '/body', body: big });
    expect(reply.status).toBe(200);
    expect((reply.json() as { body: string }).body).toBe(big);
    expect(seen).toEqual([null]);
  });

  it('reads a request without a body as empty and sends none', async () => {
    seen.length = 0;
    const reply = await send(port, { path: '/body' });
    expect(reply.status).toBe(200);
    const echo = reply.json() as { body: string; headers: Record<string, string> };
    expect(echo.body).toBe('');
    expect(echo.headers['content-length']).toBeUndefined();
    expect(seen).toEqual(['']);
  });
});
