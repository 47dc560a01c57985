import { describe, expect, it } from 'vitest';
import { schemaViolationMessage } from './field-errors.js';
import { parseHost, validateHost, validateRouteHost, validateRouterPath, validateTag, validateUtf8Name, validateUtf8String, validateWildcardHost } from './field-validators.js';
import { normalizePath } from './normalize-path.js';
import { prepareRoute } from './kinds/routes.js';
import { checkRouteRegex, compileRouteRegex } from './route-regex.js';
import { prepareService } from './kinds/services.js';
import { expandServiceUrl } from './service-url.js';

const OPTS = { now: 1000, newId: '00000000-0000-4000-8000-000000000001' } as const;

describe('normalizePath (kong/tools/uri.lua normalize)', () => {
  it.each([
    ['/', '/'],
    ['/a/./b', '/a/b'],
    ['/a/../b', '/b'],
    ['/../a', '/a'],
    ['/a/b/..', '/a/'],
    ['/%7Euser/%2fkeep', '/~user/%2Fkeep'],
    ['/caf%C3%A9', '/café'],
    ['/%2e%2e/x', '/x'],
  ])('%s → %s', (input, output) => {
    expect(normalizePath(input)).toBe(output);
  });

  it('merges slashes only when asked', () => {
    expect(normalizePath('/a//b')).toBe('/a//b');
    expect(normalizePath('/a//b', true)).toBe('/a/b');
  });
});

describe('expandServiceUrl (LuaSocket url.parse)', () => {
  it.each([
    ['http://a.test', { protocol: 'http', host: 'a.test', port: 80, path: null }],
    ['https://a.test/x?q#f', { protocol: 'https', host: 'a.test', port: 443, path: '/x' }],
    ['a.test:443', { protocol: 'a.test', host: null, port: 80, path: '443' }],
    ['//a.test:443/p;params', { protocol: 'https', host: 'a.test', port: 443, path: '/p' }],
    ['grpc://user:pw@g.test:9000', { protocol: 'grpc', host: 'g.test', port: 9000, path: null }],
    ['invalid url', { protocol: 'http', host: null, port: 80, path: 'invalid url' }],
  ])('%s', (url, fields) => {
    expect(expandServiceUrl(url)).toEqual(fields);
  });
});

describe('route regexes (Rust regex semantics, checked with a JS RegExp)', () => {
  it('accepts Rust/PCRE spellings JavaScript lacks', () => {
    expect(checkRouteRegex('/users/(?P<id>\\d+)')).toBeNull();
    expect(checkRouteRegex('/(?i)abc')).toBeNull();
    expect(compileRouteRegex('(?i)/abc').test('/ABC/x')).toBe(true);
    expect(compileRouteRegex('/v\\d+').test('/x/v1')).toBe(false);
  });

  it('refuses look-around and backreferences, which Rust regex has not', () => {
    expect(checkRouteRegex('/(?!x)')).toBe('look-around is not supported');
    expect(checkRouteRegex('/(?<=x)a')).toBe('look-around is not supported');
    expect(checkRouteRegex('/(a)\\1')).toBe('backreferences are not supported');
    expect(checkRouteRegex('/(')).not.toBeNull();
  });
});

describe('typedef validators', () => {
  it('hosts', () => {
    expect(parseHost('[::1]:8080')).toEqual({ type: 'ipv6', host: '0000:0000:0000:0000:0000:0000:0000:0001', port: 8080 });
    expect(validateHost('a-b.example.com')).toBeNull();
    expect(validateHost('a.test:80')).toBe('must not have a port');
    expect(validateHost('bad-.test')).toBe('invalid value: bad-.test');
    expect(validateRouteHost('*.example.com:8443')).toBeNull();
    expect(validateRouteHost('*.bad host')).toBe('invalid hostname: abc.bad host');
    expect(validateWildcardHost('*.a.test')).toBeNull();
    expect(validateWildcardHost('a.*.test')).toBe('wildcard must be leftmost or rightmost character');
  });

  it('names and tags', () => {
    expect(validateUtf8Name('円-service_1.v~2')).toBeNull();
    expect(validateUtf8Name('a/b')).toMatch(/only accepted ascii characters/);
    expect(validateUtf8Name('\ud800')).toBe('invalid utf-8 character sequence detected at position 1');
    // Positions count UTF-8 bytes, as Kong's validate_utf8 does: 円 is 3 bytes, 🚀 is 4.
    expect(validateUtf8String('円🚀\udcff')).toBe('invalid utf-8 character sequence detected at position 8');
    expect(validateTag('with space')).toBeNull();
    expect(validateTag('a/b')).toMatch(/^invalid tag 'a\/b'/);
  });

  it('router paths', () => {
    expect(validateRouterPath('/a b')).toBeNull();
    expect(validateRouterPath('/a/')).toBeNull();
    expect(validateRouterPath('/a/./b')).toBe("non-normalized path, consider use '/a/b' instead");
  });
});

