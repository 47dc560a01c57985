#!/usr/bin/env node
// Large-config benchmark (issue 14): 100,000 routes on 10,000 services, against a 100-route
// reference measured the same way in the same run.
//
// Method, for each size (the reference first):
//   1. Seed an embedded database (PGlite in a temp dir) directly through the store, before any
//      control plane runs: `Store.write` transactions of 5,000 entities (the routes of
//      bench/route-set.js: exact, wildcard and port hosts, prefix and regex paths, methods,
//      headers). The Admin API is too slow for this (some 120 writes/s here: 15 minutes for
//      110,000 entities); each entity still goes through the store's writer, foreign keys and
//      change log as an Admin API write does.
//   2. Snapshot size and build time: the store's snapshot read back, each entity encoded and the
//      batch packed (encode + gzip), as the control plane's mirror does once per version
//      (`ConfigMirror.snapshot`); median of 3.
//   3. Start sluice-cp on the database (time to listen, RSS), then a fresh sluice-dp: time from its
//      spawn until it serves the head (its /status shows the head version and a request to a
//      route of the table is routed, not 404); its RSS (VmRSS) and peak (VmHWM) then.
//   4. Once the fresh data plane has written its cache (the base file is in place), --writes
//      one-route writes, one after another: from the Admin API answer until the data
//      plane logs `config applied` for that version (ms, its pino time) and until
//      `/clustering/propagation/{v}?min_data_planes=1` answers. p50/p90/p99/max.
//   5. Stop the control plane and the data plane, start the data plane again with the control
//      plane down: time from its spawn to /status/ready 200 and a routed request (cold start from
//      its disk cache); its RSS then.
//   With --seed-cache DIR, each seeded database is kept in DIR (per size) and copied for later runs
//   (seeding 110,000 entities takes minutes); the seeding time is then not measured.
// Usage: node bench/large-config.mjs [--routes 100000] [--services 10000] [--writes 30] [--reference-routes 100] [--seed-cache DIR]
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '@sluice/control-plane';
import { ENTITY_KINDS, encodeEntity, ENTITY_TYPE_BY_KIND, packBatch } from '@sluice/protocol';
import { makeRoutes, makeServices } from './route-set.js';
import { CP_BIN, DP_BIN, formatSummary, json, memMiB, nowMs, startSluice, summary, until } from './sluice-process.mjs';

