#!/usr/bin/env node
// Propagation benchmark (issue 3). Method:
//   1. Start a real sluice-cp (embedded PGlite in a temp dir, or --database-url) and two real
//      sluice-dp processes on loopback; load N routes through the Admin API.
//   2. Repeat M times: POST one new route; from the moment the Admin API answer arrives, poll both
//      data planes' /status (every 0.5 ms, pipelined per data plane) until each reports a version
//      >= the write's X-Sluice-Config-Version; then check the route is served through the proxy.
//      The sample is the time until the last data plane reports it.
//   3. Print p50/p90/p99/max. Run it with --routes 100 and --routes 10000 to compare.
//   Also: snapshot size and time for a fresh data plane at N routes, data-plane RSS, and cold start
//   from cache to ready (a data plane restarted with the control plane stopped).
// Usage: node bench/propagation.mjs [--routes 10000] [--samples 200] [--database-url postgres://...]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    routes: { type: 'string', default: '100' },
    samples: { type: 'string', default: '200' },
    'database-url': { type: 'string' },
  },
});
const ROUTES = Number(opts.routes);
const SAMPLES = Number(opts.samples);
const agent = new Agent({ connections: 16, pipelining: 1, keepAliveTimeout: 60_000 });

function start(name, bin, args) {
  const child = spawn(process.execPath, [join(root, bin), ...args], { env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const addrs = new Map();
  let out = '';
  const waiters = [];
  const onData = (d) => {
    out += d;
    for (const m of String(d).matchAll(/sluice-(?:cp|dp) (\w[\w-]*) listening on (\S+)/g)) addrs.set(m[1], m[2]);
    for (const w of waiters.splice(0)) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const address = (what) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (addrs.has(what)) return resolve(addrs.get(what));
        if (child.exitCode !== null) return reject(new Error(`${name} exited: ${out.slice(-2000)}`));
        waiters.push(check);
      };
      check();
      child.on('exit', check);
    });
  return { child, address, name, output: () => out };
}

async function json(method, url, body) {
  const res = await request(url, { method, dispatcher: agent, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (ns) => (Number(ns) / 1e6).toFixed(2);
const stop = (p) => new Promise((r) => (p.child.exitCode !== null ? r() : (p.child.on('exit', r), p.child.kill('SIGTERM'))));

const dirs = [mkdtempSync(join(tmpdir(), 'sluice-bench-cp-')), mkdtempSync(join(tmpdir(), 'sluice-bench-dp1-')), mkdtempSync(join(tmpdir(), 'sluice-bench-dp2-'))];
const cpArgs = ['--admin-listen', '127.0.0.1:0', '--admin-gui-listen', 'off', '--cluster-listen', '127.0.0.1:0', ...(opts['database-url'] ? ['--database-url', opts['database-url']] : ['--data-dir', dirs[0]])];
const cp = start('cp', 'packages/control-plane/bin/sluice-cp.js', cpArgs);
const admin = await cp.address('admin');
const cluster = await cp.address('cluster');
console.log(`control plane: admin ${admin}, cluster ${cluster}`);

// Load N routes (8 concurrent writers) before the data planes connect.
const t0 = process.hrtime.bigint();
await json('POST', `${admin}/services`, { name: 'bench', url: 'http://127.0.0.1:9/' });
let next = 0;
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (next < ROUTES) {
      const i = next++;
      const r = await json('POST', `${admin}/services/bench/routes`, { name: `r${i}`, paths: [`/r${i}`], hosts: [`h${i % 50}.example`] });
      if (r.status !== 201) throw new Error(`route ${i}: ${r.status} ${JSON.stringify(r.body)}`);
    }
  }),
);
console.log(`loaded ${ROUTES} routes in ${ms(process.hrtime.bigint() - t0)} ms`);

// Fresh data planes: time from process start to serving the head (snapshot path).
const head = (await json('GET', `${admin}/clustering/status`)).body.config;
const dps = [];
for (const [i, dir] of [dirs[1], dirs[2]].entries()) {
  const started = process.hrtime.bigint();
  const dp = start(`dp${i + 1}`, 'packages/data-plane/bin/sluice-dp.js', ['--control-plane', cluster, '--cache-dir', dir, '--proxy-listen', '127.0.0.1:0', '--status-listen', '127.0.0.1:0']);
  dp.proxy = await dp.address('proxy');
  dp.status = await dp.address('status');
  for (;;) {
    const s = (await json('GET', `${dp.status}/status`)).body;
    if (s.version >= head.version) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  dp.snapshotMs = ms(process.hrtime.bigint() - started);
  dps.push(dp);
}
const snapStats = (await json('GET', `${admin}/clustering/status`)).body.replica;
console.log(`fresh data plane to serving ${ROUTES} routes (process start + snapshot): ${dps.map((d) => d.snapshotMs + ' ms').join(', ')}; snapshot bytes on the wire (both): ${snapStats.bytes_sent}`);

// Propagation samples.
const samples = [];
for (let i = 0; i < SAMPLES; i++) {
  const res = await json('POST', `${admin}/services/bench/routes`, { name: `p${i}`, paths: [`/p${i}`] });
  const answered = process.hrtime.bigint();
  const version = Number(res.headers['x-sluice-config-version']);
  await Promise.all(
    dps.map(async (dp) => {
      for (;;) {
        const s = (await json('GET', `${dp.status}/status`)).body;
        if (s.version >= version) return;
      }
    }),
  );
  samples.push(process.hrtime.bigint() - answered);
  const served = await request(`${dps[0].proxy}/p${i}`, { dispatcher: agent });
  await served.body.dump();
  if (served.statusCode === 404) throw new Error(`route p${i} not served after propagation`);
}
samples.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
console.log(`propagation with ${ROUTES} routes, ${SAMPLES} writes, 2 data planes: p50 ${ms(pct(samples, 50))} ms, p90 ${ms(pct(samples, 90))} ms, p99 ${ms(pct(samples, 99))} ms, max ${ms(samples[samples.length - 1])} ms`);

const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
console.log(`data-plane RSS with ${ROUTES + SAMPLES} routes: ${dps.map((d) => rss(d.child.pid).toFixed(1) + ' MiB').join(', ')}; control plane RSS: ${rss(cp.child.pid).toFixed(1)} MiB`);

// Cold start from cache, control plane stopped.
await stop(cp);
await stop(dps[1]);
const coldStarted = process.hrtime.bigint();
const cold = start('dp2-cold', 'packages/data-plane/bin/sluice-dp.js', ['--control-plane', cluster, '--cache-dir', dirs[2], '--proxy-listen', '127.0.0.1:0', '--status-listen', '127.0.0.1:0']);
const coldStatus = await cold.address('status');
for (;;) {
  const r = await request(`${coldStatus}/status/ready`, { dispatcher: agent }).catch(() => null);
  if (r) {
    await r.body.dump();
    if (r.statusCode === 200) break;
  }
  await new Promise((res) => setTimeout(res, 2));
}
console.log(`cold start from cache to ready with ${ROUTES + SAMPLES} routes (process start included, control plane down): ${ms(process.hrtime.bigint() - coldStarted)} ms`);

await Promise.all([stop(cold), stop(dps[0])]);
await agent.close();
for (const d of dirs) rmSync(d, { recursive: true, force: true });
