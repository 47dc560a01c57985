#!/usr/bin/env node
// Heap of an applied config, by part (issue 14), in process. Run with --expose-gc, after
// `npm run build`:
//   node --expose-gc bench/config-heap.mjs [--routes 100000] [--services 10000] [--schema-checked]
// Method: bench/route-set.js's routes and services are encoded into a snapshot batch (as the
// control plane sends it) and applied once with `applySnapshot` (with Kong's schema rules, as a
// fresh data plane does; `--schema-checked` skips them, as a cold start from this build's own cache
// does), timed. Then the batch is dropped, and the parts of the config are released one at a time,
// each followed by two full collections: what heapUsed falls by is what that part alone held. The
// order matters where parts share objects (the router and the plugin chains hold the decoded
// entities), so the entities go last and carry what the others shared with them.
import { parseArgs } from 'node:util';
import { applySnapshot } from '@sluice/data-plane';
import { makeRoutes, makeServices } from './route-set.js';
import { snapshotOf } from './snapshot-batch.mjs';

if (typeof gc !== 'function') throw new Error('run with node --expose-gc');
const { values: opts } = parseArgs({
  options: { routes: { type: 'string', default: '100000' }, services: { type: 'string', default: '10000' }, 'schema-checked': { type: 'boolean', default: false } },
});
const heapMiB = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1048576;
};

const base = heapMiB();
/** The snapshot of the table (its entity objects are garbage once it is encoded). */
function tableSnapshot() {
  const services = makeServices(8080, Number(opts.services));
  return snapshotOf(services, makeRoutes(Number(opts.routes), services));
}
let { batch, target } = tableSnapshot();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let result = applySnapshot(batch, target, { isSchemaChecked: opts['schema-checked'] });
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
if (!result.ok) throw result.error;
const parts = result.config.parts();
result = null;
batch = null;
let held = {
  plugins: parts.projections.plugins,
  consumers: parts.projections.consumers,
  router: parts.projections.router,
  references: parts.references,
  resources: parts.resources,
  entities: parts.entities,
};
parts.projections = parts.references = parts.resources = parts.entities = null;
const total = heapMiB() - base;
console.log(`${opts.routes} routes / ${opts.services} services, node ${process.version}; applySnapshot ${opts['schema-checked'] ? 'without' : 'with'} Kong's schema rules: ${wallMs.toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU`);
console.log(`applied config: ${total.toFixed(1)} MiB of heap; RSS ${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB`);
for (const name of Object.keys(held)) {
  const at = heapMiB();
  delete held[name];
  console.log(`  ${name.padEnd(10)} ${(at - heapMiB()).toFixed(1).padStart(6)} MiB`);
}
held = null;
