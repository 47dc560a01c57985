import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startControlPlane, startDataPlane, tempDir, waitFor, type ControlPlaneHandle, type DataPlaneHandle } from './support/processes.js';
import { startEchoUpstream } from './support/upstream.js';

const serverUrl = process.env.SLUICE_TEST_DATABASE_URL;

/** The stale window of a registry row whose replica died: 3 × the default 5 s heartbeat. */
const STALE_AFTER_MS = 15_000;

// Two sluice-cp replicas sharing one PostgreSQL database, one sluice-dp on each: a write on
// either replica reaches both data planes (NOTIFY + mirror catch-up), versions stay unique under
// concurrent writers on both, the fleet registry is shared, and a replica killed outright leaves
// its data plane serving and its row disconnected on the survivor.
describe.skipIf(!serverUrl)('two control-plane replicas on one database', () => {
  const databaseName = `sluice_replicas_${randomBytes(6).toString('hex')}`;
  const dirs = [tempDir('dpa'), tempDir('dpb')];
  let databaseUrl: string;
  let cpA: ControlPlaneHandle;
  let cpB: ControlPlaneHandle;
  let dpA: DataPlaneHandle;
  let dpB: DataPlaneHandle;
  let nodeA: string;
  let nodeB: string;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;

  const admin = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  };

  beforeAll(async () => {
    const client = await admin(serverUrl!);
    try {
      await client.query(`create database ${databaseName}`);
    } finally {
      await client.end();
    }
    const u = new URL(serverUrl!);
    u.pathname = `/${databaseName}`;
    databaseUrl = u.toString();
    upstream = await startEchoUpstream('echo');
    // Both replicas start at once: migrations are serialised by their lock.
    [cpA, cpB] = await Promise.all([startControlPlane({ databaseUrl }), startControlPlane({ databaseUrl })]);
    [dpA, dpB] = await Promise.all([
      startDataPlane({ controlPlane: cpA.cluster, cacheDir: dirs[0].path }),
      startDataPlane({ controlPlane: cpB.cluster, cacheDir: dirs[1].path }),
    ]);
    for (const dp of [dpA, dpB]) await waitFor(async () => (await http('GET', `${dp.status}/status/ready`)).status === 200, 'data plane ready');
    nodeA = (await http('GET', `${dpA.status}/status`)).body.node_id;
    nodeB = (await http('GET', `${dpB.status}/status`)).body.node_id;
  });

  afterAll(async () => {
    await Promise.all([dpA, dpB, cpA, cpB].filter(Boolean).map((p) => p.proc.kill('SIGKILL')));
    await upstream?.close();
    for (const d of dirs) d.cleanup();
    const client = await admin(serverUrl!);
    try {
      await client.query(`drop database if exists ${databaseName} with (force)`);
    } finally {
      await client.end();
    }
  });

  it('serves a route written on replica A from the data plane on replica B, and A waits for it', async () => {
    expect((await http('POST', `${cpA.admin}/services`, { name: 'echo', url: `${upstream.url}/base` })).status).toBe(201);
    const route = await http('POST', `${cpA.admin}/services/echo/routes`, { name: 'r1', paths: ['/echo'] });
    expect(route.status).toBe(201);
    const version = Number(route.headers.get('x-sluice-config-version'));

    // The wait on A covers the data plane connected to B: the registry is shared.
    const wait = await http('GET', `${cpA.admin}/clustering/propagation/${version}?timeout_ms=15000`);
    expect(wait.status).toBe(200);
    expect(wait.body.applied.map((d: { id: string }) => d.id).sort()).toEqual([nodeA, nodeB].sort());

    const res = await http('GET', `${dpB.proxy}/echo/hello`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'echo', url: '/base/hello' });
  });

  it('gives concurrent writes on both replicas unique, gap-free versions, and every plane converges to one version and hash', async () => {
    const before = (await http('GET', `${cpA.admin}/clustering/status`)).body.config.version as number;
    const N = 16;
    const writes = await Promise.all(
      Array.from({ length: N }, (_, i) => {
        const cp = i % 2 === 0 ? cpA : cpB;
        return http('POST', `${cp.admin}/services/echo/routes`, { name: `c${i}`, paths: [`/c${i}`] });
      }),
    );
    expect(writes.map((w) => w.status)).toEqual(Array(N).fill(201));
    const versions = writes.map((w) => Number(w.headers.get('x-sluice-config-version'))).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: N }, (_, i) => before + 1 + i));
    const head = versions[N - 1];

    const statuses = await waitFor(async () => {
      const [a, b] = await Promise.all([http('GET', `${cpA.admin}/clustering/status`), http('GET', `${cpB.admin}/clustering/status`)]);
      return a.body.config.version === head && b.body.config.version === head ? [a.body, b.body] : null;
    }, 'both replicas to reach the head');
    expect(statuses[0].config).toEqual(statuses[1].config);
    for (const dp of [dpA, dpB]) {
      await waitFor(async () => {
        const s = (await http('GET', `${dp.status}/status`)).body;
        return s.version === head && s.hash === statuses[0].config.hash && s.epoch === statuses[0].config.epoch;
      }, 'data plane to converge', 20_000);
    }
    expect((await http('GET', `${dpA.proxy}/c1/x`)).status).toBe(200);
    expect((await http('GET', `${dpB.proxy}/c0/x`)).status).toBe(200);
  });

  it("lists both data planes on replica A, each against its own replica", async () => {
    // Each replica shows its own data planes from memory and the other's from the database, where
    // their rows are written in batches, at most one per second (REGISTRY_FLUSH_INTERVAL_MS).
    const list = await waitFor(async () => {
      const res = await http('GET', `${cpA.admin}/clustering/data-planes`);
      return res.body.data.every((d: { sync_status: string }) => d.sync_status === 'in_sync') ? res : null;
    }, "replica B's data plane to be listed in sync on A", 5_000, 50);
    expect(list.status).toBe(200);
    const byId = new Map<string, { connected: boolean; sync_status: string; control_plane_instance: string }>(list.body.data.map((d: { id: string }) => [d.id, d]));
    expect([...byId.keys()].sort()).toEqual([nodeA, nodeB].sort());
    expect(byId.get(nodeA)).toMatchObject({ connected: true, sync_status: 'in_sync' });
    expect(byId.get(nodeB)).toMatchObject({ connected: true, sync_status: 'in_sync' });
    expect(byId.get(nodeA)!.control_plane_instance).not.toBe(byId.get(nodeB)!.control_plane_instance);
    const summary = await waitFor(async () => {
      const s = (await http('GET', `${cpB.admin}/clustering/status`)).body.data_planes;
      return s.in_sync === 2 ? s : null;
    }, "replica A's data plane to be counted in sync on B", 5_000, 50);
    expect(summary).toMatchObject({ total: 2, connected: 2, in_sync: 2 });
  });

  it('after replica B is killed, its data plane keeps serving and its row turns disconnected on A', async () => {
    await cpB.proc.kill('SIGKILL');
    const killedAt = Date.now();
    // The data plane only knows B's address: it keeps serving its last config while it retries.
    expect((await http('GET', `${dpB.proxy}/echo/still`)).status).toBe(200);

    const row = await waitFor(async () => {
      const list = await http('GET', `${cpA.admin}/clustering/data-planes`);
      const b = list.body.data.find((d: { id: string }) => d.id === nodeB);
      return b && b.connected === false ? b : null;
    }, "B's data plane to turn disconnected on A", STALE_AFTER_MS + 10_000, 200);
    expect(row.id).toBe(nodeB);
    expect(Date.now() - killedAt).toBeGreaterThan(STALE_AFTER_MS - 5_000 - 1_000);

    // A disconnected data plane does not hold up a propagation wait on the survivor.
    const route = await http('POST', `${cpA.admin}/services/echo/routes`, { name: 'after', paths: ['/after'] });
    const version = Number(route.headers.get('x-sluice-config-version'));
    const wait = await http('GET', `${cpA.admin}/clustering/propagation/${version}?timeout_ms=10000`);
    expect(wait.status).toBe(200);
    expect(wait.body.applied.map((d: { id: string }) => d.id)).toEqual([nodeA]);
    expect((await http('GET', `${dpB.proxy}/echo/still`)).status).toBe(200);
  });
});
