import { completePluginConfig, type Route, type Service } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { compilePluginChain } from '../plugin-chain.js';
import { FakePluginContext, type FakeRequest } from '../testing/fake-plugin-context.js';
import { RateLimitingHandler } from './handler.js';
import type { RateLimitCounters, RateLimitOutcome, RateLimitQuery } from './rate-limit-counters.js';
import { readRateLimitingConfig, type RateLimitingConfig } from './rate-limiting-config.js';
import { windowBounds } from './rate-limit-windows.js';
import { RATE_LIMITING_FACTORY } from './factory.js';

/** Every field at Kong's default (what the control plane sends), then the test's changes. */
function config(changes: Record<string, unknown>): RateLimitingConfig {
  return readRateLimitingConfig({ ...completePluginConfig('rate-limiting', { minute: 1 }), minute: null, ...changes });
}

/** An exact in-memory store: check-and-increment per key and window, and a record of the queries. */
class MemoryCounters implements RateLimitCounters {
  readonly counts = new Map<string, number>();
  readonly queries: RateLimitQuery[] = [];
  consume(query: RateLimitQuery): RateLimitOutcome {
    this.queries.push(query);
    const keys = query.windows.map((w) => `${query.key}:${w.startMs}:${w.period}`);
    const usages = keys.map((k) => this.counts.get(k) ?? 0);
    const limits = query.windows.map((w) => w.limit);
    if (usages.every((u, i) => limits[i]! - u > 0)) for (const k of keys) this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    return { usages, limits, isDegraded: false };
  }
}

const failing: RateLimitCounters = {
  consume: () => Promise.reject(new Error('store down')),
};

const T0 = Date.UTC(2026, 4, 17, 10, 30, 15, 250); // a Sunday in May, 10:30:15.250 UTC

function handler(changes: Record<string, unknown>, counters: RateLimitCounters = new MemoryCounters(), now = () => T0, scope: { routeId?: string | null; serviceId?: string | null } = {}) {
  return new RateLimitingHandler({ config: config(changes), routeId: scope.routeId ?? null, serviceId: scope.serviceId ?? null, counters, now });
}

/** Runs the access phase and the response head: the status and headers the client gets. */
async function call(h: RateLimitingHandler, request: FakeRequest = {}, setup?: (ctx: FakePluginContext) => void) {
  const ctx = new FakePluginContext(request);
  setup?.(ctx);
  await h.access(ctx);
  ctx.respond(ctx.answered?.status ?? 200, ctx.answered?.headers ?? {});
  return ctx;
}

