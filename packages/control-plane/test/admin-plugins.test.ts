import { PLUGIN_DESCRIPTORS } from '@sluice/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../src/store/index.js';
import { type TestAdmin, buildTestAdmin } from './support/admin.js';
import { describeEachDatabase } from './support/databases.js';

const AT_LEAST_ONE_PERIOD =
  "at least one of these fields must be non-empty: 'config.second', 'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'";

// The plugins kind through the Admin API (kong-plugins.md §1): its generic CRUD from the registry,
// the plugin schemas' defaults and errors, Kong's 409, cascades, and the plugin/schema endpoints.
describeEachDatabase('admin api: plugins', (env) => {
  let store: Store;
  let admin: TestAdmin;
  let serviceId: string;
  let routeId: string;
  let consumerId: string;

  beforeEach(async () => {
    await env.reset();
    store ??= await env.openStore();
    admin ??= await buildTestAdmin(store);
    serviceId = (await admin.json('POST', '/services', { name: 'svc', host: 'upstream.test' })).json().id;
    routeId = (await admin.json('POST', '/routes', { name: 'external', paths: ['/external'], service: { id: serviceId } })).json().id;
    consumerId = (await admin.json('POST', '/consumers', { username: 'alice' })).json().id;
  });

  describe('create', () => {
    it('fills the config defaults, answers in Kong field order, and finds the plugin by id or instance_name', async () => {
      const res = await admin.json('POST', '/plugins', { name: 'key-auth', instance_name: 'edge-auth', route: { id: routeId } });
      expect(res.statusCode).toBe(201);
      expect(res.headers['x-sluice-config-version']).toBe('4');
      const plugin = res.json();
      expect(Object.keys(plugin)).toEqual(['id', 'name', 'instance_name', 'created_at', 'updated_at', 'route', 'service', 'consumer', 'config', 'protocols', 'enabled', 'tags']);
      expect(plugin).toMatchObject({
        name: 'key-auth',
        route: { id: routeId },
        service: null,
        consumer: null,
        config: { key_names: ['apikey'], hide_credentials: false, anonymous: null, key_in_header: true, key_in_query: true, key_in_body: false, run_on_preflight: true, realm: null },
        protocols: ['grpc', 'grpcs', 'http', 'https'],
        enabled: true,
        tags: null,
      });
      expect((await admin.json('GET', `/plugins/${plugin.id}`)).json()).toEqual(plugin);
      expect((await admin.json('GET', '/plugins/edge-auth')).json()).toEqual(plugin);
      expect((await admin.json('GET', '/plugins')).json()).toEqual({ data: [plugin], next: null });
    });

    it('accepts a form body typed by the plugin schema', async () => {
      const res = await admin.request({
        method: 'POST',
        url: '/plugins',
        payload: 'name=rate-limiting&config.minute=6&config.hide_client_headers=true&config.redis.port=7000&protocols=http',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ protocols: ['http'], config: { minute: 6, hide_client_headers: true, redis: { port: 7000, timeout: 2000 } } });
      // A form PATCH without `name` is typed by the stored plugin's schema.
      const patched = await admin.request({
        method: 'PATCH',
        url: `/plugins/${res.json().id}`,
        payload: 'config.hour=600&config.fault_tolerant=false',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(patched.statusCode).toBe(200);
      expect(patched.json().config).toMatchObject({ minute: 6, hour: 600, fault_tolerant: false });
    });
  });

  describe("Kong's validation bodies (nothing written)", () => {
    it.each<[string, Record<string, unknown>, unknown]>([
      [
        'unknown plugin',
        { name: 'foo' },
        {
          code: 2,
          name: 'schema violation',
          message: "schema violation (name: plugin 'foo' not enabled; add it to the 'plugins' configuration property)",
          fields: { name: "plugin 'foo' not enabled; add it to the 'plugins' configuration property" },
        },
      ],
      [
        'unknown config field',
        { name: 'key-auth', config: { foo: 1 } },
        { code: 2, name: 'schema violation', message: 'schema violation (config.foo: unknown field)', fields: { config: { foo: 'unknown field' } } },
      ],
      [
        'RL11: rate-limiting without a limit',
        { name: 'rate-limiting', route: { id: '00000000-0000-4000-8000-000000000000' } },
        { code: 2, name: 'schema violation', message: `schema violation (${AT_LEAST_ONE_PERIOD})`, fields: { '@entity': [AT_LEAST_ONE_PERIOD] } },
      ],
      [
        'RL11: cluster policy',
        { name: 'rate-limiting', config: { second: 10, policy: 'cluster' } },
        { code: 2, name: 'schema violation', message: 'schema violation (config.policy: expected one of: local, redis)', fields: { config: { policy: 'expected one of: local, redis' } } },
      ],
      [
        'no_consumer',
        { name: 'acl', config: { allow: ['a'] }, consumer: { username: 'alice' } },
        { code: 2, name: 'schema violation', message: 'schema violation (consumer: value must be null)', fields: { consumer: 'value must be null' } },
      ],
    ])('%s', async (_title, body, expected) => {
      const res = await admin.json('POST', '/plugins', body);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual(expected);
      expect((await store.readHead()).version).toBe(3);
    });

    it('PATCH with a config that is not a record changes nothing (#9224)', async () => {
      const plugin = (await admin.json('POST', '/plugins', { name: 'key-auth', config: { key_names: ['testkey'] } })).json();
      const res = await admin.json('PATCH', `/plugins/${plugin.id}`, { config: 'bar' });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ code: 2, name: 'schema violation', message: 'schema violation (config: expected a record)', fields: { config: 'expected a record' } });
      expect((await admin.json('GET', `/plugins/${plugin.id}`)).json().config.key_names).toEqual(['testkey']);
      // The config stays in schema order through a PATCH (its bytes, and hash, do not depend on the request).
      const patched = await admin.json('PATCH', `/plugins/${plugin.id}`, { config: { realm: 'r', hide_credentials: true } });
      expect(Object.keys(patched.json().config)).toEqual(['key_names', 'hide_credentials', 'anonymous', 'key_in_header', 'key_in_query', 'key_in_body', 'run_on_preflight', 'realm']);
      const missing = await admin.json('PATCH', '/plugins/f4aecadc-05c7-11e6-8d41-1f3b3d5fa15c', { enabled: false });
      expect(missing.statusCode).toBe(404);
    });

    it('PATCH learns the plugin from the stored row and merges nested config', async () => {
      const plugin = (await admin.json('POST', '/plugins', { name: 'rate-limiting', config: { minute: 6, policy: 'redis', redis: { host: 'r.test' } } })).json();
      const res = await admin.json('PATCH', `/plugins/${plugin.id}`, { config: { redis: { port: 7000 } } });
      expect(res.statusCode).toBe(200);
      expect(res.json().config).toMatchObject({ minute: 6, policy: 'redis', redis: { host: 'r.test', port: 7000, timeout: 2000 } });
      const bad = await admin.json('PATCH', `/plugins/${plugin.id}`, { config: { hour: 1 } });
      expect(bad.json().message).toBe('schema violation (config: The limit for hour(1.0) cannot be lower than the limit for minute(6.0))');
    });
  });

  describe('uniqueness: one instance per (name, route, service, consumer)', () => {
    it("answers Kong's 409 naming the cache key, null scopes included", async () => {
      expect((await admin.json('POST', `/services/${serviceId}/plugins`, { name: 'basic-auth' })).statusCode).toBe(201);
      const dup = await admin.json('POST', '/plugins', { name: 'basic-auth', service: { id: serviceId } });
      expect(dup.statusCode).toBe(409);
      expect(dup.json()).toEqual({
        code: 5,
        name: 'unique constraint violation',
        message: `UNIQUE violation detected on '{consumer=null,name="basic-auth",route=null,service={id="${serviceId}"}}'`,
        fields: { consumer: null, name: 'basic-auth', route: null, service: { id: serviceId } },
      });

      expect((await admin.json('POST', `/consumers/alice/plugins`, { name: 'rate-limiting', config: { second: 1 } })).statusCode).toBe(201);
      const byConsumer = await admin.json('POST', '/plugins', { name: 'rate-limiting', consumer: { id: consumerId }, config: { minute: 1 } });
      expect(byConsumer.statusCode).toBe(409);
      expect(byConsumer.json().message).toBe(`UNIQUE violation detected on '{consumer={id="${consumerId}"},name="rate-limiting",route=null,service=null}'`);

      // Global instances conflict too: nulls are not distinct.
      expect((await admin.json('POST', '/plugins', { name: 'acl', config: { allow: ['a'] } })).statusCode).toBe(201);
      const global = await admin.json('PUT', '/plugins/00000000-0000-4000-8000-0000000000ee', { name: 'acl', config: { deny: ['b'] } });
      expect(global.statusCode).toBe(409);
      expect(global.json().fields).toEqual({ consumer: null, name: 'acl', route: null, service: null });
      expect((await store.readHead()).version).toBe(6);

      await admin.json('POST', `/routes/${routeId}/plugins`, { name: 'acl', instance_name: 'gate', config: { allow: ['a'] } });
      const named = await admin.json('POST', `/services/${serviceId}/plugins`, { name: 'acl', instance_name: 'gate', config: { allow: ['a'] } });
      expect(named.statusCode).toBe(409);
      expect(named.json()).toEqual({ code: 5, name: 'unique constraint violation', message: `UNIQUE violation detected on '{instance_name="gate"}'`, fields: { instance_name: 'gate' } });
    });
  });

  describe("Kong's protocol check against routes", () => {
    it('refuses a plugin sharing no protocol with its route, or with any route of its service', async () => {
      const onRoute = await admin.json('POST', `/routes/${routeId}/plugins`, { name: 'key-auth', protocols: ['grpc'] });
      expect(onRoute.statusCode).toBe(400);
      expect(onRoute.json()).toEqual({
        code: 2,
        name: 'schema violation',
        message: "schema violation (protocols: must match the associated route's protocols)",
        fields: { protocols: "must match the associated route's protocols" },
      });
      const onService = await admin.json('POST', '/plugins', { name: 'key-auth', service: { id: serviceId }, protocols: ['grpcs'] });
      expect(onService.statusCode).toBe(400);
      expect(onService.json().fields).toEqual({ protocols: "must match the protocols of at least one route pointing to this Plugin's service" });

      // A service without routes takes any protocols; PATCH is checked when it changes the protocols.
      const lonely = (await admin.json('POST', '/services', { host: 'lonely.test' })).json();
      const plugin = (await admin.json('POST', '/plugins', { name: 'key-auth', service: { id: lonely.id }, protocols: ['grpc'] })).json();
      expect(plugin.protocols).toEqual(['grpc']);
      const http = (await admin.json('POST', `/routes/${routeId}/plugins`, { name: 'key-auth', protocols: ['https'] })).json();
      expect((await admin.json('PATCH', `/plugins/${http.id}`, { protocols: ['grpcs'] })).statusCode).toBe(400);
      expect((await admin.json('PATCH', `/plugins/${http.id}`, { protocols: ['http'] })).statusCode).toBe(200);
    });
  });

  describe('deprecated shorthands (RL12)', () => {
    it('accepts redis_* and echoes them beside config.redis.* on POST, PATCH and GET, never storing them', async () => {
      const created = await admin.json('POST', '/plugins', { name: 'rate-limiting', config: { minute: 6, policy: 'redis', redis_host: 'r.test', redis_port: 6380 } });
      expect(created.statusCode).toBe(201);
      expect(created.json().config).toMatchObject({ redis: { host: 'r.test', port: 6380 }, redis_host: 'r.test', redis_port: 6380, redis_timeout: 2000 });
      const id = created.json().id;
      const patched = await admin.json('PATCH', `/plugins/${id}`, { config: { redis_host: 'other.test' } });
      expect(patched.json().config).toMatchObject({ redis: { host: 'other.test', port: 6380 }, redis_host: 'other.test' });
      expect((await admin.json('GET', `/plugins/${id}`)).json().config).toMatchObject({ redis: { host: 'other.test' }, redis_host: 'other.test' });
      expect((await admin.json('GET', '/plugins')).json().data[0].config.redis_host).toBe('other.test');
      const stored = await store.find('plugins', { id });
      expect(stored?.config).not.toHaveProperty('redis_host');
      const mismatch = await admin.json('PATCH', `/plugins/${id}`, { config: { redis_host: 'a.test', redis: { host: 'b.test' } } });
      expect(mismatch.json()).toMatchObject({
        message: 'schema violation (redis_host: both deprecated and new field are used but their values mismatch: redis_host = a.test vs redis.host = b.test)',
      });
    });
  });

  describe('nested endpoints and cascades', () => {
    it('/routes, /services and /consumers/{x}/plugins list and create their own; another parent’s plugin is 404', async () => {
      const onRoute = await admin.json('POST', `/routes/external/plugins`, { name: 'rate-limiting', config: { minute: 6 } });
      expect(onRoute.statusCode).toBe(201);
      expect(onRoute.json().route).toEqual({ id: routeId });
      const onService = (await admin.json('POST', `/services/svc/plugins`, { name: 'key-auth' })).json();
      const onConsumer = (await admin.json('POST', `/consumers/${consumerId}/plugins`, { name: 'rate-limiting', config: { hour: 100 } })).json();
      expect(onConsumer.consumer).toEqual({ id: consumerId });
      expect((await admin.json('POST', `/consumers/alice/plugins`, { name: 'key-auth' })).json().fields).toEqual({ consumer: 'value must be null' });

      expect((await admin.json('GET', `/routes/${routeId}/plugins`)).json().data.map((p: { id: string }) => p.id)).toEqual([onRoute.json().id]);
      expect((await admin.json('GET', `/services/${serviceId}/plugins`)).json().data.map((p: { id: string }) => p.id)).toEqual([onService.id]);
      expect((await admin.json('GET', `/services/${serviceId}/plugins/${onRoute.json().id}`)).statusCode).toBe(404);
      expect((await admin.json('GET', `/consumers/alice/plugins/${onService.id}`)).statusCode).toBe(404);
      expect((await admin.json('GET', `/consumers/alice/plugins/${onConsumer.id}`)).json()).toMatchObject({ id: onConsumer.id });
      const patched = await admin.json('PATCH', `/routes/${routeId}/plugins/${onRoute.json().id}`, { enabled: false });
      expect(patched.json()).toMatchObject({ enabled: false, route: { id: routeId } });
      expect((await admin.json('DELETE', `/services/${serviceId}/plugins/${onRoute.json().id}`)).statusCode).toBe(404);
      expect((await admin.json('DELETE', `/services/${serviceId}/plugins/${onService.id}`)).statusCode).toBe(204);
    });

    it('deleting a route, service or consumer deletes its plugins, each delete in the change log', async () => {
      const onRoute = (await admin.json('POST', `/routes/${routeId}/plugins`, { name: 'key-auth' })).json();
      const onService = (await admin.json('POST', `/services/${serviceId}/plugins`, { name: 'basic-auth' })).json();
      const onConsumer = (await admin.json('POST', `/consumers/${consumerId}/plugins`, { name: 'rate-limiting', config: { second: 1 } })).json();
      const head = (await store.readHead()).version;

      const deleted = await admin.json('DELETE', `/routes/${routeId}`);
      expect(deleted.statusCode).toBe(204);
      expect((await store.readChanges(head, head + 1)).map((c) => [c.entityType, c.entityId, c.op])).toEqual([
        ['plugins', onRoute.id, 'delete'],
        ['routes', routeId, 'delete'],
      ]);
      expect((await admin.json('DELETE', `/services/${serviceId}`)).statusCode).toBe(204);
      expect((await admin.json('DELETE', `/consumers/${consumerId}`)).statusCode).toBe(204);
      const changes = await store.readChanges(head + 1, head + 3);
      expect(changes.map((c) => [c.entityType, c.entityId, c.op])).toEqual([
        ['plugins', onService.id, 'delete'],
        ['services', serviceId, 'delete'],
        ['plugins', onConsumer.id, 'delete'],
        ['consumers', consumerId, 'delete'],
      ]);
      expect((await admin.json('GET', '/plugins')).json()).toEqual({ data: [], next: null });
    });
  });

  describe('plugin and schema endpoints', () => {
    it('GET /plugins/enabled and GET / list the plugins available and in use', async () => {
      expect((await admin.json('GET', '/plugins/enabled')).json()).toEqual({ enabled_plugins: [...PLUGIN_DESCRIPTORS.keys()] });
      await admin.json('POST', '/plugins', { name: 'key-auth' });
      await admin.json('POST', `/routes/${routeId}/plugins`, { name: 'rate-limiting', config: { minute: 6 } });
      await admin.json('POST', `/services/${serviceId}/plugins`, { name: 'rate-limiting', config: { minute: 60 } });
      const root = (await admin.json('GET', '/')).json();
      expect(root.plugins.available_on_server).toEqual({
        'key-auth': { version: '3.10.0', priority: 1250 },
        'basic-auth': { version: '3.10.0', priority: 1100 },
        acl: { version: '3.10.0', priority: 950 },
        'rate-limiting': { version: '3.10.0', priority: 910 },
      });
      expect(root.plugins.enabled_in_cluster).toEqual(['key-auth', 'rate-limiting']);
    });

    it('GET /schemas/plugins/{name}, the legacy /plugins/schema/{name}, and /schemas/{kind}', async () => {
      const schema = await admin.json('GET', '/schemas/plugins/acl');
      expect(schema.statusCode).toBe(200);
      expect(schema.json().fields.map((f: object) => Object.keys(f)[0])).toEqual(['consumer', 'protocols', 'config']);
      expect(schema.json().entity_checks).toEqual([{ only_one_of: ['config.allow', 'config.deny'] }, { at_least_one_of: ['config.allow', 'config.deny'] }]);
      for (const path of ['/schemas/plugins/foobar', '/plugins/schema/foobar']) {
        const missing = await admin.json('GET', path);
        expect(missing.statusCode).toBe(404);
        expect(missing.json()).toEqual({ message: "No plugin named 'foobar'" });
      }
      const legacy = (await admin.json('GET', '/plugins/schema/basic-auth')).json();
      expect(legacy).toEqual({
        fields: [
          { anonymous: { type: 'string', description: expect.any(String) } },
          { hide_credentials: { type: 'boolean', required: true, default: false, description: expect.any(String) } },
          { realm: { type: 'string', required: true, default: 'service', description: expect.any(String) } },
        ],
        entity_checks: [],
      });
      const routes = (await admin.json('GET', '/schemas/routes')).json();
      expect(routes.fields.find((f: object) => 'service' in f)).toEqual({ service: { type: 'foreign', reference: 'services' } });
      expect((await admin.json('GET', '/schemas/consumers')).json().entity_checks).toEqual([{ at_least_one_of: ['custom_id', 'username'] }]);
      expect((await admin.json('GET', '/schemas/not-present')).json()).toEqual({ message: "No entity named 'not-present'" });
    });

    it('POST /schemas/plugins/validate and /schemas/{kind}/validate check without writing', async () => {
      const ok = await admin.json('POST', '/schemas/plugins/validate', { name: 'key-auth', config: { key_names: ['foo', 'bar'], hide_credentials: true } });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ message: 'schema validation successful' });
      const bad = await admin.json('POST', '/schemas/plugins/validate', { name: 'key-auth', config: { keys: 'foo' } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toEqual({ code: 2, name: 'schema violation', message: 'schema violation (config.keys: unknown field)', fields: { config: { keys: 'unknown field' } } });
      expect((await admin.json('POST', '/schemas/services/validate', { host: 'example.com' })).json()).toEqual({ message: 'schema validation successful' });
      expect((await admin.json('POST', '/schemas/nope/validate', {})).statusCode).toBe(404);
      expect((await store.readHead()).version).toBe(3);
    });
  });
});
