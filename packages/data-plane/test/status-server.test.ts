import { afterEach, describe, expect, it } from 'vitest';
import { DataPlaneMetrics } from '../src/status/data-plane-metrics.js';
import { StatusServer, type StatusView } from '../src/status/status-server.js';
import { RateLimitService } from '../src/rate-limiting/rate-limit-service.js';

let server: StatusServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

function view(ready: boolean): StatusView {
  return {
    node_id: 'n',
    epoch: ready ? 'e' : null,
    version: ready ? 7 : null,
    hash: null,
    ready,
    config_source: ready ? 'cache' : null,
    config_applied_at: null,
    control_plane: { state: 'connecting', since: new Date(0).toISOString(), url: 'ws://cp', urls: ['ws://cp'], instance_id: null, applying: null, missing_plugins: [] },
    control_plane_head: null,
    last_error: null,
    routes: 0,
    services: 0,
    entities: { services: 0, routes: 0, consumers: 0, plugins: 0, keyauth_credentials: 0, basicauth_credentials: 0, acls: 0 },
    loaded_plugins: ['acl'],
    rate_limiting: new RateLimitService().status(),
  };
}

describe('StatusServer', () => {
  it('answers /status, /status/ready (200/503), /metrics, 404 and 405', async () => {
    let ready = false;
    const source = { status: () => view(ready), isReady: () => ready };
    const metrics = new DataPlaneMetrics(
      { configVersion: () => (ready ? 7 : null), configAppliedAtMs: () => null, isControlPlaneConnected: () => false, isReady: () => ready, routeCount: () => 0, serviceCount: () => 0 },
      { collectProcessMetrics: false },
    );
    server = new StatusServer({ source, metrics });
    const { host, port } = await server.listen('127.0.0.1', 0);
    const base = `http://${host}:${port}`;
    expect((await fetch(`${base}/status/ready`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${base}/status/ready`)).status).toBe(200);
    expect(await (await fetch(`${base}/status`)).json()).toMatchObject({ version: 7, ready: true, control_plane: { state: 'connecting' } });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/sluice_dp_config_version 7/);
    expect(text).toMatch(/sluice_dp_ready 1/);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/status`, { method: 'POST' })).status).toBe(405);
  });

  it('reports a port already in use as a LifecycleError', async () => {
    const metrics = new DataPlaneMetrics({ configVersion: () => null, configAppliedAtMs: () => null, isControlPlaneConnected: () => false, isReady: () => false, routeCount: () => 0, serviceCount: () => 0 }, { collectProcessMetrics: false });
    server = new StatusServer({ source: { status: () => view(false), isReady: () => false }, metrics });
    const { port } = await server.listen('127.0.0.1', 0);
    const other = new StatusServer({ source: { status: () => view(false), isReady: () => false }, metrics });
    await expect(other.listen('127.0.0.1', port)).rejects.toMatchObject({ code: 'SLUICE_DP_LIFECYCLE' });
  });
});
