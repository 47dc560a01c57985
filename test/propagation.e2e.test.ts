import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startControlPlane, startDataPlane, tempDir, waitFor, type ControlPlaneHandle, type DataPlaneHandle } from './support/processes.js';
import { startEchoUpstream } from './support/upstream.js';

// A route created through the Admin API reaches two data planes, and the control plane can tell
// when it has: the propagation wait, the fleet listing and the status summary agree.
describe('propagation to two data planes', () => {
  const dirs = [tempDir('cp'), tempDir('dp1'), tempDir('dp2')];
  let cp: ControlPlaneHandle;
  let dps: DataPlaneHandle[];
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;

  beforeAll(async () => {
    upstream = await startEchoUpstream('echo');
    cp = await startControlPlane({ dataDir: dirs[0].path });
    dps = await Promise.all([1, 2].map((i) => startDataPlane({ controlPlane: cp.cluster, cacheDir: dirs[i].path, args: ['--label', `zone=z${i}`] })));
    // Both data planes connect and are ready (an empty config is a config).
    for (const dp of dps) await waitFor(async () => (await http('GET', `${dp.status}/status/ready`)).status === 200, 'data plane ready');
  });

  afterAll(async () => {
    await Promise.all([...(dps ?? []).map((d) => d.proc.kill()), cp?.proc.kill()]);
    await upstream?.close();
    for (const d of dirs) d.cleanup();
  });

  it('serves a new route on both data planes, and the propagation wait says so', async () => {
    const svc = await http('POST', `${cp.admin}/services`, { name: 'echo', url: `${upstream.url}/base` });
    expect(svc.status).toBe(201);
    const route = await http('POST', `${cp.admin}/services/echo/routes`, { name: 'r1', paths: ['/echo'] });
    expect(route.status).toBe(201);
    const version = Number(route.headers.get('x-sluice-config-version'));
    expect(version).toBeGreaterThan(0);

    const wait = await http('GET', `${cp.admin}/clustering/propagation/${version}?timeout_ms=15000&min_data_planes=2`);
    expect(wait.status).toBe(200);
    expect(wait.body.propagated).toBe(true);
    expect(wait.body.applied).toHaveLength(2);

    // Once the wait answers, both data planes serve the route: no polling needed.
    for (const dp of dps) {
      const res = await http('GET', `${dp.proxy}/echo/hello?x=1`);
      expect(res.status).toBe(200);
      expect(res.body.name).toBe('echo');
      expect(res.body.url).toBe('/base/hello?x=1');
    }
  });

  it('lists both data planes as connected and in sync with the head', async () => {
    const status = await http('GET', `${cp.admin}/clustering/status`);
    expect(status.status).toBe(200);
    const list = await http('GET', `${cp.admin}/clustering/data-planes`);
    expect(list.status).toBe(200);
    expect(list.body.next).toBeNull();
    expect(list.body.data).toHaveLength(2);
    for (const dp of list.body.data) {
      expect(dp.connected).toBe(true);
      expect(dp.sync_status).toBe('in_sync');
      expect(dp.config.version).toBe(status.body.config.version);
      expect(dp.config.hash).toBe(status.body.config.hash);
    }
    expect(list.body.data.map((d: any) => d.labels.zone).sort()).toEqual(['z1', 'z2']);
    expect(status.body.data_planes).toMatchObject({ total: 2, connected: 2, in_sync: 2, behind: 0, rejected: 0 });
  });

  it('times out a wait for a version nobody has, naming who is behind', async () => {
    const status = await http('GET', `${cp.admin}/clustering/status`);
    const future = status.body.config.version + 1000;
    const wait = await http('GET', `${cp.admin}/clustering/propagation/${future}?timeout_ms=200`);
    expect(wait.status).toBe(504);
    expect(wait.body.propagated).toBe(false);
    expect(wait.body.pending).toHaveLength(2);
    const bad = await http('GET', `${cp.admin}/clustering/propagation/abc`);
    expect(bad.status).toBe(400);
  });

  it('stops serving a deleted route on every data plane', async () => {
    const del = await http('DELETE', `${cp.admin}/routes/r1`);
    expect(del.status).toBe(204);
    const version = Number(del.headers.get('x-sluice-config-version'));
    const wait = await http('GET', `${cp.admin}/clustering/propagation/${version}?timeout_ms=15000`);
    expect(wait.status).toBe(200);
    for (const dp of dps) {
      const res = await http('GET', `${dp.proxy}/echo/hello`);
      expect(res.status).toBe(404);
    }
  });
});
