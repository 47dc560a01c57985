import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateRedis } from '../../../test/support/redis-server.js';
import type { RedisSettings } from '../src/plugins/rate-limiting/rate-limiting-config.js';
import type { RateLimitOutcome, RateLimitQuery } from '../src/plugins/rate-limiting/rate-limit-counters.js';
import { windowBounds } from '../src/plugins/rate-limiting/rate-limit-windows.js';
import { RateLimitService } from '../src/rate-limiting/rate-limit-service.js';
import { REDIS_EXPIRY_SLACK_MS } from '../src/rate-limiting/redis-counter-store.js';

// The redis policy against real Redis: the machine's shared server on 127.0.0.1:6379 for counting
// (keys unique per test), and a private redis-server this file starts, stops and restarts for the
// outage (never the shared one).

const SHARED: RedisSettings = { host: '127.0.0.1', port: 6379, timeout: 2000, username: null, password: null, database: 0, ssl: false, ssl_verify: false, server_name: null };

function query(key: string, limits: { minute?: number; hour?: number; second?: number }, redis: RedisSettings = SHARED, isFaultTolerant = true): RateLimitQuery {
  const now = Date.now();
  const windows = (['second', 'minute', 'hour'] as const)
    .filter((p) => limits[p] !== undefined)
    .map((period) => ({ period, limit: limits[period]!, ...windowBounds(period, now) }));
  return { policy: 'redis', redis, key, windows, isFaultTolerant };
}

const isAllowed = (o: RateLimitOutcome) => o.usages.every((u, i) => o.limits[i]! - u > 0);

describe('rate limiting on Redis', () => {
  const services: RateLimitService[] = [];
  const raw = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  const service = (connectedDataPlanes: number | null = null) => {
    const s = new RateLimitService({ connectedDataPlanes: () => connectedDataPlanes });
    services.push(s);
    return s;
  };
  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    raw.disconnect();
  });

  it('counts atomically under concurrency: of 40 concurrent requests exactly the limit pass, the refused ones are not counted', async () => {
    const key = `ratelimit:${randomUUID()}:test:1.2.3.4`;
    const s = service();
    const outcomes = await Promise.all(Array.from({ length: 40 }, () => s.consume(query(key, { minute: 7, hour: 100 }))));
    expect(outcomes.filter(isAllowed)).toHaveLength(7);
    const q = query(key, { minute: 7, hour: 100 });
    const keys = q.windows.map((w) => `${key}:${w.startMs}:${w.period}`);
    expect(await raw.mget(...keys)).toEqual(['7', '7']);
    // Kong's key format, expiring at the window's end (plus the slack).
    const ttl = await raw.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(q.windows[0]!.endMs + REDIS_EXPIRY_SLACK_MS - Date.now() + 50);
  });

  it('two data planes on one Redis share the limit: total allowed = the limit', async () => {
    const key = `ratelimit:${randomUUID()}:test:1.2.3.4`;
    const [a, b] = [service(), service()];
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).consume(query(key, { minute: 11 }))));
    expect(outcomes.filter(isAllowed)).toHaveLength(11);
  });

  it('uses the configured database and credentials', async () => {
    const redis = await PrivateRedis.start(['--requirepass', 's3cret']);
    try {
      const key = `ratelimit:${randomUUID()}:test:db`;
      const settings = { ...SHARED, port: redis.port, database: 3, username: 'default', password: 's3cret' };
      const s = service();
      expect(isAllowed(await s.consume(query(key, { minute: 2 }, settings, false)))).toBe(true);
      const check = new Redis({ host: '127.0.0.1', port: redis.port, password: 's3cret', db: 3 });
      expect(await check.keys(`${key}:*`)).toHaveLength(1);
      check.disconnect();
      // A wrong password is a store failure: not fault tolerant, the request cannot be decided.
      const wrong = service();
      await expect(wrong.consume(query(key, { minute: 2 }, { ...settings, password: 'nope' }, false))).rejects.toMatchObject({ code: 'SLUICE_DP_RATE_LIMIT_STORE' });
    } finally {
      await redis.stop();
    }
  });

  describe('while Redis is unreachable', () => {
    let redis: PrivateRedis;
    beforeAll(async () => {
      redis = await PrivateRedis.start();
    });
    afterAll(() => redis.stop());

    it('decides from the local share (limit ÷ connected data planes) without waiting on Redis, shows it, and returns to Redis by itself', async () => {
      const settings = { ...SHARED, port: redis.port, timeout: 500 };
      const key = `ratelimit:${randomUUID()}:test:outage`;
      const s = service(2);
      expect(await s.consume(query(key, { minute: 10 }, settings))).toMatchObject({ usages: [0], limits: [10], isDegraded: false });
      expect(s.status().redis.state).toBe('ok');

      await redis.stop();
      // The request that meets the outage is decided locally too; later ones skip Redis at once.
      const first = await s.consume(query(key, { minute: 10 }, settings));
      expect(first).toMatchObject({ usages: [0], limits: [5], isDegraded: true });
      const started = performance.now();
      const rest = await Promise.all(Array.from({ length: 9 }, () => s.consume(query(key, { minute: 10 }, settings))));
      expect(performance.now() - started).toBeLessThan(settings.timeout);
      expect([first, ...rest].filter(isAllowed)).toHaveLength(5);
      expect(s.isDegraded).toBe(true);
      const status = s.status();
      expect(status.redis).toMatchObject({ state: 'degraded', servers: [{ address: `127.0.0.1:${redis.port}/0`, state: 'degraded', outages: 1 }] });
      expect(status.redis.since).not.toBeNull();
      expect(status.connected_data_planes).toBe(2);
      expect(status.decisions.degraded).toBe(10);
      // Not fault tolerant: refused at once, never decided locally.
      await expect(Promise.resolve().then(() => s.consume(query(key, { minute: 10 }, settings, false)))).rejects.toMatchObject({ code: 'SLUICE_DP_RATE_LIMIT_STORE' });

      await redis.start();
      const deadline = Date.now() + 15_000;
      while (s.isDegraded && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(s.status().redis.state).toBe('ok');
      // Back on Redis (empty after its restart): counted there again.
      expect(await s.consume(query(key, { minute: 10 }, settings))).toMatchObject({ usages: [0], limits: [10], isDegraded: false });
    });
  });
});