describe('rate-limiting handler', () => {
  it('RL1: minute=6 passes requests 1..6 with Kong\'s headers, then 429 with Kong\'s message, Retry-After and remaining 0', async () => {
    const h = handler({ minute: 6, limit_by: 'ip' });
    const seen: { status: number; limit?: string; remaining?: string; rl: string[] }[] = [];
    for (let i = 0; i < 7; i++) {
      const ctx = await call(h);
      seen.push({
        status: ctx.status,
        limit: ctx.responseHeader('X-RateLimit-Limit-Minute'),
        remaining: ctx.responseHeader('X-RateLimit-Remaining-Minute'),
        rl: [ctx.responseHeader('RateLimit-Limit')!, ctx.responseHeader('RateLimit-Remaining')!, ctx.responseHeader('RateLimit-Reset')!],
      });
      if (i === 6) {
        expect(ctx.answered).toEqual({ status: 429, message: 'API rate limit exceeded', headers: { 'Retry-After': '45' } });
      }
    }
    expect(seen.map((s) => s.status)).toEqual([200, 200, 200, 200, 200, 200, 429]);
    expect(seen.map((s) => s.limit)).toEqual(Array(7).fill('6'));
    expect(seen.map((s) => s.remaining)).toEqual(['5', '4', '3', '2', '1', '0', '0']);
    // 15.25 s into the minute: Kong's reset is 60 - floor(15.25) = 45.
    expect(seen.map((s) => s.rl)).toEqual([5, 4, 3, 2, 1, 0, 0].map((r) => ['6', String(r), '45']));
  });

  it('a refused request is not counted: the next window starts from zero', async () => {
    let now = T0;
    const counters = new MemoryCounters();
    const h = handler({ second: 1, limit_by: 'ip' }, counters, () => now);
    expect((await call(h)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await call(h)).status).toBe(429);
    expect([...counters.counts.values()]).toEqual([1]);
    now += 1000;
    const ctx = await call(h);
    expect(ctx.status).toBe(200);
    expect(ctx.responseHeader('X-RateLimit-Remaining-Second')).toBe('0');
    expect(ctx.responseHeader('RateLimit-Reset')).toBe('1');
  });

  it('RL2: with minute=6 and hour=99999 the RateLimit-* headers follow the minute; both periods have their X- headers', async () => {
    const h = handler({ minute: 6, hour: 99999, limit_by: 'ip' });
    let ctx!: FakePluginContext;
    for (let i = 0; i < 7; i++) ctx = await call(h);
    expect(ctx.status).toBe(429);
    expect(ctx.responseHeader('X-RateLimit-Limit-Hour')).toBe('99999');
    // Refused in the minute: the hour is not counted for this request (Kong decrements only the refusing period).
    expect(ctx.responseHeader('X-RateLimit-Remaining-Hour')).toBe('99993');
    expect(ctx.responseHeader('RateLimit-Limit')).toBe('6');
    expect(ctx.responseHeader('RateLimit-Remaining')).toBe('0');
    expect(ctx.responseHeader('RateLimit-Reset')).toBe('45');
  });

  it('the lowest remaining wins RateLimit-*; on a tie the longer period wins, and Retry-After is its reset', async () => {
    const h = handler({ second: 2, minute: 2, hour: 10, limit_by: 'ip' });
    let ctx = await call(h);
    // second and minute both have 1 left: the minute (longer) is shown.
    expect([ctx.responseHeader('RateLimit-Limit'), ctx.responseHeader('RateLimit-Remaining'), ctx.responseHeader('RateLimit-Reset')]).toEqual(['2', '1', '45']);
    await call(h);
    ctx = await call(h);
    expect(ctx.status).toBe(429);
    expect(ctx.answered?.headers).toEqual({ 'Retry-After': '45' });
    expect(ctx.responseHeader('X-RateLimit-Remaining-Hour')).toBe('8');
  });

  it('month and year windows are calendar windows in UTC, and their reset counts the real length (31-day May)', async () => {
    const h = handler({ month: 100, year: 1000, limit_by: 'ip' });
    const ctx = await call(h);
    const month = windowBounds('month', T0);
    expect(month).toEqual({ startMs: Date.UTC(2026, 4, 1), endMs: Date.UTC(2026, 5, 1) });
    expect(windowBounds('year', T0)).toEqual({ startMs: Date.UTC(2026, 0, 1), endMs: Date.UTC(2027, 0, 1) });
    expect(ctx.responseHeader('X-RateLimit-Remaining-Month')).toBe('99');
    // month has the lower remaining: its reset is the time to 1 June 00:00 UTC.
    expect(ctx.responseHeader('RateLimit-Reset')).toBe(String(Math.floor((month.endMs - month.startMs) / 1000) - Math.floor((T0 - month.startMs) / 1000)));
    expect(windowBounds('day', T0)).toEqual({ startMs: Date.UTC(2026, 4, 17), endMs: Date.UTC(2026, 4, 18) });
    expect(windowBounds('hour', T0).startMs).toBe(Date.UTC(2026, 4, 17, 10));
    expect(windowBounds('second', T0)).toEqual({ startMs: T0 - 250, endMs: T0 + 750 });
  });

  it('RL3: hide_client_headers sends no rate-limit header on the 200 or the 429, Retry-After included', async () => {
    const h = handler({ minute: 1, limit_by: 'ip', hide_client_headers: true });
    for (const expected of [200, 429]) {
      const ctx = await call(h);
      expect(ctx.status).toBe(expected);
      expect(ctx.responseHeaders.filter((_, i) => i % 2 === 0).filter((n) => /ratelimit|retry-after/i.test(n))).toEqual([]);
    }
  });

  it('RL5: error_code and error_message replace 429 and Kong\'s text', async () => {
    const h = handler({ minute: 1, limit_by: 'ip', error_code: 404, error_message: 'Fake Not Found' });
    await call(h);
    const ctx = await call(h);
    expect(ctx.answered).toMatchObject({ status: 404, message: 'Fake Not Found' });
  });

  it('an error_code outside 400-599 fails the request (500 through the chain), as Kong\'s kong.response.error raises', async () => {
    const chain = compilePluginChain([handler({ minute: 1, limit_by: 'ip', error_code: 302 })]);
    expect(chain.runRequestPhases(new FakePluginContext())).toBeNull();
    expect(() => chain.runRequestPhases(new FakePluginContext())).toThrow(expect.objectContaining({ code: 'SLUICE_DP_PLUGIN_FAILED', plugin: 'rate-limiting' }));
  });

  it('RL8: a failing store with fault_tolerant lets the request through without any header', async () => {
    const ctx = await call(handler({ minute: 1, limit_by: 'ip' }, failing));
    expect(ctx.answered).toBeNull();
    expect(ctx.responseHeaders).toEqual([]);
  });

  it('RL7/RL9: a failing store without fault_tolerant fails the request (the chain answers 500)', async () => {
    const chain = compilePluginChain([handler({ minute: 1, limit_by: 'ip', fault_tolerant: false }, failing)]);
    await expect(chain.runRequestPhases(new FakePluginContext())).rejects.toMatchObject({ code: 'SLUICE_DP_PLUGIN_FAILED' });
  });

  it('a synchronous store costs the chain no promise', () => {
    const chain = compilePluginChain([handler({ minute: 5, limit_by: 'ip' })]);
    expect(chain.runRequestPhases(new FakePluginContext())).toBeNull();
  });
});

