import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloseCode, encodeService, pb } from '@sluice/protocol';
import { applySnapshot, CACHE_JOURNAL_FILE_NAME, ConfigCache, DataPlane, decodeCacheFile, type DataPlaneOptions } from '../src/index.js';
import { ConfigModel, makeRoute, makeService } from './helpers/config-model.js';
import { FakeControlPlane, waitFor } from './helpers/fake-control-plane.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
let dir: string;
let upstream: Server;
let upstreamPort: number;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-dp-'));
  upstream = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url }));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamPort = (upstream.address() as AddressInfo).port;
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
  await new Promise((resolve) => upstream.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

/** A model whose version i adds service `s<i>` (the test upstream) with route `/r<i>`. */
function model(versions: number): ConfigModel {
  const m = new ConfigModel('epoch-dp');
  for (let i = 1; i <= versions; i++) addVersion(m, i);
  return m;
}

function addVersion(m: ConfigModel, i: number): void {
  const s = makeService(`s${i}`, { host: '127.0.0.1', port: upstreamPort });
  m.commit({ upsert: [s, makeRoute(`r${i}`, s.id, { paths: [`/r${i}`] })] });
}

async function seedCache(m: ConfigModel): Promise<void> {
  const result = applySnapshot(m.snapshot(), { epoch: m.epoch, version: m.version, hash: m.hashAt() });
  if (!result.ok) throw result.error;
  const cache = new ConfigCache({ dir });
  await cache.open();
  cache.schedule(result.config);
  await cache.flush();
}

async function startDp(options: Partial<DataPlaneOptions>): Promise<DataPlane> {
  const dp = await DataPlane.start({
    cacheDir: dir,
    proxyListen: { host: '127.0.0.1', port: 0 },
    statusListen: { host: '127.0.0.1', port: 0 },
    sync: { backoff: { baseMs: 20, capMs: 200 }, heartbeatGraceMs: 200 },
    ...options,
  });
  cleanups.push(() => dp.close());
  return dp;
}

async function startCp(m: ConfigModel): Promise<FakeControlPlane> {
  const cp = await FakeControlPlane.start(m);
  cleanups.push(() => cp.close());
  return cp;
}

const get = async (dp: DataPlane, which: 'proxy' | 'status', path: string) => {
  const a = which === 'proxy' ? dp.proxyAddress! : dp.statusAddress!;
  const res = await fetch(`http://${a.host}:${a.port}${path}`);
  return { status: res.status, body: await res.text() };
};

/** A control plane on `model(2)` and a data plane synced to it. */
async function syncedAtVersion2(): Promise<{ m: ConfigModel; cp: FakeControlPlane; dp: DataPlane }> {
  const m = model(2);
  const cp = await startCp(m);
  const dp = await startDp({ controlPlane: cp.url });
  await waitFor(() => dp.config?.version === 2, 'synced');
  return { m, cp, dp };
}

/** Commits one version adding `count` routes `/big<i>` to service s1. */
function commitManyRoutes(m: ConfigModel, count: number): void {
  const serviceId = makeService('s1').id;
  m.commit({ upsert: Array.from({ length: count }, (_, i) => makeRoute(`big${i}`, serviceId, { paths: [`/big${i}`] })) });
}

describe('DataPlane', () => {
  it('is ready from its cache at once, before the control plane answers, and proxies with it', async () => {
    const m = model(3);
    await seedCache(m);
    const cp = await startCp(m);
    cp.onHello = () => undefined; // a control plane that never answers
    const dp = await startDp({ controlPlane: cp.url });
    expect(dp.isReady()).toBe(true);
    expect((await get(dp, 'status', '/status/ready')).status).toBe(200);
    const status = JSON.parse((await get(dp, 'status', '/status')).body);
    expect(status).toMatchObject({ epoch: 'epoch-dp', version: 3, config_source: 'cache', ready: true, routes: 3, services: 3, node_id: dp.nodeId });
    expect(status.control_plane.url).toBe(cp.url);
    expect(['connecting', 'disconnected']).toContain(status.control_plane.state);
    const proxied = await get(dp, 'proxy', '/r2/x');
    expect(proxied.status).toBe(200);
    expect(JSON.parse(proxied.body).path).toBe('/x');
  });

  it('never serves a corrupt cache; becomes ready from the control plane and persists within the bound', async () => {
    await writeFile(join(dir, 'config'), 'not a cache');
    const m = model(2);
    const cp = await startCp(m);
    cp.onHello = () => undefined;
    const dp = await startDp({ controlPlane: cp.url });
    expect(dp.isReady()).toBe(false);
    expect((await get(dp, 'status', '/status/ready')).status).toBe(503);
    expect((await get(dp, 'proxy', '/r1')).status).toBeGreaterThanOrEqual(500);

    await waitFor(() => cp.received.hellos.length > 0 && cp.sockets.size > 0, 'connection');
    cp.socket.terminate();
    cp.onHello = (ws, hello) => cp.defaultHello(ws, hello);
    await waitFor(() => dp.config?.version === 2, 'snapshot from the control plane');
    expect((await get(dp, 'status', '/status/ready')).status).toBe(200);
    expect(JSON.parse((await get(dp, 'status', '/status')).body)).toMatchObject({ config_source: 'control_plane', version: 2, control_plane: { state: 'connected' } });
    // Persisted without a flush (the exact 1 s bound is proven in config-cache.test.ts, where write times are measured).
    await waitFor(async () => cachedVersion(await readFile(join(dir, 'config')).catch(() => null)) === 2, 'version 2 in the cache file', 5_000);
  });

  it('keeps serving through a control-plane outage and a restart, and NACKs without touching cache or proxy', async () => {
    const m = model(3);
    const cp = await startCp(m);
    cp.heartbeatIntervalMs = 100;
    const dp = await startDp({ controlPlane: cp.url });
    await waitFor(() => dp.config?.version === 3, 'synced');
    await dp.cache.flush();
    const cached = await readFile(join(dir, 'config'));

    const bad = { ...makeService('bad'), port: 70000 };
    cp.sendDelta(cp.socket, 3, { to: 4, batch: { upserts: [{ type: 1, id: bad.id, version: 4, payload: encodeService(bad) }] } });
    await waitFor(() => cp.received.acks.some((a) => a.error === pb.Ack.Error.ERROR_INVALID), 'NACK');
    expect(dp.config?.version).toBe(3);
    expect((await get(dp, 'proxy', '/r3')).status).toBe(200);
    await dp.cache.flush();
    expect((await readFile(join(dir, 'config'))).equals(cached)).toBe(true);
    const status = JSON.parse((await get(dp, 'status', '/status')).body);
    expect(status.last_error.code).toBe('SLUICE_DP_CONFIG_REJECTED');
    const metrics = (await get(dp, 'status', '/metrics')).body;
    expect(metrics).toMatch(/sluice_dp_config_rejections_total\{error="ERROR_INVALID"\} 1/);
    expect(metrics).toMatch(/sluice_dp_config_apply_duration_seconds_count\{kind="delta",result="rejected"\} 1/);
    expect(metrics).toMatch(/sluice_dp_config_version 3/);
    expect(metrics).toMatch(/sluice_dp_control_plane_connected 1/);

    // The control plane goes away: the data plane keeps serving version 3.
    await cp.close();
    await waitFor(() => dp.sync!.state !== 'connected', 'disconnected');
    expect((await get(dp, 'proxy', '/r1')).status).toBe(200);
    expect(JSON.parse((await get(dp, 'status', '/status')).body).version).toBe(3);

    // Restarted while the control plane is still down: it serves its cache.
    await dp.close();
    const again = await startDp({ controlPlane: cp.url });
    expect(again.config?.version).toBe(3);
    expect(again.config?.source).toBe('cache');
    expect((await get(again, 'proxy', '/r2')).status).toBe(200);
    expect((await get(again, 'status', '/status/ready')).status).toBe(200);
  });

  it('keeps proxying on its current config while a large snapshot is checked and built, then serves the new one', async () => {
    const { m, cp, dp } = await syncedAtVersion2();
    commitManyRoutes(m, 5000);

    // Requests go out from the moment the snapshot is whole until it is applied. This test shares the
    // data plane's event loop: every answer that arrives in between is one the proxy served while
    // the 5,002-route config was being built.
    const during: number[] = [];
    let isApplied = false;
    let statusDuring: Record<string, any> | null = null;
    const applied = new Promise<void>((resolve) => dp.sync!.once('applied', () => ((isApplied = true), resolve())));
    dp.sync!.once('applying', () => {
      void (async () => {
        statusDuring = JSON.parse((await get(dp, 'status', '/status')).body);
        while (!isApplied) {
          const res = await get(dp, 'proxy', '/r2/during');
          if (!isApplied) during.push(res.status);
        }
      })();
    });
    cp.sendSnapshot(cp.socket);
    await applied;
    expect(during.length).toBeGreaterThan(0);
    expect(new Set(during)).toEqual(new Set([200]));
    // /status showed the push in flight while version 2 still served.
    expect(statusDuring).toMatchObject({ version: 2, control_plane: { applying: { kind: 'snapshot', nonce: expect.any(Number) } } });
    expect(JSON.parse((await get(dp, 'status', '/status')).body).control_plane.applying).toBeNull();
    expect(dp.config?.version).toBe(3);
    expect((await get(dp, 'proxy', '/big4999/x')).status).toBe(200);
    expect(cp.received.acks.at(-1)).toMatchObject({ error: pb.Ack.Error.ERROR_NONE, applied: { version: 3 } });
    // The build's time is on /metrics: the two applies so far were snapshots (v2 on connect, then v3).
    const metrics = (await get(dp, 'status', '/metrics')).body;
    expect(metrics).toMatch(/sluice_dp_config_apply_duration_seconds_count\{kind="snapshot",result="applied"\} 2/);
    const sum = Number(/sluice_dp_config_apply_duration_seconds_sum\{kind="snapshot",result="applied"\} (\S+)/.exec(metrics)?.[1]);
    expect(sum).toBeGreaterThan(0);
  });

  it('closes the stream when a push arrives before the one being applied is acknowledged (one push in flight)', async () => {
    const { m, cp, dp } = await syncedAtVersion2();
    commitManyRoutes(m, 3000);
    addVersion(m, 4);
    dp.sync!.once('applying', () => cp.sendDelta(cp.socket, 3, { to: 4 }));
    cp.sendSnapshot(cp.socket, { version: 3 });
    await waitFor(() => cp.received.closes.some((c) => c.code === CloseCode.PROTOCOL_ERROR), 'protocol-error close');
    expect(dp.sync!.lastError?.message).toMatch(/delta while push \d+ is being applied/);
    // The abandoned snapshot was never ACKed nor swapped in; the reconnect brings the data plane to head.
    expect(cp.received.acks.filter((a) => a.applied?.version === 3)).toEqual([]);
    await waitFor(() => dp.config?.version === 4, 'head after the reconnect');
  });

  it('abandons a push whose connection drops while it is being built: never swapped in nor ACKed; the next connection brings head', async () => {
    const { m, cp, dp } = await syncedAtVersion2();
    commitManyRoutes(m, 5000);
    const appliedNonces: number[] = [];
    dp.sync!.on('applied', ({ nonce }) => appliedNonces.push(nonce));
    const abandoned = new Promise<number>((resolve) =>
      dp.sync!.once('applying', ({ nonce }) => {
        cp.socket.terminate();
        resolve(nonce);
      }),
    );
    cp.sendSnapshot(cp.socket);
    const nonce = await abandoned;
    expect(dp.config?.version).toBe(2);
    // Reconnected with version 2, it gets the delta 2 → 3 and applies that instead.
    await waitFor(() => dp.config?.version === 3, 'head after the reconnect', 15_000);
    expect(appliedNonces).not.toContain(nonce);
    expect(cp.received.acks.some((a) => a.nonce === nonce)).toBe(false);
    expect(cp.received.hellos.at(-1)?.applied?.version).toBe(2);
  });

  it('reconnects with its cached state and gets a delta, not a snapshot', async () => {
    const m = model(2);
    await seedCache(m);
    addVersion(m, 3);
    const cp = await startCp(m);
    const dp = await startDp({ controlPlane: cp.url });
    await waitFor(() => dp.config?.version === 3, 'delta applied');
    expect(cp.received.hellos[0].applied?.version).toBe(2);
    expect((await get(dp, 'proxy', '/r3')).status).toBe(200);
    const metrics = (await get(dp, 'status', '/metrics')).body;
    expect(metrics).toMatch(/sluice_dp_config_applies_total\{kind="delta"\} 1/);
    expect(metrics).not.toMatch(/kind="snapshot"/);
  });

  it('journals each delta it applies instead of rewriting its cache file; a restart serves the newest', async () => {
    // 20 services and routes: a base some records fit beside (the journal never outgrows its base).
    const m = model(20);
    await seedCache(m);
    const seeded = await readFile(join(dir, 'config'));
    const cp = await startCp(m);
    const dp = await startDp({ controlPlane: cp.url });
    await waitFor(() => dp.config?.version === 20 && dp.sync!.state === 'connected', 'connected, serving the cache');
    for (const v of [21, 22]) {
      addVersion(m, v);
      cp.sendDelta(cp.socket, v - 1);
      await waitFor(() => dp.config?.version === v, `delta to ${v} applied`);
    }
    await dp.cache.flush();
    expect(dp.cache.state?.version).toBe(22);
    expect((await readFile(join(dir, 'config'))).equals(seeded)).toBe(true);
    expect((await readFile(join(dir, CACHE_JOURNAL_FILE_NAME))).byteLength).toBeGreaterThan(0);
    await dp.close();
    await cp.close();

    const again = await startDp({ controlPlane: 'ws://127.0.0.1:1' });
    expect(again.config).toMatchObject({ version: 22, source: 'cache', hashHex: Buffer.from(m.hashAt(22)).toString('hex') });
    expect((await get(again, 'proxy', '/r22')).status).toBe(200);
  });

  it('serves a declarative config without a control plane, and refuses an invalid one', async () => {
    const file = join(dir, 'kong.json');
    await writeFile(
      file,
      JSON.stringify({
        _format_version: '3.0',
        services: [{ name: 'up', url: `http://127.0.0.1:${upstreamPort}/base`, routes: [{ name: 'nested', paths: ['/nested'] }] }],
        routes: [{ name: 'flat', paths: ['/flat'], service: { name: 'up' } }],
        consumers: [{ username: 'alice' }],
      }),
    );
    const dp = await startDp({ declarativeConfig: file });
    expect(dp.isReady()).toBe(true);
    expect(JSON.parse((await get(dp, 'status', '/status')).body)).toMatchObject({
      config_source: 'declarative',
      control_plane: null,
      routes: 2,
      services: 1,
      entities: { services: 1, routes: 2, consumers: 1 },
    });
    expect((await get(dp, 'status', '/metrics')).body).toMatch(/sluice_dp_config_entities\{kind="consumers"\} 1/);
    const res = await get(dp, 'proxy', '/flat/x');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).path).toBe('/base/x');
    await dp.close();

    await writeFile(file, JSON.stringify({ services: [{ name: 'up', host: 'x', port: 70000 }], routes: [{ paths: ['/a'], service: 'missing' }] }));
    await expect(startDp({ declarativeConfig: file })).rejects.toMatchObject({ code: 'SLUICE_DP_DECLARATIVE_CONFIG', message: expect.stringMatching(/services\[0\].*port.*routes\[0\].*missing/s) });
    await expect(startDp({ declarativeConfig: file, controlPlane: 'ws://127.0.0.1:1' })).rejects.toMatchObject({ code: 'SLUICE_DP_INVALID_ARGUMENT' });
  });
});

/** The version a cache file holds, or null when there is no file or it does not decode (yet). */
function cachedVersion(bytes: Buffer | null): number | null {
  if (bytes === null) return null;
  try {
    return decodeCacheFile(bytes, 'config').version;
  } catch {
    return null;
  }
}
