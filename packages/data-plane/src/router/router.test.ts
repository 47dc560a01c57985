import type { Route, Service } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { makeRoute, makeService, uuidFor } from '../../test/fixtures/entities.js';
import { expandedPathJoiningTable } from '../../test/fixtures/path-joining-table.js';
import { escapePath } from './escape-path.js';
import { normalizePath } from './normalize-path.js';
import { Router, type RouterRequest } from './router.js';
import { seededRandom } from '../../test/fixtures/seeded-random.js';

function request(overrides: Partial<RouterRequest> = {}): RouterRequest {
  return { method: 'GET', target: '/', host: 'example.com', port: 8000, scheme: 'http', headers: {}, ...overrides };
}

function routerOf(routes: Route[], services: Service[] = []): Router {
  return Router.build(routes, new Map(services.map((s) => [s.id, s])));
}

function matchedName(router: Router, req: Partial<RouterRequest>): string | null {
  return router.match(request(req))?.route.name ?? null;
}

describe('normalizePath (kong.tools.uri.normalize)', () => {
  it.each([
    ['/', '/'],
    ['/foo/bar', '/foo/bar'],
    ['/foo/%2e%2e/bar', '/bar'],
    ['/foo/%2E./bar', '/bar'],
    ['/a/./b/../c', '/a/c'],
    ['/a/b/..', '/a/'],
    ['/..', '/'],
    ['/../../a', '/a'],
    ['//a//b///c', '/a/b/c'],
    ['/a%2fb', '/a%2Fb'],
    ['/%7euser', '/~user'],
    ['/%41%42c', '/ABc'],
    ['/a%20b', '/a b'],
    ['/a%zzb', '/a%zzb'],
    ['/%25', '/%25'],
    ['/a%3Fb', '/a%3Fb'],
    ['/a%2', '/a%2'],
  ])('%s → %s', (input, expected) => {
    expect(normalizePath(input)).toBe(expected);
  });
});

describe('escapePath (kong.tools.uri.escape)', () => {
  it.each([
    ['/plain/path-_.~', '/plain/path-_.~'],
    ['/a b', '/a%20b'],
    ["/!#$&'()*+,/:;=?@[]%", "/!#$&'()*+,/:;=?@[]%"],
    ['/\u00c3\u00a9', '/%C3%A9'],
    ['/q"<>`{}|\\^', '/q%22%3C%3E%60%7B%7D%7C%5C%5E'],
  ])('%s → %s', (input, expected) => {
    expect(escapePath(input)).toBe(expected);
  });

  it('re-escapes what normalisation decoded', () => {
    expect(escapePath(normalizePath('/caf%c3%a9/%20x'))).toBe('/caf%C3%A9/%20x');
  });
});

