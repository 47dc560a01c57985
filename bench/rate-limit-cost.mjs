#!/usr/bin/env node
// The CPU the rate-limiting local policy adds per request, without the proxy around it (so the
// figure holds on a loaded machine, where a whole-proxy comparison drowns in noise):
//   1. in-process: `RateLimitingHandler.access` (identifier, windows, check-and-increment in the
//      local table, five response headers) on a minimal context, N times; CPU time / N.
//   2. across --workers: the same queries from a node:cluster worker through the IPC channel
//      (`WorkerRateLimitClient` → primary `RateLimitResponder` → table → answer), <concurrency>
//      in flight as a loaded proxy worker would have them; CPU time of the worker and the primary
//      (process.cpuUsage in each) / queries.
// Uses the built dist/. Usage: node bench/rate-limit-cost.mjs [--n 200000] [--concurrency 32]
import cluster from 'node:cluster';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arg } from './cluster-serve.js';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'data-plane', 'dist');
const { RateLimitingHandler } = await import(join(dist, 'plugins/rate-limiting/handler.js'));
const { readRateLimitingConfig } = await import(join(dist, 'plugins/rate-limiting/rate-limiting-config.js'));
const { RateLimitService } = await import(join(dist, 'rate-limiting/rate-limit-service.js'));
const { RateLimitResponder, WorkerRateLimitClient } = await import(join(dist, 'workers/worker-rate-limit-client.js'));

const n = Number(arg('n', '200000'));
const concurrency = Number(arg('concurrency', '32'));
const config = readRateLimitingConfig({ second: 1e12, limit_by: 'ip', policy: 'local' });
const cpuUs = (u) => u.user + u.system;

function context(i) {
  return {
    clientIp: `10.0.${(i >> 8) & 255}.${i & 255}`,
    consumer: null,
    request: { get: () => undefined },
    response: { set: () => undefined },
    answer: () => undefined,
    path: '/',
  };
}

if (cluster.isPrimary) {
  // 1. In-process.
  const handler = new RateLimitingHandler({ config, routeId: 'r', serviceId: 's', counters: new RateLimitService() });
  const contexts = Array.from({ length: 1024 }, (_, i) => context(i));
  for (let i = 0; i < 50_000; i++) handler.access(contexts[i & 1023]);
  let start = process.cpuUsage();
  for (let i = 0; i < n; i++) handler.access(contexts[i & 1023]);
  const inProcess = cpuUs(process.cpuUsage(start)) / n;

  // 2. Through the primary.
  const service = new RateLimitService();
  const worker = cluster.fork();
  const responder = new RateLimitResponder(worker, service);
  let primaryStart = null;
  const result = await new Promise((resolve) => {
    worker.on('message', (m) => {
      if (m !== null && typeof m === 'object' && responder.handle(m)) return;
      if (m === 'measure') primaryStart = process.cpuUsage();
      else if (m?.done) resolve({ workerUs: m.workerUs, primaryUs: cpuUs(process.cpuUsage(primaryStart)) });
    });
  });
  worker.kill();
  const viaPrimary = (result.workerUs + result.primaryUs) / n;
  console.log('method: CPU per rate-limited request (local policy, one window, five headers), built dist/, process.cpuUsage');
  console.log(JSON.stringify({ n, inProcessUsPerRequest: +inProcess.toFixed(2), concurrency, viaPrimaryUsPerRequest: +viaPrimary.toFixed(2), workerUsPerRequest: +(result.workerUs / n).toFixed(2), primaryUsPerRequest: +(result.primaryUs / n).toFixed(2) }));
  process.exit(0);
} else {
  const client = new WorkerRateLimitClient({ send: (m) => process.send(m), get connected() { return process.connected; } });
  process.on('message', (m) => client.handle(m));
  const handler = new RateLimitingHandler({ config, routeId: 'r', serviceId: 's', counters: client });
  const contexts = Array.from({ length: 1024 }, (_, i) => context(i));
  const run = async (total) => {
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < total) await handler.access(contexts[next++ & 1023]);
    }));
  };
  await run(20_000);
  process.send('measure');
  const start = process.cpuUsage();
  await run(n);
  process.send({ done: true, workerUs: cpuUs(process.cpuUsage(start)) });
}
