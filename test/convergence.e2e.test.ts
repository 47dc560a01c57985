import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startControlPlane, startDataPlane, tempDir, waitFor, type ControlPlaneHandle, type DataPlaneHandle } from './support/processes.js';

// Dozens of concurrent Admin API writers: every data plane ends with exactly the control plane's
// config (same version and content hash), deletes included, for every kind (consumers travel as
// routes and services do, though the proxy does not read them yet).
describe('convergence under concurrent writers', () => {
  const dirs = [tempDir('cp'), tempDir('dp1'), tempDir('dp2')];
  let cp: ControlPlaneHandle;
  let dps: DataPlaneHandle[];

  beforeAll(async () => {
    cp = await startControlPlane({ dataDir: dirs[0].path });
    dps = await Promise.all([1, 2].map((i) => startDataPlane({ controlPlane: cp.cluster, cacheDir: dirs[i].path })));
  });

  afterAll(async () => {
    await Promise.all([...(dps ?? []).map((d) => d.proc.kill()), cp?.proc.kill()]);
    for (const d of dirs) d.cleanup();
  });

  it('ends every data plane on the head version and hash', async () => {
    expect((await http('POST', `${cp.admin}/services`, { name: 's', url: 'http://127.0.0.1:9' })).status).toBe(201);
    const N = 48;
    // Creates, then concurrent deletes of every third route while more creates go on.
    const created = await Promise.all(
      Array.from({ length: N }, (_, i) => http('POST', `${cp.admin}/services/s/routes`, { name: `r${i}`, paths: [`/p${i}`] })),
    );
    expect(created.every((r) => r.status === 201)).toBe(true);
    const mixed = await Promise.all([
      ...Array.from({ length: N / 3 }, (_, i) => http('DELETE', `${cp.admin}/routes/r${i * 3}`)),
      ...Array.from({ length: N / 2 }, (_, i) => http('POST', `${cp.admin}/services/s/routes`, { name: `q${i}`, hosts: [`h${i}.example`] })),
      ...Array.from({ length: N / 4 }, (_, i) => http('PATCH', `${cp.admin}/routes/r${i * 3 + 1}`, { paths: [`/patched${i}`] })),
      ...Array.from({ length: N / 4 }, (_, i) => http('POST', `${cp.admin}/consumers`, { username: `c${i}`, custom_id: `id-${i}` })),
    ]);
    const consumerChanges = await Promise.all([
      ...Array.from({ length: N / 8 }, (_, i) => http('DELETE', `${cp.admin}/consumers/c${i}`)),
      ...Array.from({ length: N / 8 }, (_, i) => http('PATCH', `${cp.admin}/consumers/c${N / 8 + i}`, { tags: ['patched'] })),
    ]);
    expect(consumerChanges.every((r) => r.status === 204 || r.status === 200)).toBe(true);
    mixed.push(...consumerChanges);
    expect(mixed.every((r) => r.status === 204 || r.status === 201 || r.status === 200)).toBe(true);
    const versions = [...created, ...mixed].map((r) => Number(r.headers.get('x-sluice-config-version')));
    // Every write got its own version.
    expect(new Set(versions).size).toBe(versions.length);

    const head = (await http('GET', `${cp.admin}/clustering/status`)).body.config;
    expect(head.version).toBe(Math.max(...versions));
    for (const dp of dps) {
      await waitFor(async () => {
        const s = (await http('GET', `${dp.status}/status`)).body;
        return s.version === head.version && s.hash === head.hash;
      }, 'data plane to converge', 30_000);
    }
    // And the routes really are what the data plane serves: deleted ones are gone.
    const res = await http('GET', `${dps[0].proxy}/p0`);
    expect(res.status).toBe(404);
  });
});