describe('rate-limiting identifiers and keys', () => {
  const route = { id: 'r-1' } as Route;
  const service = { id: 's-1' } as Service;
  async function keyOf(changes: Record<string, unknown>, request: FakeRequest, setup?: (ctx: FakePluginContext) => void, scope = {}): Promise<string> {
    const counters = new MemoryCounters();
    await call(handler({ minute: 10, ...changes }, counters, () => T0, scope), request, setup);
    return counters.queries[0]!.key;
  }
  const NIL = '00000000-0000-0000-0000-000000000000';
  const withConsumer = (ctx: FakePluginContext) => (ctx.consumer = { id: 'c-1' });
  const withCredential = (ctx: FakePluginContext) => Object.assign(ctx, { credential: { id: 'k-1' } });

  it('consumer: the consumer id, else the credential id, else the client IP', async () => {
    expect(await keyOf({ limit_by: 'consumer' }, { clientIp: '10.0.0.7' }, (ctx) => (withConsumer(ctx), withCredential(ctx)))).toBe(`ratelimit:${NIL}:${NIL}:c-1`);
    expect(await keyOf({ limit_by: 'consumer' }, { clientIp: '10.0.0.7' }, withCredential)).toBe(`ratelimit:${NIL}:${NIL}:k-1`);
    expect(await keyOf({ limit_by: 'consumer' }, { clientIp: '10.0.0.7' })).toBe(`ratelimit:${NIL}:${NIL}:10.0.0.7`);
  });

  it('credential: the credential id (not the consumer), else the IP', async () => {
    expect(await keyOf({ limit_by: 'credential' }, { clientIp: '10.0.0.7' }, (ctx) => (withConsumer(ctx), withCredential(ctx)))).toMatch(/:k-1$/);
    expect(await keyOf({ limit_by: 'credential' }, { clientIp: '10.0.0.7' }, withConsumer)).toMatch(/:10\.0\.0\.7$/);
  });

  it('service: the matched service id, else the IP', async () => {
    expect(await keyOf({ limit_by: 'service' }, { service })).toMatch(/:s-1$/);
    expect(await keyOf({ limit_by: 'service' }, { clientIp: '10.0.0.8' })).toMatch(/:10\.0\.0\.8$/);
  });

  it('header: the header\'s value (any case), else the IP', async () => {
    expect(await keyOf({ limit_by: 'header', header_name: 'X-Tenant' }, { headers: { 'x-tenant': 'acme' } })).toMatch(/:acme$/);
    expect(await keyOf({ limit_by: 'header', header_name: 'X-Tenant' }, { clientIp: '10.0.0.9' })).toMatch(/:10\.0\.0\.9$/);
  });

  it('path: the path only when it equals config.path; any other path is counted per IP', async () => {
    expect(await keyOf({ limit_by: 'path', path: '/a/b' }, { uri: '/a/b?x=1' })).toMatch(/:\/a\/b$/);
    expect(await keyOf({ limit_by: 'path', path: '/a/b' }, { uri: '/a/b/c', clientIp: '10.0.0.10' })).toMatch(/:10\.0\.0\.10$/);
  });

  it('ip: the client IP even with a consumer', async () => {
    expect(await keyOf({ limit_by: 'ip' }, { clientIp: '10.0.0.11' }, withConsumer)).toMatch(/:10\.0\.0\.11$/);
  });

  it('the key carries the plugin\'s own route and service, not the request\'s: a global instance shares one counter', async () => {
    expect(await keyOf({ limit_by: 'ip' }, { route, service }, undefined, { routeId: 'pr', serviceId: 'ps' })).toBe('ratelimit:pr:ps:127.0.0.1');
    expect(await keyOf({ limit_by: 'ip' }, { route, service })).toBe(`ratelimit:${NIL}:${NIL}:127.0.0.1`);
  });

  it('RL10: a global credential limit is shared across services', async () => {
    const h = handler({ minute: 6, limit_by: 'credential' });
    const statuses: number[] = [];
    for (const svc of ['s-1', 's-2']) {
      for (let i = 0; i < 7; i++) statuses.push((await call(h, { service: { id: svc } as Service }, withCredential)).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429, 429, 429, 429, 429, 429, 429]);
  });
});