describe('prepareService / prepareRoute', () => {
  it('builds the message Kong builds: entity errors first, then sorted fields, arrays 1-based', () => {
    expect(schemaViolationMessage({ b: 'x', a: [null, 'y'], '@entity': ['e'] })).toBe('3 schema violations (e; a.2: y; b: x)');
    expect(schemaViolationMessage({ service: { id: 'missing primary key' } })).toBe('schema violation (service.id: missing primary key)');
  });

  it('resets defaulted optional fields on null (Sluice keeps them non-null)', () => {
    const created = prepareService({ host: 'a.test', retries: null }, { mode: 'create', ...OPTS });
    expect(created.ok && created.entity.retries).toBe(5);
  });

  it('merges on update and keeps id and created_at', () => {
    const base = prepareRoute({ paths: ['/a'], name: 'r' }, { mode: 'create', ...OPTS });
    if (!base.ok) throw new Error('invalid');
    const updated = prepareRoute({ id: '00000000-0000-4000-8000-000000000002', hosts: ['h.test'] }, { mode: 'update', existing: base.entity, now: 2000, newId: 'x' });
    expect(updated.ok && updated.entity).toMatchObject({ id: base.entity.id, created_at: 1000, updated_at: 2000, paths: ['/a'], hosts: ['h.test'] });
  });

  it('deduplicates sets but not arrays', () => {
    const r = prepareRoute({ methods: ['GET', 'GET'], paths: ['/a', '/a'], tags: ['t', 't'] }, { mode: 'create', ...OPTS });
    expect(r.ok && [r.entity.methods, r.entity.paths, r.entity.tags]).toEqual([['GET'], ['/a', '/a'], ['t']]);
  });
});

describe('hostile input (issue 9)', () => {
  const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__lookupGetter__'];

  it.each(PROTOTYPE_NAMES)('refuses an own key %s as an unknown field and reads nothing through it', (name) => {
    // JSON.parse makes "__proto__" an own key, as a request body does.
    const input = JSON.parse(`{"host":"a.test",${JSON.stringify(name)}:{"url":"http://hidden.test:81/p","host":"hidden.test"}}`);
    const result = prepareService(input, { mode: 'create', ...OPTS });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(Object.keys(result.errors)).toEqual([name]);
    expect(result.errors[name]).toBe('unknown field');
    expect(schemaViolationMessage(result.errors)).toBe(`schema violation (${name}: unknown field)`);
  });

  it('ignores what an input inherits: only own properties are fields', () => {
    const inherited = Object.create({ host: 'hidden.test', url: 'http://hidden.test' }) as Record<string, unknown>;
    inherited.name = 'own';
    const result = prepareService(inherited, { mode: 'create', ...OPTS });
    expect(result.ok || result.errors).toEqual({ host: 'required field missing' });
  });

  it('refuses invalid UTF-8 (lone surrogates) in every string field, not only names and tags', () => {
    const route = prepareRoute({ paths: ['/a\udcff'], headers: { 'x-a': ['\udcc3'] } }, { mode: 'create', ...OPTS });
    expect(route.ok || route.errors).toEqual({
      paths: ['invalid utf-8 character sequence detected at position 3'],
      headers: ['invalid utf-8 character sequence detected at position 1'],
    });
  });

  it('refuses a header named __proto__ and keeps other prototype names as plain header names', () => {
    const proto = prepareRoute(JSON.parse('{"paths":["/a"],"headers":{"__proto__":["x"]}}'), { mode: 'create', ...OPTS });
    expect(proto.ok || proto.errors).toEqual({ headers: "'__proto__' is not supported by Sluice as a header name" });
    const ctor = prepareRoute({ paths: ['/a'], headers: { constructor: ['x'] } }, { mode: 'create', ...OPTS });
    expect(ctor.ok && Object.keys(ctor.entity.headers ?? {})).toEqual(['constructor']);
  });
});
