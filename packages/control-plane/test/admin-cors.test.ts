/**
 * Browsers and the Admin API: no cross-origin access by default, the `--admin-gui-origin` allow
 * list, and cross-origin writes refused before anything is written.
 */
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { CORS_PREFLIGHT_MAX_AGE_SECONDS, CorsPolicy } from '../src/admin/index.js';
import { ConfigurationError } from '../src/errors.js';
import type { Store } from '../src/store/index.js';
import { type TestAdmin, buildTestAdmin } from './support/admin.js';
import { describeEachDatabase } from './support/databases.js';

const GUI = 'https://gui.example:8445';
const EVIL = 'https://evil.example';
const FORM = 'application/x-www-form-urlencoded';

describeEachDatabase('admin api: CORS', (env) => {
  let store: Store;
  let closed: TestAdmin;
  let open: TestAdmin;

  beforeEach(async () => {
    await env.reset();
    store ??= await env.openStore();
    closed ??= await buildTestAdmin(store);
    open ??= await buildTestAdmin(store, { allowedOrigins: [GUI] });
  });

  async function version(): Promise<number> {
    return (await store.readHead()).version;
  }

  describe('by default (no allowed origin)', () => {
    it('answers no Access-Control-Allow-Origin, to any origin', async () => {
      for (const headers of [{}, { origin: EVIL }, { origin: GUI }]) {
        const res = await closed.request({ method: 'GET', url: '/services', headers });
        expect(res.statusCode).toBe(200);
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
        expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      }
      const preflight = await closed.request({ method: 'OPTIONS', url: '/services', headers: { origin: EVIL, 'access-control-request-method': 'POST' } });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('refuses a cross-origin form POST with 403 and writes nothing', async () => {
      const res = await closed.request({ method: 'POST', url: '/services', headers: { origin: EVIL, 'content-type': FORM }, payload: 'name=csrf&host=evil.example' });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ message: `cross-origin request refused: origin "${EVIL}" is not allowed (see --admin-gui-origin)` });
      expect(await version()).toBe(0);
      expect((await closed.request({ method: 'GET', url: '/services/csrf' })).statusCode).toBe(404);
    });

    it('refuses every writing method from another origin, and the opaque origin "null"', async () => {
      await closed.json('POST', '/services', { name: 's', host: 'a.example' });
      const before = await version();
      for (const [method, origin] of [['PUT', EVIL], ['PATCH', EVIL], ['DELETE', EVIL], ['POST', 'null'], ['DELETE', 'http://localhost.evil.example']] as const) {
        const res = await closed.request({ method, url: method === 'POST' ? '/services' : '/services/s', headers: { origin, 'content-type': 'application/json' }, payload: '{"host":"b.example"}' });
        expect(res.statusCode, `${method} from ${origin}`).toBe(403);
      }
      expect(await version()).toBe(before);
      expect((await closed.request({ method: 'GET', url: '/services/s' })).json().host).toBe('a.example');
    });

    it('lets requests without Origin and same-origin requests write', async () => {
      const plain = await closed.json('POST', '/services', { name: 'curl', host: 'a.example' });
      expect(plain.statusCode).toBe(201);
      // inject() sends Host: localhost:80, so the Admin API's own origin is http://localhost.
      const same = await closed.request({ method: 'POST', url: '/services', headers: { host: 'localhost:80', origin: 'http://localhost', 'content-type': FORM }, payload: 'name=same&host=a.example' });
      expect(same.statusCode, same.body).toBe(201);
      expect(same.headers['access-control-allow-origin']).toBeUndefined();
      // Same host, other scheme or port: another origin.
      const otherPort = await closed.request({ method: 'POST', url: '/services', headers: { host: 'localhost:80', origin: 'http://localhost:8080', 'content-type': FORM }, payload: 'host=a.example' });
      expect(otherPort.statusCode).toBe(403);
    });
  });

  describe('with --admin-gui-origin', () => {
    it('echoes an allowed origin with credentials and Vary: Origin', async () => {
      const res = await open.request({ method: 'GET', url: '/services', headers: { origin: GUI } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe(GUI);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers.vary).toBe('Origin');
      const write = await open.request({ method: 'POST', url: '/services', headers: { origin: GUI, 'content-type': FORM }, payload: 'name=gui&host=a.example' });
      expect(write.statusCode).toBe(201);
      expect(write.headers['access-control-allow-origin']).toBe(GUI);
    });

    it('answers the preflight of an allowed origin with the methods, the requested headers and a max-age', async () => {
      const res = await open.request({
        method: 'OPTIONS',
        url: '/services/x',
        headers: { origin: GUI, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'content-type, x-requested-with' },
      });
      expect(res.statusCode).toBe(204);
      expect(res.headers).toMatchObject({
        'access-control-allow-origin': GUI,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'DELETE, GET, HEAD, OPTIONS, PATCH, PUT',
        'access-control-allow-headers': 'content-type, x-requested-with',
        'access-control-max-age': String(CORS_PREFLIGHT_MAX_AGE_SECONDS),
        vary: 'Origin',
      });
    });

    it('does not echo a malformed Access-Control-Request-Headers', async () => {
      const res = await open.request({ method: 'OPTIONS', url: '/services', headers: { origin: GUI, 'access-control-request-method': 'POST', 'access-control-request-headers': 'a b, (c)' } });
      expect(res.headers['access-control-allow-headers']).toBe('Content-Type, Authorization, Kong-Admin-Token');
    });

    it('gives other origins nothing, and refuses their writes', async () => {
      const read = await open.request({ method: 'GET', url: '/services', headers: { origin: EVIL } });
      expect(read.headers['access-control-allow-origin']).toBeUndefined();
      expect(read.headers.vary).toBe('Origin');
      const preflight = await open.request({ method: 'OPTIONS', url: '/services', headers: { origin: EVIL, 'access-control-request-method': 'POST' } });
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      expect(preflight.headers['access-control-max-age']).toBeUndefined();
      const write = await open.request({ method: 'POST', url: '/services', headers: { origin: EVIL, 'content-type': FORM }, payload: 'host=a.example' });
      expect(write.statusCode).toBe(403);
      expect(await version()).toBe(0);
    });
  });

  describe('over a real socket', () => {
    let base: { host: string; port: number } | null = null;
    let served: TestAdmin | null = null;

    afterAll(async () => {
      await served?.app.close();
    });

    /** Sends a request with exactly these headers (fetch would not let us set Origin freely). */
    function send(method: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; headers: Record<string, unknown> }> {
      return new Promise((resolve, reject) => {
        const req = httpRequest({ host: base?.host, port: base?.port, method, path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
        });
        req.on('error', reject);
        req.end(body);
      });
    }

    it('takes the Host header as its own origin and refuses other origins', async () => {
      served = await buildTestAdmin(store, { allowedOrigins: [GUI] });
      await served.app.listen({ host: '127.0.0.1', port: 0 });
      base = { host: '127.0.0.1', port: (served.app.server.address() as AddressInfo).port };
      const own = `http://127.0.0.1:${base.port}`;
      const same = await send('POST', '/services', { origin: own, 'content-type': FORM }, 'name=own&host=a.example');
      expect(same.status).toBe(201);
      const allowed = await send('POST', '/services', { origin: GUI, 'content-type': FORM }, 'name=gui&host=a.example');
      expect(allowed.status).toBe(201);
      expect(allowed.headers['access-control-allow-origin']).toBe(GUI);
      const foreign = await send('POST', '/services', { origin: EVIL, 'content-type': FORM }, 'name=evil&host=a.example');
      expect(foreign.status).toBe(403);
      const names = (await store.loadSnapshot()).entities.services.map((s) => s.name).sort();
      expect(names).toEqual(['gui', 'own']);
    });
  });
});

describe('CorsPolicy origins', () => {
  it('serializes allowed origins (case, default port, trailing slash)', () => {
    expect(new CorsPolicy(['HTTPS://Gui.Example:443/', 'http://localhost:8002']).allowedOrigins).toEqual(['https://gui.example', 'http://localhost:8002']);
  });

  it.each(['*', 'null', 'gui.example', 'ftp://gui.example', 'https://gui.example/admin', 'https://user@gui.example', 'https://gui.example?x=1'])('refuses %s', (origin) => {
    expect(() => new CorsPolicy([origin])).toThrow(ConfigurationError);
  });
});