describe('rate-limiting config and factory', () => {
  it('reads the deprecated redis_* shorthands when config.redis lacks them', () => {
    const c = readRateLimitingConfig({ minute: 5, policy: 'redis', redis_host: 'cache.internal', redis_port: 6380, redis_database: 2 });
    expect(c.redis).toMatchObject({ host: 'cache.internal', port: 6380, database: 2, timeout: 2000 });
    expect(c).toMatchObject({ limit_by: 'consumer', fault_tolerant: true, error_code: 429, error_message: 'API rate limit exceeded' });
  });

  it('refuses the cluster policy and a config without any window', () => {
    expect(() => handler({ minute: 5, policy: 'cluster' })).toThrow(/expected one of: local, redis/);
    expect(() => handler({})).toThrow(/at least one of/);
  });

  it('the factory scopes the counter key by the plugin entity\'s route and service', async () => {
    const counters = new MemoryCounters();
    const h = RATE_LIMITING_FACTORY.create(
      { id: 'p', created_at: 0, updated_at: 0, name: 'rate-limiting', instance_name: null, route: { id: 'r-9' }, service: null, consumer: null, config: config({ minute: 3, limit_by: 'ip' }) as unknown as Record<string, unknown>, protocols: ['http'], enabled: true, tags: null },
      { rateLimitCounters: counters },
    );
    expect(h).toMatchObject({ name: 'rate-limiting', priority: 910 });
    await h.access!(new FakePluginContext());
    expect(counters.queries[0]!.key).toBe('ratelimit:r-9:00000000-0000-0000-0000-000000000000:127.0.0.1');
  });
});
