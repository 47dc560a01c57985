#!/usr/bin/env node
// Paired A/B benchmark: Sluice's ProxyServer from this checkout (A) against another checkout's
// (B, --baseline-dir), for a change whose cost is smaller than the machine's drift.
//
// Method
//   - Upstream: nginx (1 worker) answering `200 hello world` from memory on 127.0.0.1:18180.
//   - A and B run side by side for the whole benchmark (bench/sluice-proxy.js of each checkout,
//     1 process, the 100- or 10,000-route table of route-set.js), each warmed up with 3 s of wrk.
//   - <pairs> (default 30) pairs of closed-loop rounds, `wrk -t1 -c64 -d<seconds>s` (default 2) on
//     A then on B (the order swapped every other pair); over each round the loaded proxy's CPU time
//     (user + system from /proc) is divided by the requests wrk completed. The idle one waits.
//   - Each pair gives the ratio A/B of CPU µs per request and of req/s: both rounds of a pair share
//     the machine's state of that moment (other load, frequency, cache), which the ratio cancels;
//     the median ratio and its interquartile range are reported with the medians of each side.
// Usage: node bench/ab-pairs.js --baseline-dir <dir> [--pairs 30] [--seconds 2] [--routes 100]
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arg } from './cluster-serve.js';
import { benchRequest } from './route-set.js';

const here = dirname(fileURLToPath(import.meta.url));
const baselineDir = arg('baseline-dir', '');
const pairs = Number(arg('pairs', '30'));
const seconds = Number(arg('seconds', '2'));
const routes = Number(arg('routes', '100'));
if (baselineDir === '') throw new Error('--baseline-dir <dir> is required (a built checkout of Sluice)');
const UPSTREAM_PORT = 18180;
const request = benchRequest(routes);
const tmp = mkdtempSync(join(tmpdir(), 'sluice-ab-'));
const children = [];

function start(command, args) {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  return child;
}

async function waitReady(port) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${request.path} HTTP/1.1\r\nHost: ${request.host}\r\nConnection: close\r\n\r\n`));
      let data = '';
      socket.on('data', (c) => (data += c));
      socket.on('close', () => resolve(data.startsWith('HTTP/1.1 200')));
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} not ready`);
}

function cpuTicks(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function round(contender, duration) {
  const before = cpuTicks(contender.child.pid);
  const out = execFileSync('wrk', ['-t1', '-c64', `-d${duration}s`, '-H', `Host: ${request.host}`, `http://127.0.0.1:${contender.port}${request.path}`], { encoding: 'utf8' });
  const cpuSeconds = (cpuTicks(contender.child.pid) - before) / TICKS_PER_SECOND;
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]), cpuUsPerRequest: (cpuSeconds / requests) * 1e6 };
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  return s[Math.floor(at)] + (s[Math.ceil(at)] - s[Math.floor(at)]) * (at - Math.floor(at));
};

try {
  const dir = join(tmp, 'nginx');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn; events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  keepalive_requests 1000000; server { listen 127.0.0.1:${UPSTREAM_PORT}; location / { default_type text/plain; return 200 "hello world\\n"; } } }`,
  );
  start('nginx', ['-c', join(dir, 'nginx.conf'), '-g', 'daemon off;']);
  const launch = (name, checkout, port) => ({ name, port, child: start(process.execPath, [join(checkout, 'bench', 'sluice-proxy.js'), '--port', String(port), '--upstream-port', String(UPSTREAM_PORT), '--routes', String(routes)]) });
  const a = launch('A (this checkout)', join(here, '..'), 18191);
  const b = launch(`B (${baselineDir})`, baselineDir, 18192);
  for (const c of [a, b]) await waitReady(c.port);
  for (const c of [a, b]) round(c, 3);
  const results = [];
  for (let i = 0; i < pairs; i++) {
    const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
    const r1 = round(first, seconds);
    const r2 = round(second, seconds);
    const [ra, rb] = first === a ? [r1, r2] : [r2, r1];
    results.push({ a: ra, b: rb });
    console.error(`pair ${i + 1}: A ${ra.rps.toFixed(0)} req/s ${ra.cpuUsPerRequest.toFixed(1)} µs, B ${rb.rps.toFixed(0)} req/s ${rb.cpuUsPerRequest.toFixed(1)} µs`);
  }
  const cpuRatios = results.map((r) => r.a.cpuUsPerRequest / r.b.cpuUsPerRequest);
  const rpsRatios = results.map((r) => r.a.rps / r.b.rps);
  const med = (xs) => quantile(xs, 0.5);
  console.log(`\nPaired A/B — ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}; ${routes} routes; ${pairs} pairs of wrk -t1 -c64 -d${seconds}s`);
  console.log(`A median ${med(results.map((r) => r.a.rps)).toFixed(0)} req/s, ${med(results.map((r) => r.a.cpuUsPerRequest)).toFixed(1)} µs CPU/request`);
  console.log(`B median ${med(results.map((r) => r.b.rps)).toFixed(0)} req/s, ${med(results.map((r) => r.b.cpuUsPerRequest)).toFixed(1)} µs CPU/request`);
  console.log(`A/B CPU per request: median ${med(cpuRatios).toFixed(3)} (IQR ${quantile(cpuRatios, 0.25).toFixed(3)}–${quantile(cpuRatios, 0.75).toFixed(3)})`);
  console.log(`A/B req/s:           median ${med(rpsRatios).toFixed(3)} (IQR ${quantile(rpsRatios, 0.25).toFixed(3)}–${quantile(rpsRatios, 0.75).toFixed(3)})`);
} finally {
  for (const child of children) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}
