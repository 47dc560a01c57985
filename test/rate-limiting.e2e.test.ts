import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startControlPlane, startDataPlane, tempDir, waitFor, type ControlPlaneHandle, type DataPlaneHandle } from './support/processes.js';
import { PrivateRedis } from './support/redis-server.js';
import { startEchoUpstream } from './support/upstream.js';

// The founding scenario (Kong's own example), through real sluice-cp and sluice-dp processes: one
// service, `/external` rate limited, `/internal` not. Then the redis policy across two data planes
// (the limit holds for the fleet), a Redis outage under traffic (each data plane enforces its share
// of the limit) and the recovery. The first data plane runs two proxy workers: their counts are one.
// Redis is a private redis-server this file starts, kills and restarts, never the shared one.

const HOUR_MS = 3_600_000;

/** The test's rate-limiting config: its changes, on the test's Redis. */
function rateLimiting(changes: Record<string, unknown>, redisPort: number): Record<string, unknown> {
  // The control plane fills every other field with Kong's default.
  return { redis: { host: '127.0.0.1', port: redisPort, timeout: 500 }, ...changes };
}

/** The tests count in hour windows: when the current hour has less than a minute left, wait for the next one. */
async function awayFromHourEnd(): Promise<void> {
  const left = HOUR_MS - (Date.now() % HOUR_MS);
  if (left < 60_000) await waitFor(() => HOUR_MS - (Date.now() % HOUR_MS) > 60_000, 'the next hour', left + 5_000, 200);
}