const { values: opts } = parseArgs({
  options: {
    routes: { type: 'string', default: '100000' },
    services: { type: 'string', default: '10000' },
    writes: { type: 'string', default: '30' },
    'reference-routes': { type: 'string', default: '100' },
    'seed-cache': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const WRITES = Number(opts.writes);
const SEED_CHUNK = 5_000;
const dirs = [];
const tempDir = (prefix) => {
  const d = mkdtempSync(join(tmpdir(), `sluice-large-${prefix}-`));
  dirs.push(d);
  return d;
};
const runId = Math.random().toString(36).slice(2, 8);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A GET through a data plane's proxy with a Host header; resolves with the status. */
function proxyGet(proxy, path, host) {
  const u = new URL(proxy);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}

async function measure(routeCount, serviceCount) {
  const out = { routes: routeCount, services: serviceCount };
  const cpDir = tempDir('cp');
  // 1. Seed through the store (or copy a database seeded so before).
  let t0 = performance.now();
  const services = makeServices(9, serviceCount);
  const cached = opts['seed-cache'] ? join(opts['seed-cache'], `${routeCount}-${serviceCount}`) : null;
  if (cached && existsSync(cached)) {
    cpSync(cached, cpDir, { recursive: true });
    out.seedMs = null;
  } else {
    const seeding = await openStore({ dataDir: cpDir });
    const routes = makeRoutes(routeCount, services);
    for (const [kind, list] of [['services', services], ['routes', routes]]) {
      for (let i = 0; i < list.length; i += SEED_CHUNK) {
        const chunk = list.slice(i, i + SEED_CHUNK);
        await seeding.write(async (w) => {
          for (const entity of chunk) await w.insert(kind, entity);
        });
      }
    }
    await seeding.close();
    out.seedMs = Math.round(performance.now() - t0);
    if (cached) cpSync(cpDir, cached, { recursive: true });
  }
  const store = await openStore({ dataDir: cpDir });

  // 2. Snapshot size and build time (the mirror's work).
  const snap = await store.loadSnapshot();
  const builds = [];
  let packed = null;
  for (let round = 0; round < 3; round++) {
    t0 = performance.now();
    const upserts = [];
    for (const kind of ENTITY_KINDS) for (const e of snap.entities[kind]) upserts.push({ type: ENTITY_TYPE_BY_KIND[kind], id: e.id, version: snap.head.version, payload: encodeEntity(kind, e) });
    const encodedAt = performance.now();
    packed = packBatch({ upserts });
    builds.push({ encodeMs: encodedAt - t0, packMs: performance.now() - encodedAt });
  }
  await store.close();
  out.snapshot = {
    entities: routeCount + serviceCount,
    rawBytes: packed.rawSize,
    gzipBytes: packed.data.byteLength,
    encodeMs: Math.round(median(builds.map((b) => b.encodeMs))),
    packMs: Math.round(median(builds.map((b) => b.packMs))),
  };

  // 3. Control plane, then a fresh data plane.
  t0 = performance.now();
  let cp = startSluice(CP_BIN, ['--admin-listen', '127.0.0.1:0', '--admin-gui-listen', 'off', '--cluster-listen', '127.0.0.1:0', '--data-dir', cpDir]);
  const admin = await cp.address('admin');
  const cluster = await cp.address('cluster');
  out.cpStartMs = Math.round(performance.now() - t0);
  out.cpRssMiB = +memMiB(cp.child.pid).toFixed(0);
  const head = (await json('GET', `${admin}/clustering/status`)).body.config;

  const dpDir = tempDir('dp');
  const applied = new Map();
  const waiters = new Set();
  const onLine = (line) => {
    if (!line.includes('"config applied"')) return;
    const entry = JSON.parse(line);
    applied.set(entry.version, entry.time);
    for (const w of [...waiters]) w();
  };
  const dpArgs = ['--control-plane', cluster, '--cache-dir', dpDir, '--proxy-listen', '127.0.0.1:0', '--status-listen', '127.0.0.1:0'];
  // A route from the middle of the table (exact host + prefix path).
  const k = Math.floor(routeCount / 20) * 10;
  const probe = { host: `api-${k}.bench.local`, path: `/api/v1/r${k}/x` };
  t0 = performance.now();
  let dp = startSluice(DP_BIN, dpArgs, { onLine });
  const status = await dp.address('status');
  const proxy = await dp.address('proxy');
  await until(async () => (await json('GET', `${status}/status`)).body.version === head.version && (await proxyGet(proxy, probe.path, probe.host)) !== 404, 'the fresh data plane to serve the head', 300_000, 10);
  out.freeDataPlane = { toServeMs: Math.round(performance.now() - t0), rssMiB: +memMiB(dp.child.pid).toFixed(0), peakRssMiB: +memMiB(dp.child.pid, 'VmHWM').toFixed(0) };
  out.cpRssAfterSnapshotMiB = +memMiB(cp.child.pid).toFixed(0);
  // The writes measure a data plane in its steady state: after the snapshot's own cache write (the
  // base file, renamed into place whole), not while it streams the whole config to disk.
  await until(async () => existsSync(join(dpDir, 'config')), 'the fresh data plane to cache its config', 300_000, 10);
  out.freeDataPlane.toCachedMs = Math.round(performance.now() - t0);

  // 4. One change at a time.
  const appliedSamples = [];
  const waitSamples = [];
  for (let i = 0; i < WRITES; i++) {
    const res = await json('POST', `${admin}/routes`, { name: `p${runId}-${i}`, paths: [`/p${runId}-${i}`], service: { id: services[0].id } });
    const answeredAt = nowMs();
    if (res.status !== 201) throw new Error(`write ${i}: ${res.status} ${JSON.stringify(res.body)}`);
    const version = Number(res.headers.get('x-sluice-config-version'));
    const appliedAt = new Promise((resolve) => {
      const check = () => {
        if (!applied.has(version)) return;
        waiters.delete(check);
        resolve(applied.get(version));
      };
      waiters.add(check);
      check();
    });
    const [at, waitedAt] = await Promise.all([appliedAt, json('GET', `${admin}/clustering/propagation/${version}?min_data_planes=1&timeout_ms=30000`).then(() => nowMs())]);
    appliedSamples.push(Math.max(0, at - answeredAt));
    waitSamples.push(waitedAt - answeredAt);
  }
  out.propagation = { applied: summary(appliedSamples), wait: summary(waitSamples), appliedSamplesMs: appliedSamples.map((x) => +x.toFixed(1)) };
  out.dpRssAfterWritesMiB = +memMiB(dp.child.pid).toFixed(0);

  // 5. Cold start from the cache, control plane down.
  await cp.stop();
  await dp.stop();
  t0 = performance.now();
  dp = startSluice(DP_BIN, dpArgs);
  const coldStatus = await dp.address('status');
  const coldProxy = await dp.address('proxy');
  await until(async () => (await fetch(`${coldStatus}/status/ready`)).status === 200 && (await proxyGet(coldProxy, probe.path, probe.host)) !== 404, 'the data plane to serve from its cache', 300_000, 10);
  out.coldStart = { toServeMs: Math.round(performance.now() - t0), rssMiB: +memMiB(dp.child.pid).toFixed(0), peakRssMiB: +memMiB(dp.child.pid, 'VmHWM').toFixed(0) };
  await dp.stop();
  return out;
}

const reference = await measure(Number(opts['reference-routes']), Math.max(1, Math.round(Number(opts['reference-routes']) / 10)));
const large = await measure(Number(opts.routes), Number(opts.services));
console.log(`\nLarge config, node ${process.version}; embedded database; ${WRITES} one-route writes per size\n`);
console.log('| | ' + [reference, large].map((r) => `${r.routes.toLocaleString('en')} routes / ${r.services.toLocaleString('en')} services`).join(' | ') + ' |');
console.log('|---|---:|---:|');
const row = (name, f) => console.log(`| ${name} | ${[reference, large].map(f).join(' | ')} |`);
row('seeding through the store (s)', (r) => (r.seedMs === null ? 'cached' : (r.seedMs / 1000).toFixed(1)));
row('snapshot raw / gzip (MB)', (r) => `${(r.snapshot.rawBytes / 1e6).toFixed(2)} / ${(r.snapshot.gzipBytes / 1e6).toFixed(2)}`);
row('snapshot build: encode + pack (ms)', (r) => `${r.snapshot.encodeMs} + ${r.snapshot.packMs}`);
row('control plane start to listening (ms) / RSS (MiB)', (r) => `${r.cpStartMs} / ${r.cpRssMiB}`);
row('fresh data plane: spawn to serving the head (ms)', (r) => r.freeDataPlane.toServeMs);
row('fresh data plane: spawn to its cache written (ms)', (r) => r.freeDataPlane.toCachedMs);
row('data-plane RSS serving / peak (MiB)', (r) => `${r.freeDataPlane.rssMiB} / ${r.freeDataPlane.peakRssMiB}`);
row('one change, answer → data plane applied', (r) => formatSummary(r.propagation.applied));
row('one change, answer → propagation wait answered', (r) => formatSummary(r.propagation.wait));
row('cold start from cache, CP down: spawn to serving (ms)', (r) => r.coldStart.toServeMs);
row('data-plane RSS after cold start / peak (MiB)', (r) => `${r.coldStart.rssMiB} / ${r.coldStart.peakRssMiB}`);
console.log(`\none-change propagation p50, large / reference: ${(large.propagation.applied.p50 / reference.propagation.applied.p50).toFixed(2)}×; p99: ${(large.propagation.applied.p99 / reference.propagation.applied.p99).toFixed(2)}×`);
if (opts.json) console.log(JSON.stringify({ reference, large }));
for (const d of dirs) rmSync(d, { recursive: true, force: true });
