#!/usr/bin/env node
// What plugins cost per request: CPU time of one real `sluice-dp` for a route with no plugins,
// a route with key-auth + rate-limiting (local policy) and a route with key-auth + rate-limiting
// (redis policy), measured in the same process, in the same run.
//
// Method
//   - Upstream: a Node http server in its own process answering `200 hello world`.
//   - One `sluice-dp` (built dist/, --workers 0) serving a declarative config: one service, three
//     routes (/none, /local, /redis), one consumer with a key-auth key; rate limits far above what
//     the run can reach, so every request is counted and none is refused (a refused request would
//     be cheaper and flatter the figure).
//   - Load: a closed loop of <connections> (default 32) keep-alive connections from this process
//     (undici Pool), for <seconds> (default 3) per round; every response must be 200.
//   - <pairs> (default 10) rounds of each route, the order rotated every round; over each round the
//     data plane's CPU time (utime + stime from /proc/<pid>/stat) is divided by the requests
//     completed. Per round the ratio to the /none round of the same rotation cancels the machine's
//     drift; medians and interquartile ranges are reported.
// Usage: node bench/plugin-bench.mjs [--pairs 10] [--seconds 3] [--connections 32] [--redis-port 6379]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { completePluginConfig } from '@sluice/protocol';
import { Pool } from 'undici';
import { arg } from './cluster-serve.js';

const here = dirname(fileURLToPath(import.meta.url));
const pairs = Number(arg('pairs', '10'));
const seconds = Number(arg('seconds', '3'));
const connections = Number(arg('connections', '32'));
const redisPort = Number(arg('redis-port', '6379'));
const API_KEY = 'bench-key-0123456789';
const tmp = mkdtempSync(join(tmpdir(), 'sluice-plugin-bench-'));
const children = [];

const HUGE = 1e12;
function rateLimiting(route, policy) {
  return { name: 'rate-limiting', route, config: completePluginConfig('rate-limiting', { second: HUGE, limit_by: 'consumer', policy, fault_tolerant: false, redis: { host: '127.0.0.1', port: redisPort } }) };
}
const keyAuth = (route) => ({ name: 'key-auth', route, config: completePluginConfig('key-auth', {}) });

function declarativeConfig(upstreamPort) {
  return {
    _format_version: '3.0',
    services: [
      {
        name: 'bench',
        url: `http://127.0.0.1:${upstreamPort}`,
        routes: [
          { name: 'none', paths: ['/none'] },
          { name: 'local', paths: ['/local'] },
          { name: 'redis', paths: ['/redis'] },
        ],
      },
    ],
    consumers: [{ username: 'bench', keyauth_credentials: [{ key: API_KEY }] }],
    plugins: [keyAuth('local'), rateLimiting('local', 'local'), keyAuth('redis'), rateLimiting('redis', 'redis')],
  };
}

function cpuTicks(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  return s[Math.floor(at)] + (s[Math.ceil(at)] - s[Math.floor(at)]) * (at - Math.floor(at));
};

function startUpstream() {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '12' });
    res.end('hello world\n');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function startDataPlane(configFile) {
  const child = spawn(
    process.execPath,
    [join(here, '..', 'packages', 'data-plane', 'dist', 'cli.js'), '--declarative-config', configFile, '--proxy-listen', '127.0.0.1:0', '--status-listen', 'off', '--cache-dir', join(tmp, 'dp'), '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`sluice-dp did not start: ${out}`)), 20000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /proxy listening on http:\/\/([\d.]+):(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[2]) });
      }
    });
    child.on('exit', (code) => reject(new Error(`sluice-dp exited ${code}: ${out}`)));
  });
}

async function round(pool, pid, path, durationS) {
  const headers = path === '/none' ? {} : { apikey: API_KEY };
  const before = cpuTicks(pid);
  const deadline = performance.now() + durationS * 1000;
  let requests = 0;
  let failures = 0;
  async function loop() {
    while (performance.now() < deadline) {
      const res = await pool.request({ path, method: 'GET', headers });
      await res.body.dump();
      if (res.statusCode === 200) requests++;
      else failures++;
    }
  }
  await Promise.all(Array.from({ length: connections }, loop));
  const cpuSeconds = (cpuTicks(pid) - before) / TICKS_PER_SECOND;
  if (failures > 0) throw new Error(`${path}: ${failures} responses were not 200`);
  return { rps: requests / durationS, cpuUsPerRequest: (cpuSeconds / requests) * 1e6 };
}

const upstream = await startUpstream();
try {
  const configFile = join(tmp, 'config.json');
  writeFileSync(configFile, JSON.stringify(declarativeConfig(upstream.address().port)));
  const dp = await startDataPlane(configFile);
  const pool = new Pool(`http://127.0.0.1:${dp.port}`, { connections, pipelining: 1 });
  const paths = ['/none', '/local', '/redis'];
  for (const path of paths) await round(pool, dp.child.pid, path, 2);
  const results = Object.fromEntries(paths.map((p) => [p, []]));
  for (let i = 0; i < pairs; i++) {
    const order = paths.map((_, j) => paths[(i + j) % paths.length]);
    for (const path of order) results[path].push(await round(pool, dp.child.pid, path, seconds));
    console.error(`round ${i + 1}: ${paths.map((p) => `${p} ${results[p][i].rps.toFixed(0)} req/s ${results[p][i].cpuUsPerRequest.toFixed(1)} µs`).join(', ')}`);
  }
  await pool.close();
  const med = (xs) => quantile(xs, 0.5);
  const iqr = (xs) => `${quantile(xs, 0.25).toFixed(3)}–${quantile(xs, 0.75).toFixed(3)}`;
  console.log(`\nPlugin cost — ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}; ${pairs} rounds of ${seconds} s per route, ${connections} connections`);
  for (const path of paths) {
    const cpu = results[path].map((r) => r.cpuUsPerRequest);
    const rps = results[path].map((r) => r.rps);
    const line = `${path.padEnd(7)} median ${med(rps).toFixed(0)} req/s, ${med(cpu).toFixed(1)} µs CPU/request`;
    if (path === '/none') console.log(line);
    else {
      const ratios = results[path].map((r, i) => r.cpuUsPerRequest / results['/none'][i].cpuUsPerRequest);
      console.log(`${line}; CPU/request vs /none: median ${med(ratios).toFixed(3)} (IQR ${iqr(ratios)})`);
    }
  }
} finally {
  for (const child of children) child.kill('SIGKILL');
  upstream.close();
  rmSync(tmp, { recursive: true, force: true });
}
