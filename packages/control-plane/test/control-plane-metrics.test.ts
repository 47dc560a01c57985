import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ControlPlane } from '../src/control-plane.js';
import { silentLogger } from './support/admin.js';

// The control plane's GET /metrics on the embedded database: the PostgreSQL server's side (pool,
// LISTEN, outages) is in database-outage.test.ts.
describe('embedded database (PGlite)', () => {
  it('serves /metrics and /status from memory; it has no server timeouts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-outage-pglite-'));
    const cp = new ControlPlane({ logger: silentLogger, adminListen: { host: '127.0.0.1', port: 0 }, clusterListen: null, dataDir: dir });
    try {
      const { admin } = await cp.start();
      const url = `http://127.0.0.1:${admin.port}`;
      expect((await fetch(`${url}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'a', url: 'http://a.test' }) })).status).toBe(201);
      const status = (await (await fetch(`${url}/status`)).json()) as { database: unknown; config: { version: number } };
      expect(status.database).toEqual({ reachable: true });
      expect(status.config.version).toBe(1);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^sluice_cp_config_version 1$/m);
      expect(metrics).toMatch(/^sluice_cp_database_reachable 1$/m);
      expect(metrics).toMatch(/^sluice_cp_admin_write_duration_seconds_count\{method="POST",result="ok"\} 1$/m);
      expect(metrics).not.toMatch(/^sluice_cp_database_pool_connections/m);
      expect(cp.store.timeouts).toBeNull();
    } finally {
      await cp.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