describe("Kong's path-joining table (v0)", () => {
  for (const row of expandedPathJoiningTable()) {
    const title = `service ${row.servicePath}, route ${row.routePath ?? '(host)'}, strip_path=${row.stripPath}, request ${row.requestPath} → ${row.expected}`;
    it(title, () => {
      const service = makeService({ path: row.servicePath });
      const route = makeRoute({
        paths: row.routePath === null ? null : [row.routePath],
        hosts: row.routePath === null ? ['example.com'] : null,
        strip_path: row.stripPath,
        service: { id: service.id },
      });
      const match = routerOf([route], [service]).match(request({ target: row.requestPath }));
      expect(match?.upstreamPath).toBe(row.expected);
    });
  }

  it('service path null joins like "/"', () => {
    const service = makeService({ path: null });
    const route = makeRoute({ paths: ['/api'], service: { id: service.id } });
    expect(routerOf([route], [service]).match(request({ target: '/api/x?y=1' }))?.upstreamPath).toBe('/x');
  });

  it('drops a leading "./" or "../" of the postfix (sanitize_uri_postfix)', () => {
    const service = makeService({ path: '/s' });
    const route = makeRoute({ paths: ['~/a'], strip_path: true, service: { id: service.id } });
    const router = routerOf([route], [service]);
    expect(router.match(request({ target: '/a../x' }))?.upstreamPath).toBe('/s/x');
    expect(router.match(request({ target: '/a.' }))?.upstreamPath).toBe('/s');
  });

  it('strips the regex match text and exposes captures', () => {
    const service = makeService({ path: '/svc' });
    const route = makeRoute({ paths: ['~/users/(?<id>\\d+)/(\\w+)'], service: { id: service.id } });
    const match = routerOf([route], [service]).match(request({ target: '/users/42/profile/rest?x' }));
    expect(match?.matchedPath).toBe('/users/42/profile');
    expect(match?.strippedPrefix).toBe('/users/42/profile');
    expect(match?.upstreamPath).toBe('/svc/rest');
    expect(match?.captures?.named).toEqual({ id: '42' });
    expect(match?.captures?.positional).toEqual(['/users/42/profile', '42', 'profile']);
  });

  it('matches on the normalised path and re-escapes the upstream path', () => {
    const route = makeRoute({ paths: ['/a b'], strip_path: false });
    const match = routerOf([route]).match(request({ target: '/x/../a%20b/%7e/c%2fd' }));
    expect(match?.path).toBe('/a b/~/c%2Fd');
    expect(match?.upstreamPath).toBe('/a%20b/~/c%2Fd');
  });
});

