#!/usr/bin/env node
// What the rate-limiting local policy costs per request, in-process and across `--workers`: CPU
// time of one real `sluice-dp` (the primary and its workers) for a route with no plugins beside
// a route with rate-limiting (local policy), same process, same run.
//
// Method
//   - Upstream: a Node http server in its own process answering `200 hello world`.
//   - One `sluice-dp` (built dist/) serving a declarative config: routes /none and /limited (a
//     limit far above what the run reaches, so every request is counted and none is refused).
//   - Load: a closed loop of <connections> (default 32) keep-alive connections (undici Pool) for
//     <seconds> (default 3) per round; every response must be 200.
//   - <pairs> (default 6) rounds per route, alternating; CPU = utime + stime (/proc/<pid>/stat) of
//     the data plane's primary and workers over the round, divided by the requests completed.
//     Medians are reported, and the ratio of the medians.
//   - Run once with --workers 0 (the table in the proxy's process: no IPC) and once with
//     --workers N (the workers count through the primary over IPC).
// Usage: node bench/rate-limit-workers.mjs [--workers 2] [--pairs 6] [--seconds 3] [--connections 32]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { arg } from './cluster-serve.js';

const here = dirname(fileURLToPath(import.meta.url));
const workers = Number(arg('workers', '2'));
const pairs = Number(arg('pairs', '6'));
const seconds = Number(arg('seconds', '3'));
const connections = Number(arg('connections', '32'));
const tmp = mkdtempSync(join(tmpdir(), 'sluice-rl-bench-'));
const children = [];
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

const limited = {
  second: 1e12, minute: null, hour: null, day: null, month: null, year: null, limit_by: 'ip', header_name: null, path: null,
  policy: 'local', fault_tolerant: true,
  redis: { host: null, port: 6379, timeout: 2000, username: null, password: null, database: 0, ssl: false, ssl_verify: false, server_name: null },
  hide_client_headers: false, error_code: 429, error_message: 'API rate limit exceeded', sync_rate: -1,
};

function ticksOf(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}
function processTree(pid) {
  const kids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]) === pid) kids.push(Number(entry));
    } catch {}
  }
  return [pid, ...kids];
}
const cpuOf = (pids) => pids.reduce((sum, p) => sum + ticksOf(p), 0);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function startUpstream() {
  const child = spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => { q.resume(); s.writeHead(200, {'content-length': '12'}); s.end('hello world\\n'); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
}

async function startDataPlane(upstreamPort, n) {
  const file = join(tmp, `config-${n}.json`);
  writeFileSync(file, JSON.stringify({ _format_version: '3.0', services: [{ name: 'b', url: `http://127.0.0.1:${upstreamPort}`, routes: [{ name: 'none', paths: ['/none'] }, { name: 'limited', paths: ['/limited'] }, { name: 'hidden', paths: ['/hidden'] }] }], plugins: [{ name: 'rate-limiting', route: 'limited', config: limited }, { name: 'rate-limiting', route: 'hidden', config: { ...limited, hide_client_headers: true } }] }));
  const child = spawn(process.execPath, [join(here, '..', 'packages', 'data-plane', 'bin', 'sluice-dp.js'), '--declarative-config', file, '--proxy-listen', '127.0.0.1:0', '--status-listen', 'off', '--cache-dir', join(tmp, `dp-${n}`), '--log-level', 'warn', '--workers', String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /proxy listening on http:\/\/[\d.]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`sluice-dp exited ${code}`)));
  });
  return { child, port };
}

async function round(pool, pids, path) {
  const before = cpuOf(pids);
  const deadline = performance.now() + seconds * 1000;
  let requests = 0;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < deadline) {
      const res = await pool.request({ path, method: 'GET' });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode}`);
      requests++;
    }
  }));
  return ((cpuOf(pids) - before) / TICKS / requests) * 1e6; // µs of CPU per request
}

async function measure(upstreamPort, n) {
  const dp = await startDataPlane(upstreamPort, n);
  const pids = processTree(dp.child.pid);
  const pool = new Pool(`http://127.0.0.1:${dp.port}`, { connections });
  const paths = ['/none', '/limited', '/hidden'];
  for (const path of paths) await round(pool, pids, path); // warm-up
  const results = { '/none': [], '/limited': [], '/hidden': [] };
  for (let i = 0; i < pairs; i++) {
    // Rotated every round, so drift of the machine spreads over all three.
    for (let j = 0; j < paths.length; j++) {
      const path = paths[(i + j) % paths.length];
      results[path].push(await round(pool, pids, path));
    }
  }
  await pool.close();
  dp.child.kill('SIGKILL');
  const none = median(results['/none']);
  const lim = median(results['/limited']);
  const hidden = median(results['/hidden']);
  return {
    workers: n,
    processes: pids.length,
    noneUsPerRequest: +none.toFixed(1),
    limitedUsPerRequest: +lim.toFixed(1),
    hiddenHeadersUsPerRequest: +hidden.toFixed(1),
    ratio: +(lim / none).toFixed(3),
    ratioWithoutHeaders: +(hidden / none).toFixed(3),
  };
}

try {
  const upstreamPort = await startUpstream();
  console.log(`method: CPU (utime+stime of the data plane's processes) per request, median of ${pairs} rounds of ${seconds}s, ${connections} connections, route without plugins vs rate-limiting local (with its headers, and with hide_client_headers)`);
  for (const n of [0, workers]) console.log(JSON.stringify(await measure(upstreamPort, n)));
} finally {
  for (const c of children) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}