describe('rate limiting, end to end', () => {
  const dirs = [tempDir('rl-cp'), tempDir('rl-dp1'), tempDir('rl-dp2')];
  let cp: ControlPlaneHandle;
  let dps: DataPlaneHandle[];
  let redis: PrivateRedis;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let pluginId: string | null = null;

  const statuses = async (dp: DataPlaneHandle, path: string, n: number, parallel = true): Promise<number[]> => {
    if (!parallel) {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await http('GET', `${dp.proxy}${path}`)).status);
      return out;
    }
    return Promise.all(Array.from({ length: n }, async () => (await http('GET', `${dp.proxy}${path}`)).status));
  };
  const count = (list: number[], status: number) => list.filter((s) => s === status).length;

  /** Replaces the plugin on /external and waits until both data planes serve the new version. */
  async function setPlugin(config: Record<string, unknown>): Promise<void> {
    if (pluginId !== null) expect((await http('DELETE', `${cp.admin}/plugins/${pluginId}`)).status).toBe(204);
    const created = await http('POST', `${cp.admin}/routes/external/plugins`, { name: 'rate-limiting', config });
    expect(created.status, created.text).toBe(201);
    pluginId = created.body.id;
    const version = Number(created.headers.get('x-sluice-config-version'));
    const wait = await http('GET', `${cp.admin}/clustering/propagation/${version}?timeout_ms=15000&min_data_planes=2`);
    expect(wait.body.propagated, wait.text).toBe(true);
  }

  beforeAll(async () => {
    upstream = await startEchoUpstream('api');
    redis = await PrivateRedis.start();
    cp = await startControlPlane({ dataDir: dirs[0].path });
    dps = await Promise.all([
      startDataPlane({ controlPlane: cp.cluster, cacheDir: dirs[1].path, args: ['--workers', '2'] }),
      startDataPlane({ controlPlane: cp.cluster, cacheDir: dirs[2].path }),
    ]);
    for (const dp of dps) await waitFor(async () => (await http('GET', `${dp.status}/status/ready`)).status === 200, 'data plane ready');
    expect((await http('POST', `${cp.admin}/services`, { name: 'api', url: upstream.url })).status).toBe(201);
    expect((await http('POST', `${cp.admin}/services/api/routes`, { name: 'external', paths: ['/external'] })).status).toBe(201);
    expect((await http('POST', `${cp.admin}/services/api/routes`, { name: 'internal', paths: ['/internal'] })).status).toBe(201);
  });

  afterAll(async () => {
    await Promise.all([...(dps ?? []).map((d) => d.proc.kill()), cp?.proc.kill()]);
    await redis?.stop();
    await upstream?.close();
    for (const d of dirs) d.cleanup();
  });

  it('/external answers 429 with Kong\'s body and headers after its limit, exactly across two proxy workers, while /internal keeps answering 200', async () => {
    await awayFromHourEnd();
    await setPlugin(rateLimiting({ hour: 5, limit_by: 'ip' }, redis.port));
    const [dp1, dp2] = dps;
    // 16 concurrent requests to the data plane with two workers: exactly the limit passes.
    const first = await statuses(dp1!, '/external/x', 16);
    expect(count(first, 200)).toBe(5);
    expect(count(first, 429)).toBe(11);
    // The workers counted in the primary (which has no proxy of its own): one table for the data plane.
    expect((await http('GET', `${dp1!.status}/status`)).body.rate_limiting.decisions.local).toBeGreaterThanOrEqual(16);

    const refused = await http('GET', `${dp1!.proxy}/external/x`);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ message: 'API rate limit exceeded', request_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(refused.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(refused.headers.get('x-ratelimit-limit-hour')).toBe('5');
    expect(refused.headers.get('x-ratelimit-remaining-hour')).toBe('0');
    expect(refused.headers.get('ratelimit-limit')).toBe('5');
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    const reset = Number(refused.headers.get('ratelimit-reset'));
    expect(reset).toBeGreaterThan(0);
    expect(reset).toBeLessThanOrEqual(3600);
    expect(refused.headers.get('retry-after')).toBe(String(reset));

    // The same service, another route: not limited.
    expect(count(await statuses(dp1!, '/internal/x', 20), 200)).toBe(20);
    const internal = await http('GET', `${dp1!.proxy}/internal/x`);
    expect(internal.status).toBe(200);
    expect(internal.headers.get('x-ratelimit-limit-hour')).toBeNull();

    // The local policy counts per data plane (Kong's per node): the other one has its own 5, and
    // the first request shows Kong's passing headers.
    const passed = await http('GET', `${dp2!.proxy}/external/x`);
    expect(passed.status).toBe(200);
    expect(passed.body.name).toBe('api');
    expect([passed.headers.get('x-ratelimit-limit-hour'), passed.headers.get('x-ratelimit-remaining-hour'), passed.headers.get('ratelimit-remaining')]).toEqual(['5', '4', '4']);
    expect(count(await statuses(dp2!, '/external/x', 8), 200)).toBe(4);
  });

  it('redis policy: two data planes allow the limit in total; Redis stopped under traffic gives each its share; counting returns to Redis when it is back', async () => {
    await awayFromHourEnd();
    await setPlugin(rateLimiting({ hour: 10, limit_by: 'ip', policy: 'redis' }, redis.port));
    const [dp1, dp2] = dps;
    // The fleet size comes from the control plane (HelloAck, then each Heartbeat).
    for (const dp of dps) await waitFor(async () => (await http('GET', `${dp.status}/status`)).body?.rate_limiting?.connected_data_planes === 2, 'the fleet size on each data plane', 20_000, 100);

    const mixed = await Promise.all(Array.from({ length: 30 }, async (_, i) => (await http('GET', `${dps[i % 2]!.proxy}/external/x`)).status));
    expect(count(mixed, 200)).toBe(10);
    for (const dp of dps) expect((await http('GET', `${dp.status}/status`)).body.rate_limiting.redis.state).toBe('ok');

    // Outage under traffic: a client loop per data plane keeps calling /external (refused by Redis:
    // the hour's 10 are spent) and /internal while Redis is killed. From then on each data plane
    // decides locally, 10 ÷ 2 data planes = 5 each, and /internal never notices.
    let isRedisDown = false;
    let isStopping = false;
    const sent = [0, 0];
    const loop = async (dp: DataPlaneHandle, at: number) => {
      const external: number[] = [];
      const internal: number[] = [];
      let afterOutage = 0;
      while (!isStopping || afterOutage < 12) {
        external.push((await http('GET', `${dp.proxy}/external/x`)).status);
        internal.push((await http('GET', `${dp.proxy}/internal/x`)).status);
        sent[at]++;
        if (isRedisDown) afterOutage++;
      }
      return { external, internal };
    };
    const loops = dps.map((dp, at) => loop(dp, at));
    // Redis dies while both loops are running (each has made a few calls on it).
    await waitFor(() => sent.every((n) => n >= 3), 'traffic on both data planes');
    await redis.stop();
    isRedisDown = true;
    isStopping = true;
    const during = await Promise.all(loops);
    expect(during.map((d) => count(d.external, 200))).toEqual([5, 5]);
    expect(during.every((d) => count(d.external, 429) >= 3 + 7)).toBe(true);
    for (const d of during) expect(count(d.internal, 200)).toBe(d.internal.length);
    const degradedResponse = await http('GET', `${dp2!.proxy}/external/x`);
    expect(degradedResponse.status).toBe(429);
    expect(degradedResponse.headers.get('x-ratelimit-limit-hour')).toBe('5');
    for (const dp of dps) {
      const status = (await http('GET', `${dp.status}/status`)).body.rate_limiting;
      expect(status.redis.state).toBe('degraded');
      expect(status.redis.since).toEqual(expect.any(String));
      expect(status.decisions.degraded).toBeGreaterThanOrEqual(9);
      const metrics = (await http('GET', `${dp.status}/metrics`)).text;
      expect(metrics).toMatch(/^sluice_dp_rate_limiting_degraded 1$/m);
      expect(metrics).toMatch(/^sluice_dp_rate_limiting_decisions_total\{store="degraded"\} (\d+)$/m);
    }

    // Redis comes back (empty): each data plane returns to it by itself and counts there again.
    await redis.start();
    for (const dp of dps) await waitFor(async () => (await http('GET', `${dp.status}/status`)).body?.rate_limiting?.redis?.state === 'ok', 'redis back in use', 20_000, 100);
    const after = await http('GET', `${dp1!.proxy}/external/x`);
    expect(after.status).toBe(200);
    expect([after.headers.get('x-ratelimit-limit-hour'), after.headers.get('x-ratelimit-remaining-hour')]).toEqual(['10', '9']);
    expect((await http('GET', `${dp1!.status}/metrics`)).text).toMatch(/^sluice_dp_rate_limiting_degraded 0$/m);
    const rest = await Promise.all(Array.from({ length: 20 }, async (_, i) => (await http('GET', `${dps[i % 2]!.proxy}/external/x`)).status));
    expect(count(rest, 200)).toBe(9);
  });
});
