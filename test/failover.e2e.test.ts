import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_SERVER_URL } from './support/database.js';
import { DP_BIN, http, ROOT, startControlPlane, startDataPlane, tempDir, waitFor, type ControlPlaneHandle, type DataPlaneHandle } from './support/processes.js';
import { StatusWatch, TrafficLoop } from './support/traffic.js';
import { freePort, startEchoUpstream } from './support/upstream.js';

/** The GoAway window a draining replica announces by default, in ms (0..5000). */
const GO_AWAY_MAX_MS = 5_000;

// Two sluice-cp replicas on one PostgreSQL database and data planes started with
// `--control-plane A,B`: with steady traffic through them, a replica killed outright or drained by
// SIGTERM (GoAway) loses no proxied request, the data planes move to the other replica, and their
// versions never go down whichever replica they talk to.
describe.skipIf(!TEST_SERVER_URL)('data planes failing over between two control-plane replicas', () => {
  const dirs = [tempDir('fo1'), tempDir('fo2')];
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  const ports = { a: { admin: 0, cluster: 0 }, b: { admin: 0, cluster: 0 } };
  const cps: { a?: ControlPlaneHandle; b?: ControlPlaneHandle } = {};
  const dps: DataPlaneHandle[] = [];
  const watches: StatusWatch[] = [];

  const startReplica = async (name: 'a' | 'b') => {
    cps[name] = await startControlPlane({ databaseUrl: database.url, adminPort: ports[name].admin, clusterPort: ports[name].cluster });
    return cps[name]!;
  };
  const clusterUrls = () => `ws://127.0.0.1:${ports.a.cluster},ws://127.0.0.1:${ports.b.cluster}`;
  const statusOf = async (dp: DataPlaneHandle) => (await http('GET', `${dp.status}/status`)).body;
  const connectedTo = async (dp: DataPlaneHandle, name: 'a' | 'b') => {
    const s = await statusOf(dp);
    return s.control_plane.state === 'connected' && s.control_plane.url === `ws://127.0.0.1:${ports[name].cluster}` ? s : null;
  };
  /** A write on `cp`, then every data plane at its version. */
  const writeAndConverge = async (cp: ControlPlaneHandle, name: string) => {
    const res = await http('POST', `${cp.admin}/services/echo/routes`, { name, paths: [`/${name}`] });
    expect(res.status).toBe(201);
    const version = Number(res.headers.get('x-sluice-config-version'));
    for (const dp of dps) await waitFor(async () => (await statusOf(dp)).version === version, `data plane at version ${version}`, 20_000);
    return version;
  };

  beforeAll(async () => {
    database = await createTestDatabase('sluice_failover');
    upstream = await startEchoUpstream('echo');
    for (const p of [ports.a, ports.b]) [p.admin, p.cluster] = [await freePort(), await freePort()];
    await Promise.all([startReplica('a'), startReplica('b')]);
    expect((await http('POST', `${cps.a!.admin}/services`, { name: 'echo', url: upstream.url })).status).toBe(201);
    expect((await http('POST', `${cps.a!.admin}/services/echo/routes`, { name: 'steady', paths: ['/steady'] })).status).toBe(201);
  });

  afterAll(async () => {
    for (const w of watches) await w.stop();
    await Promise.all([...dps, cps.a, cps.b].filter((p) => p !== undefined).map((p) => p.proc.kill('SIGKILL')));
    await upstream?.close();
    for (const d of dirs) d.cleanup();
    await database?.drop();
  });

  it('a data plane on --control-plane A,B fails over when its replica is killed, and back, with zero failed requests and versions that never go down', async () => {
    const dp = await startDataPlane({ controlPlane: clusterUrls(), cacheDir: dirs[0].path });
    dps.push(dp);
    const first = await waitFor(() => connectedTo(dp, 'a'), 'the data plane connected to A (the first address)');
    expect(first.control_plane.urls).toEqual(clusterUrls().split(','));
    await waitFor(async () => (await http('GET', `${dp.proxy}/steady/x`)).status === 200, 'the route served');
    const watch = new StatusWatch(dp.status);
    watches.push(watch);
    const traffic = new TrafficLoop([`${dp.proxy}/steady/x`]);

    await cps.a!.proc.kill('SIGKILL');
    const onB = await waitFor(() => connectedTo(dp, 'b'), 'failed over to B', 20_000);
    const bInstance = (await http('GET', `${cps.b!.admin}/clustering/data-planes`)).body.data.find((d: { id: string }) => d.id === onB.node_id).control_plane_instance;
    expect(onB.control_plane.instance_id).toBe(bInstance);
    await writeAndConverge(cps.b!, 'after-a-died');

    await startReplica('a');
    await cps.b!.proc.kill('SIGKILL');
    await waitFor(() => connectedTo(dp, 'a'), 'failed over back to A', 20_000);
    await writeAndConverge(cps.a!, 'after-b-died');
    await startReplica('b');

    await traffic.stop();
    await watch.stop();
    expect(traffic.failures).toEqual([]);
    expect(traffic.served).toBeGreaterThan(20);
    expect(watch.samples.length).toBeGreaterThan(20);
    expect(watch.regressions).toEqual([]);
    // The watch saw both replicas.
    expect(new Set(watch.samples.filter((s) => s.state === 'connected').map((s) => s.url))).toEqual(new Set(clusterUrls().split(',')));
  });

  it('SIGTERM drains a replica: its data planes get GoAway and move to the other within the window, no request fails, and the replica exits once they left', async () => {
    const second = await startDataPlane({ controlPlane: clusterUrls(), cacheDir: dirs[1].path });
    dps.push(second);
    for (const dp of dps) await waitFor(() => connectedTo(dp, 'a'), 'every data plane on A', 20_000);
    // Connected is not yet serving: the new data plane's first config may still be on its way.
    for (const dp of dps) await waitFor(async () => (await http('GET', `${dp.proxy}/steady/x`)).status === 200, 'every data plane serves the route');
    const watchesHere = dps.map((dp) => new StatusWatch(dp.status));
    watches.push(...watchesHere);
    const traffic = new TrafficLoop(dps.map((dp) => `${dp.proxy}/steady/x`));
    await waitFor(() => traffic.served > 10, 'traffic flowing');

    const a = cps.a!;
    const termAt = Date.now();
    const exited = a.proc.kill('SIGTERM');
    // Draining, A refuses new streams at once but still serves its data planes until they move.
    for (const dp of dps) await waitFor(() => connectedTo(dp, 'b'), 'moved to B', GO_AWAY_MAX_MS + 5_000);
    const movedMs = Date.now() - termAt;
    expect(movedMs).toBeLessThan(GO_AWAY_MAX_MS + 3_000);
    expect(await exited).toBe(0);
    // The drain ended when they had left, not at the 10 s drain timeout.
    expect(Date.now() - termAt).toBeLessThan(10_000);
    expect(a.proc.output).toMatch(/drained: every data plane left/);
    expect(a.proc.output).not.toMatch(/drain timeout/);

    await writeAndConverge(cps.b!, 'after-a-drained');
    await traffic.stop();
    for (const w of watchesHere) await w.stop();
    expect(traffic.failures).toEqual([]);
    for (const w of watchesHere) expect(w.regressions).toEqual([]);
    // The data planes logged the GoAway and left A themselves (1001).
    for (const dp of dps) expect(dp.proc.output).toMatch(/control plane is draining; moving to another address/);
  });
});

