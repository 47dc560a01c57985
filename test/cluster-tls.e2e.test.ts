import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCerts, opensslUnavailable, type CertFiles, type TestCerts } from './support/test-certs.js';
import { http, ROOT, startControlPlane, startDataPlane, tempDir, waitFor, type ControlPlaneHandle, type DataPlaneHandle } from './support/processes.js';
import { startEchoUpstream } from './support/upstream.js';

// The cluster stream over mutual TLS with real sluice-cp / sluice-dp processes: in shared mode and
// in pki mode a route propagates over wss:// to an admitted data plane, while data planes with the
// wrong certificate (or plain ws://) are refused, keep retrying with the normal backoff without
// crashing, show the failure as their /status last_error, and never appear in the registry.
// Certificates are made at test time with openssl (test/support/test-certs.ts).

const skipReason = opensslUnavailable();
if (skipReason) console.warn(`cluster-tls.e2e.test.ts skipped: ${skipReason}`);
const describeTls = skipReason ? describe.skip : describe;

const certArgs = (c: CertFiles) => ['--cluster-cert', c.cert, '--cluster-cert-key', c.key];

/** The data plane's /status once its last_error has the given code (and it is not connected). */
async function refusedStatus(dp: DataPlaneHandle, code: string): Promise<any> {
  return waitFor(async () => {
    const status = (await http('GET', `${dp.status}/status`)).body;
    return status?.last_error?.code === code && status.control_plane.state !== 'connected' ? status : null;
  }, `data plane last_error ${code}`);
}

/** Waits until the data plane has retried at least `count` times (the metric of reconnects). */
async function reconnects(dp: DataPlaneHandle, count: number): Promise<void> {
  await waitFor(async () => {
    const metrics = (await http('GET', `${dp.status}/metrics`)).text;
    const m = /^sluice_dp_control_plane_reconnects_total (\d+)/m.exec(metrics);
    return m !== null && Number(m[1]) >= count;
  }, `${count} reconnects`, 20_000);
}

/** Creates a service and route, waits until every connected data plane (at least `min`) serves it, and returns the route path. */
async function propagateRoute(cp: ControlPlaneHandle, upstreamUrl: string, name: string, min: number): Promise<string> {
  expect((await http('POST', `${cp.admin}/services`, { name, url: `${upstreamUrl}/${name}` })).status).toBe(201);
  const route = await http('POST', `${cp.admin}/services/${name}/routes`, { name, paths: [`/${name}`] });
  expect(route.status).toBe(201);
  const version = route.headers.get('x-sluice-config-version');
  const wait = await http('GET', `${cp.admin}/clustering/propagation/${version}?timeout_ms=15000&min_data_planes=${min}`);
  expect(wait.status).toBe(200);
  return `/${name}`;
}

