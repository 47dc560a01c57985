import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_SERVER_URL } from './support/database.js';
import { http, ROOT, startControlPlane, startDataPlane, tempDir, waitFor, type ControlPlaneHandle, type DataPlaneHandle } from './support/processes.js';
import { freePort } from './support/upstream.js';

const CP_BIN = join(ROOT, 'packages', 'control-plane', 'bin', 'sluice-cp.js');

/** Runs `sluice-cp drill <args>`; resolves with its exit code, stdout and stderr. `onStart` gets the process (to signal it). */
function drill(args: string[], timeoutMs = 60_000, onStart: (child: ReturnType<typeof spawn>) => void = () => undefined): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CP_BIN, 'drill', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    onStart(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A shell command that POSTs to the test's control server and exits 0 on a 2xx answer. */
function controlCommand(port: number, action: string): string {
  return `${JSON.stringify(process.execPath)} -e "fetch('http://127.0.0.1:${port}/${action}',{method:'POST'}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"`;
}

// `sluice-cp drill` against a real cluster (two replicas on one PostgreSQL database, two data
// planes on --control-plane A,B): a control-plane restart phase (SIGTERM drain, then start) and a
// data-plane stop phase, its --json report parsed and checked.
describe.skipIf(!TEST_SERVER_URL)('sluice-cp drill', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const dirs = [tempDir('drill1'), tempDir('drill2')];
  const cpPorts = { admin: 0, cluster: 0 };
  const dp2Ports = { proxy: 0, status: 0 };
  let cpA: ControlPlaneHandle;
  let cpB: ControlPlaneHandle;
  let dp1: DataPlaneHandle;
  let dp2: DataPlaneHandle;
  let control: Server;
  let controlPort = 0;
  const actions: string[] = [];
  let clusterUrls = '';

  const startA = async () => (cpA = await startControlPlane({ databaseUrl: database.url, adminPort: cpPorts.admin, clusterPort: cpPorts.cluster }));
  const startDp2 = async () =>
    (dp2 = await startDataPlane({ controlPlane: clusterUrls, cacheDir: dirs[1].path, args: ['--proxy-listen', `127.0.0.1:${dp2Ports.proxy}`, '--status-listen', `127.0.0.1:${dp2Ports.status}`] }));

  beforeAll(async () => {
    database = await createTestDatabase('sluice_drill');
    [cpPorts.admin, cpPorts.cluster, dp2Ports.proxy, dp2Ports.status] = [await freePort(), await freePort(), await freePort(), await freePort()];
    [, cpB] = await Promise.all([startA(), startControlPlane({ databaseUrl: database.url })]);
    clusterUrls = `ws://127.0.0.1:${cpPorts.cluster},${cpB.cluster}`;
    [dp1] = await Promise.all([startDataPlane({ controlPlane: clusterUrls, cacheDir: dirs[0].path }), startDp2()]);
    // The operator's commands, here: a control server in the test that stops and starts the processes it owns.
    const handlers: Record<string, () => Promise<unknown>> = {
      'cp-a/stop': () => cpA.proc.kill('SIGTERM'),
      'cp-a/start': () => startA(),
      'dp-2/stop': () => dp2.proc.kill('SIGTERM'),
      'dp-2/start': () => startDp2(),
    };
    control = createServer((req, res) => {
      const action = (req.url ?? '').slice(1);
      const handler = handlers[action];
      if (!handler) return void res.writeHead(404).end();
      actions.push(action);
      handler().then(
        () => res.writeHead(204).end(),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
    await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));
    controlPort = (control.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await Promise.all([cpA, cpB, dp1, dp2].filter(Boolean).map((p) => p.proc.kill('SIGKILL')));
    await new Promise((r) => control?.close(r));
    for (const d of dirs) d.cleanup();
    await database?.drop();
  });

  it('restarts a control-plane replica and stops a data plane under steady traffic, and reports a pass with zero failed requests and every data plane at the head', async () => {
    const startedAt = Date.now();
    const result = await drill([
      '--admin-url', cpA.admin,
      '--admin-url', cpB.admin,
      '--data-plane', dp1.proxy, '--data-plane-status', dp1.status,
      '--data-plane', dp2.proxy, '--data-plane-status', dp2.status,
      '--cp-stop-cmd', controlCommand(controlPort, 'cp-a/stop'),
      '--cp-start-cmd', controlCommand(controlPort, 'cp-a/start'),
      '--dp-stop-cmd', controlCommand(controlPort, 'dp-2/stop'),
      '--dp-start-cmd', controlCommand(controlPort, 'dp-2/start'),
      '--dp-target', dp2.proxy,
      '--baseline-ms', '1000',
      '--outage-ms', '1000',
      '--converge-timeout-ms', '20000',
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(Date.now() - startedAt).toBeLessThan(30_000);
    expect(actions).toEqual(['cp-a/stop', 'cp-a/start', 'dp-2/stop', 'dp-2/start']);
    const report = JSON.parse(result.stdout);
    expect(report.verdict).toBe('pass');
    expect(report.route_created).toBe(true);
    expect(report.phases.map((p: { name: string }) => p.name)).toEqual(['baseline', 'control-plane', 'data-plane']);
    for (const phase of report.phases) {
      expect(phase.verdict, JSON.stringify(phase.reasons)).toBe('pass');
      expect(phase.requests.failed).toBe(0);
      expect(phase.requests.served).toBeGreaterThan(0);
      expect(phase.reconverge_ms).toEqual(expect.any(Number));
      // Every data plane at the head's exact version and hash, and in sync in the registry.
      expect(phase.data_planes).toHaveLength(2);
      for (const dp of phase.data_planes) expect(dp).toMatchObject({ epoch: phase.head.epoch, version: phase.head.version, hash: phase.head.hash, sync_status: 'in_sync' });
    }
    const [, cpPhase, dpPhase] = report.phases;
    expect(cpPhase.stop).toMatchObject({ exit_code: 0 });
    expect(cpPhase.start).toMatchObject({ exit_code: 0 });
    expect(cpPhase.marker_version).toBe(cpPhase.head.version);
    expect(dpPhase.target).toBe(dp2.proxy);
    expect(dpPhase.head.version).toBeGreaterThan(cpPhase.head.version);
    // While data plane 2 was down, data plane 1 took the traffic.
    expect(dpPhase.requests.by_data_plane[0].served).toBeGreaterThan(0);
    expect(report.version_regressions).toEqual([]);
    expect(report.status_samples).toBeGreaterThan(10);
    expect(report.errors).toEqual([]);
    // The drill removed what it created.
    expect((await http('GET', `${cpB.admin}/services?tags=sluice-drill`)).body.data).toEqual([]);
    await waitFor(async () => (await http('GET', `${dp1.proxy}${report.path}`)).status === 404, 'the drill route gone from the data plane');
  });

  it('answers 2 with the usage on a bad option, and 1 with a fail verdict when a phase command fails', async () => {
    const bad = await drill(['--admin-url', cpB.admin]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--data-plane is required/);

    const failing = await drill([
      '--admin-url', cpB.admin,
      '--data-plane', dp1.proxy, '--data-plane-status', dp1.status,
      '--db-stop-cmd', 'exit 3',
      '--db-start-cmd', 'true',
      '--baseline-ms', '200',
      '--outage-ms', '0',
      '--json',
    ]);
    expect(failing.code).toBe(1);
    const report = JSON.parse(failing.stdout);
    expect(report.verdict).toBe('fail');
    expect(report.phases[1]).toMatchObject({ name: 'database', verdict: 'fail', stop: { exit_code: 3 } });
    expect(report.phases[1].reasons).toEqual(['"exit 3" exited with 3']);
  });

  it('on Ctrl-C restores the part it took down, deletes its entities, and reports the interruption as a fail', async () => {
    const before = actions.length;
    let child: ReturnType<typeof spawn> | null = null;
    const running = drill(
      [
        '--admin-url', cpB.admin,
        '--data-plane', dp1.proxy, '--data-plane-status', dp1.status,
        '--data-plane', dp2.proxy, '--data-plane-status', dp2.status,
        '--dp-stop-cmd', controlCommand(controlPort, 'dp-2/stop'),
        '--dp-start-cmd', controlCommand(controlPort, 'dp-2/start'),
        '--baseline-ms', '200',
        '--outage-ms', '60000',
        '--json',
      ],
      60_000,
      (c) => (child = c),
    );
    await waitFor(() => actions.length > before, 'the data plane stopped by the drill');
    child!.kill('SIGINT');
    const result = await running;
    expect(result.code).toBe(1);
    expect(actions.slice(before)).toEqual(['dp-2/stop', 'dp-2/start']);
    const report = JSON.parse(result.stdout);
    expect(report.verdict).toBe('fail');
    expect(report.errors).toEqual(['interrupted after 1 of 1 phases']);
    expect(report.phases[1]).toMatchObject({ name: 'data-plane', start: { exit_code: 0 } });
    expect((await http('GET', `${cpB.admin}/services?tags=sluice-drill`)).body.data).toEqual([]);
    await waitFor(async () => (await http('GET', `${dp2.status}/status/ready`)).status === 200, 'data plane 2 back');
  });
});
