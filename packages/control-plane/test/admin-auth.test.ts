import { Writable } from 'node:stream';
import pino from 'pino';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AdminAuthenticator, AdminTokenSet } from '../src/admin/index.js';
import type { Store } from '../src/store/index.js';
import { type TestAdmin, buildTestAdmin } from './support/admin.js';
import { describeEachDatabase } from './support/databases.js';

const ADMIN_TOKEN = 'ci-admin-token-4f9d2c7e1b';
const READER_TOKEN = 'dashboards-read-only-8a3e6f';
const KEY_SECRET = 'alice-secret-key-77c1e0';
const GUI = 'https://gui.example.com';

/** Every log line the Admin API writes, parsed (debug level: request logs included). */
function capturingLogger(): { logger: pino.Logger; lines: Record<string, unknown>[]; text: () => string } {
  let raw = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      raw += chunk.toString();
      done();
    },
  });
  return {
    logger: pino({ level: 'trace' }, stream),
    get lines() {
      return raw.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    text: () => raw,
  };
}

describeEachDatabase('admin api: tokens, roles and the audit log', (env) => {
  let store: Store;
  let admin: TestAdmin;
  let open: TestAdmin;
  let log: ReturnType<typeof capturingLogger>;
  const auth = new AdminAuthenticator();

  beforeAll(async () => {
    store = await env.openStore();
    log = capturingLogger();
    admin = await buildTestAdmin(store, { auth, logger: log.logger, allowedOrigins: [GUI] });
    open = await buildTestAdmin(store);
  });
  beforeEach(async () => {
    await env.reset();
    auth.replace(AdminTokenSet.from({ fileText: `ci admin ${ADMIN_TOKEN}\ndashboards read-only ${READER_TOKEN}\n` }));
  });

  const as = (token: string | null, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}) =>
    admin.request({
      method,
      url,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  it('answers 401 with Kong’s body to a request without a valid token, and writes nothing', async () => {
    const head = await store.readHead();
    for (const headers of [{}, { authorization: 'Bearer wrong-token-000000000' }, { authorization: `Basic ${ADMIN_TOKEN}` }, { 'kong-admin-token': 'nope' }]) {
      const res = await admin.request({ method: 'POST', url: '/services', headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify({ name: 'x', host: 'x.test' }) });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ message: 'Invalid credentials. Token or User credentials required' });
      expect(res.headers['www-authenticate']).toBe('Bearer realm="sluice-admin"');
    }
    for (const url of ['/services', '/', '/status', '/config']) expect((await as(null, 'GET', url)).statusCode).toBe(401);
    expect((await as(null, 'POST', '/config', { _format_version: '3.0' })).statusCode).toBe(401);
    expect(await store.readHead()).toEqual(head);
    expect((await open.json('GET', '/services')).json().data).toEqual([]);
  });

  it('lets an admin token write, as Bearer or as Kong-Admin-Token', async () => {
    expect((await as(ADMIN_TOKEN, 'POST', '/services', { name: 'a', host: 'a.test' })).statusCode).toBe(201);
    const kong = await admin.request({ method: 'POST', url: '/services', headers: { 'kong-admin-token': ADMIN_TOKEN, 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'b', host: 'b.test' }) });
    expect(kong.statusCode).toBe(201);
    expect((await as(ADMIN_TOKEN, 'GET', '/services')).json().data.map((s: { name: string }) => s.name).sort()).toEqual(['a', 'b']);
  });

  it('lets a read-only token read and answers its writes 403, writing nothing', async () => {
    const created = (await as(ADMIN_TOKEN, 'POST', '/services', { name: 'a', host: 'a.test' })).json();
    const head = await store.readHead();
    expect((await as(READER_TOKEN, 'GET', `/services/${created.id}`)).statusCode).toBe(200);
    expect((await as(READER_TOKEN, 'GET', '/config')).statusCode).toBe(200);
    const cases: ['POST' | 'PUT' | 'PATCH' | 'DELETE', string, string][] = [
      ['POST', '/services', 'create'],
      ['PUT', '/services/a', 'update'],
      ['PATCH', '/services/a', 'update'],
      ['DELETE', '/services/a', 'delete'],
      ['POST', '/config', 'create'],
    ];
    for (const [method, url, action] of cases) {
      const res = await as(READER_TOKEN, method, url, method === 'DELETE' ? undefined : { name: 'a', host: 'changed.test', _format_version: '3.0' });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json()).toEqual({ message: `dashboards, you do not have permissions to ${action} this resource` });
    }
    expect(await store.readHead()).toEqual(head);
    expect((await as(READER_TOKEN, 'GET', '/services/a')).json().host).toBe('a.test');
  });

  it('answers a GUI origin’s preflight without a token, and its real requests like any client’s', async () => {
    const preflight = await admin.request({
      method: 'OPTIONS',
      url: '/services',
      headers: { origin: GUI, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(GUI);
    expect(preflight.headers['access-control-allow-headers']).toBe('authorization, content-type');
    const bare = await admin.request({ method: 'OPTIONS', url: '/services', headers: { origin: GUI, 'access-control-request-method': 'GET' } });
    expect(bare.headers['access-control-allow-headers']).toBe('Content-Type, Authorization, Kong-Admin-Token');
    const refused = await as(null, 'GET', '/services', undefined, { origin: GUI });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe(GUI); // the page can read why
    const allowed = await as(ADMIN_TOKEN, 'POST', '/services', { name: 'gui', host: 'gui.test' }, { origin: GUI });
    expect(allowed.statusCode).toBe(201);
    expect(allowed.headers['access-control-allow-origin']).toBe(GUI);
  });

  it('swaps tokens whole: a replaced token stops working at once', async () => {
    const next = 'rotated-admin-token-91b7';
    auth.replace(AdminTokenSet.from({ fileText: `ci admin ${next}\n` }));
    expect((await as(ADMIN_TOKEN, 'GET', '/services')).statusCode).toBe(401);
    expect((await as(next, 'GET', '/services')).statusCode).toBe(200);
  });

  it('writes one audit line per write with the token’s name, the entity and the version, and never a token or a body’s secret', async () => {
    const before = log.lines.length;
    const service = await as(ADMIN_TOKEN, 'POST', '/services', { name: 'audited', host: 'a.test' });
    const consumer = (await as(ADMIN_TOKEN, 'POST', '/consumers', { username: 'alice' })).json();
    const key = await as(ADMIN_TOKEN, 'POST', `/consumers/${consumer.id}/key-auth`, { key: KEY_SECRET });
    await as(ADMIN_TOKEN, 'DELETE', `/key-auths/${KEY_SECRET}`);
    await as(READER_TOKEN, 'DELETE', '/services/audited');
    await as(null, 'POST', '/services', { name: 'anon', host: 'x.test' });
    await as(ADMIN_TOKEN, 'POST', '/config', { _format_version: '3.0', services: [{ name: 'audited', host: 'a.test' }] });
    await as(ADMIN_TOKEN, 'GET', '/services');
    const audit = log.lines.slice(before).filter((l) => l.audit === true);
    expect(audit.map((l) => [l.method, l.path, l.status, l.token])).toEqual([
      ['POST', '/services', 201, 'ci'],
      ['POST', '/consumers', 201, 'ci'],
      ['POST', '/consumers/:consumer/key-auth', 201, 'ci'],
      ['DELETE', '/key-auths/:keyauth_credential', 204, 'ci'],
      ['DELETE', '/services/:service', 403, 'dashboards'],
      ['POST', '/services', 401, null],
      ['POST', '/config', 201, 'ci'],
    ]);
    expect(audit[0]).toMatchObject({
      component: 'admin-audit',
      role: 'admin',
      entity: { kind: 'services', id: service.json().id },
      version: Number(service.headers['x-sluice-config-version']),
      msg: 'admin write',
    });
    expect(audit[2]).toMatchObject({ entity: { kind: 'keyauth_credentials', id: key.json().id } });
    expect(audit[4]).toMatchObject({ entity: null, version: null });
    expect(audit[6]).toMatchObject({ entity: { kind: 'config', id: null }, version: (await store.readHead()).version });
    const text = log.text();
    expect(log.lines.slice(before).length).toBeGreaterThan(audit.length); // request logs are there too
    for (const secret of [ADMIN_TOKEN, READER_TOKEN, KEY_SECRET]) expect(text).not.toContain(secret);
  });
});
