import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeclarativeDataPlane, type DeclarativeDataPlaneHandle } from '../../../test/support/processes.js';
import { expandedPathJoiningTable } from './fixtures/path-joining-table.js';
import { send, startUpstream } from './proxy-helpers.js';

// Kong's path-joining table and router priority cases against a real `sluice-dp` process (the built
// dist/, serving a declarative config), as a Kong user's routes would be served.

const rows = expandedPathJoiningTable();

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let dataPlane: DeclarativeDataPlaneHandle | undefined;
let proxyPort = 0;
let dir = '';

function declarativeConfig(upstreamPort: number): unknown {
  const services: unknown[] = [];
  const routes: unknown[] = [];
  rows.forEach((row, i) => {
    services.push({ name: `row-${i}`, url: `http://127.0.0.1:${upstreamPort}${row.servicePath}` });
    routes.push({
      name: `row-${i}`,
      service: { name: `row-${i}` },
      hosts: [`row-${i}.test`],
      paths: row.routePath === null ? null : [row.routePath],
      strip_path: row.stripPath,
    });
  });
  // Each priority route has its own service whose path names it: the upstream URL shows who won.
  const prio = (name: string, fields: Record<string, unknown>): void => {
    services.push({ name: `prio-${name}`, url: `http://127.0.0.1:${upstreamPort}/${name}` });
    routes.push({ name, service: { name: `prio-${name}` }, hosts: ['prio.test'], strip_path: false, ...fields });
  };
  prio('version', { paths: ['/version'] });
  prio('version-any', { paths: ['/version/any/'] });
  prio('status', { paths: ['~/version/\\d+/status'] });
  prio('version-status', { paths: ['~/version/\\d+/status/\\d+'], regex_priority: 6 });
  prio('wild', { hosts: ['*.prio.test'], paths: ['/w'] });
  prio('plain', { hosts: ['a.prio.test'], paths: ['/'] });
  prio('header', { paths: ['/'], headers: { 'x-v': ['V2'] } });
  // More fields beat a longer path: hosts + paths + methods (weight 3) over hosts + a longer path.
  prio('weight-3', { paths: ['/m'], methods: ['GET'] });
  prio('weight-2', { paths: ['/m/longer'] });
  // More header names win.
  prio('one-header', { paths: ['/h'], headers: { 'x-a': ['1'] } });
  prio('two-headers', { paths: ['/h'], headers: { 'x-a': ['1'], 'x-b': ['1'] } });
  // regex_priority counts only for regex paths: the longer prefix wins.
  prio('prefix-prio', { paths: ['/rp'], regex_priority: 10 });
  prio('prefix-long', { paths: ['/rp/longer'] });
  // Equal priority: the higher UUID wins (ATC), not the older route.
  prio('tie-low', { id: '00000000-0000-4000-8000-0000000000a1', paths: ['/tie'], created_at: 1 });
  prio('tie-high', { id: '00000000-0000-4000-8000-0000000000a2', paths: ['/tie'], created_at: 2 });
  return { _format_version: '3.0', services, routes };
}

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    const body = JSON.stringify({ url: req.url, host: req.headers.host });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  dir = mkdtempSync(join(tmpdir(), 'sluice-proxy-e2e-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(declarativeConfig(upstream.port)));
  dataPlane = await startDeclarativeDataPlane({ configFile: file, cacheDir: join(dir, 'cache'), statusListen: 'off' });
  proxyPort = Number(new URL(dataPlane.proxy).port);
});

afterAll(async () => {
  await dataPlane?.proc.kill();
  await upstream?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('sluice-dp process: Kong path-joining table', () => {
  it.each(rows.map((row, i) => ({ ...row, i })))(
    'service $servicePath, route $routePath, strip_path=$stripPath, request $requestPath → $expected',
    async ({ i, requestPath, expected }) => {
      const reply = await send(proxyPort, { path: requestPath, headers: { host: `row-${i}.test` } });
      expect(reply.status).toBe(200);
      expect(reply.json().url).toBe(expected);
    },
  );
});

describe('sluice-dp process: router priority', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['/version/1/status/2', { host: 'prio.test' }, '/version-status/version/1/status/2'],
    ['/version/1/status/', { host: 'prio.test' }, '/status/version/1/status/'],
    ['/version/any/x', { host: 'prio.test' }, '/version-any/version/any/x'],
    ['/version/x', { host: 'prio.test' }, '/version/version/x'],
    ['/w', { host: 'a.prio.test' }, '/plain/w'],
    ['/w', { host: 'b.prio.test' }, '/wild/w'],
    ['/x', { host: 'prio.test', 'x-v': 'v2' }, '/header/x'],
    ['/m/longer/x', { host: 'prio.test' }, '/weight-3/m/longer/x'],
    ['/h', { host: 'prio.test', 'x-a': '1', 'x-b': '1' }, '/two-headers/h'],
    ['/h', { host: 'prio.test', 'x-a': '1' }, '/one-header/h'],
    ['/rp/longer/x', { host: 'prio.test' }, '/prefix-long/rp/longer/x'],
    ['/tie', { host: 'prio.test' }, '/tie-high/tie'],
  ];
  it.each(cases)('%s %o reaches the route Kong picks', async (path, headers, expectedUrl) => {
    const reply = await send(proxyPort, { path, headers });
    expect(reply.status).toBe(200);
    expect(reply.json().url).toBe(expectedUrl);
  });

  it('a method the heavier route does not take falls to the next: POST /m/longer/x → weight-2', async () => {
    const reply = await send(proxyPort, { method: 'POST', path: '/m/longer/x', headers: { host: 'prio.test' }, body: '' });
    expect(reply.status).toBe(200);
    expect(reply.json().url).toBe('/weight-2/m/longer/x');
  });

  it('no match is a JSON 404 with a request id', async () => {
    const miss = await send(proxyPort, { path: '/w', headers: { host: 'nowhere.test' } });
    expect(miss.status).toBe(404);
    expect(miss.json().message).toBe('no Route matched with those values');
    expect(miss.headers['x-sluice-request-id']).toMatch(/^[0-9a-f]{32}$/);
  });
});
