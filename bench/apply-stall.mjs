#!/usr/bin/env node
// How long applying a large snapshot holds the data plane's event loop (the proxy's, in the
// single-process data plane and in each --workers worker), run to completion in one go
// (`applySnapshot`, as at startup from the cache) and in slices (`snapshotSteps` through
// `runStepsSliced`, as a serving data plane applies a push from the control plane).
//
// Method: the synthetic route table of route-set.js (hosts, wildcards, ports, prefix and regex
// paths, methods, headers) as a snapshot batch of encoded entities; each round applies it both
// ways, in alternating order, with full schema checks, while a 1 ms interval timer watches the
// loop. Reported per way (medians over rounds): wall time of the apply, the longest the loop was
// held (the longest gap between two ticks of the timer), and how many times the timer fired
// during the apply (the turns a proxy had to serve requests in).
// Usage: node bench/apply-stall.mjs [--routes 10000] [--rounds 5] [--slice-ms 10]
import { applySnapshot, runStepsSliced, snapshotSteps } from '@sluice/data-plane';
import { arg } from './cluster-serve.js';
import { makeRoutes, makeServices } from './route-set.js';
import { watchLoop } from './loop-watch.mjs';
import { snapshotOf } from './snapshot-batch.mjs';

const routeCount = Number(arg('routes', '10000'));
const rounds = Number(arg('rounds', '5'));
const sliceMs = Number(arg('slice-ms', '10'));

const services = makeServices(8080);
const routes = makeRoutes(routeCount, services);
const { batch, target } = snapshotOf(services, routes);

async function measure(apply) {
  const loop = watchLoop();
  await new Promise((resolve) => setTimeout(resolve, 20)); // the timer runs before the apply starts
  loop.reset();
  const ticksBefore = loop.ticks;
  const start = performance.now();
  const result = await apply();
  const wallMs = performance.now() - start;
  const ticksDuring = loop.ticks - ticksBefore;
  const maxGapMs = await loop.stop();
  if (!result.ok) throw result.error;
  return { wallMs, maxHeldMs: maxGapMs, ticksDuring };
}

const ways = {
  'in one go (applySnapshot)': () => Promise.resolve(applySnapshot(batch, target)),
  [`in slices of ${sliceMs} ms (runStepsSliced)`]: () => runStepsSliced(snapshotSteps(batch, target), { sliceMs }),
};
const samples = new Map(Object.keys(ways).map((name) => [name, []]));
const names = Object.keys(ways);
for (let round = 0; round < rounds + 1; round++) {
  for (const name of round % 2 === 0 ? names : [...names].reverse()) {
    const sample = await measure(ways[name]);
    if (round > 0) samples.get(name).push(sample); // round 0 warms the JIT up
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`\nSnapshot apply of ${routeCount} routes + ${services.length} services, Node ${process.version}; medians of ${rounds} rounds\n`);
console.log('| apply | wall time (ms) | longest the event loop was held (ms) | 1 ms timer ticks during the apply |');
console.log('|---|---:|---:|---:|');
for (const [name, xs] of samples) {
  console.log(`| ${name} | ${median(xs.map((x) => x.wallMs)).toFixed(0)} | ${median(xs.map((x) => x.maxHeldMs)).toFixed(1)} | ${median(xs.map((x) => x.ticksDuring))} |`);
}