describe('matching fields (traditional_compatible)', () => {
  it('prefix paths are plain string prefixes, not segment-aware', () => {
    const router = routerOf([makeRoute({ name: 'rou', paths: ['/rou'] })]);
    expect(matchedName(router, { target: '/roureq' })).toBe('rou');
    expect(matchedName(router, { target: '/ro' })).toBeNull();
  });

  it('regex paths are anchored at the start only', () => {
    const router = routerOf([makeRoute({ name: 're', paths: ['~/status/\\d+'] })]);
    expect(matchedName(router, { target: '/status/12/more' })).toBe('re');
    expect(matchedName(router, { target: '/x/status/12' })).toBeNull();
  });

  it('the query string does not take part in path matching', () => {
    const router = routerOf([makeRoute({ name: 'a', paths: ['/a$'.slice(0, 2)] })]);
    expect(matchedName(router, { target: '/a?x=/b' })).toBe('a');
    expect(matchedName(router, { target: '/?a' })).toBeNull();
  });

  it('methods are exact, with no automatic HEAD for GET', () => {
    const router = routerOf([makeRoute({ name: 'get', methods: ['GET'] })]);
    expect(matchedName(router, { method: 'GET' })).toBe('get');
    expect(matchedName(router, { method: 'HEAD' })).toBeNull();
    expect(matchedName(router, { method: 'get' })).toBeNull();
  });

  it('exact hosts, *.suffix and prefix.* wildcards', () => {
    const router = routerOf([
      makeRoute({ name: 'exact', hosts: ['example.com'] }),
      makeRoute({ name: 'suffix', hosts: ['*.example.com'] }),
      makeRoute({ name: 'prefix', hosts: ['example.*'] }),
    ]);
    expect(matchedName(router, { host: 'example.com' })).toBe('exact');
    expect(matchedName(router, { host: 'a.b.example.com' })).toBe('suffix');
    expect(matchedName(router, { host: 'example.org' })).toBe('prefix');
    expect(matchedName(router, { host: 'example' })).toBeNull();
    expect(matchedName(router, { host: 'notexample.com' })).toBeNull();
    expect(matchedName(router, { host: undefined })).toBeNull();
  });

  it('a route host with a port matches that port, from the Host header or else the listener', () => {
    const router = routerOf([makeRoute({ name: 'p', hosts: ['foo.com:123'] }), makeRoute({ name: 'any', hosts: ['route.*'] })]);
    expect(matchedName(router, { host: 'foo.com:123' })).toBe('p');
    expect(matchedName(router, { host: 'foo.com:124' })).toBeNull();
    expect(matchedName(router, { host: 'foo.com', port: 123 })).toBe('p');
    expect(matchedName(router, { host: 'foo.com', port: 8000 })).toBeNull();
    expect(matchedName(router, { host: 'route.org:123' })).toBe('any');
  });

  it('headers: names and values case-insensitive, any value matches, ~* is a regex, all names must match', () => {
    const router = routerOf([
      makeRoute({ name: 'v', headers: { 'X-Version': ['V1', 'v2'], x_tenant: ['~*^acme-\\d+$'] } }),
    ]);
    expect(matchedName(router, { headers: { 'x-version': 'v1', 'x-tenant': 'ACME-7' } })).toBe('v');
    expect(matchedName(router, { headers: { 'x-version': ['v9', 'V2'], 'x-tenant': 'acme-1' } })).toBe('v');
    expect(matchedName(router, { headers: { 'x-version': 'v1' } })).toBeNull();
    expect(matchedName(router, { headers: { 'x-version': 'v3', 'x-tenant': 'acme-1' } })).toBeNull();
  });

  it('snis are ignored for plain http and required for https', () => {
    const router = routerOf([makeRoute({ name: 'sni', snis: ['api.example.com'] })]);
    expect(matchedName(router, { scheme: 'http' })).toBe('sni');
    expect(matchedName(router, { scheme: 'https', sni: 'api.example.com' })).toBe('sni');
    expect(matchedName(router, { scheme: 'https', sni: 'other.example.com' })).toBeNull();
  });

  it('a route whose service is disabled is left out; a route without service is kept', () => {
    const off = makeService({ enabled: false });
    const router = routerOf(
      [makeRoute({ name: 'off', paths: ['/off'], service: { id: off.id } }), makeRoute({ name: 'none', paths: ['/none'] })],
      [off],
    );
    expect(matchedName(router, { target: '/off' })).toBeNull();
    expect(router.match(request({ target: '/none' }))?.service).toBeNull();
    expect(router.size).toBe(1);
  });

  it('routeErrors names what the router cannot compile', () => {
    expect(Router.routeErrors(makeRoute({ paths: ['/ok', '~/(?<id>\\d+)'] }))).toEqual([]);
    expect(Router.routeErrors(makeRoute({ paths: ['~/(unclosed'], headers: { a: ['~*[z-a]'] } }))).toEqual([
      "invalid regex: '/(unclosed'",
      "invalid regex: '[z-a]'",
    ]);
  });

  it('never throws on odd input', () => {
    const router = routerOf([
      makeRoute({ name: 'h', headers: { a: ['b'] } }),
      makeRoute({ name: 'bad-regex', paths: ['~/(unclosed'] }),
      makeRoute({ name: 'p', paths: ['/p'] }),
    ]);
    const odd: RouterRequest[] = [
      request({ target: '' }),
      request({ target: '*' }),
      request({ target: 'http://x/p' }),
      request({ host: ':::' }),
      request({ host: 'x:' }),
      request({ headers: undefined as never }),
      request({ headers: { a: [undefined as never] } }),
      request({ target: '/%%%/../..%' }),
      request({ method: undefined as never }),
    ];
    for (const req of odd) expect(() => router.match(req)).not.toThrow();
  });
});

