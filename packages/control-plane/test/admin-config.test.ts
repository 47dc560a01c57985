import { sql } from 'kysely';
import { parse as parseYaml } from 'yaml';
import { beforeEach, describe, expect, it } from 'vitest';
import { configHashOf } from '../src/declarative/index.js';
import type { Store } from '../src/store/index.js';
import { type TestAdmin, buildTestAdmin } from './support/admin.js';
import { describeEachDatabase } from './support/databases.js';

/** The config hash of everything stored, recomputed from the tables (as a replica's mirror would). */
async function storedHash(store: Store): Promise<string> {
  return configHashOf((await store.loadSnapshot()).entities);
}

async function changeLogRows(store: Store, version: number): Promise<{ entity_type: string; op: string }[]> {
  return store.db.selectFrom('config_changes').select(['entity_type', 'op']).where('version', '=', version).orderBy('seq').execute();
}

/** One entity of every kind, made through the Admin API. */
async function populate(admin: TestAdmin): Promise<void> {
  const ok = async (method: 'POST' | 'PUT', url: string, body: unknown) => {
    const res = await admin.json(method, url, body);
    expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
    return res.json();
  };
  const service = await ok('POST', '/services', { name: 'billing', url: 'http://billing.test:8080/v1', tags: ['team-a'] });
  await ok('POST', `/services/${service.id}/routes`, { name: 'invoices', paths: ['/invoices'], headers: { 'x-tenant': ['a', 'b'] } });
  await ok('POST', '/routes', { name: 'orphan', hosts: ['orphan.test'] });
  const consumer = await ok('POST', '/consumers', { username: 'alice', custom_id: 'a-1' });
  await ok('POST', '/plugins', { name: 'rate-limiting', service: { id: service.id }, config: { minute: 10 } });
  await ok('POST', `/consumers/${consumer.id}/key-auth`, { key: 'alice-key-0123456789' });
  await ok('POST', `/consumers/${consumer.id}/basic-auth`, { username: 'alice', password: 's3cret' });
  await ok('POST', `/consumers/${consumer.id}/acls`, { group: 'billing-readers' });
}