/** Runs a binary to completion with `args` and returns its exit code and stderr. */
function run(bin: 'control-plane' | 'data-plane', args: string[]): Promise<{ code: number | null; stderr: string }> {
  const script = join(ROOT, 'packages', bin, 'bin', bin === 'control-plane' ? 'sluice-cp.js' : 'sluice-dp.js');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describeTls('cluster stream over mutual TLS (real processes)', () => {
  let certs: TestCerts;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  const dirs: ReturnType<typeof tempDir>[] = [];
  const procs: { proc: { kill: () => Promise<unknown> } }[] = [];
  const dir = (name: string) => {
    const d = tempDir(name);
    dirs.push(d);
    return d.path;
  };
  const track = <T extends { proc: { kill: () => Promise<unknown> } }>(p: T): T => {
    procs.push(p);
    return p;
  };

  beforeAll(async () => {
    certs = makeTestCerts();
    upstream = await startEchoUpstream('echo');
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.proc.kill()));
    await upstream?.close();
    for (const d of dirs) d.cleanup();
    certs?.cleanup();
  });

  describe('shared mode', () => {
    let cp: ControlPlaneHandle;
    let good: DataPlaneHandle;

    beforeAll(async () => {
      cp = track(await startControlPlane({ dataDir: dir('cp-shared'), args: certArgs(certs.shared) }));
      good = track(await startDataPlane({ controlPlane: cp.cluster, cacheDir: dir('dp-shared'), args: certArgs(certs.shared) }));
    });

    it('listens on wss:// and propagates a route to a data plane holding the shared certificate', async () => {
      expect(cp.cluster).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
      const path = await propagateRoute(cp, upstream.url, 'shared', 1);
      const res = await http('GET', `${good.proxy}${path}/x`);
      expect(res.status).toBe(200);
      expect(res.body.url).toBe('/shared/x');
      const status = (await http('GET', `${good.status}/status`)).body;
      expect(status.control_plane).toMatchObject({ state: 'connected', url: cp.cluster });
    });

    it('refuses a data plane with another self-signed certificate, and one speaking plain ws://: they retry, do not crash, and are never registered', async () => {
      const stranger = track(await startDataPlane({ controlPlane: cp.cluster, cacheDir: dir('dp-stranger'), args: certArgs(certs.otherSelfSigned) }));
      const plain = track(await startDataPlane({ controlPlane: cp.cluster.replace(/^wss:/, 'ws:'), cacheDir: dir('dp-plain') }));

      const strangerStatus = await refusedStatus(stranger, 'SLUICE_DP_SYNC_TLS');
      expect(strangerStatus.ready).toBe(false);
      // It pins the shared certificate it holds, so it refuses the control plane's first.
      expect(strangerStatus.last_error.message).toMatch(/not the shared cluster certificate/);
      const plainStatus = await refusedStatus(plain, 'SLUICE_DP_SYNC_CONNECTION');
      expect(plainStatus.last_error.message).toMatch(/connect with wss:\/\//);

      await Promise.all([reconnects(stranger, 2), reconnects(plain, 2)]);
      expect(stranger.proc.child.exitCode).toBeNull();
      expect(plain.proc.child.exitCode).toBeNull();
      const list = await http('GET', `${cp.admin}/clustering/data-planes`);
      expect(list.body.data).toHaveLength(1);
      const status = await http('GET', `${cp.admin}/clustering/status`);
      expect(status.body.replica).toMatchObject({ mtls: 'shared', connections: 1 });
      expect(status.body.replica.refused_connections).toBeGreaterThanOrEqual(2);
    });
  });

  describe('pki mode', () => {
    let cp: ControlPlaneHandle;
    let good: DataPlaneHandle;
    const caArgs = () => ['--cluster-ca-cert', certs.ca.cert];

    beforeAll(async () => {
      cp = track(await startControlPlane({ dataDir: dir('cp-pki'), args: [...certArgs(certs.cp), ...caArgs(), '--cluster-mtls', 'pki'] }));
      good = track(
        await startDataPlane({ controlPlane: cp.cluster, cacheDir: dir('dp-pki'), args: [...certArgs(certs.dp), ...caArgs(), '--cluster-server-name', 'sluice-cp.test'] }),
      );
    });

    it('propagates a route to a data plane whose certificate the cluster CA issued', async () => {
      const path = await propagateRoute(cp, upstream.url, 'pki', 1);
      const res = await http('GET', `${good.proxy}${path}/y`);
      expect(res.status).toBe(200);
      expect(res.body.url).toBe('/pki/y');
    });

    it('fails over to a second replica over mutual TLS: the same certificate, CA and server name serve every --control-plane address', async () => {
      const other = track(await startControlPlane({ dataDir: dir('cp-pki-2'), args: [...certArgs(certs.cp), ...caArgs(), '--cluster-mtls', 'pki'] }));
      const first = track(await startControlPlane({ dataDir: dir('cp-pki-3'), args: [...certArgs(certs.cp), ...caArgs(), '--cluster-mtls', 'pki'] }));
      const dp = track(
        await startDataPlane({ controlPlane: `${first.cluster},${other.cluster}`, cacheDir: dir('dp-pki-failover'), args: [...certArgs(certs.dp), ...caArgs(), '--cluster-server-name', 'sluice-cp.test'] }),
      );
      const connectedTo = (url: string) => async () => {
        const status = (await http('GET', `${dp.status}/status`)).body;
        return status.control_plane.state === 'connected' && status.control_plane.url === url;
      };
      await waitFor(connectedTo(first.cluster), 'connected to the first replica over wss://');
      await first.proc.kill('SIGTERM');
      await waitFor(connectedTo(other.cluster), 'failed over to the second replica over wss://', 20_000);
    });

    it('refuses a data plane whose certificate another CA issued, and a data plane verifying another server name', async () => {
      const foreign = track(await startDataPlane({ controlPlane: cp.cluster, cacheDir: dir('dp-foreign'), args: [...certArgs(certs.dpFromOtherCa), ...caArgs()] }));
      const misnamed = track(
        await startDataPlane({ controlPlane: cp.cluster, cacheDir: dir('dp-misnamed'), args: [...certArgs(certs.dp), ...caArgs(), '--cluster-server-name', 'elsewhere.test'] }),
      );
      const foreignStatus = await refusedStatus(foreign, 'SLUICE_DP_SYNC_TLS');
      expect(foreignStatus.last_error.message).toMatch(/did not admit this data plane's certificate/);
      const misnamedStatus = await refusedStatus(misnamed, 'SLUICE_DP_SYNC_TLS');
      expect(misnamedStatus.last_error.message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
      await reconnects(foreign, 2);
      expect(foreign.proc.child.exitCode).toBeNull();
      const list = await http('GET', `${cp.admin}/clustering/data-planes`);
      expect(list.body.data).toHaveLength(1);
    });
  });

  it('refuses contradictory TLS flags at start (exit 2)', async () => {
    const results = await Promise.all([
      run('data-plane', ['--control-plane', 'wss://127.0.0.1:1', '--status-listen', 'off', '--proxy-listen', 'off']),
      run('data-plane', ['--control-plane', 'ws://127.0.0.1:1', ...certArgs(certs.shared), '--status-listen', 'off', '--proxy-listen', 'off']),
      run('data-plane', ['--control-plane', 'wss://127.0.0.1:1', '--cluster-cert', certs.shared.cert, '--cluster-cert-key', certs.otherSelfSigned.key, '--status-listen', 'off', '--proxy-listen', 'off']),
      run('control-plane', ['--cluster-cert', certs.shared.cert]),
      run('control-plane', [...certArgs(certs.cp), '--cluster-mtls', 'pki']),
      run('data-plane', ['--control-plane', 'wss://127.0.0.1:1,ws://127.0.0.1:2', ...certArgs(certs.shared), '--status-listen', 'off', '--proxy-listen', 'off']),
    ]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(results[5].stderr).toMatch(/must all be ws:\/\/ or all wss:\/\//);
    expect(results[0].stderr).toMatch(/needs --cluster-cert and --cluster-cert-key/);
    expect(results[1].stderr).toMatch(/need a wss:\/\/ --control-plane/);
    expect(results[2].stderr).toMatch(/not the private key/);
    expect(results[3].stderr).toMatch(/go together/);
    expect(results[4].stderr).toMatch(/needs --cluster-ca-cert/);
  });
});
