import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Route, Service } from '@sluice/protocol';
import type { Logger } from '../src/logger.js';
import type { AccessLogSink } from '../src/plugins/access-log/access-log-sink.js';
import { compilePluginChain, PluginChain } from '../src/plugins/plugin-chain.js';
import type { PluginContext } from '../src/plugins/plugin-context.js';
import type { PluginHandler } from '../src/plugins/plugin-handler.js';
import { KeyAuthHandler, keyAuthConfig } from '../src/plugins/key-auth/handler.js';
import { fakeConsumerDirectory } from '../src/plugins/testing/fake-consumer-directory.js';
import { ProxyServer, type ProxyConfig } from '../src/proxy/proxy-server.js';
import { makeRoute, makeService } from './fixtures/entities.js';
import { configOf, refusingPort, send, sendUpgrade, startUpstream, waitFor } from './proxy-helpers.js';

// The plugin pipeline through a real ProxyServer on loopback: route chains from ProxyConfig.chains,
// the phases in order, Kong's short-circuit rule, async handlers, failing handlers (closed), and the
// log phase (after the process-wide traffic statistics and access log) for every kind of response.

/** What a log handler saw, copied at log time. */
interface Logged {
  plugin: string;
  status: number;
  route: string | null;
  bodyBytesSent: number | null;
  isUpgrade: boolean;
  hasUpstreamHead: boolean;
  endMs: number;
  startMs: number;
}

const events: string[] = [];
const logged: Logged[] = [];
const errors: { obj: object; msg: string | undefined }[] = [];
const accessLines: { status: number; request_id: string; route: { name: string | null } | null }[] = [];

const logger: Logger = { debug() {}, info() {}, warn() {}, error: (obj, msg) => void errors.push({ obj, msg }) };
const sink: AccessLogSink = { write: (line) => accessLines.push(JSON.parse(line) as (typeof accessLines)[number]) };

/** A handler noting `name:phase` in `events` for the phases given, and what its log phase saw. */
function tracer(name: string, priority: number, overrides: Partial<PluginHandler> = {}): PluginHandler {
  return {
    name,
    priority,
    rewrite: () => void events.push(`${name}:rewrite`),
    access: () => void events.push(`${name}:access`),
    header_filter: () => void events.push(`${name}:header_filter`),
    body_filter: (_ctx, chunk, isLast) => {
      events.push(`${name}:body_filter${isLast ? ':last' : ''}`);
      return chunk;
    },
    log: (ctx: PluginContext) => {
      events.push(`${name}:log`);
      logged.push({
        plugin: name,
        status: ctx.status,
        route: ctx.route?.name ?? null,
        bodyBytesSent: ctx.bodyBytesSent,
        isUpgrade: ctx.isUpgrade,
        hasUpstreamHead: ctx.timing.upstreamHeadMs >= 0,
        endMs: ctx.timing.endMs,
        startMs: ctx.timing.startMs,
      });
    },
    ...overrides,
  };
}

/** A handler answering 401 unless the request carries `apikey: good` (key-auth's shape). */
const keyAuth: PluginHandler = {
  name: 'key-auth',
  priority: 1250,
  access(ctx) {
    events.push('key-auth:access');
    if (ctx.request.get('apikey') !== 'good') return ctx.answer(401, 'No API key found in request', { 'WWW-Authenticate': 'Key realm="kong"' });
    ctx.request.clear('apikey');
    ctx.request.set('X-Consumer-Username', 'alice');
    ctx.authenticate({ id: 'c-1', username: 'alice' }, { id: 'cred-1', consumerId: 'c-1', identifier: 'cred-1' });
  },
};

/** A header_filter handler adding a header to whatever response is sent (cors' shape). */
const stamp: PluginHandler = {
  name: 'stamp',
  priority: 2000,
  header_filter(ctx) {
    events.push('stamp:header_filter');
    ctx.response.set('X-Stamp', `status=${ctx.status}`);
  },
};

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let proxy: ProxyServer;
let proxyPort: number;
let config: ProxyConfig | null = null;
const routes: Route[] = [];
const chains = new Map<string, PluginChain>();
let service: Service;

/** Services besides the echo upstream's, for the routes of later tests. */
const extraServices: Service[] = [];

/**
 * Adds a route named `name` on path `/<name>` (to `routeService`, default the echo upstream's;
 * other services must be in `extraServices`) with the chain of `handlers`, and serves the result.
 */