describe('priority (traditional_compatible, transform.get_priority)', () => {
  it('more fields beat a longer path', () => {
    const router = routerOf([
      makeRoute({ name: 'long-path', paths: ['/very/long/path/indeed'] }),
      makeRoute({ name: 'host+path', hosts: ['example.com'], paths: ['/'] }),
    ]);
    expect(matchedName(router, { target: '/very/long/path/indeed' })).toBe('host+path');
  });

  it('a plain host beats a wildcard host', () => {
    const router = routerOf([
      makeRoute({ name: 'wild', hosts: ['*.example.com'], paths: ['/long/er'] }),
      makeRoute({ name: 'plain', hosts: ['api.example.com', 'other.org'], paths: ['/'] }),
    ]);
    expect(matchedName(router, { host: 'api.example.com', target: '/long/er' })).toBe('plain');
  });

  it('a route with no hosts does not get the plain-host bit', () => {
    const router = routerOf([
      makeRoute({ name: 'methods', methods: ['GET'], paths: ['/'] }),
      makeRoute({ name: 'hosts', hosts: ['example.com'], paths: ['/'] }),
    ]);
    expect(matchedName(router, {})).toBe('hosts');
  });

  it('more header names win', () => {
    const router = routerOf([
      makeRoute({ name: 'one', headers: { a: ['1'] }, paths: ['/longer/path'] }),
      makeRoute({ name: 'two', headers: { a: ['1'], b: ['2'] }, paths: ['/'] }),
    ]);
    expect(matchedName(router, { target: '/longer/path', headers: { a: '1', b: '2' } })).toBe('two');
  });

  it("Kong's documented order: regex by regex_priority, then regex, then longer prefix", () => {
    const router = routerOf([
      makeRoute({ name: 'version', paths: ['/version'] }),
      makeRoute({ name: 'version-any', paths: ['/version/any/'] }),
      makeRoute({ name: 'status', paths: ['~/version/\\d+/status'] }),
      makeRoute({ name: 'version-status', paths: ['~/version/\\d+/status/\\d+'], regex_priority: 6 }),
    ]);
    expect(matchedName(router, { target: '/version/1/status/2' })).toBe('version-status');
    expect(matchedName(router, { target: '/version/1/status/' })).toBe('status');
    expect(matchedName(router, { target: '/version/any/thing' })).toBe('version-any');
    expect(matchedName(router, { target: '/version/x' })).toBe('version');
  });

  it('any regex path beats any prefix path, whatever their lengths', () => {
    const router = routerOf([
      makeRoute({ name: 'prefix', paths: ['/api/v1/users/list'] }),
      makeRoute({ name: 'regex', paths: ['~/api'], regex_priority: -5 }),
    ]);
    expect(matchedName(router, { target: '/api/v1/users/list' })).toBe('regex');
  });

  it('regex_priority orders regexes (negative values last) and is ignored for prefixes', () => {
    const router = routerOf([
      makeRoute({ name: 'neg', paths: ['~/a'], regex_priority: -1 }),
      makeRoute({ name: 'zero', paths: ['~/a/b'] }),
      makeRoute({ name: 'prefix-high', paths: ['/a/b/c'], regex_priority: 100 }),
      makeRoute({ name: 'prefix-longer', paths: ['/a/b/c/d'] }),
    ]);
    expect(matchedName(router, { target: '/a/b/c/d' })).toBe('zero');
    expect(matchedName(router, { target: '/a/x' })).toBe('neg');
    const prefixesOnly = routerOf([
      makeRoute({ name: 'prefix-high', paths: ['/a/b/c'], regex_priority: 100 }),
      makeRoute({ name: 'prefix-longer', paths: ['/a/b/c/d'] }),
    ]);
    expect(matchedName(prefixesOnly, { target: '/a/b/c/d' })).toBe('prefix-longer');
  });

  it('ties go to the higher UUID, not created_at', () => {
    const low = makeRoute({ id: uuidFor(1), name: 'low', paths: ['/same'], created_at: 1 });
    const high = makeRoute({ id: uuidFor(2), name: 'high', paths: ['/same'], created_at: 2 });
    expect(matchedName(routerOf([high, low]), { target: '/same' })).toBe('high');
    expect(matchedName(routerOf([low, high]), { target: '/same' })).toBe('high');
  });

  it('a route with paths of different kinds and lengths competes per group', () => {
    const split = makeRoute({ id: uuidFor(1), name: 'split', paths: ['/a', '/abcdef', '~/re'] });
    const mid = makeRoute({ id: uuidFor(2), name: 'mid', paths: ['/abc'] });
    const router = routerOf([split, mid]);
    expect(matchedName(router, { target: '/abcdefg' })).toBe('split');
    expect(matchedName(router, { target: '/abcd' })).toBe('mid');
    expect(matchedName(router, { target: '/ax' })).toBe('split');
    expect(router.match(request({ target: '/rex' }))?.matchedPath).toBe('/re');
  });

  it('within one regex group the first listed path that matches wins', () => {
    const route = makeRoute({ name: 'r', paths: ['~/(?<first>a)', '~/(?<second>a)'] });
    expect(routerOf([route]).match(request({ target: '/a' }))?.captures?.named).toEqual({ first: 'a' });
  });
});

