#!/usr/bin/env node
// Router micro-benchmark. Method: build a Router over N synthetic routes of every kind
// (route-set.js), warm up, then time 1,000,000 single `match()` calls one by one with
// process.hrtime.bigint() (timer overhead included, ~30-50 ns) over 64 requests hitting each kind
// of route plus misses. Prints p50/p99/p99.9/mean per N, and the 10k/100 p99 ratio (target: p99 <
// 5 µs at 10,000 routes and no more than 2x the 100-route figure). Also times build and an
// incremental withChanges of one route.
// Usage: node bench/router-bench.js [--calls 1000000]
import { Router } from '@sluice/data-plane';
import { parseArgs } from 'node:util';
import { makeRoutes, makeServices, routerRequests } from './route-set.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '1000000' } } });
const CALLS = Number(values.calls);

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function run(count) {
  const services = makeServices(8080);
  const routes = makeRoutes(count, services);
  const serviceMap = new Map(services.map((s) => [s.id, s]));
  let t = process.hrtime.bigint();
  const router = Router.build(routes, serviceMap);
  const buildMs = Number(process.hrtime.bigint() - t) / 1e6;
  const changed = { ...routes[Math.floor(count / 2)], paths: ['/changed'] };
  t = process.hrtime.bigint();
  for (let i = 0; i < 100; i++) router.withChanges({ upsertRoutes: [changed] });
  const changeUs = Number(process.hrtime.bigint() - t) / 1e3 / 100;
  const requests = routerRequests(count);
  let matched = 0;
  for (let i = 0; i < 300_000; i++) if (router.match(requests[i & 63]) !== null) matched++;
  const samples = new Float64Array(CALLS);
  for (let i = 0; i < CALLS; i++) {
    const req = requests[i & 63];
    const start = process.hrtime.bigint();
    const m = router.match(req);
    samples[i] = Number(process.hrtime.bigint() - start);
    if (m !== null) matched++;
  }
  samples.sort();
  let sum = 0;
  for (const s of samples) sum += s;
  const hits = requests.filter((r) => router.match(r) !== null).length;
  return { count, buildMs, changeUs, p50: percentile(samples, 50), p99: percentile(samples, 99), p999: percentile(samples, 99.9), mean: sum / CALLS, hits, matched };
}

const results = [run(100), run(10_000)];
console.log(`Router.match, ${CALLS} timed calls each, 64 requests (7 route kinds + misses), Node ${process.version}`);
console.log('| routes | p50 (ns) | p99 (ns) | p99.9 (ns) | mean (ns) | requests matched | build (ms) | withChanges 1 route (µs) |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(`| ${r.count} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.p999.toFixed(0)} | ${r.mean.toFixed(0)} | ${r.hits}/64 | ${r.buildMs.toFixed(1)} | ${r.changeUs.toFixed(1)} |`);
}
console.log(`p99 ratio 10000/100: ${(results[1].p99 / results[0].p99).toFixed(2)}x (target ≤ 2x; p99 at 10k target < 5000 ns)`);
