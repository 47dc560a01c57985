import { beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../src/store/index.js';
import { type TestAdmin, buildTestAdmin } from './support/admin.js';
import { describeEachDatabase } from './support/databases.js';

describeEachDatabase('admin api: routes', (env) => {
  let store: Store;
  let admin: TestAdmin;
  let serviceId: string;

  beforeEach(async () => {
    await env.reset();
    store ??= await env.openStore();
    admin ??= await buildTestAdmin(store);
    serviceId = (await admin.json('POST', '/services', { name: 'svc', host: 'upstream.test' })).json().id;
  });

  /** Asserts a rejected write changed nothing: same version, no route rows. */
  async function expectNoRouteWritten(): Promise<void> {
    expect((await store.readHead()).version).toBe(1);
    expect((await store.loadSnapshot()).entities.routes).toHaveLength(0);
  }

  describe('create', () => {
    it('applies every default and links the service by id or by name', async () => {
      const res = await admin.json('POST', '/routes', { name: 'r', paths: ['/api'], service: { name: 'svc' } });
      expect(res.statusCode).toBe(201);
      expect(res.headers['x-sluice-config-version']).toBe('2');
      expect(res.json()).toEqual({
        id: expect.any(String),
        created_at: expect.any(Number),
        updated_at: expect.any(Number),
        name: 'r',
        protocols: ['http', 'https'],
        https_redirect_status_code: 426,
        strip_path: true,
        preserve_host: false,
        request_buffering: true,
        response_buffering: true,
        tags: null,
        service: { id: serviceId },
        snis: null,
        sources: null,
        destinations: null,
        methods: null,
        hosts: null,
        paths: ['/api'],
        headers: null,
        regex_priority: 0,
        path_handling: 'v0',
      });
      const byId = await admin.json('POST', '/routes', { hosts: ['a.test'], service: { id: serviceId } });
      expect(byId.json().service).toEqual({ id: serviceId });
    });

    it('accepts every HTTP matching field', async () => {
      const res = await admin.json('POST', '/routes', {
        protocols: ['https'],
        methods: ['GET', 'POST', 'GET'],
        hosts: ['*.example.com', 'example.*', 'exact.test:8443', '10.0.0.1', '[::1]:80'],
        paths: ['/v1', '~/users/(?<id>\\d+)$', '~/(?i)caseless', '/café', '/a%2Fb'],
        headers: { 'x-version': ['v1', '~*v2'] },
        snis: ['*.example.com', 'sni.test'],
        regex_priority: -5,
        https_redirect_status_code: 308,
        strip_path: false,
        preserve_host: true,
        request_buffering: false,
        response_buffering: false,
        path_handling: 'v1',
        tags: ['edge'],
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json()).toMatchObject({ methods: ['GET', 'POST'], regex_priority: -5, https_redirect_status_code: 308, headers: { 'x-version': ['v1', '~*v2'] } });
    });

    it('converts form bodies, nested keys included', async () => {
      const res = await admin.request({
        method: 'POST',
        url: '/routes',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'paths[]=/a&paths[]=/b&methods=GET&headers.x-env=prod&service.name=svc&strip_path=false&regex_priority=3&hosts=',
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json()).toMatchObject({
        paths: ['/a', '/b'],
        methods: ['GET'],
        headers: { 'x-env': ['prod'] },
        service: { id: serviceId },
        strip_path: false,
        regex_priority: 3,
        hosts: null,
      });
    });

    it('needs at least one matching field', async () => {
      const https = await admin.json('POST', '/routes', {});
      expect(https.statusCode).toBe(400);
      expect(https.json()).toEqual({
        code: 2,
        name: 'schema violation',
        message: "schema violation (must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https')",
        fields: { '@entity': ["must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"] },
      });
      const http = await admin.json('POST', '/routes', { protocols: ['http'], hosts: [] });
      expect(http.json().fields).toEqual({ '@entity': ["must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'"] });
      await expectNoRouteWritten();
    });

    it.each([
      [{ protocols: ['grpc'], paths: ['/a'] }, { protocols: ["'grpc' is not supported by Sluice (supported route protocols: http, https)"] }],
      [{ protocols: ['tcp'], paths: ['/a'] }, { protocols: ["'tcp' is not supported by Sluice (supported route protocols: http, https)"] }],
      [{ protocols: ['foo'], paths: ['/a'] }, { protocols: 'unknown type: foo' }],
      [{ protocols: ['http', 'foo'], paths: ['/a'] }, { protocols: [null, 'expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp'] }],
      [{ protocols: [], paths: ['/a'] }, { protocols: 'length must be at least 1' }],
      [{ protocols: null, paths: ['/a'] }, { protocols: 'required field missing' }],
      [{ paths: ['a'] }, { paths: ['should start with: / (fixed path) or ~/ (regex path)'] }],
      [{ paths: ['/a//b'] }, { paths: ['must not have empty segments'] }],
      [{ paths: ['/a/../b'] }, { paths: ["non-normalized path, consider use '/b' instead"] }],
      [{ paths: ['/%7Efoo'] }, { paths: ["non-normalized path, consider use '/~foo' instead"] }],
      [{ paths: ['/a%zz'] }, { paths: ["invalid url-encoded value: '%zz'"] }],
      [{ paths: ['/caf%C3%A9'] }, { paths: ["non-normalized path, consider use '/café' instead"] }],
      [{ paths: ['~/(unclosed'] }, { paths: [expect.stringMatching(/^invalid regex: '\/\(unclosed' \(.+\)$/)] }],
      [{ paths: ['~/(?=look)'] }, { paths: ["invalid regex: '/(?=look)' (look-around is not supported)"] }],
      [{ paths: ['~/(a)\\1'] }, { paths: ["invalid regex: '/(a)\\1' (backreferences are not supported)"] }],
      [{ hosts: ['*.a.*'] }, { hosts: ['invalid wildcard: must have at most one wildcard'] }],
      [{ hosts: ['a.*.b'] }, { hosts: ['invalid wildcard: must be placed at leftmost or rightmost label'] }],
      [{ hosts: ['ok.test', 'bad host'] }, { hosts: [null, 'invalid hostname: bad host'] }],
      [{ hosts: ['a.test:99999'] }, { hosts: ['invalid port number'] }],
      [{ methods: ['get'] }, { methods: ['invalid value: get'] }],
      [{ headers: { host: ['a'] } }, { headers: "cannot contain 'host' header, which must be specified in the 'hosts' attribute" }],
      [{ headers: { 'x y': ['a'] } }, { headers: "bad header name 'x y', allowed characters are A-Z, a-z, 0-9, '_', and '-'" }],
      [{ headers: { 'x-a': 'v' } }, { headers: 'expected an array' }],
      [{ paths: ['/a'], snis: ['1.2.3.4'] }, { snis: ['must not be an IP'] }],
      [{ paths: ['/a'], regex_priority: 1.5 }, { regex_priority: 'expected an integer' }],
      [{ paths: ['/a'], https_redirect_status_code: 303 }, { https_redirect_status_code: 'expected one of: 426, 301, 302, 307, 308' }],
      [{ paths: ['/a'], strip_path: null }, { strip_path: 'required field missing' }],
      [{ paths: ['/a'], sources: [{ ip: '1.2.3.4' }] }, { sources: "cannot set 'sources' when 'protocols' is 'http' or 'https'" }],
      [{ paths: ['/a'], service: 'svc' }, { service: { id: 'missing primary key' } }],
      [{ paths: ['/a'], service: { id: 'x' } }, { service: { id: 'expected a valid UUID' } }],
      [{ paths: ['/a'], expression: 'http.path == "/a"' }, { expression: 'unknown field' }],
    ])('refuses %j', async (input, fields) => {
      const res = await admin.json('POST', '/routes', input);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().code).toBe(2);
      expect(res.json().fields).toEqual(fields);
      await expectNoRouteWritten();
    });

    it("refuses snis when the protocols don't include https", async () => {
      const res = await admin.json('POST', '/routes', { protocols: ['http'], paths: ['/a'], snis: ['a.test'] });
      expect(res.json().fields).toEqual({
        snis: 'length must be 0',
        '@entity': ["'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'"],
      });
    });

    it('refuses an unknown service: code 4 by id, code 13 by name', async () => {
      const id = '0a1b2c3d-0000-4000-8000-0000000000ff';
      const byId = await admin.json('POST', '/routes', { paths: ['/a'], service: { id } });
      expect(byId.statusCode).toBe(400);
      expect(byId.json()).toEqual({
        code: 4,
        name: 'foreign key violation',
        message: `the foreign key '{id="${id}"}' does not reference an existing 'services' entity.`,
        fields: { service: { id } },
      });
      const byName = await admin.json('POST', '/routes', { paths: ['/a'], service: { name: 'nope' } });
      expect(byName.statusCode).toBe(400);
      expect(byName.json()).toEqual({
        code: 13,
        name: 'foreign keys unresolved',
        message: `foreign key unresolved (service.name: the foreign key cannot be resolved with '{name="nope"}' for an existing 'services' entity)`,
        fields: { service: { name: `the foreign key cannot be resolved with '{name="nope"}' for an existing 'services' entity` } },
      });
      await expectNoRouteWritten();
    });
  });

  describe('update and delete', () => {
    it('PUT replaces, PATCH merges, DELETE is idempotent; each write is one version', async () => {
      const put = await admin.json('PUT', '/routes/r1', { paths: ['/a'], methods: ['GET'], service: { id: serviceId } });
      expect(put.statusCode).toBe(200);
      expect(put.json()).toMatchObject({ name: 'r1', paths: ['/a'], methods: ['GET'] });
      const replaced = await admin.json('PUT', '/routes/r1', { hosts: ['h.test'] });
      expect(replaced.json()).toMatchObject({ id: put.json().id, paths: null, methods: null, hosts: ['h.test'], service: null });
      const patched = await admin.json('PATCH', '/routes/r1', { paths: ['/b'], service: { name: 'svc' } });
      expect(patched.json()).toMatchObject({ hosts: ['h.test'], paths: ['/b'], service: { id: serviceId } });
      const invalid = await admin.json('PATCH', '/routes/r1', { hosts: null, paths: null });
      expect(invalid.statusCode).toBe(400);
      expect((await store.readHead()).version).toBe(4);
      expect((await admin.json('DELETE', '/routes/r1')).statusCode).toBe(204);
      expect((await admin.json('DELETE', '/routes/r1')).statusCode).toBe(204);
      const changes = await store.readChanges(1, 10);
      expect(changes.map((c) => [c.version, c.entityType, c.op])).toEqual([
        [2, 'routes', 'upsert'],
        [3, 'routes', 'upsert'],
        [4, 'routes', 'upsert'],
        [5, 'routes', 'delete'],
      ]);
      expect(changes[2]?.entity).toMatchObject({ paths: ['/b'] });
    });
  });

  describe('nested endpoints', () => {
    it('/services/{s}/routes lists, creates and pages the service’s routes only', async () => {
      await admin.json('POST', '/services', { name: 'other', host: 'o.test' });
      await admin.json('POST', '/services/other/routes', { paths: ['/other'] });
      for (let i = 0; i < 3; i++) {
        const res = await admin.json('POST', '/services/svc/routes', { paths: [`/p${i}`], service: { name: 'other' } });
        expect(res.statusCode).toBe(201);
        expect(res.json().service).toEqual({ id: serviceId });
      }
      const page1 = (await admin.json('GET', '/services/svc/routes?size=2&tags=ignored')).json();
      expect(page1.data).toHaveLength(2);
      expect(page1.next).toBe(`/services/svc/routes?offset=${encodeURIComponent(page1.offset)}`);
      const page2 = (await admin.json('GET', page1.next)).json();
      expect(page2).toEqual({ data: [expect.objectContaining({ service: { id: serviceId } })], next: null });
      expect((await admin.json('GET', '/services/missing/routes')).statusCode).toBe(404);
      expect((await admin.json('POST', '/services/missing/routes', { paths: ['/x'] })).statusCode).toBe(404);
    });

    it('/services/{s}/routes/{r} answers 404 when the route belongs to another service', async () => {
      const other = (await admin.json('POST', '/services', { name: 'other', host: 'o.test' })).json();
      const mine = (await admin.json('POST', '/services/svc/routes', { name: 'mine', paths: ['/m'] })).json();
      await admin.json('POST', '/services/other/routes', { name: 'theirs', paths: ['/t'] });
      expect((await admin.json('GET', '/services/svc/routes/mine')).json()).toEqual(mine);
      expect((await admin.json('GET', `/services/${serviceId}/routes/${mine.id}`)).statusCode).toBe(200);
      expect((await admin.json('GET', '/services/svc/routes/theirs')).statusCode).toBe(404);
      expect((await admin.json('PATCH', '/services/svc/routes/theirs', { paths: ['/x'] })).statusCode).toBe(404);
      expect((await admin.json('DELETE', '/services/svc/routes/theirs')).statusCode).toBe(404);
      const patched = await admin.json('PATCH', '/services/svc/routes/mine', { paths: ['/m2'] });
      expect(patched.json()).toMatchObject({ paths: ['/m2'], service: { id: serviceId } });
      const put = await admin.json('PUT', `/services/${other.id}/routes/new-one`, { paths: ['/n'] });
      expect(put.json()).toMatchObject({ name: 'new-one', service: { id: other.id } });
      expect((await admin.json('DELETE', '/services/svc/routes/mine')).statusCode).toBe(204);
      expect((await admin.json('GET', '/routes/mine')).statusCode).toBe(404);
    });

    it('/routes/{r}/service reads, patches and replaces the linked service; DELETE is 405', async () => {
      await admin.json('POST', '/routes', { name: 'linked', paths: ['/l'], service: { id: serviceId } });
      expect((await admin.json('GET', '/routes/linked/service')).json()).toMatchObject({ id: serviceId, name: 'svc' });
      const patched = await admin.json('PATCH', '/routes/linked/service', { retries: 9 });
      expect(patched.json()).toMatchObject({ id: serviceId, retries: 9 });
      const put = await admin.json('PUT', '/routes/linked/service', { host: 'new.test' });
      expect(put.json()).toMatchObject({ id: serviceId, host: 'new.test', retries: 5, name: null });
      expect((await admin.json('DELETE', '/routes/linked/service')).statusCode).toBe(405);
    });

    it('PUT /routes/{r}/service creates and links a service in one version when the route has none', async () => {
      await admin.json('POST', '/routes', { name: 'alone', paths: ['/x'] });
      expect((await admin.json('GET', '/routes/alone/service')).statusCode).toBe(404);
      expect((await admin.json('PATCH', '/routes/alone/service', { retries: 1 })).statusCode).toBe(404);
      expect((await admin.json('DELETE', '/routes/alone/service')).statusCode).toBe(404);
      const before = (await store.readHead()).version;
      const res = await admin.json('PUT', '/routes/alone/service', { url: 'http://fresh.test' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-sluice-config-version']).toBe(String(before + 1));
      expect((await admin.json('GET', '/routes/alone')).json().service).toEqual({ id: res.json().id });
      const changes = await store.readChanges(before, before + 1);
      expect(changes.map((c) => c.entityType)).toEqual(['services', 'routes']);
    });
  });
});
