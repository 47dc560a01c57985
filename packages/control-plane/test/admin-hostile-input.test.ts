/**
 * Regression tests for issue 9 "Hostile input", Admin API part: each test names the defect it
 * guards and goes through the real Admin API (inject) over a real store.
 */
import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_BODY_DEPTH, MAX_FORM_ARRAY_INDEX } from '../src/admin/index.js';
import type { Store } from '../src/store/index.js';
import { type TestAdmin, buildTestAdmin } from './support/admin.js';
import { describeEachDatabase } from './support/databases.js';

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

/** Names `Object.prototype` has: a request key with one of them must still be an unknown field. */
const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];

/** `Object.prototype` as the file started: no request may add to it. */
const PROTOTYPE_OWN_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();

/** Kong's schema-violation body for one unknown field (a computed key is an own key, even `__proto__`). */
function unknownFieldBody(name: string): unknown {
  return { code: 2, name: 'schema violation', message: `schema violation (${name}: unknown field)`, fields: { [name]: 'unknown field' } };
}

describeEachDatabase('admin api: hostile input', (env) => {
  let store: Store;
  let admin: TestAdmin;
  const errorLogs: string[] = [];

  beforeEach(async () => {
    await env.reset();
    errorLogs.length = 0;
    store ??= await env.openStore();
    // Records what the Admin API logs at error level: hostile input is the client's fault, never an error of ours.
    admin ??= await buildTestAdmin(store, { logger: pino({ level: 'error' }, { write: (line: string) => void errorLogs.push(line) }) });
  });

  function form(url: string, payload: string | Buffer, method: 'POST' | 'PUT' | 'PATCH' = 'POST') {
    return admin.request({ method, url, headers: { 'content-type': FORM }, payload });
  }

  function json(url: string, payload: string | Buffer, method: 'POST' | 'PUT' | 'PATCH' = 'POST') {
    return admin.request({ method, url, headers: { 'content-type': JSON_TYPE }, payload });
  }

  /** The Admin API still creates and lists: nothing a previous request sent leaked into later ones. */
  async function expectHealthy(name = 'healthy'): Promise<void> {
    const created = await admin.json('POST', '/services', { name, host: 'healthy.example', tags: ['ok'] });
    expect(created.statusCode, created.body).toBe(201);
    const listed = await admin.request({ method: 'GET', url: '/services' });
    expect(listed.json().data.map((s: { name: string }) => s.name)).toContain(name);
    const byTag = await admin.request({ method: 'GET', url: '/services?tags=ok' });
    expect(byTag.json().data.map((s: { name: string }) => s.name)).toContain(name);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_OWN_NAMES);
    expect(({} as Record<string, unknown>).tags).toBeUndefined();
  }

  async function expectNothingWritten(before: number): Promise<void> {
    expect((await store.readHead()).version).toBe(before);
  }

  describe('prototype pollution through form keys (defect 1)', () => {
    it('refuses __proto__.tags as an unknown field and every later create and list still works', async () => {
      const res = await form('/services', 'name=pp&host=a.example&__proto__.tags=polluted');
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual(unknownFieldBody('__proto__'));
      expect(Object.keys(res.json().fields)).toEqual(['__proto__']);
      await expectNothingWritten(0);
      await expectHealthy();
      expect(errorLogs).toEqual([]);
    });

    it.each([
      ['__proto__[tags]=polluted', '__proto__'],
      ['__proto__[]=x', '__proto__'],
      ['constructor.prototype.tags=polluted', 'constructor'],
      ['prototype.tags=polluted', 'prototype'],
      ['toString=x', 'toString'],
      ['hasOwnProperty=x', 'hasOwnProperty'],
    ])('refuses %s as an unknown field', async (pair, field) => {
      const res = await form('/services', `host=a.example&${pair}`);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual(unknownFieldBody(field));
      await expectHealthy();
    });

    it('refuses __proto__ keys in multipart bodies too', async () => {
      const boundary = 'B0undary';
      const part = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
      const res = await admin.request({
        method: 'POST',
        url: '/services',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        payload: `${part('host', 'a.example')}${part('__proto__.tags', 'polluted')}--${boundary}--\r\n`,
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual(unknownFieldBody('__proto__'));
      await expectHealthy();
    });

    it('keeps prototype names nested in a foreign key out of the lookup (service.__proto__.name)', async () => {
      await admin.json('POST', '/services', { name: 'svc', host: 'svc.example' });
      const res = await form('/routes', 'paths=/a&service.__proto__.name=svc');
      expect(res.statusCode).toBe(400);
      expect(res.json().fields).toEqual({ service: { id: 'missing primary key' } });
      await expectHealthy();
    });
  });

  describe('array indexes in form keys are bounded (defect 2)', () => {
    it('answers 400 to paths[4294967295] at once, allocating nothing proportional to the index', async () => {
      const res = await form('/routes', 'paths[4294967295]=/x');
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ message: `invalid form argument "paths[4294967295]": array indexes must be between 1 and ${MAX_FORM_ARRAY_INDEX}` });
      await expectNothingWritten(0);
      await expectHealthy();
    });

    it.each(['paths[0]=/x', `paths[${MAX_FORM_ARRAY_INDEX + 1}]=/x`, 'service.tags[99999999999999999999]=x', 'a.b[4294967295]=x'])('refuses %s', async (payload) => {
      const res = await form('/routes', payload);
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toMatch(/array indexes must be between 1 and 1000$/);
    });

    it(`accepts index ${MAX_FORM_ARRAY_INDEX} and drops the holes before it`, async () => {
      const res = await form('/routes', `paths[${MAX_FORM_ARRAY_INDEX}]=/last&paths[2]=/second`);
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().paths).toEqual(['/second', '/last']);
    });
  });

  describe('JSON __proto__ and other prototype names (defect 3)', () => {
    it('refuses a JSON __proto__ as an unknown field instead of applying what it holds', async () => {
      const res = await json('/services', '{"name":"pj2","__proto__":{"url":"http://hidden.example:81/p"}}');
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        code: 2,
        name: 'schema violation',
        message: '2 schema violations (__proto__: unknown field; host: required field missing)',
        fields: { ['__proto__']: 'unknown field', host: 'required field missing' },
      });
      await expectNothingWritten(0);
      expect((await admin.request({ method: 'GET', url: '/services/pj2' })).statusCode).toBe(404);
    });

    it.each(PROTOTYPE_NAMES)('names %s as an unknown field on services and routes (never "0 schema violations")', async (name) => {
      const service = await json('/services', `{"host":"a.example",${JSON.stringify(name)}:"x"}`);
      expect(service.statusCode).toBe(400);
      expect(service.json()).toEqual(unknownFieldBody(name));
      const route = await json('/routes', `{"paths":["/a"],${JSON.stringify(name)}:1}`);
      expect(route.json()).toEqual(unknownFieldBody(name));
    });

    it('refuses prototype names in PATCH and PUT too', async () => {
      await admin.json('POST', '/services', { name: 's', host: 'a.example' });
      const patch = await json('/services/s', '{"__proto__":{"host":"hidden.example"}}', 'PATCH');
      expect(patch.json()).toEqual(unknownFieldBody('__proto__'));
      const put = await json('/services/s', '{"host":"b.example","constructor":{}}', 'PUT');
      expect(put.json()).toEqual(unknownFieldBody('constructor'));
      expect((await admin.request({ method: 'GET', url: '/services/s' })).json().host).toBe('a.example');
    });

    it("refuses a route header named __proto__, which could not travel to the data planes", async () => {
      const res = await json('/routes', '{"paths":["/a"],"headers":{"__proto__":["x"]}}');
      expect(res.statusCode).toBe(400);
      expect(res.json().fields).toEqual({ headers: "'__proto__' is not supported by Sluice as a header name" });
      const ok = await json('/routes', '{"paths":["/a"],"headers":{"constructor":["x"]}}');
      expect(ok.statusCode, ok.body).toBe(201);
      expect(ok.json().headers).toEqual({ constructor: ['x'] });
    });
  });

  describe('nesting depth is bounded at parse time (defect 4)', () => {
    it('answers Cannot parse JSON body to 100,000 levels inside tags, and logs no error', async () => {
      const deep = `{"host":"a.example","tags":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
      const res = await json('/services', deep);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ message: 'Cannot parse JSON body' });
      expect(errorLogs).toEqual([]);
      await expectHealthy();
    });

    it(`parses ${MAX_BODY_DEPTH} levels and refuses ${MAX_BODY_DEPTH + 1}`, async () => {
      const nested = (depth: number) => `{"host":"a.example","tags":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
      const atLimit = await json('/services', nested(MAX_BODY_DEPTH));
      expect(atLimit.json()).toMatchObject({ code: 2, fields: { tags: ['expected a string'] } });
      const over = await json('/services', nested(MAX_BODY_DEPTH + 1));
      expect(over.json()).toEqual({ message: 'Cannot parse JSON body' });
    });

    it('does not count brackets inside strings', async () => {
      const res = await json('/services', JSON.stringify({ host: 'a.example', tags: ['['.repeat(5000)] }));
      expect(res.statusCode, res.body).toBe(201);
    });

    it('refuses form keys nested deeper than the limit', async () => {
      const deepDots = await form('/services', `host=a.example&a${'.b'.repeat(100_000)}=x`);
      expect(deepDots.statusCode).toBe(400);
      expect(deepDots.json().message).toMatch(new RegExp(`keys nest at most ${MAX_BODY_DEPTH} levels deep$`));
      const deepBrackets = await form('/services', `host=a.example&tags${'[]'.repeat(100_000)}=x`);
      expect(deepBrackets.statusCode).toBe(400);
      expect(errorLogs).toEqual([]);
      await expectHealthy();
    });
  });

  describe('invalid UTF-8 is refused, never stored rewritten (defect 5)', () => {
    const utf8Error = (position: number) => `invalid utf-8 character sequence detected at position ${position}`;

    it("refuses a percent-encoded invalid byte in a form name with Kong's utf8_name message", async () => {
      const res = await form('/services', 'name=%FF&host=a.example');
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ code: 2, name: 'schema violation', message: `schema violation (name: ${utf8Error(1)})`, fields: { name: utf8Error(1) } });
      await expectNothingWritten(0);
    });

    it.each([
      ['name=ab%C3&host=a.example', { name: utf8Error(3) }],
      ['name=%E5%86%86%ED%A0%80&host=a.example', { name: utf8Error(4) }],
      ['host=a.example&tags=ok&tags=%F4%90%80%80', { tags: [null, utf8Error(1)] }],
      ['host=%C0%AF', { host: utf8Error(1) }],
    ])('counts the position in bytes, as Kong: %s', async (payload, fields) => {
      const res = await form('/services', payload);
      expect(res.statusCode).toBe(400);
      expect(res.json().fields).toEqual(fields);
    });

    it('refuses raw invalid bytes in url-encoded and multipart bodies', async () => {
      const raw = await form('/services', Buffer.concat([Buffer.from('host=a.example&name=x'), Buffer.from([0xfe]), Buffer.from('y')]));
      expect(raw.json().fields).toEqual({ name: utf8Error(2) });
      const boundary = 'B0undary';
      const multipart = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="host"\r\n\r\na.example\r\n`),
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n`),
        Buffer.from([0xff]),
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const res = await admin.request({ method: 'POST', url: '/services', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: multipart });
      expect(res.json().fields).toEqual({ name: utf8Error(1) });
      await expectNothingWritten(0);
    });

    it('answers Cannot parse JSON body to invalid UTF-8 bytes and to lone-surrogate escapes', async () => {
      const bytes = await json('/services', Buffer.concat([Buffer.from('{"host":"a.example","name":"'), Buffer.from([0xff]), Buffer.from('"}')]));
      expect(bytes.statusCode).toBe(400);
      expect(bytes.json()).toEqual({ message: 'Cannot parse JSON body' });
      for (const payload of ['{"host":"a.example","name":"\\ud800"}', '{"host":"a.example","tags":["\\udc00x"]}', '{"host":"a.example","\\udfff":1}']) {
        const res = await json('/services', payload);
        expect(res.json(), payload).toEqual({ message: 'Cannot parse JSON body' });
      }
      await expectNothingWritten(0);
    });

    it('stores valid UTF-8, escaped or not, unchanged', async () => {
      const formed = await form('/services', 'name=%E5%86%86&host=a.example&tags=%F0%9F%9A%80');
      expect(formed.statusCode, formed.body).toBe(201);
      expect(formed.json()).toMatchObject({ name: '円', tags: ['🚀'] });
      const escaped = await json('/services', '{"name":"\\ud83d\\ude80","host":"b.example"}');
      expect(escaped.json().name).toBe('🚀');
    });
  });

  describe('URLs', () => {
    it("answers a URL that does not decode to UTF-8 with Kong's body shape", async () => {
      const res = await admin.request({ method: 'GET', url: '/services/%FF' });
      expect(res.statusCode).toBe(400);
      expect(Object.keys(res.json())).toEqual(['message']);
      expect(res.headers.server).toMatch(/^sluice\//);
    });
  });
});
