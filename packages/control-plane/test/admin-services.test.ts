import { beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../src/store/index.js';
import { type TestAdmin, buildTestAdmin } from './support/admin.js';
import { describeEachDatabase } from './support/databases.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describeEachDatabase('admin api: services', (env) => {
  let store: Store;
  let admin: TestAdmin;

  beforeEach(async () => {
    await env.reset();
    store ??= await env.openStore();
    admin ??= await buildTestAdmin(store);
  });

  /** Asserts a rejected write changed nothing: same version, no service rows. */
  async function expectUnchanged(before: number, serviceCount = 0): Promise<void> {
    expect((await store.readHead()).version).toBe(before);
    expect((await store.loadSnapshot()).entities.services).toHaveLength(serviceCount);
  }

  describe('create', () => {
    it('expands the url shorthand and applies every default', async () => {
      const res = await admin.json('POST', '/services', { name: 'example', url: 'https://example.com:8443/api/v1?q=1#frag' });
      expect(res.statusCode).toBe(201);
      expect(res.headers['x-sluice-config-version']).toBe('1');
      const body = res.json();
      expect(body).toEqual({
        id: expect.stringMatching(UUID),
        created_at: expect.any(Number),
        updated_at: expect.any(Number),
        name: 'example',
        retries: 5,
        protocol: 'https',
        host: 'example.com',
        port: 8443,
        path: '/api/v1',
        connect_timeout: 60000,
        write_timeout: 60000,
        read_timeout: 60000,
        tags: null,
        client_certificate: null,
        tls_verify: null,
        tls_verify_depth: null,
        ca_certificates: null,
        enabled: true,
      });
      expect(body).not.toHaveProperty('url');
      expect(Number.isInteger(body.created_at)).toBe(true);
    });

    it.each([
      ['http://x.test', { protocol: 'http', port: 80, path: null }],
      ['https://x.test', { protocol: 'https', port: 443, path: null }],
      ['//x.test:443', { protocol: 'https', port: 443, path: null }],
      ['http://x.test:443', { protocol: 'http', port: 443, path: null }],
      ['https://x.test:80/', { protocol: 'https', port: 80, path: '/' }],
      ['http://[::1]:9000/p', { protocol: 'http', host: '::1', port: 9000, path: '/p' }],
    ])('url %s', async (url, expected) => {
      const res = await admin.json('POST', '/services', { url });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject(expected);
    });

    it('refuses an invalid url with two schema violations and writes nothing', async () => {
      const res = await admin.json('POST', '/services', { url: 'invalid url' });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        code: 2,
        name: 'schema violation',
        message: '2 schema violations (host: required field missing; path: should start with: /)',
        fields: { host: 'required field missing', path: 'should start with: /' },
      });
      await expectUnchanged(0);
    });

    it("reports Kong's messages for every rule, sorted, with entity errors first", async () => {
      const res = await admin.json('POST', '/services', {
        host: 'exa mple.com',
        port: '80',
        protocol: 'tcp',
        path: '/a',
        retries: 40000,
        connect_timeout: 0,
        name: 'bad name',
        tags: ['ok', 'a,b'],
        foo: 1,
      });
      expect(res.statusCode).toBe(400);
      const body = res.json();
      expect(body.code).toBe(2);
      expect(body.fields).toEqual({
        '@entity': ["failed conditional validation given value of field 'protocol'"],
        host: 'invalid value: exa mple.com',
        port: 'expected an integer',
        path: 'value must be null',
        retries: 'value should be between 0 and 32767',
        connect_timeout: 'value should be between 1 and 2147483646',
        name: "invalid value 'bad name': the only accepted ascii characters are alphanumerics or ., -, _, and ~",
        tags: [null, "invalid tag 'a,b': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"],
        foo: 'unknown field',
      });
      expect(body.message).toBe(
        "9 schema violations (failed conditional validation given value of field 'protocol'; " +
          'connect_timeout: value should be between 1 and 2147483646; foo: unknown field; host: invalid value: exa mple.com; ' +
          "name: invalid value 'bad name': the only accepted ascii characters are alphanumerics or ., -, _, and ~; " +
          'path: value must be null; port: expected an integer; retries: value should be between 0 and 32767; ' +
          "tags.2: invalid tag 'a,b': expected printable ascii (except `,` and `/`) or valid utf-8 sequences)",
      );
      await expectUnchanged(0);
    });

    it.each([
      [{ host: 'a.test:80' }, { host: 'must not have a port' }],
      [{ host: 'a.test', path: 'x' }, { path: 'should start with: /' }],
      [{ host: 'a.test', path: '/a//b' }, { path: 'must not have empty segments' }],
      [{ host: 'a.test', path: '/a b' }, { path: "invalid path: '/a b' (characters outside of the reserved list of RFC 3986 found)" }],
      [{ host: 'a.test', path: '/a%2w' }, { path: "invalid url-encoded value: '%2w'" }],
      [{ host: 'a.test', protocol: 'ftp' }, { protocol: 'expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp' }],
      [{ host: 'a.test', port: 70000 }, { port: 'value should be between 0 and 65535' }],
      [{ host: 'a.test', enabled: 'yes' }, { enabled: 'expected a boolean' }],
      [{ host: 'a.test', enabled: null }, { enabled: 'required field missing' }],
      [{ host: 'a.test', name: '' }, { name: 'length must be at least 1' }],
      [{ host: 'a.test', tags: 'a' }, { tags: 'expected a set' }],
      [{ host: 'a.test', id: 'nope' }, { id: 'expected a valid UUID' }],
      [{ host: 'a.test', tls_verify: true }, { tls_verify: 'value must be null', '@entity': ["failed conditional validation given value of field 'protocol'"] }],
    ])('refuses %j', async (input, fields) => {
      const res = await admin.json('POST', '/services', input);
      expect(res.statusCode).toBe(400);
      expect(res.json().fields).toEqual(fields);
      await expectUnchanged(0);
    });

    it('accepts a service on a non-HTTP protocol, as Kong does', async () => {
      const res = await admin.json('POST', '/services', { protocol: 'grpc', host: 'grpc.test', port: 50051 });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ protocol: 'grpc', path: null });
    });

    it('takes a client-supplied id, and refuses it again with a primary key violation', async () => {
      const id = '0a1b2c3d-0000-4000-8000-000000000001';
      expect((await admin.json('POST', '/services', { id, host: 'a.test' })).statusCode).toBe(201);
      const dup = await admin.json('POST', '/services', { id, host: 'b.test' });
      expect(dup.statusCode).toBe(400);
      expect(dup.json()).toEqual({
        code: 3,
        name: 'primary key violation',
        message: `primary key violation on key '{id="${id}"}'`,
        fields: { id },
      });
      await expectUnchanged(1, 1);
    });

    it('answers 409 on a duplicate name', async () => {
      await admin.json('POST', '/services', { name: 'dup', host: 'a.test' });
      const res = await admin.json('POST', '/services', { name: 'dup', host: 'b.test' });
      expect(res.statusCode).toBe(409);
      expect(res.json()).toEqual({
        code: 5,
        name: 'unique constraint violation',
        message: `UNIQUE violation detected on '{name="dup"}'`,
        fields: { name: 'dup' },
      });
      await expectUnchanged(1, 1);
    });

    it('refuses a client certificate: there is no certificates entity to reference', async () => {
      const cert = '0a1b2c3d-0000-4000-8000-0000000000cc';
      const res = await admin.json('POST', '/services', { url: 'https://a.test', client_certificate: { id: cert } });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 4, fields: { client_certificate: { id: cert } } });
      await expectUnchanged(0);
    });
  });

  describe('request bodies', () => {
    it('converts form values to the field types (url-encoded)', async () => {
      const res = await admin.request({
        method: 'POST',
        url: '/services',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'name=form&host=example.org&port=8080&enabled=false&tags=a&tags[]=b&retries=&connect_timeout=1000',
      });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ name: 'form', port: 8080, enabled: false, tags: ['a', 'b'], retries: 5, connect_timeout: 1000 });
    });

    it('converts form values to the field types (multipart)', async () => {
      const boundary = 'XyZ';
      const part = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
      const res = await admin.request({
        method: 'POST',
        url: '/services',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        payload: `${part('name', 'multi')}${part('url', 'http://m.test:81/x')}${part('tags[1]', 't1')}--${boundary}--\r\n`,
      });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ name: 'multi', port: 81, path: '/x', tags: ['t1'] });
    });

    it('does not convert JSON values', async () => {
      const res = await admin.json('POST', '/services', { host: 'a.test', port: '80' });
      expect(res.json().fields).toEqual({ port: 'expected an integer' });
    });

    it('answers 415 to other content types and to a body without one', async () => {
      const text = await admin.request({ method: 'POST', url: '/services', headers: { 'content-type': 'text/plain' }, payload: 'host=a' });
      expect(text.statusCode).toBe(415);
      expect(text.body).toBe('');
      const untyped = await admin.request({ method: 'POST', url: '/services', payload: 'host=a' });
      expect(untyped.statusCode).toBe(415);
      await expectUnchanged(0);
    });

    it('answers Cannot parse JSON body to broken or empty JSON', async () => {
      for (const payload of ['{"host":', '', '[1]', '"x"']) {
        const res = await admin.request({ method: 'POST', url: '/services', headers: { 'content-type': 'application/json' }, payload });
        expect(res.statusCode).toBe(400);
        expect(res.json()).toEqual({ message: 'Cannot parse JSON body' });
      }
      await expectUnchanged(0);
    });

    it('answers 413 above the body limit', async () => {
      const small = await buildTestAdmin(store, { limits: { bodyLimitBytes: 64 } });
      const res = await small.json('POST', '/services', { host: 'a.test', name: 'x'.repeat(100) });
      expect(res.statusCode).toBe(413);
      expect(res.json().message).toMatch(/64 bytes/);
      await expectUnchanged(0);
    });
  });

  describe('read, replace, update, delete', () => {
    it('finds a service by id, by name, by percent-encoded UTF-8 name, with a trailing slash', async () => {
      const created = (await admin.json('POST', '/services', { name: '円', host: 'a.test' })).json();
      for (const url of [`/services/${created.id}`, `/services/${created.id.toUpperCase()}`, '/services/%E5%86%86', '/services/%E5%86%86/']) {
        const res = await admin.json('GET', url);
        expect(res.statusCode, url).toBe(200);
        expect(res.json()).toEqual(created);
      }
    });

    it('answers 404 for a missing service and 400 code 10 for an invalid name', async () => {
      expect((await admin.json('GET', '/services/missing')).json()).toEqual({ message: 'Not found' });
      const res = await admin.json('GET', '/services/bad%20name');
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        code: 10,
        name: 'invalid unique name',
        message: "invalid value 'bad name': the only accepted ascii characters are alphanumerics or ., -, _, and ~",
      });
    });

    it('PUT creates (200) and then replaces every field, injecting the URL name', async () => {
      const created = await admin.json('PUT', '/services/put-me', { host: 'a.test', retries: 1, tags: ['x'] });
      expect(created.statusCode).toBe(200);
      expect(created.json()).toMatchObject({ name: 'put-me', retries: 1, tags: ['x'] });
      const replaced = await admin.json('PUT', '/services/put-me', { host: 'b.test', name: 'ignored' });
      expect(replaced.statusCode).toBe(200);
      expect(replaced.json()).toMatchObject({ id: created.json().id, name: 'put-me', host: 'b.test', retries: 5, tags: null });
      expect(replaced.json().created_at).toBe(created.json().created_at);
      expect(replaced.headers['x-sluice-config-version']).toBe('2');
    });

    it('PUT by a new name refuses a body id that another service has, instead of renaming it', async () => {
      const other = (await admin.json('POST', '/services', { name: 'other', host: 'a.test' })).json();
      const res = await admin.json('PUT', '/services/newname', { id: other.id, host: 'b.test' });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 3, fields: { id: other.id } });
      expect((await admin.json('GET', '/services/other')).json()).toEqual(other);
    });

    it('PUT by id creates with that id', async () => {
      const id = '0a1b2c3d-0000-4000-8000-0000000000aa';
      const res = await admin.json('PUT', `/services/${id}`, { host: 'a.test' });
      expect(res.statusCode).toBe(200);
      expect(res.json().id).toBe(id);
    });

    it('PATCH merges, null clears, [] is kept, and url without a path clears the path', async () => {
      const { id } = (await admin.json('POST', '/services', { name: 'p', url: 'http://a.test/base', tags: ['a'], tls_verify_depth: null })).json();
      const res = await admin.json('PATCH', `/services/${id}`, { retries: 2, tags: [] });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ name: 'p', host: 'a.test', path: '/base', retries: 2, tags: [] });
      const cleared = await admin.json('PATCH', '/services/p', { url: 'https://b.test', name: null });
      expect(cleared.json()).toMatchObject({ name: null, protocol: 'https', host: 'b.test', port: 443, path: null, retries: 2 });
    });

    it('PATCH of a missing service is 404 with the DAO body', async () => {
      const res = await admin.json('PATCH', '/services/ghost', { retries: 1 });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ code: 6, name: 'not found', message: `could not find the entity with '{name="ghost"}'`, fields: { name: 'ghost' } });
    });

    it('PATCH with invalid input writes nothing', async () => {
      await admin.json('POST', '/services', { name: 'keep', host: 'a.test' });
      const res = await admin.json('PATCH', '/services/keep', { port: -1 });
      expect(res.statusCode).toBe(400);
      expect(res.json().fields).toEqual({ port: 'value should be between 0 and 65535' });
      await expectUnchanged(1, 1);
    });

    it('DELETE is 204, idempotent, records the change, and carries the version header', async () => {
      const { id } = (await admin.json('POST', '/services', { name: 'gone', host: 'a.test' })).json();
      const res = await admin.json('DELETE', '/services/gone');
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe('');
      expect(res.headers['x-sluice-config-version']).toBe('2');
      const again = await admin.json('DELETE', `/services/${id}`);
      expect(again.statusCode).toBe(204);
      expect(again.headers['x-sluice-config-version']).toBe('2');
      expect(await store.readChanges(1, 2)).toEqual([{ version: 2, seq: 0, entityType: 'services', entityId: id, op: 'delete', entity: null }]);
    });

    it('refuses to delete a service that routes still reference', async () => {
      await admin.json('POST', '/services', { name: 'busy', host: 'a.test' });
      await admin.json('POST', '/services/busy/routes', { paths: ['/x'] });
      const res = await admin.json('DELETE', '/services/busy');
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        code: 4,
        name: 'foreign key violation',
        message: "an existing 'routes' entity references this 'services' entity",
        fields: { '@referenced_by': 'routes' },
      });
      expect((await store.readHead()).version).toBe(2);
    });
  });

  describe('lists', () => {
    it('answers an empty list exactly as Kong does', async () => {
      const res = await admin.json('GET', '/services');
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe('{"data":[],"next":null}');
    });

    it('pages with offset tokens and echoes size and tags in next', async () => {
      for (let i = 0; i < 5; i++) await admin.json('POST', '/services', { name: `s${i}`, host: 'a.test', tags: ['t'] });
      const seen: string[] = [];
      let url: string | null = '/services?size=2&tags=t';
      let pages = 0;
      while (url) {
        const res = await admin.json('GET', url);
        expect(res.statusCode).toBe(200);
        const body = res.json();
        pages++;
        seen.push(...body.data.map((s: { id: string }) => s.id));
        if (body.next) {
          expect(body.next).toBe(`/services?offset=${encodeURIComponent(body.offset)}&tags=t&size=2`);
          expect(body.data).toHaveLength(2);
        } else {
          expect(body).not.toHaveProperty('offset');
        }
        url = body.next;
      }
      expect(pages).toBe(3);
      expect(seen).toEqual([...seen].sort());
      expect(new Set(seen).size).toBe(5);
    });

    it('filters by tags: a,b means all, a/b means any', async () => {
      await admin.json('POST', '/services', { name: 'ab', host: 'a.test', tags: ['a', 'b'] });
      await admin.json('POST', '/services', { name: 'a', host: 'a.test', tags: ['a'] });
      await admin.json('POST', '/services', { name: 'c', host: 'a.test', tags: ['c'] });
      const names = async (q: string) =>
        (await admin.json('GET', `/services?tags=${q}`)).json().data.map((s: { name: string }) => s.name).sort();
      expect(await names('a,b')).toEqual(['ab']);
      expect(await names('a')).toEqual(['a', 'ab']);
      expect(await names('b/c')).toEqual(['ab', 'c']);
    });

    it.each([
      ['size=x', { code: 9, name: 'invalid size', message: 'size must be a number' }],
      ['size=0', { code: 9, name: 'invalid size', message: 'size must be an integer between 1 and 1000' }],
      ['size=1001', { code: 9, name: 'invalid size', message: 'size must be an integer between 1 and 1000' }],
      ['offset=%21%21', { code: 7, name: 'invalid offset', message: "'!!' is not a valid offset: bad base64 encoding" }],
      ['offset=aGVsbG8', { code: 7, name: 'invalid offset', message: "'aGVsbG8' is not a valid offset: bad json encoding" }],
      ['tags=', { code: 11, name: 'invalid options', message: 'invalid option (tags: cannot be null)', options: { tags: 'cannot be null' } }],
      ['tags=a,b/c', { code: 11, name: 'invalid options', message: 'invalid option (tags: invalid filter syntax)', options: { tags: 'invalid filter syntax' } }],
      ['tags=1,2,3,4,5,6', { code: 11, name: 'invalid options', message: 'invalid option (tags: cannot query more than 5 tags)', options: { tags: 'cannot query more than 5 tags' } }],
    ])('refuses ?%s', async (q, body) => {
      const res = await admin.json('GET', `/services?${q}`);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual(body);
    });
  });

  describe('protocol behaviour', () => {
    it('answers 404 JSON to unknown paths and 405 JSON to unknown methods', async () => {
      expect((await admin.json('GET', '/nowhere')).json()).toEqual({ message: 'Not found' });
      const res = await admin.json('POST', '/services/x');
      expect(res.statusCode).toBe(405);
      expect(res.json()).toEqual({ message: 'Method not allowed' });
      expect((await admin.json('DELETE', '/services')).statusCode).toBe(405);
    });

    it('answers OPTIONS with the allowed methods and HEAD like GET without a body', async () => {
      const options = await admin.json('OPTIONS', '/services/x');
      expect(options.statusCode).toBe(204);
      expect(options.headers.allow).toBe('DELETE, GET, HEAD, OPTIONS, PATCH, PUT');
      expect(options.headers['access-control-allow-methods']).toBe('DELETE, GET, HEAD, OPTIONS, PATCH, PUT');
      expect((await admin.json('OPTIONS', '/services')).headers.allow).toBe('GET, HEAD, OPTIONS, POST');
      const head = await admin.json('HEAD', '/services');
      expect(head.statusCode).toBe(200);
      expect(head.body).toBe('');
    });

    it('GET / describes the node and GET /status reports the database and the config head', async () => {
      const root = await admin.json('GET', '/');
      expect(root.statusCode).toBe(200);
      expect(root.json()).toMatchObject({ tagline: 'Welcome to Sluice', node_id: expect.stringMatching(UUID), configuration: { role: 'control_plane' } });
      await admin.json('POST', '/services', { host: 'a.test' });
      const status = (await admin.json('GET', '/status')).json();
      const head = await store.readHead();
      expect(status.database).toEqual({ reachable: true });
      expect(status.config).toEqual({ epoch: head.epoch, version: 1 });
      expect(status.server.total_requests).toBeGreaterThan(0);
    });
  });
});