// A replica behind the data plane in the same epoch: B runs on a copy of the database taken at
// version 2 (same epoch), A on the original, which moves on. A data plane at A's version that
// lists B first is answered RETRY_LATER by B (never older config) and goes to A at once, not after
// B's retry-after; its version never goes down.
describe.skipIf(!TEST_SERVER_URL)('a replica behind the data plane', () => {
  const dir = tempDir('behind');
  const databases: Awaited<ReturnType<typeof createTestDatabase>>[] = [];
  const procs: { proc: { kill: (s?: NodeJS.Signals) => Promise<unknown> } }[] = [];
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.proc.kill('SIGKILL')));
    await upstream?.close();
    dir.cleanup();
    for (const d of databases) await d.drop();
  });

  it('answers RETRY_LATER, and the data plane moves to the other address at once with its version intact', async () => {
    upstream = await startEchoUpstream('echo');
    const original = await createTestDatabase('sluice_behind');
    databases.push(original);
    let a = await startControlPlane({ databaseUrl: original.url });
    procs.push(a);
    expect((await http('POST', `${a.admin}/services`, { name: 'echo', url: upstream.url })).status).toBe(201);
    expect((await http('POST', `${a.admin}/services/echo/routes`, { name: 'r', paths: ['/r'] })).status).toBe(201);
    await a.proc.kill('SIGTERM');
    const copy = await createTestDatabase('sluice_behind_copy', original.name);
    databases.push(copy);
    const b = await startControlPlane({ databaseUrl: copy.url });
    a = await startControlPlane({ databaseUrl: original.url });
    procs.push(a, b);
    const [headA, headB] = [(await http('GET', `${a.admin}/clustering/status`)).body.config, (await http('GET', `${b.admin}/clustering/status`)).body.config];
    expect(headB.epoch).toBe(headA.epoch);
    const later = await http('POST', `${a.admin}/services/echo/routes`, { name: 'later', paths: ['/later'] });
    const version = Number(later.headers.get('x-sluice-config-version'));
    expect(version).toBeGreaterThan(headB.version);

    // The data plane gets A's version first (A only), then restarts from its cache listing B first.
    const first = await startDataPlane({ controlPlane: a.cluster, cacheDir: dir.path });
    procs.push(first);
    await waitFor(async () => (await http('GET', `${first.status}/status`)).body.version === version, 'the data plane at the head of A');
    await first.proc.kill('SIGTERM');
    const dp = await startDataPlane({ controlPlane: `${b.cluster},${a.cluster}`, cacheDir: dir.path });
    procs.push(dp);
    const watch = new StatusWatch(dp.status, 20);
    const startedAt = Date.now();
    const status = await waitFor(async () => {
      const s = (await http('GET', `${dp.status}/status`)).body;
      return s.control_plane.state === 'connected' && s.control_plane.url === a.cluster ? s : null;
    }, 'connected to A after B asked to retry later');
    // Well before B's retry-after (2 s, jittered up to 3 s) would have let it try B again.
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    await watch.stop();
    expect(status.version).toBe(version);
    expect(watch.samples.every((s) => s.version === version)).toBe(true);
    expect(watch.regressions).toEqual([]);
    expect(b.proc.output).toMatch(/data plane is ahead of this replica; asking it to retry later/);
    expect(dp.proc.output).toMatch(/control plane asked to retry later/);
    expect((await http('GET', `${dp.proxy}/later/x`)).status).toBe(200);
  });
});

describe('sluice-dp --control-plane lists', () => {
  const run = (value: string, via: 'flag' | 'env' = 'flag') =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const args = [...(via === 'flag' ? ['--control-plane', value] : []), '--status-listen', 'off', '--proxy-listen', 'off'];
      const env = { ...process.env, SLUICE_CONTROL_PLANE: via === 'env' ? value : '' };
      const child = spawn(process.execPath, [DP_BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stderr }));
    });

  it('refuses a repeated address (flag or SLUICE_CONTROL_PLANE), an address that is not a ws:// or wss:// origin, and an empty list (exit 2)', async () => {
    const results = await Promise.all([run('ws://127.0.0.1:1,ws://127.0.0.1:1/'), run('ws://127.0.0.1:1,http://127.0.0.1:2'), run(' , '), run('ws://127.0.0.1:1, ws://127.0.0.1:1', 'env')]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 2, 2]);
    // SLUICE_CONTROL_PLANE is read as the same list.
    expect(results[3].stderr).toMatch(/lists an address twice/);
    expect(results[0].stderr).toMatch(/lists an address twice/);
    expect(results[1].stderr).toMatch(/must be ws:\/\/ or wss:\/\/ origins/);
    expect(results[2].stderr).toMatch(/at least one/);
  });
});