function route(name: string, handlers: readonly PluginHandler[], routeService: Service | null = service): Route {
  const r = makeRoute({ name, paths: [`/${name}`], service: routeService === null ? null : { id: routeService.id } });
  routes.push(r);
  if (handlers.length > 0) chains.set(r.id, compilePluginChain(handlers));
  config = { ...configOf(routes, [service, ...extraServices]), chains };
  return r;
}

beforeAll(async () => {
  upstream = await startUpstream((req, res, body) => {
    const out = JSON.stringify({ url: req.url, headers: req.headers, body: body.toString() });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out), 'x-upstream': 'yes' });
    res.end(out);
  });
  service = makeService({ name: 'echo', host: '127.0.0.1', port: upstream.port });
  proxy = new ProxyServer({ getConfig: () => config, logger, accessLog: sink });
  proxyPort = (await proxy.listen('127.0.0.1', 0)).port;
});

afterAll(async () => {
  await proxy.close();
  await upstream.close();
});

beforeEach(() => {
  events.length = 0;
  logged.length = 0;
  errors.length = 0;
});

/** Waits for the log phase of `count` responses (the plugin tracers'). */
async function loggedCount(count: number): Promise<void> {
  await waitFor(() => logged.length >= count);
}

describe('plugin chains on proxied requests', () => {
  it('runs every phase in order: rewrite, access, header_filter, body_filter, then log once the response is finished', async () => {
    route('phases', [tracer('second', 10), tracer('first', 20)]);
    const reply = await send(proxyPort, { path: '/phases/x' });
    expect(reply.status).toBe(200);
    await loggedCount(2);
    const bodyEvents = events.filter((e) => e.includes('body_filter'));
    expect(events.filter((e) => !e.includes('body_filter'))).toEqual(['first:rewrite', 'second:rewrite', 'first:access', 'second:access', 'first:header_filter', 'second:header_filter', 'first:log', 'second:log']);
    // Each chunk passes both handlers, in order; the last call carries isLast; all before log.
    expect(bodyEvents.slice(-2)).toEqual(['first:body_filter:last', 'second:body_filter:last']);
    expect(events.indexOf('first:log')).toBeGreaterThan(events.lastIndexOf('second:body_filter:last'));
    expect(logged[0]).toMatchObject({ plugin: 'first', status: 200, route: 'phases', bodyBytesSent: Buffer.byteLength(reply.body), isUpgrade: false, hasUpstreamHead: true });
    expect(logged[0]!.endMs).toBeGreaterThanOrEqual(logged[0]!.startMs);
  });

  it('composes a route chain with the process-wide handlers once, not per request', async () => {
    // Compiling a chain reads every phase of each handler once (to file it); composing it with the
    // process-wide handlers reuses its phase lists, and serving a request reads only the phases the
    // handler acts in, so reads of one it lacks count compilations.
    let compilations = 0;
    const handler = {
      name: 'counted',
      priority: 1,
      access: () => {},
      get body_filter() {
        compilations++;
        return undefined;
      },
    } as PluginHandler;
    route('counted', [handler]);
    expect(compilations).toBe(1);
    for (let i = 0; i < 3; i++) expect((await send(proxyPort, { path: '/counted' })).status).toBe(200);
    expect(compilations).toBe(1);
  });

  it('lets access handlers change the upstream request, and a route without plugins is untouched', async () => {
    route('auth', [keyAuth]);
    route('plain', []);
    const reply = await send(proxyPort, { path: '/auth', headers: { apikey: 'good', 'x-keep': '1' } });
    expect(reply.status).toBe(200);
    const seen = reply.json().headers as Record<string, string>;
    expect(seen.apikey).toBeUndefined();
    expect(seen['x-consumer-username']).toBe('alice');
    expect(seen['x-keep']).toBe('1');
    const plain = await send(proxyPort, { path: '/plain', headers: { apikey: 'good' } });
    expect((plain.json().headers as Record<string, string>).apikey).toBe('good');
  });

  it('builds the proxy\'s own headers on what access handlers left (Host replaced, X-Forwarded-For appended to), and refuses hop-by-hop ones', async () => {
    route('rewrites', [
      {
        name: 'rewriter',
        priority: 1,
        access(ctx) {
          expect(ctx.request.get('host')).toBe(`127.0.0.1:${proxyPort}`);
          ctx.request.set('Host', 'backend.internal');
          ctx.request.set('X-Forwarded-For', '198.51.100.9');
        },
      },
    ]);
    route('hopbyhop', [{ name: 'bad-header', priority: 1, access: (ctx) => ctx.request.set('Connection', 'close') }]);
    const reply = await send(proxyPort, { path: '/rewrites' });
    const seen = reply.json().headers as Record<string, string>;
    expect(seen.host).toBe('backend.internal');
    expect(seen['x-forwarded-for']).toBe('198.51.100.9, 127.0.0.1');
    expect(seen['x-forwarded-host']).toBe('127.0.0.1');
    const refused = await send(proxyPort, { path: '/hopbyhop' });
    expect(refused.status).toBe(500);
    expect((errors[0]?.obj as { err: { cause: { code: string } } }).err.cause.code).toBe('SLUICE_DP_INVALID_ARGUMENT');
  });

  it('short-circuits: an access answer skips the later access handlers and the upstream, and header_filter and log still run on it', async () => {
    route('guarded', [tracer('before', 1500), keyAuth, tracer('after', 100), stamp]);
    const requestsBefore = upstream.requests.length;
    const reply = await send(proxyPort, { path: '/guarded', headers: { accept: 'application/json' } });
    expect(reply.status).toBe(401);
    expect(reply.json()).toEqual({ message: 'No API key found in request', request_id: reply.headers['x-sluice-request-id'] });
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(reply.headers['www-authenticate']).toBe('Key realm="kong"');
    expect(reply.headers['x-stamp']).toBe('status=401');
    await loggedCount(2);
    expect(events.filter((e) => e.endsWith(':access') || e.endsWith(':rewrite'))).toEqual(['before:rewrite', 'after:rewrite', 'before:access', 'key-auth:access']);
    expect(events).toContain('after:header_filter');
    expect(logged.map((l) => [l.plugin, l.status, l.hasUpstreamHead])).toEqual([
      ['before', 401, false],
      ['after', 401, false],
    ]);
    expect(upstream.requests.length).toBe(requestsBefore);
    // The process-wide log handlers counted it too, against its route.
    await waitFor(() => accessLines.some((l) => l.request_id === reply.headers['x-sluice-request-id']));
    const series = proxy.trafficSnapshot().series.find((s) => s.route === 'guarded');
    expect(series?.codes).toEqual([[401, 1]]);
  });

  it('renders an answer in the format Accept asks for, with Kong\'s default message when none is given', async () => {
    route('teapot', [{ name: 'refuse', priority: 1, access: (ctx) => ctx.answer(403) }]);
    const reply = await send(proxyPort, { path: '/teapot', headers: { accept: 'text/plain' } });
    expect(reply.status).toBe(403);
    expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(reply.body).toBe(`Forbidden\nrequest_id: ${reply.headers['x-sluice-request-id']}\n`);
  });

  it('awaits async handlers, then forwards, or sends the answer they gave', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    route('slow', [
      {
        name: 'slow-hash',
        priority: 20,
        async access(ctx) {
          await released;
          ctx.request.set('X-Verified', 'yes');
        },
      },
      tracer('later', 10),
    ]);
    route('limited', [
      {
        name: 'redis-limit',
        priority: 910,
        async access(ctx) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          ctx.response.set('X-RateLimit-Remaining', '0');
          ctx.answer(429, 'API rate limit exceeded');
        },
      },
    ]);
    const pending = send(proxyPort, { path: '/slow' });
    await waitFor(() => events.includes('later:rewrite'));
    expect(events).not.toContain('later:access');
    release();
    const reply = await pending;
    expect(reply.status).toBe(200);
    expect((reply.json().headers as Record<string, string>)['x-verified']).toBe('yes');
    expect(events).toContain('later:access');
    const limited = await send(proxyPort, { path: '/limited' });
    expect(limited.status).toBe(429);
    expect(limited.json().message).toBe('API rate limit exceeded');
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
  });

  it('applies response headers set in access to the proxied response, before header_filter handlers see it', async () => {
    route('limits', [
      { name: 'limit-headers', priority: 910, access: (ctx) => ctx.response.set('RateLimit-Remaining', '9') },
      { name: 'filter', priority: 800, header_filter: (ctx) => ctx.response.set('X-Seen-Remaining', ctx.response.get('ratelimit-remaining') ?? 'none') },
      { name: 'strip', priority: 700, header_filter: (ctx) => ctx.response.clear('X-Upstream') },
    ]);
    const reply = await send(proxyPort, { path: '/limits' });
    expect(reply.status).toBe(200);
    expect(reply.headers['ratelimit-remaining']).toBe('9');
    expect(reply.headers['x-seen-remaining']).toBe('9');
    expect(reply.headers['x-upstream']).toBeUndefined();
  });

  it('fails closed when an access handler throws or rejects: 500 with Kong\'s body, logged, never forwarded', async () => {
    route('throws', [
      {
        name: 'broken',
        priority: 10,
        access() {
          throw new Error('bug in plugin');
        },
      },
      tracer('after', 1),
    ]);
    route('rejects', [{ name: 'broken-async', priority: 10, access: () => Promise.reject(new Error('redis down')) }]);
    const requestsBefore = upstream.requests.length;
    for (const path of ['/throws', '/rejects']) {
      const reply = await send(proxyPort, { path });
      expect(reply.status).toBe(500);
      expect(reply.json()).toEqual({ message: 'An unexpected error occurred', request_id: reply.headers['x-sluice-request-id'] });
    }
    expect(upstream.requests.length).toBe(requestsBefore);
    expect(events).not.toContain('after:access');
    // The chain's later phases still ran on the 500, and the failures were logged with their plugin.
    await loggedCount(1);
    expect(logged[0]).toMatchObject({ plugin: 'after', status: 500 });
    expect(errors.map((e) => [(e.obj as { err: { plugin: string; code: string } }).err.plugin, (e.obj as { err: { code: string } }).err.code])).toEqual([
      ['broken', 'SLUICE_DP_PLUGIN_FAILED'],
      ['broken-async', 'SLUICE_DP_PLUGIN_FAILED'],
    ]);
  });

  it('fails closed when a header_filter handler throws: 500 instead of the upstream response', async () => {
    route('badfilter', [
      {
        name: 'bad-filter',
        priority: 1,
        header_filter() {
          throw new Error('filter bug');
        },
      },
    ]);
    const reply = await send(proxyPort, { path: '/badfilter' });
    expect(reply.status).toBe(500);
    expect(reply.json().message).toBe('An unexpected error occurred');
    expect(reply.headers['x-upstream']).toBeUndefined();
    expect(errors).toHaveLength(1);
  });

  it('runs header_filter and log on generated responses of a route with plugins (502, 503), and the process-wide log on every response', async () => {
    const dead = makeService({ name: 'dead', host: '127.0.0.1', port: await refusingPort(), retries: 0 });
    extraServices.push(dead);
    route('down', [stamp, tracer('t', 1)], dead);
    route('noservice', [stamp, tracer('t', 1)], null);
    const down = await send(proxyPort, { path: '/down' });
    expect(down.status).toBe(502);
    expect(down.headers['x-stamp']).toBe('status=502');
    await loggedCount(1);
    expect(logged[0]).toMatchObject({ plugin: 't', status: 502, route: 'down', hasUpstreamHead: false });
    // No service: answered before the route's plugins apply (Kong runs only global plugins there).
    const noService = await send(proxyPort, { path: '/noservice' });
    expect(noService.status).toBe(503);
    expect(noService.headers['x-stamp']).toBeUndefined();
    const noRoute = await send(proxyPort, { path: '/nowhere-at-all' });
    expect(noRoute.status).toBe(404);
    for (const reply of [down, noService, noRoute]) {
      const id = reply.headers['x-sluice-request-id'];
      await waitFor(() => accessLines.some((l) => l.request_id === id));
      expect(accessLines.filter((l) => l.request_id === id).map((l) => l.status)).toEqual([reply.status]);
    }
    expect(logged).toHaveLength(1);
  });

  it('runs the log phase with 499 when the client leaves during an async access handler, and never forwards the request', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    route('abandoned', [{ name: 'slow', priority: 20, access: () => released }, tracer('t', 1)]);
    route('afterwards', []);
    const requestsBefore = upstream.requests.length;
    const req = httpRequest({ host: '127.0.0.1', port: proxyPort, path: '/abandoned', agent: false });
    req.on('error', () => {});
    req.end();
    await waitFor(() => events.includes('t:rewrite'));
    req.destroy();
    await loggedCount(1);
    expect(logged[0]).toMatchObject({ plugin: 't', status: 499 });
    release();
    // A request sent after the release reaches the upstream; the abandoned one never does.
    const after = await send(proxyPort, { path: '/afterwards', headers: { 'x-marker': 'after' } });
    expect(after.status).toBe(200);
    expect(upstream.requests.slice(requestsBefore).map((r) => r.headers['x-marker'])).toEqual(['after']);
  });

  it('runs Kong\'s key-auth on the real request view: repeated headers, `_` names, consumer headers replacing the client\'s', async () => {
    const bob = { id: '0b0b0b0b-0000-4000-8000-00000000000b', username: 'bob', custom_id: null };
    const handler = new KeyAuthHandler(keyAuthConfig({ key_names: ['api_key'], hide_credentials: true }));
    route('real-key-auth', [handler]);
    config = { ...config!, consumers: fakeConsumerDirectory({ consumers: [bob], keys: [{ id: 'cred-b', consumerId: bob.id, key: 'k' }] }) };
    const twice = await send(proxyPort, { path: '/real-key-auth', headers: { api_key: ['k', 'k'] } });
    expect(twice.status).toBe(401);
    expect(twice.json().message).toBe('Duplicate API key found');
    const ok = await send(proxyPort, { path: '/real-key-auth?x=1&api_key=k', headers: { 'x-consumer-id': 'spoofed', 'x-anonymous-consumer': 'true' } });
    expect(ok.status).toBe(200);
    const echo = ok.json() as { url: string; headers: Record<string, string> };
    expect(echo.url).toBe('/?x=1'); // strip_path, and the key taken out
    expect(echo.headers['x-consumer-id']).toBe(bob.id);
    expect(echo.headers['x-consumer-username']).toBe('bob');
    expect(echo.headers['x-credential-identifier']).toBe('cred-b');
    expect(echo.headers['x-anonymous-consumer']).toBeUndefined();
    const dashed = await send(proxyPort, { path: '/real-key-auth', headers: { 'api-key': 'k' } });
    expect(dashed.status).toBe(200);
    expect((dashed.json() as { headers: Record<string, string> }).headers['api-key']).toBeUndefined();
  });

  it('runs the global chain\'s header_filter and log on a request no route matched (Kong\'s fallback), and no access handler', async () => {
    route('somewhere', []);
    const globalStamp = tracer('global', 5, { header_filter: (ctx) => ctx.response.set('X-Global', String(ctx.status)) });
    config = { ...config!, globalChain: new PluginChain([globalStamp], { rewrite: [], access: [], header_filter: [globalStamp], body_filter: [], log: [globalStamp] }) };
    const reply = await send(proxyPort, { path: '/nowhere-at-all' });
    expect(reply.status).toBe(404);
    expect(reply.headers['x-global']).toBe('404');
    await loggedCount(1);
    expect(logged[0]).toMatchObject({ plugin: 'global', status: 404, route: null });
    expect(events).not.toContain('global:access');
    config = { ...config, globalChain: undefined };
  });
});

