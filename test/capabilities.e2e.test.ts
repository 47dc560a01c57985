import { completePluginConfig } from '@sluice/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startControlPlane, startDataPlane, tempDir, waitFor, type ControlPlaneHandle, type DataPlaneHandle } from './support/processes.js';
import { startEchoUpstream } from './support/upstream.js';

/** rate-limiting's config with every field written out at Kong's default (a limit of 1000 a minute). */
const RATE_LIMITING_CONFIG = completePluginConfig('rate-limiting', { minute: 1000 });

const LACKING_PLUGINS = ['--plugins', 'key-auth,basic-auth,acl'];

// Capability negotiation through real processes: a data plane started without rate-limiting is
// never sent a config that uses it (never a config stripped of it), keeps serving its last one,
// and is shown incompatible with the missing plugin; it catches up once the plugin is gone or once
// it comes back with the plugin loaded. The data plane does not enforce plugins yet (issue 11's
// chains), so only sync and status behaviour is asserted here.
describe('capability negotiation', () => {
  const dirs = [tempDir('cp'), tempDir('dp-full'), tempDir('dp-lacking')];
  let cp: ControlPlaneHandle;
  let full: DataPlaneHandle;
  let lacking: DataPlaneHandle;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;

  const status = async (dp: DataPlaneHandle) => (await http('GET', `${dp.status}/status`)).body;
  const row = async (nodeId: string) => ((await http('GET', `${cp.admin}/clustering/data-planes`)).body.data as any[]).find((r) => r.id === nodeId);
  const versionOf = (res: { headers: Headers }) => Number(res.headers.get('x-sluice-config-version'));

  beforeAll(async () => {
    upstream = await startEchoUpstream('echo');
    cp = await startControlPlane({ dataDir: dirs[0].path });
    [full, lacking] = await Promise.all([
      startDataPlane({ controlPlane: cp.cluster, cacheDir: dirs[1].path }),
      startDataPlane({ controlPlane: cp.cluster, cacheDir: dirs[2].path, args: LACKING_PLUGINS }),
    ]);
    for (const dp of [full, lacking]) await waitFor(async () => (await http('GET', `${dp.status}/status/ready`)).status === 200, 'data plane ready');
  });

  afterAll(async () => {
    await Promise.all([full?.proc.kill(), lacking?.proc.kill(), cp?.proc.kill()]);
    await upstream?.close();
    for (const d of dirs) d.cleanup();
  });

  it('withholds a config using rate-limiting from the data plane without it, which keeps serving its last config', async () => {
    expect((await status(lacking)).loaded_plugins).toEqual(['acl', 'basic-auth', 'key-auth']);
    expect((await status(full)).loaded_plugins).toEqual(['acl', 'basic-auth', 'key-auth', 'rate-limiting']);
    expect((await http('POST', `${cp.admin}/services`, { name: 'echo', url: `${upstream.url}/base` })).status).toBe(201);
    const route = await http('POST', `${cp.admin}/services/echo/routes`, { name: 'r1', paths: ['/echo'] });
    const v1 = versionOf(route);
    expect((await http('GET', `${cp.admin}/clustering/propagation/${v1}?timeout_ms=15000&min_data_planes=2`)).status).toBe(200);
    const lackingId = (await status(lacking)).node_id;
    const fullId = (await status(full)).node_id;

    const plugin = await http('POST', `${cp.admin}/plugins`, { name: 'rate-limiting', config: RATE_LIMITING_CONFIG });
    expect(plugin.status).toBe(201);
    const v2 = versionOf(plugin);
    // The wait does not hang on the lacking data plane: it answers 409 and names it.
    const wait = await http('GET', `${cp.admin}/clustering/propagation/${v2}?timeout_ms=15000&min_data_planes=2`);
    expect(wait.status).toBe(409);
    expect(wait.body.propagated).toBe(false);
    expect(wait.body.applied.map((r: any) => r.id)).toEqual([fullId]);
    expect(wait.body.incompatible).toMatchObject([{ id: lackingId, config_version: v1, missing_plugins: ['rate-limiting'] }]);

    const [lackingRow, fullRow] = [await row(lackingId), await row(fullId)];
    expect(lackingRow).toMatchObject({ connected: true, sync_status: 'incompatible', config: { version: v1 }, incompatible: { missing_plugins: ['rate-limiting'], plugin_versions: [] } });
    expect(fullRow).toMatchObject({ connected: true, sync_status: 'in_sync', config: { version: v2 }, incompatible: null });
    expect((await http('GET', `${cp.admin}/clustering/status`)).body.data_planes).toMatchObject({ connected: 2, in_sync: 1, incompatible: 1 });
    expect((await status(full)).entities.plugins).toBe(1);

    // A change made meanwhile does not reach it either: never a config stripped of the plugin.
    const r2 = await http('POST', `${cp.admin}/services/echo/routes`, { name: 'r2', paths: ['/two'] });
    const v3 = versionOf(r2);
    await waitFor(async () => (await status(full)).version === v3, 'the full data plane to apply the new route');
    expect((await http('GET', `${full.proxy}/two/x`)).status).toBe(200);

    // The lacking data plane learns why from the control plane's heartbeat, and serves as before.
    const withheld = await waitFor(async () => {
      const s = await status(lacking);
      return s.control_plane.missing_plugins.length > 0 ? s : null;
    }, 'the lacking data plane to show the missing plugin');
    expect(withheld).toMatchObject({ version: v1, ready: true, entities: { plugins: 0 }, control_plane: { state: 'connected', missing_plugins: ['rate-limiting'] }, last_error: { code: 'SLUICE_DP_SYNC_INCOMPATIBLE' } });
    const res = await http('GET', `${lacking.proxy}/echo/hello`);
    expect(res.status).toBe(200);
    expect(res.body.url).toBe('/base/hello');
    expect((await http('GET', `${lacking.proxy}/two/x`)).status).toBe(404);
    expect((await row(lackingId)).config.version).toBe(v1);

    // Deleted: the lacking data plane catches up to the head in one push.
    const del = await http('DELETE', `${cp.admin}/plugins/${plugin.body.id}`);
    expect(del.status).toBe(204);
    const v4 = versionOf(del);
    const caughtUp = await http('GET', `${cp.admin}/clustering/propagation/${v4}?timeout_ms=15000&min_data_planes=2`);
    expect(caughtUp.status).toBe(200);
    expect(caughtUp.body.applied).toHaveLength(2);
    expect((await status(lacking)).version).toBe(v4);
    expect((await http('GET', `${lacking.proxy}/two/x`)).status).toBe(200);
    expect(await row(lackingId)).toMatchObject({ sync_status: 'in_sync', incompatible: null });
    await waitFor(async () => (await status(lacking)).control_plane.missing_plugins.length === 0, 'the lacking data plane to stop showing the missing plugin');
  });

  it('sends the head once the data plane comes back with the plugin loaded', async () => {
    const lackingId = (await status(lacking)).node_id;
    const before = (await status(lacking)).version;
    const plugin = await http('POST', `${cp.admin}/routes/r1/plugins`, { name: 'rate-limiting', config: RATE_LIMITING_CONFIG });
    expect(plugin.status).toBe(201);
    const v = versionOf(plugin);
    await waitFor(async () => (await row(lackingId))?.sync_status === 'incompatible', 'the lacking data plane to be incompatible again');
    expect((await status(lacking)).version).toBe(before);

    await lacking.proc.kill();
    lacking = await startDataPlane({ controlPlane: cp.cluster, cacheDir: dirs[2].path });
    expect((await status(lacking)).node_id).toBe(lackingId); // the same node, from its cache dir
    const wait = await http('GET', `${cp.admin}/clustering/propagation/${v}?timeout_ms=15000&min_data_planes=2`);
    expect(wait.status).toBe(200);
    expect((await status(lacking)).version).toBe(v);
    expect(await row(lackingId)).toMatchObject({ connected: true, sync_status: 'in_sync', incompatible: null });
  });
});
