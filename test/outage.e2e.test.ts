import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEchoUpstream } from './support/upstream.js';
import { http, startControlPlane, startDataPlane, tempDir, waitFor, type ControlPlaneHandle, type DataPlaneHandle } from './support/processes.js';

// Failover drill, in order: the control plane dies under steady traffic; a data plane restarts
// while it is down; the control plane comes back on the same data. Data planes keep serving,
// come back from their cache, reconnect by themselves, and get deltas, never a snapshot.
describe('outage survival', () => {
  const dirs = { cp: tempDir('cp'), dp1: tempDir('dp1'), dp2: tempDir('dp2') };
  let clusterPort: number;
  let adminPort: number;
  let cp: ControlPlaneHandle;
  let dp1: DataPlaneHandle;
  let dp2: DataPlaneHandle;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;

  beforeAll(async () => {
    upstream = await startEchoUpstream('echo');
    [clusterPort, adminPort] = [await freePort(), await freePort()];
    cp = await startControlPlane({ dataDir: dirs.cp.path, clusterPort, adminPort });
    [dp1, dp2] = await Promise.all([
      startDataPlane({ controlPlane: cp.cluster, cacheDir: dirs.dp1.path }),
      startDataPlane({ controlPlane: cp.cluster, cacheDir: dirs.dp2.path }),
    ]);
    expect((await http('POST', `${cp.admin}/services`, { name: 'echo', url: upstream.url })).status).toBe(201);
    const route = await http('POST', `${cp.admin}/services/echo/routes`, { name: 'r1', paths: ['/a'] });
    const version = route.headers.get('x-sluice-config-version');
    expect((await http('GET', `${cp.admin}/clustering/propagation/${version}?timeout_ms=20000&min_data_planes=2`)).status).toBe(200);
  });

  afterAll(async () => {
    await Promise.all([dp1?.proc.kill(), dp2?.proc.kill(), cp?.proc.kill()]);
    await upstream?.close();
    for (const d of Object.values(dirs)) d.cleanup();
  });

  it('loses no proxied request when the control plane is killed with SIGKILL under load', async () => {
    let ok = 0;
    const failures: string[] = [];
    let stop = false;
    let okAtKill = -1;
    let killedAt = 0;
    const worker = async (proxy: string) => {
      while (!stop) {
        try {
          const res = await fetch(`${proxy}/a/x`, { signal: AbortSignal.timeout(5000) });
          const body = await res.text();
          if (res.status === 200) ok++;
          else failures.push(`status ${res.status} ${okAtKill < 0 ? 'before the kill' : `${Date.now() - killedAt} ms after the kill`}: ${body}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const workers = [dp1.proxy, dp1.proxy, dp2.proxy, dp2.proxy].map(worker);
    await waitFor(() => ok >= 200, 'steady traffic');
    killedAt = Date.now();
    await cp.proc.kill('SIGKILL');
    okAtKill = ok;
    // Keep the load on well past the kill: both data planes notice the control plane is gone.
    await waitFor(() => ok >= okAtKill + 1000, 'traffic after the kill', 30_000);
    await waitFor(async () => {
      const [a, b] = await Promise.all([http('GET', `${dp1.status}/status`), http('GET', `${dp2.status}/status`)]);
      return a.body.control_plane.state !== 'connected' && b.body.control_plane.state !== 'connected';
    }, 'data planes to see the control plane down', 30_000);
    stop = true;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(okAtKill + 1000);
  });

  it('restarts a data plane while the control plane is down: it serves from its cache and is ready', async () => {
    await dp2.proc.kill('SIGTERM');
    dp2 = await startDataPlane({ controlPlane: `ws://127.0.0.1:${clusterPort}`, cacheDir: dirs.dp2.path });
    const ready = await http('GET', `${dp2.status}/status/ready`);
    expect(ready.status).toBe(200);
    const status = await http('GET', `${dp2.status}/status`);
    expect(status.body.config_source).toBe('cache');
    expect(status.body.control_plane.state).not.toBe('connected');
    const res = await http('GET', `${dp2.proxy}/a/x`);
    expect(res.status).toBe(200);
    expect(res.body.name).toBe('echo');
  });

  it('reconnects data planes to a restarted control plane without a snapshot, then streams deltas', async () => {
    cp = await startControlPlane({ dataDir: dirs.cp.path, clusterPort, adminPort });
    await waitFor(async () => {
      const list = await http('GET', `${cp.admin}/clustering/status`);
      return list.body.replica.connections === 2 && list.body.data_planes.in_sync === 2;
    }, 'both data planes to reconnect', 60_000);
    let status = await http('GET', `${cp.admin}/clustering/status`);
    expect(status.body.replica.snapshots_sent).toBe(0);

    const route = await http('POST', `${cp.admin}/services/echo/routes`, { name: 'r2', paths: ['/b'] });
    expect(route.status).toBe(201);
    const version = route.headers.get('x-sluice-config-version');
    expect((await http('GET', `${cp.admin}/clustering/propagation/${version}?timeout_ms=20000`)).status).toBe(200);
    for (const dp of [dp1, dp2]) expect((await http('GET', `${dp.proxy}/b/y`)).status).toBe(200);
    status = await http('GET', `${cp.admin}/clustering/status`);
    expect(status.body.replica.snapshots_sent).toBe(0);
    expect(status.body.replica.deltas_sent).toBeGreaterThanOrEqual(2);
  });
});