describe('plugin chains on WebSocket upgrades', () => {
  let wss: WebSocketServer;
  let wsService: Service;

  beforeAll(async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(data)));
    wsService = makeService({ name: 'ws', host: '127.0.0.1', port: (wss.address() as AddressInfo).port });
    extraServices.push(wsService);
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  it('answers a refused handshake from access (through header_filter), and logs it when the connection ends', async () => {
    route('wsguarded', [keyAuth, stamp, tracer('t', 1)], wsService);
    const reply = await sendUpgrade(proxyPort, '/wsguarded');
    expect(reply.status).toBe(401);
    expect(JSON.parse(reply.body)).toEqual({ message: 'No API key found in request', request_id: reply.headers['x-sluice-request-id'] });
    expect(reply.headers['x-stamp']).toBe('status=401');
    expect(reply.headers.connection).toBe('close');
    await loggedCount(1);
    expect(logged[0]).toMatchObject({ plugin: 't', status: 401, isUpgrade: true, bodyBytesSent: null });
  });

  it('tunnels an accepted handshake: header_filter sees the 101, log runs when the tunnel closes', async () => {
    route('wsopen', [keyAuth, stamp, tracer('t', 1)], wsService);
    const client = new WebSocket(`ws://127.0.0.1:${proxyPort}/wsopen`, { headers: { apikey: 'good' } });
    let stampHeader: string | undefined;
    client.on('upgrade', (res) => (stampHeader = res.headers['x-stamp'] as string | undefined));
    await new Promise<void>((resolve, reject) => {
      client.on('open', () => resolve());
      client.on('error', reject);
    });
    expect(stampHeader).toBe('status=101');
    const echoed = new Promise<string>((resolve) => client.once('message', (data) => resolve(String(data))));
    client.send('ping');
    expect(await echoed).toBe('ping');
    expect(logged).toHaveLength(0);
    client.close();
    await loggedCount(1);
    expect(logged[0]).toMatchObject({ plugin: 't', status: 101, isUpgrade: true, bodyBytesSent: null, hasUpstreamHead: true });
  });
});