describeEachDatabase('admin api: /config (declarative configuration)', (env) => {
  let store: Store;
  let admin: TestAdmin;

  beforeEach(async () => {
    await env.reset();
    store ??= await env.openStore();
    admin ??= await buildTestAdmin(store);
  });

  const post = (url: string, document: unknown) => admin.json('POST', url, document);

  it('exports every kind flat in Kong’s format; importing the export into an empty database gives the same config hash, in one version', async () => {
    await populate(admin);
    const before = await storedHash(store);
    const exported = await admin.json('GET', '/config');
    expect(exported.statusCode).toBe(200);
    expect(exported.headers['x-sluice-config-hash']).toBe(before);
    const document = exported.json();
    expect(Object.keys(document)).toEqual(['_format_version', '_transform', 'services', 'routes', 'consumers', 'plugins', 'keyauth_credentials', 'basicauth_credentials', 'acls']);
    expect(document._format_version).toBe('3.0');
    expect(document._transform).toBe(false);
    const invoices = document.routes.find((r: { name: string }) => r.name === 'invoices');
    expect(invoices.service).toBe(document.services[0].id); // foreign keys as ids, as Kong's export
    expect(document.routes.find((r: { name: string }) => r.name === 'orphan')).not.toHaveProperty('service'); // nulls left out
    expect(document.basicauth_credentials[0].password).toMatch(/^\$scrypt\$ln=14,r=8,p=1\$/); // as stored: the hash

    await env.reset();
    expect(await storedHash(store)).not.toBe(before);
    const imported = await post('/config', document);
    expect(imported.statusCode, imported.body).toBe(201);
    expect(imported.headers['x-sluice-config-version']).toBe('1');
    expect(imported.json()).toMatchObject({ version: 1, changed: true, hash: before, counts: { create: 8, update: 0, delete: 0 } });
    expect(await storedHash(store)).toBe(before);
    const rows = await changeLogRows(store, 1);
    expect(rows).toHaveLength(8);
    expect(new Set(rows.map((r) => r.entity_type)).size).toBe(7);
    expect((await store.readHead()).version).toBe(1);

    // The same file again changes nothing and commits no version; with check_hash=1 that is Kong's 304.
    const again = await post('/config', document);
    expect(again.json()).toMatchObject({ version: 1, changed: false, counts: { create: 0, update: 0, delete: 0 } });
    const checked = await post('/config?check_hash=1', document);
    expect(checked.statusCode).toBe(304);
    expect(checked.body).toBe('');
    expect((await store.readHead()).version).toBe(1);
  });

  it('exports YAML when Accept asks for it, and imports YAML bodies and Kong’s {"config": "<text>"}', async () => {
    await populate(admin);
    const yaml = await admin.request({ method: 'GET', url: '/config', headers: { accept: 'application/yaml' } });
    expect(yaml.headers['content-type']).toMatch(/^application\/yaml/);
    expect(yaml.body).toMatch(/^_format_version: "3.0"\n_transform: false\nservices:\n/);
    const hash = await storedHash(store);
    await env.reset();
    const res = await admin.request({ method: 'POST', url: '/config', payload: yaml.body, headers: { 'content-type': 'application/yaml' } });
    expect(res.statusCode, res.body).toBe(201);
    expect(await storedHash(store)).toBe(hash);
    await env.reset();
    const wrapped = await post('/config', { config: yaml.body });
    expect(wrapped.statusCode, wrapped.body).toBe(201);
    expect(await storedHash(store)).toBe(hash);
    expect(parseYaml(yaml.body)).toEqual((await admin.json('GET', '/config')).json());
  });

  it('applies creates, updates and deletes of entities the file leaves out as one version, one delta', async () => {
    await populate(admin);
    const head = (await store.readHead()).version;
    const document = (await admin.json('GET', '/config')).json();
    const res = await post('/config', {
      _format_version: '3.0',
      services: [{ name: 'billing', url: 'http://billing.test:9090/v2', routes: [{ name: 'invoices', paths: ['/invoices', '/bills'] }] }],
      consumers: [{ username: 'bob' }],
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ version: head + 1, counts: { create: 1, update: 2, delete: 6 } });
    const after = (await admin.json('GET', '/config')).json();
    // Matched by name: the service and its route keep their ids and created_at.
    expect(after.services).toEqual([expect.objectContaining({ id: document.services[0].id, created_at: document.services[0].created_at, port: 9090, path: '/v2' })]);
    expect(after.routes.map((r: { name: string; id: string }) => [r.name, r.id])).toEqual([['invoices', document.routes.find((r: { name: string }) => r.name === 'invoices').id]]);
    expect(after.consumers.map((c: { username: string }) => c.username)).toEqual(['bob']);
    for (const kind of ['plugins', 'keyauth_credentials', 'basicauth_credentials', 'acls']) expect(after).not.toHaveProperty(kind);
    const rows = await changeLogRows(store, head + 1);
    expect(rows.filter((r) => r.op === 'delete')).toHaveLength(6);
    expect(rows.filter((r) => r.op === 'upsert')).toHaveLength(3);
    expect((await store.readHead()).version).toBe(head + 1);
  });

  it('moves a name from a deleted entity to a new one and routes from a deleted service to a new one in one import', async () => {
    await populate(admin);
    const document = (await admin.json('GET', '/config')).json();
    const oldId = document.services[0].id;
    const newId = '7f0a4c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b';
    document.services[0].id = newId; // same name, another entity: the old one goes, its name is taken over
    for (const route of document.routes) if (route.service === oldId) route.service = newId;
    for (const plugin of document.plugins) if (plugin.service === oldId) plugin.service = newId;
    const res = await post('/config', document);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().counts).toEqual({ create: 1, update: 2, delete: 1 });
    const after = (await admin.json('GET', '/config')).json();
    expect(after.services.map((s: { id: string; name: string }) => [s.id, s.name])).toEqual([[newId, 'billing']]);
    expect(after.routes.find((r: { name: string }) => r.name === 'invoices').service).toBe(newId);

    // Two kept routes swap their names in one file.
    const [a, b] = after.routes as { id: string; name: string }[];
    [a!.name, b!.name] = [b!.name, a!.name];
    const swapped = await post('/config', after);
    expect(swapped.statusCode, swapped.body).toBe(201);
    expect(swapped.json().counts).toEqual({ create: 0, update: 2, delete: 0 });
    const names = new Map(((await admin.json('GET', '/config')).json().routes as { id: string; name: string }[]).map((r) => [r.id, r.name]));
    expect([names.get(a!.id), names.get(b!.id)]).toEqual([a!.name, b!.name]);
  });

  it('refuses an invalid file with Kong’s code 14 naming each faulty entity, and writes nothing', async () => {
    await populate(admin);
    const head = await store.readHead();
    const hash = await storedHash(store);
    const res = await post('/config', {
      _format_version: '3.0',
      services: [{ name: 'ok', host: 'ok.test' }, { name: 'bad', port: 80 }],
      routes: [{ name: 'r', paths: ['/r'], service: 'missing' }, { name: 'dangling', paths: ['/d'], service: { id: '11111111-2222-4333-8444-555555555555' } }],
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body).toMatchObject({ code: 14, name: 'invalid declarative configuration' });
    expect(body.message).toMatch(/^declarative config is invalid: services\[1\]: schema violation \(host: required field missing\); routes\[0\]: service "missing" does not exist; routes\[1\]: service: the foreign key/);
    expect(body.fields.services).toEqual([null, { host: 'required field missing' }]);
    expect(body.flattened_errors).toEqual([
      expect.objectContaining({ entity_type: 'service', entity_name: 'bad', entity_path: 'services[1]', errors: [{ type: 'field', field: 'host', message: 'required field missing' }] }),
      expect.objectContaining({ entity_type: 'route', entity_name: 'r', entity_path: 'routes[0]', errors: [{ type: 'entity', message: 'service "missing" does not exist' }] }),
      expect.objectContaining({ entity_type: 'route', entity_name: 'dangling', entity_path: 'routes[1]', errors: [expect.objectContaining({ type: 'field', field: 'service' })] }),
    ]);
    expect(await store.readHead()).toEqual(head);
    expect(await storedHash(store)).toBe(hash);

    for (const bad of [{ services: [] }, { _format_version: '2.1' }, { _format_version: '3.0', upstreams: [] }]) {
      const refused = await post('/config', bad);
      expect(refused.statusCode).toBe(400);
      expect(refused.json().code).toBe(14);
    }
    const garbage = await admin.request({ method: 'POST', url: '/config', payload: 'services: [', headers: { 'content-type': 'application/yaml' } });
    expect(garbage.json()).toMatchObject({ code: 14, message: expect.stringMatching(/neither JSON nor YAML/) });
    expect(await store.readHead()).toEqual(head);
  });

  it('hashes clear-text basic-auth passwords of a file without `_transform: false`, and refuses them in one with it', async () => {
    const passwords = async () => (await sql<{ password: string }>`select password from basicauth_credentials`.execute(store.db)).rows.map((r) => r.password);
    const consumer = { username: 'carol', basicauth_credentials: [{ username: 'carol', password: 'clear-text' }] };
    const refused = await post('/config', { _format_version: '3.0', _transform: false, consumers: [consumer] });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().code).toBe(14);
    expect(refused.body).toContain('expected a password hash');
    expect(await passwords()).toEqual([]);
    const kongSha1 = '0123456789abcdef0123456789abcdef01234567';
    const stored = await post('/config', { _format_version: '3.0', _transform: false, consumers: [{ ...consumer, basicauth_credentials: [{ username: 'carol', password: kongSha1 }] }] });
    expect(stored.statusCode, stored.body).toBe(201);
    expect(await passwords()).toEqual([kongSha1]);
    const hashed = await post('/config', { _format_version: '3.0', consumers: [consumer] });
    expect(hashed.statusCode, hashed.body).toBe(201);
    const [password] = await passwords();
    expect(password).toMatch(/^\$scrypt\$/);
    expect(password).not.toContain('clear-text');
  });

  it('shows what an import would change with ?dry_run=1, without writing', async () => {
    await populate(admin);
    const head = await store.readHead();
    const res = await post('/config?dry_run=1', { _format_version: '3.0', services: [{ name: 'billing', url: 'http://billing.test:8081/v1', tags: ['team-a'] }] });
    expect(res.statusCode, res.body).toBe(200);
    const { counts, changes } = res.json();
    expect(counts).toEqual({ create: 0, update: 1, delete: 7 });
    expect(changes[0]).toEqual({ kind: 'services', op: 'update', id: expect.any(String), name: 'billing', fields: ['port'] });
    expect(await store.readHead()).toEqual(head);
  });

  it('refuses an entity endpoint a YAML body (415): only /config reads YAML', async () => {
    const res = await admin.request({ method: 'POST', url: '/services', payload: 'name: x\nhost: x.test\n', headers: { 'content-type': 'application/yaml' } });
    expect(res.statusCode).toBe(415);
  });

  // 10,000 routes on the PostgreSQL server; embedded PGlite (WebAssembly, several times slower) gets 2,000.
  it('imports 10,000 routes in one version within seconds', async () => {
    const perService = env.kind === 'postgres' ? 100 : 20;
    const services = Array.from({ length: 100 }, (_, s) => ({
      name: `svc-${s}`,
      url: `http://svc-${s}.test:8080`,
      routes: Array.from({ length: perService }, (_, r) => ({ name: `route-${s}-${r}`, paths: [`/s${s}/r${r}`], methods: ['GET'] })),
    }));
    const started = performance.now();
    const res = await post('/config', { _format_version: '3.0', services });
    const ms = performance.now() - started;
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().counts).toEqual({ create: 100 + 100 * perService, update: 0, delete: 0 });
    expect((await store.readHead()).version).toBe(1);
    console.info(`[bench] ${env.kind}: imported 100 services + ${100 * perService} routes in ${Math.round(ms)} ms`);
    expect(ms).toBeLessThan(60_000);
    // Importing it again (everything compared, nothing written) is as quick.
    const againStarted = performance.now();
    const again = await post('/config', { _format_version: '3.0', services });
    expect(again.json()).toMatchObject({ changed: false, version: 1 });
    console.info(`[bench] ${env.kind}: the same file again (nothing written) in ${Math.round(performance.now() - againStarted)} ms`);
  }, 120_000);
});
