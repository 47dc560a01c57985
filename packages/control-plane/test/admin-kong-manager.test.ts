/**
 * What Kong Manager (and the Sluice UI) needs from the Admin API beyond CRUD: the schema endpoints
 * in Kong's JSON form, `/endpoints`, the cross-entity tag listing, Kong's fields in `GET /`, CORS
 * that a credentialed page can use, and the request shapes Kong Manager sends (unknown query
 * arguments, PATCH bodies repeating the whole row, `url` with an explicit port).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { ENTITY_KINDS, ENTITIES, entitySchemaToJson } from '@sluice/protocol';
import { CORS_EXPOSED_HEADERS } from '../src/admin/index.js';
import type { Store } from '../src/store/index.js';
import { type TestAdmin, buildTestAdmin } from './support/admin.js';
import { describeEachDatabase } from './support/databases.js';

const GUI = 'http://127.0.0.1:8002';

/** The `fields` array of a schema as one object, for lookups. */
function fieldMap(schema: { fields: Record<string, unknown>[] }): Record<string, Record<string, unknown>> {
  return Object.assign({}, ...schema.fields) as Record<string, Record<string, unknown>>;
}

describeEachDatabase('admin api: Kong Manager compatibility', (env) => {
  let store: Store;
  let admin: TestAdmin;

  beforeEach(async () => {
    await env.reset();
    store ??= await env.openStore();
    admin ??= await buildTestAdmin(store, { allowedOrigins: [GUI] });
  });

  describe('GET /schemas/{entity}', () => {
    it('describes services in Kong JSON form: single-key field objects in schema order, entity checks', async () => {
      const res = await admin.json('GET', '/schemas/services');
      expect(res.statusCode).toBe(200);
      const schema = res.json();
      for (const field of schema.fields) expect(Object.keys(field)).toHaveLength(1);
      expect(schema.fields.map((f: object) => Object.keys(f)[0])).toEqual(Object.keys(ENTITIES.services.schema.fields));
      const fields = fieldMap(schema);
      expect(fields.id).toEqual({ type: 'string', uuid: true, auto: true });
      expect(fields.created_at).toEqual({ type: 'integer', auto: true, timestamp: true });
      expect(fields.name).toEqual({ type: 'string', unique: true });
      expect(fields.port).toEqual({ type: 'integer', required: true, default: 80, between: [0, 65535] });
      expect(fields.protocol).toMatchObject({ type: 'string', required: true, default: 'http', one_of: ['grpc', 'grpcs', 'http', 'https', 'tcp', 'tls', 'tls_passthrough', 'udp'] });
      expect(fields.connect_timeout).toEqual({ type: 'integer', default: 60000, between: [1, 2147483646] });
      expect(fields.tags).toEqual({ type: 'set', elements: { type: 'string' } });
      expect(fields.client_certificate).toEqual({ type: 'foreign', reference: 'certificates' });
      expect(fields.enabled).toEqual({ type: 'boolean', required: true, default: true });
      expect(Array.isArray(schema.entity_checks)).toBe(true);
    });

    it('describes routes: sets with elements, the headers map, the service reference', async () => {
      const fields = fieldMap((await admin.json('GET', '/schemas/routes')).json());
      expect(fields.protocols).toEqual({ type: 'set', required: true, default: ['http', 'https'], elements: { type: 'string' }, len_min: 1 });
      expect(fields.headers).toEqual({ type: 'map', keys: { type: 'string' }, values: { type: 'array', elements: { type: 'string' } } });
      expect(fields.service).toEqual({ type: 'foreign', reference: 'services' });
      expect(fields.sources).toMatchObject({ type: 'set', eq: null });
      expect(fields.https_redirect_status_code).toMatchObject({ one_of: [426, 301, 302, 307, 308], default: 426 });
    });

    it('serves every registry kind by its DAO name, credentials included', async () => {
      for (const kind of ENTITY_KINDS) {
        const res = await admin.json('GET', `/schemas/${kind}`);
        expect(res.statusCode, kind).toBe(200);
        expect(res.json()).toEqual(JSON.parse(JSON.stringify(entitySchemaToJson(ENTITIES[kind].schema, ENTITIES[kind].uniqueFields))));
      }
      const keyauth = fieldMap((await admin.json('GET', '/schemas/keyauth_credentials')).json());
      expect(keyauth.consumer).toEqual({ type: 'foreign', reference: 'consumers', required: true, on_delete: 'cascade' });
      expect(fieldMap((await admin.json('GET', '/schemas/plugins')).json()).config).toMatchObject({ type: 'record', abstract: true });
      expect((await admin.json('GET', '/schemas/consumers')).json().entity_checks).toEqual([{ at_least_one_of: ['custom_id', 'username'] }]);
    });

    it("answers Kong's 404 for a name that is not a kind (the Admin API name of a credential is not a DAO name)", async () => {
      for (const name of ['key-auths', 'nope']) {
        const res = await admin.json('GET', `/schemas/${name}`);
        expect(res.statusCode).toBe(404);
        expect(res.json()).toEqual({ message: `No entity named '${name}'` });
      }
    });

    it('validates without writing: 200 with Kong message, or the schema violation', async () => {
      const ok = await admin.json('POST', '/schemas/services/validate', { host: 'example.com' });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ message: 'schema validation successful' });
      const bad = await admin.json('POST', '/schemas/services/validate', { host: 'example.com', port: 70000 });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toEqual({ code: 2, name: 'schema violation', message: 'schema violation (port: value should be between 0 and 65535)', fields: { port: 'value should be between 0 and 65535' } });
      expect((await store.readHead()).version).toBe(0);
    });
  });

  describe('GET /endpoints', () => {
    it('lists every path with {param} placeholders, in Kong segment order', async () => {
      const res = await admin.json('GET', '/endpoints');
      expect(res.statusCode).toBe(200);
      const data: string[] = res.json().data;
      for (const path of ['/', '/services', '/services/{service}', '/services/{service}/routes', '/key-auths', '/schemas/{name}', '/tags/{tag}', '/endpoints', '/status']) {
        expect(data).toContain(path);
      }
      expect(data.indexOf('/services/{service}/routes')).toBeLessThan(data.indexOf('/status'));
      expect(new Set(data).size).toBe(data.length);
    });
  });

  describe('GET /tags', () => {
    it('lists (entity_name, entity_id, tag) across kinds, paginated, and by tag', async () => {
      const svc = (await admin.json('POST', '/services', { name: 's', host: 'a.example', tags: ['prod', 'team-a'] })).json();
      const route = (await admin.json('POST', '/routes', { name: 'r', paths: ['/a'], service: { id: svc.id }, tags: ['prod'] })).json();
      const consumer = (await admin.json('POST', '/consumers', { username: 'u', tags: ['team-a'] })).json();
      await admin.json('POST', '/services', { name: 'untagged', host: 'b.example' });

      const all = await admin.json('GET', '/tags');
      expect(all.statusCode).toBe(200);
      expect(all.json()).toEqual({
        data: [
          { tag: 'prod', entity_name: 'routes', entity_id: route.id },
          { tag: 'prod', entity_name: 'services', entity_id: svc.id },
          { tag: 'team-a', entity_name: 'consumers', entity_id: consumer.id },
          { tag: 'team-a', entity_name: 'services', entity_id: svc.id },
        ],
        next: null,
      });

      const first = (await admin.json('GET', '/tags?size=3')).json();
      expect(first.data).toHaveLength(3);
      expect(first.next).toBe(`/tags?offset=${encodeURIComponent(first.offset)}&size=3`);
      const second = (await admin.json('GET', first.next)).json();
      expect(second).toEqual({ data: [{ tag: 'team-a', entity_name: 'services', entity_id: svc.id }], next: null });

      const prod = (await admin.json('GET', '/tags/prod')).json();
      expect(prod.data.map((t: { entity_name: string }) => t.entity_name)).toEqual(['routes', 'services']);
      expect((await admin.json('GET', '/tags/none')).json()).toEqual({ data: [], next: null });
      // ?tags= is ignored here, as Kong does.
      expect((await admin.json('GET', '/tags?tags=zzz')).json().data).toHaveLength(4);
    });

    it('refuses a bad offset with code 7', async () => {
      const res = await admin.json('GET', `/tags?offset=${Buffer.from('[1]').toString('base64url')}`);
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe(7);
    });
  });

  describe('GET /', () => {
    it("carries Kong's fields", async () => {
      const body = (await admin.json('GET', '/')).json();
      expect(body).toMatchObject({ edition: 'community', configuration: { role: 'control_plane' }, plugins: { available_on_server: expect.any(Object), enabled_in_cluster: expect.any(Array) } });
      expect(typeof body.version).toBe('string');
      expect(typeof body.node_id).toBe('string');
    });
  });

  describe('CORS for a GUI origin', () => {
    it('echoes the origin with credentials and exposes the config-version headers', async () => {
      const res = await admin.request({ method: 'POST', url: '/services', headers: { origin: GUI, 'content-type': 'application/json' }, payload: '{"host":"a.example"}' });
      expect(res.statusCode).toBe(201);
      expect(res.headers['access-control-allow-origin']).toBe(GUI);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-expose-headers']).toBe(CORS_EXPOSED_HEADERS);
    });

    it('answers a preflight asking for Authorization (a token) with 204, the methods and the headers', async () => {
      const res = await admin.request({
        method: 'OPTIONS',
        url: '/routes/r1',
        headers: { origin: GUI, 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'authorization,content-type' },
      });
      expect(res.statusCode).toBe(204);
      expect(res.headers['access-control-allow-methods']).toBe('DELETE, GET, HEAD, OPTIONS, PATCH, PUT');
      expect(res.headers['access-control-allow-headers']).toBe('authorization,content-type');
      expect(res.headers['access-control-allow-credentials']).toBe('true');
    });
  });

  describe('request shapes Kong Manager sends', () => {
    it('ignores unknown query arguments (sort_desc, filters it does not know)', async () => {
      await admin.json('POST', '/services', { name: 'a', host: 'a.example' });
      const res = await admin.json('GET', '/services?sort_desc=1&size=30&sort_by=created_at');
      expect(res.statusCode).toBe(200);
      expect(res.json().data).toHaveLength(1);
    });

    it('takes a PATCH body that repeats the whole row as GET returned it', async () => {
      const svc = (await admin.json('POST', '/services', { name: 'a', host: 'a.example', tags: ['x'] })).json();
      const res = await admin.json('PATCH', `/services/${svc.id}`, { ...svc, host: 'b.example' });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ id: svc.id, host: 'b.example', created_at: svc.created_at, tags: ['x'] });
      const route = (await admin.json('POST', '/routes', { paths: ['/a'], service: { id: svc.id } })).json();
      const patched = await admin.json('PATCH', `/routes/${route.id}`, { ...route, paths: ['/b'] });
      expect(patched.statusCode, patched.body).toBe(200);
      expect(patched.json().paths).toEqual(['/b']);
    });

    it('expands url with an explicit port', async () => {
      const res = await admin.json('POST', '/services', { name: 'u', url: 'http://upstream.example:8080/api', port: 8080 });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json()).toMatchObject({ protocol: 'http', host: 'upstream.example', port: 8080, path: '/api' });
    });
  });
});
