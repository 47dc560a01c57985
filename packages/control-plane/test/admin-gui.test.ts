/**
 * The Sluice UI's server: what it serves and with which headers, the Admin API URL it hands the
 * page, and the origins the control plane lets call the Admin API because they are the UI's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENTITY_KINDS } from '@sluice/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { ControlPlane, adminUrlFor } from '../src/control-plane.js';
import { AdminGuiServer, type GuiConfig } from '../src/gui/admin-gui-server.js';
import { guiOrigins } from '../src/gui/gui-origins.js';
import { silentLogger } from './support/admin.js';

/** The object `/config.js` assigns to `window.SLUICE_CONFIG`. */
function parseConfigScript(text: string): GuiConfig {
  const m = /^window\.SLUICE_CONFIG = (.*);\n$/s.exec(text);
  if (!m) throw new Error(`not a config script: ${text.slice(0, 80)}`);
  return JSON.parse(m[1]) as GuiConfig;
}

describe('guiOrigins', () => {
  it('allows every loopback name of a loopback address', () => {
    expect(guiOrigins({ host: '127.0.0.1', port: 8002 })).toEqual(['http://127.0.0.1:8002', 'http://localhost:8002', 'http://[::1]:8002']);
  });

  it('allows a specific address as written, and for a wildcard the loopback names and this host', () => {
    expect(guiOrigins({ host: '10.1.2.3', port: 8002 })).toEqual(['http://10.1.2.3:8002']);
    expect(guiOrigins({ host: '0.0.0.0', port: 80 }, 'GW-1')).toEqual(['http://127.0.0.1', 'http://localhost', 'http://[::1]', 'http://gw-1']);
  });
});

describe('adminUrlFor', () => {
  it('gives the Admin API address, or for a wildcard one the name the UI was reached under', () => {
    expect(adminUrlFor({ host: '127.0.0.1', port: 8001 }, 'gw.example:8002')).toBe('http://127.0.0.1:8001');
    expect(adminUrlFor({ host: '0.0.0.0', port: 8001 }, 'gw.example:8002')).toBe('http://gw.example:8001');
    expect(adminUrlFor({ host: '::', port: 8001 }, undefined)).toBe('http://127.0.0.1:8001');
  });
});

describe('AdminGuiServer', () => {
  const servers: AdminGuiServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  async function start(adminApiUrl: ConstructorParameters<typeof AdminGuiServer>[0]['adminApiUrl']): Promise<string> {
    const server = new AdminGuiServer({ adminApiUrl, version: '9.9.9' });
    servers.push(server);
    const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
    return `http://127.0.0.1:${port}`;
  }

  it('serves the page with a strict CSP that lets it reach only itself and the Admin API', async () => {
    const base = await start('http://127.0.0.1:8001/');
    for (const path of ['/', '/anything/without/a/dot']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await res.text()).toContain('<script type="module" src="/assets/app.js"></script>');
      expect(res.headers.get('content-security-policy')).toContain("connect-src 'self' http://127.0.0.1:8001;");
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self';");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('hands the page the Admin API URL and every entity kind of the registry', async () => {
    const base = await start('http://127.0.0.1:8001/');
    const res = await fetch(`${base}/config.js`);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const config = parseConfigScript(await res.text());
    expect(config.adminApiUrl).toBe('http://127.0.0.1:8001');
    expect(config.version).toBe('9.9.9');
    expect(config.kinds.map((k) => k.kind)).toEqual([...ENTITY_KINDS]);
    expect(config.kinds.find((k) => k.kind === 'keyauth_credentials')).toEqual({
      kind: 'keyauth_credentials',
      adminName: 'key-auths',
      nestedAdminName: 'key-auth',
      singular: 'keyauth_credential',
      endpointKey: 'key',
      parents: ['consumer'],
      references: { consumer: 'consumers' },
    });
  });

  it('derives the Admin API URL from the Host header when told to', async () => {
    const base = await start((host) => `http://${host?.split(':')[0]}:9001`);
    // fetch() sets Host itself; node:http sends the one given.
    const text = await new Promise<string>((resolve, reject) => {
      const url = new URL(`${base}/config.js`);
      httpGet({ host: url.hostname, port: url.port, path: url.pathname, headers: { host: 'gw.example:8002' } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    const config = parseConfigScript(text);
    expect(config.adminApiUrl).toBe('http://gw.example:9001');
  });

  it('serves the assets and the Preact + htm module, nothing else, and only GET/HEAD', async () => {
    const base = await start('http://127.0.0.1:8001');
    const app = await fetch(`${base}/assets/app.js`);
    expect(app.status).toBe(200);
    expect(await app.text()).toContain("from '/vendor/preact-htm.js'");
    const vendor = await fetch(`${base}/vendor/preact-htm.js`);
    expect(vendor.status).toBe(200);
    expect(await vendor.text()).toMatch(/export\s*\{[^}]*\bhtml\b[^}]*\}/);
    for (const path of ['/assets/missing.js', '/assets/../package.json', '/favicon.ico', '/config.json']) expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    const post = await fetch(`${base}/`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('ControlPlane with the UI', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("serves the UI, lets the UI's origin call the Admin API with credentials, and lists its listeners in GET /", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-cp-gui-'));
    dirs.push(dataDir);
    const cp = new ControlPlane({ logger: silentLogger, dataDir, adminListen: { host: '127.0.0.1', port: 0 }, clusterListen: null, adminGuiListen: { host: '127.0.0.1', port: 0 } });
    try {
      const { admin, adminGui } = await cp.start();
      expect(adminGui).not.toBeNull();
      const gui = `http://127.0.0.1:${adminGui!.port}`;
      const api = `http://127.0.0.1:${admin.port}`;
      const config = parseConfigScript(await (await fetch(`${gui}/config.js`)).text());
      expect(config.adminApiUrl).toBe(api);

      for (const origin of [gui, `http://localhost:${adminGui!.port}`]) {
        const res = await fetch(`${api}/services`, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify({ host: 'a.example' }) });
        expect(res.status).toBe(201);
        expect(res.headers.get('access-control-allow-origin')).toBe(origin);
        expect(res.headers.get('access-control-allow-credentials')).toBe('true');
      }
      const foreign = await fetch(`${api}/services`, { method: 'POST', headers: { origin: 'http://127.0.0.1:1', 'content-type': 'application/json' }, body: '{"host":"a.example"}' });
      expect(foreign.status).toBe(403);

      const root = (await (await fetch(`${api}/`)).json()) as { configuration: Record<string, unknown> };
      expect(root.configuration).toMatchObject({
        role: 'control_plane',
        admin_listen: [`127.0.0.1:${admin.port}`],
        admin_gui_listen: [`127.0.0.1:${adminGui!.port}`],
        admin_listeners: [{ ip: '127.0.0.1', port: admin.port, ssl: false, listener: `127.0.0.1:${admin.port}` }],
        admin_gui_listeners: [{ ip: '127.0.0.1', port: adminGui!.port, ssl: false }],
      });
    } finally {
      await cp.stop();
    }
  });
});