describe('withChanges', () => {
  it('returns a new router and leaves the old one unchanged', () => {
    const a = makeRoute({ name: 'a', paths: ['/a'] });
    const before = routerOf([a]);
    const b = makeRoute({ name: 'b', paths: ['/b'] });
    const after = before.withChanges({ upsertRoutes: [b, { ...a, paths: ['/a2'] }] });
    expect(matchedName(before, { target: '/a' })).toBe('a');
    expect(matchedName(before, { target: '/b' })).toBeNull();
    expect(matchedName(after, { target: '/a' })).toBeNull();
    expect(matchedName(after, { target: '/a2' })).toBe('a');
    expect(matchedName(after, { target: '/b' })).toBe('b');
    const removed = after.withChanges({ removeRouteIds: [a.id, 'missing'] });
    expect(matchedName(removed, { target: '/a2' })).toBeNull();
    expect(removed.size).toBe(1);
    expect(after.size).toBe(2);
  });

  it('service changes re-evaluate their routes', () => {
    const service = makeService({ path: '/v1' });
    const route = makeRoute({ name: 'r', paths: ['/r'], service: { id: service.id } });
    const router = routerOf([route], [service]);
    const disabled = router.withChanges({ upsertServices: [{ ...service, enabled: false }] });
    expect(matchedName(disabled, { target: '/r' })).toBeNull();
    const enabled = disabled.withChanges({ upsertServices: [{ ...service, path: '/v2' }] });
    expect(enabled.match(request({ target: '/r/x' }))?.upstreamPath).toBe('/v2/x');
    const gone = enabled.withChanges({ removeServiceIds: [service.id] });
    expect(gone.match(request({ target: '/r/x' }))?.service).toBeNull();
  });

  it('a whole-config build agrees with route-by-route changes: duplicates, disabled services, stream routes', () => {
    const on = makeService({ id: uuidFor(1), path: '/on' });
    const off = makeService({ id: uuidFor(2), enabled: false });
    const first = makeRoute({ id: uuidFor(10), name: 'first', paths: ['/d'], service: { id: on.id } });
    const routes = [
      first,
      makeRoute({ id: uuidFor(11), name: 'off', paths: ['/off'], service: { id: off.id } }),
      makeRoute({ id: uuidFor(12), name: 'tcp', protocols: ['tcp'], paths: null }),
      makeRoute({ id: uuidFor(13), name: 'orphan', paths: ['/orphan'], service: { id: uuidFor(3) } }),
      { ...first, name: 'second', paths: ['/d2'] },
    ];
    const built = routerOf(routes, [on, off]);
    const changed = routerOf([]).withChanges({ upsertServices: [on, off] }).withChanges({ upsertRoutes: routes });
    for (const router of [built, changed]) {
      expect(router.size).toBe(2);
      expect(matchedName(router, { target: '/d' })).toBeNull();
      expect(router.match(request({ target: '/d2/x' }))?.upstreamPath).toBe('/on/x');
      expect(matchedName(router, { target: '/off' })).toBeNull();
      expect(router.match(request({ target: '/orphan' }))?.service).toBeNull();
    }
    // The built router changes like any other: enabling the service brings its route in.
    expect(matchedName(built.withChanges({ upsertServices: [{ ...off, enabled: true }] }), { target: '/off' })).toBe('off');
  });

  it('size counts the active routes as services are disabled, enabled and routes removed', () => {
    const service = makeService({ id: uuidFor(1) });
    const routes = [1, 2, 3].map((i) => makeRoute({ id: uuidFor(10 + i), name: `r${i}`, paths: [`/r${i}`], service: { id: service.id } }));
    const tcp = makeRoute({ id: uuidFor(20), name: 'tcp', protocols: ['tcp'], paths: null });
    const router = routerOf([...routes, tcp], [service]);
    expect(router.size).toBe(3);
    const disabled = router.withChanges({ upsertServices: [{ ...service, enabled: false }] });
    expect(disabled.size).toBe(0);
    // A route of a disabled service is kept (inactive): removing it and re-enabling leaves two.
    const fewer = disabled.withChanges({ removeRouteIds: [routes[0]!.id, tcp.id] });
    expect(fewer.size).toBe(0);
    const enabled = fewer.withChanges({ upsertServices: [service] });
    expect(enabled.size).toBe(2);
    expect(matchedName(enabled, { target: '/r1' })).toBeNull();
    expect(matchedName(enabled, { target: '/r2' })).toBe('r2');
    // Re-upserting an active route, and upserting one twice in a change, count it once.
    expect(enabled.withChanges({ upsertRoutes: [routes[1]!, routes[1]!] }).size).toBe(2);
    expect(router.size).toBe(3);
  });

  it('a route added before its service picks the service up when it arrives', () => {
    const service = makeService({ path: '/late' });
    const route = makeRoute({ name: 'r', paths: ['/r'], service: { id: service.id } });
    const router = routerOf([route]).withChanges({ upsertServices: [service] });
    expect(router.match(request({ target: '/r' }))?.service?.id).toBe(service.id);
  });
});

