import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedFleet } from '../bench/fleet-sim.mjs';
import { http, startControlPlane, startDataPlane, tempDir, waitFor, type ControlPlaneHandle, type DataPlaneHandle } from './support/processes.js';

/** Simulated data planes (bench/fleet-sim.mjs: the protocol over real WebSockets, in this process). */
const SIMULATED = 30;
const FLEET = SIMULATED + 1;

// A fleet of data planes on one control plane: thirty protocol-level ones and a real sluice-dp.
// Every one of them converges to the head version and hash after concurrent writes, the
// propagation wait answers only once every one has applied the version, and a version's delta is
// encoded once for the whole fleet.
describe('a fleet of data planes on one control plane', () => {
  const dirs = [tempDir('cp'), tempDir('dp')];
  let cp: ControlPlaneHandle;
  let dp: DataPlaneHandle;
  let fleet: SimulatedFleet;

  const head = async () => (await http('GET', `${cp.admin}/clustering/status`)).body as { config: { epoch: string; version: number; hash: string }; replica: Record<string, number> };
  const realState = async () => {
    const s = (await http('GET', `${dp.status}/status`)).body;
    return { epoch: s.epoch as string, version: s.version as number, hash: s.hash as string };
  };

  beforeAll(async () => {
    cp = await startControlPlane({ dataDir: dirs[0].path });
    expect((await http('POST', `${cp.admin}/services`, { name: 'svc', url: 'http://127.0.0.1:9/' })).status).toBe(201);
    fleet = new SimulatedFleet({ url: cp.cluster, size: SIMULATED });
    fleet.start();
    dp = await startDataPlane({ controlPlane: cp.cluster, cacheDir: dirs[1].path });
    const { config } = await head();
    await fleet.converged(config, 15_000);
    await waitFor(async () => (await realState()).version === config.version, 'the real data plane to hold the head');
    await waitFor(async () => (await head()).replica.connections === FLEET, 'every data plane connected');
  });

  afterAll(async () => {
    await fleet?.stop();
    await Promise.all([dp?.proc.kill(), cp?.proc.kill()]);
    for (const d of dirs) d.cleanup();
  });

  it('converges every data plane to the head version and hash after concurrent writes', async () => {
    const writes = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        i % 4 === 3
          ? http('PATCH', `${cp.admin}/services/svc`, { retries: i })
          : http('POST', `${cp.admin}/services/svc/routes`, { name: `r${i}`, paths: [`/r${i}`] }),
      ),
    );
    expect(writes.map((w) => w.status).filter((s) => s !== 200 && s !== 201)).toEqual([]);
    const last = Math.max(...writes.map((w) => Number(w.headers.get('x-sluice-config-version'))));
    const wait = await http('GET', `${cp.admin}/clustering/propagation/${last}?min_data_planes=${FLEET}&timeout_ms=15000`);
    expect(wait.status).toBe(200);
    expect(wait.body.applied).toHaveLength(FLEET);

    const { config } = await head();
    expect(config.version).toBe(last);
    await fleet.converged(config, 10_000);
    expect(await realState()).toEqual(config);
    for (const sim of fleet.dataPlanes) expect(sim.config.resources.size).toBe(1 + 18);
    expect(fleet.totals()).toMatchObject({ nacks: 0, connected: SIMULATED });
  });

  it('answers the propagation wait only once every data plane has applied the version', async () => {
    const late = fleet.dataPlanes[SIMULATED - 1];
    late.hold();
    const write = await http('POST', `${cp.admin}/services/svc/routes`, { name: 'held', paths: ['/held'] });
    const version = Number(write.headers.get('x-sluice-config-version'));
    let answeredAt: { lateVersion: number; othersBehind: number } | null = null;
    const waiting = http('GET', `${cp.admin}/clustering/propagation/${version}?min_data_planes=${FLEET}&timeout_ms=15000`).then((res) => {
      // Taken the moment the answer arrives: what each simulated data plane holds then.
      answeredAt = { lateVersion: late.config.version, othersBehind: fleet.dataPlanes.filter((d) => d.config.version < version).length };
      return res;
    });

    // Everyone else applies it (the real data plane too), and the wait still waits for the held one.
    await fleet.until((d) => d === late || d.config.version >= version, 'the others to apply the version', 10_000);
    await waitFor(async () => (await realState()).version >= version, 'the real data plane to apply the version');
    const pending = await http('GET', `${cp.admin}/clustering/propagation/${version}?min_data_planes=${FLEET}&timeout_ms=300`);
    expect(pending.status).toBe(504);
    expect(pending.body.pending).toEqual([expect.objectContaining({ id: late.nodeId, connected: true })]);
    expect(answeredAt).toBeNull();

    late.release();
    const answer = await waiting;
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ propagated: true, pending: [], rejected: [] });
    expect(answer.body.applied).toHaveLength(FLEET);
    expect(answeredAt).toEqual({ lateVersion: version, othersBehind: 0 });
  });

  it('encodes a version\'s delta once for the whole fleet', async () => {
    const before = (await head()).replica;
    const write = await http('POST', `${cp.admin}/services/svc/routes`, { name: 'once', paths: ['/once'] });
    const version = Number(write.headers.get('x-sluice-config-version'));
    expect((await http('GET', `${cp.admin}/clustering/propagation/${version}?min_data_planes=${FLEET}&timeout_ms=15000`)).status).toBe(200);
    const after = (await head()).replica;
    expect(after.deltas_sent - before.deltas_sent).toBe(FLEET);
    expect(after.delta_frames_encoded - before.delta_frames_encoded).toBe(1);
    expect(after.snapshots_sent).toBe(before.snapshots_sent);
  });
});
