#!/usr/bin/env node
// What the data plane's disk cache costs each applied delta at a large config (issue 14): the
// one-change latency and the event loop while a burst of one-route deltas is applied and cached.
//
// Method: the synthetic route table of route-set.js (100,000 routes on 10,000 services by default,
// 23 MB of payloads) applied in process as a snapshot (schema checks skipped, as a cache load
// does); then, for each way of caching, --deltas one-route deltas, one every --gap-ms (as a
// stream of writes, each waiting for the one before, arrives), each applied with `deltaSteps`
// through `runStepsSliced` (as the sync client applies a push) and handed to a `ConfigCache` in a
// temp dir (coalesced: one write per 200 ms). Ways, in one run on the same config:
//   none     no cache: the apply alone, the reference;
//   journal  `schedule(config, delta)`, as the data plane does: each delta's record appended;
//   rewrite  `schedule(config)`: every write rewrites the whole config (streamed in 256 KiB chunks).
// Reported per way: latency from when a delta was due until it was applied and scheduled
// (p50/p90/p99/max, ms: includes any wait for the loop), the longest the loop was held (gap between
// two ticks of a 1 ms timer), CPU time of the process over the deltas, and GC time (perf_hooks).
// Then heap after gc with the config held, and (config dropped) a cold load of the journaled cache
// (base + records), as a restarted data plane does.
// Usage: node --expose-gc bench/cache-lag.mjs [--routes 100000] [--services 10000] [--deltas 60] [--gap-ms 20]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { applySnapshot, ConfigCache, deltaSteps, runStepsSliced } from '@sluice/data-plane';
import { ConfigHash, encodeRoute, ENTITY_TYPE_BY_KIND } from '@sluice/protocol';
import { arg } from './cluster-serve.js';
import { makeRoutes, makeServices } from './route-set.js';
import { watchLoop } from './loop-watch.mjs';
import { snapshotOf } from './snapshot-batch.mjs';

const routeCount = Number(arg('routes', '100000'));
const serviceCount = Number(arg('services', '10000'));
const deltaCount = Number(arg('deltas', '60'));
const gapMs = Number(arg('gap-ms', '20'));
const WAYS = ['none', 'journal', 'rewrite'];

const services = makeServices(8080, serviceCount);
const all = makeRoutes(routeCount + deltaCount * WAYS.length, services);
const extra = all.slice(routeCount);
let snapshot = snapshotOf(services, all.slice(0, routeCount));
const built = applySnapshot(snapshot.batch, snapshot.target, { isSchemaChecked: true });
if (!built.ok) throw built.error;
snapshot = null; // the batch is garbage once applied (the heap figure below is the config's)
let config = built.config;

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.max(0, Math.ceil((p / 100) * xs.length) - 1))];
const heapMiB = () => {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 1048576;
};

console.log(`cache cost per delta, node ${process.version}: ${routeCount.toLocaleString('en')} routes / ${serviceCount.toLocaleString('en')} services, ${deltaCount} one-route deltas every ${gapMs} ms per way\n`);
console.log('| way | latency p50 / p90 / p99 / max (ms) | longest loop hold (ms) | CPU over the deltas (ms) | GC (ms) |');
console.log('|---|---:|---:|---:|---:|');
let journaledDir = null;
let next = 0;
for (const way of WAYS) {
  const dir = mkdtempSync(join(tmpdir(), `sluice-cache-lag-${way}-`));
  const cache = new ConfigCache({ dir });
  await cache.open();
  if (way !== 'none') {
    cache.schedule(config);
    await cache.flush();
  }
  const loop = watchLoop();
  const latencies = [];
  const cpu = process.cpuUsage();
  const gcBefore = gcMs;
  for (let i = 0; i < deltaCount; i++) {
    const due = performance.now() + gapMs;
    await sleep(gapMs);
    const route = extra[next++];
    const payload = encodeRoute(route);
    const target = new ConfigHash(config.hashSum);
    target.set('routes', route.id, payload);
    const delta = { epoch: config.epoch, fromVersion: config.version, toVersion: config.version + 1, targetHash: target.bytes(), batch: { upserts: [{ type: ENTITY_TYPE_BY_KIND.routes, id: route.id, version: config.version + 1, payload }], removals: [] } };
    const result = await runStepsSliced(deltaSteps(config, delta));
    if (!result.ok) throw result.error;
    config = result.config;
    if (way === 'journal') cache.schedule(config, delta);
    if (way === 'rewrite') cache.schedule(config);
    latencies.push(performance.now() - due);
  }
  const used = process.cpuUsage(cpu);
  await cache.flush();
  const longestMs = await loop.stop();
  latencies.sort((a, b) => a - b);
  const lat = [50, 90, 99, 100].map((p) => pct(latencies, p).toFixed(1)).join(' / ');
  console.log(`| ${way} | ${lat} | ${longestMs.toFixed(1)} | ${((used.user + used.system) / 1000).toFixed(0)} | ${(gcMs - gcBefore).toFixed(0)} |`);
  if (way === 'journal') journaledDir = dir;
  else rmSync(dir, { recursive: true, force: true });
}
console.log(`\nheap after gc, config held: ${heapMiB().toFixed(0)} MiB`);
config = null;
globalThis.gc?.();
const t0 = performance.now();
const reloaded = new ConfigCache({ dir: journaledDir });
await reloaded.open();
const loaded = await reloaded.load();
console.log(`cold load of the journaled cache (base + ${deltaCount} records): ${(performance.now() - t0).toFixed(0)} ms, version ${loaded.config?.version}`);
rmSync(journaledDir, { recursive: true, force: true });