describe('index agrees with a linear scan (randomised)', () => {
  it('a bucket with more paths than one build step takes (built in batches) matches like a linear scan', () => {
    // 1,500 host-less prefix paths land in one trie, applied 256 keys per step; '/p1' is a string
    // prefix of '/p10' and '/p100', so batches add candidates under nodes earlier batches made.
    const routes: Route[] = [];
    for (let i = 0; i < 1000; i++) {
      routes.push(makeRoute({ id: uuidFor(10_000 + i), name: `p${i}`, paths: [`/p${i}`] }));
      if (i % 2 === 0) routes.push(makeRoute({ id: uuidFor(20_000 + i), name: `p${i}/x`, paths: [`/p${i}/x`] }));
    }
    const longestPrefix = (live: readonly Route[], target: string): string | null => {
      let best: Route | null = null;
      for (const r of live) if (target.startsWith(r.paths![0]!) && (best === null || r.paths![0]!.length > best.paths![0]!.length)) best = r;
      return best?.name ?? null;
    };
    const targets = ['/p1', '/p10/x/y', '/p100/x', '/p999/x', '/p998/x/z', '/p5/', '/q', '/p', '/p0/x'];
    const all = routerOf(routes);
    for (const target of targets) expect(all.match(request({ target }))?.route.name ?? null).toBe(longestPrefix(routes, target));
    // Removing every third route, across batches, leaves the others matching.
    const removed = routes.filter((_, i) => i % 3 === 0);
    const kept = routes.filter((_, i) => i % 3 !== 0);
    const after = all.withChanges({ removeRouteIds: removed.map((r) => r.id) });
    expect(after.size).toBe(kept.length);
    for (const target of [...targets, ...kept.slice(0, 50).map((r) => r.paths![0]! + '/tail')]) {
      expect(after.match(request({ target }))?.route.name ?? null).toBe(longestPrefix(kept, target));
    }
  });

  it('routes removed and re-added through changes match like a router built from what is left', () => {
    // Paths that share prefixes, are prefixes of one another and leave single-child chains when
    // their neighbours go, under a few exact and wildcard hosts and none.
    const rnd = seededRandom(9);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const pieces = ['/a', '/api', '/api/v1', '/v2', '/users', '/u', '/'];
    const pathOf = (): string => Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick(pieces)).join('');
    const pool: Route[] = [];
    for (let i = 0; i < 200; i++) {
      pool.push(
        makeRoute({
          id: uuidFor(5000 + i),
          name: `r${i}`,
          hosts: rnd() < 0.5 ? [pick(['a.com', '*.a.com', 'a.*'])] : null,
          paths: rnd() < 0.9 ? [pathOf(), ...(rnd() < 0.3 ? [pathOf()] : [])] : null,
          regex_priority: Math.floor(rnd() * 3),
        }),
      );
    }
    let live = new Map<string, Route>();
    let router = routerOf([]);
    for (let round = 0; round < 12; round++) {
      const removeRouteIds = [...live.keys()].filter(() => rnd() < 0.4);
      const upsertRoutes = pool.filter(() => rnd() < 0.15).map((r) => (rnd() < 0.3 ? { ...r, paths: [pathOf()] } : r));
      router = router.withChanges({ removeRouteIds, upsertRoutes });
      for (const id of removeRouteIds) live.delete(id);
      for (const r of upsertRoutes) live.set(r.id, r);
      live = new Map(live);
      const built = routerOf([...live.values()]);
      expect(router.size).toBe(built.size);
      for (let probe = 0; probe < 40; probe++) {
        const req = request({ host: pick(['a.com', 'x.a.com', 'a.org', 'b.com']), target: pathOf() + pick(['', '/x', 'v1']) });
        expect(router.match(req)?.route.name ?? null).toBe(built.match(req)?.route.name ?? null);
      }
    }
  });

  it('routers built at once and through many changes give the same answers', () => {
    const rnd = seededRandom(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const hosts = ['a.com', 'b.com', '*.a.com', 'a.*', 'x.a.com:8000', 'b.com:9'];
    const paths = ['/', '/a', '/ab', '/a/b', '/b', '~/a/\\d+', '~/(a|b)/c', '~/ab?c', '/a/b/c'];
    const routes: Route[] = [];
    for (let i = 0; i < 300; i++) {
      routes.push(
        makeRoute({
          id: uuidFor(1000 + Math.floor(rnd() * 100000)),
          name: `r${i}`,
          hosts: rnd() < 0.5 ? [pick(hosts)] : null,
          paths: rnd() < 0.8 ? [pick(paths), ...(rnd() < 0.3 ? [pick(paths)] : [])] : null,
          methods: rnd() < 0.3 ? [pick(['GET', 'POST'])] : null,
          headers: rnd() < 0.2 ? { 'x-h': [pick(['1', '2'])] } : null,
          regex_priority: Math.floor(rnd() * 3) - 1,
        }),
      );
    }
    const unique = [...new Map(routes.map((r) => [r.id, r])).values()];
    const all = routerOf(unique);
    let incremental = routerOf([]);
    for (let i = 0; i < unique.length; i += 7) incremental = incremental.withChanges({ upsertRoutes: unique.slice(i, i + 7) });
    const linear = (req: RouterRequest): string | null => {
      let best: string | null = null;
      for (const route of unique) {
        const alone = routerOf([route]).match(req);
        if (alone === null) continue;
        const pair = routerOf(best === null ? [route] : [route, unique.find((r) => r.name === best)!]).match(req);
        best = pair?.route.name ?? best;
      }
      return best;
    };
    for (let i = 0; i < 400; i++) {
      const req = request({
        host: pick(['a.com', 'b.com', 'x.a.com', 'a.org', 'x.a.com:8000', 'b.com:9', undefined]),
        target: pick(['/', '/a', '/ab', '/abc', '/ac', '/a/12', '/a/b/c/d', '/b/c', '/bc', '/zzz']),
        method: pick(['GET', 'POST']),
        headers: rnd() < 0.5 ? { 'x-h': pick(['1', '2']) } : {},
      });
      const expected = linear(req);
      expect(all.match(req)?.route.name ?? null).toBe(expected);
      expect(incremental.match(req)?.route.name ?? null).toBe(expected);
    }
  });
});
