#!/usr/bin/env node
// Proxy benchmark: throughput and latency of the same upstream reached directly and through each
// proxy, measured in one run, side by side.
//
// Method
//   - Upstream: nginx (1 worker) answering `200 hello world` (12-byte body) from memory, so the
//     upstream is never the bottleneck.
//   - Contenders, each in turn with 1 and then 2 worker processes: direct (no proxy); nginx as a
//     reverse proxy (`worker_processes N`, `keepalive 256` upstream); a bare Node proxy on undici's
//     dispatcher (bare-undici-proxy.js, the Node ceiling), and the same sending Sluice's headers as
//     constants (bare-undici+headers: what Kong's header contract costs on the wire, with none of
//     Sluice's work); @fastify/http-proxy; http-proxy; Sluice's
//     ProxyServer with the synthetic route table (route-set.js: hosts, wildcards, ports, prefix and
//     regex paths, methods, headers) of 100 and of 10,000 routes. The Node proxies scale with
//     node:cluster (round-robin), as `sluice-dp --workers N` does.
//   - Closed loop: <rounds> (default 3) interleaved rounds, the contenders' order rotated each round,
//     of `wrk -t1 -c64 -d<round-duration>s --latency` (default 5 s) after a 1 s warm-up, on a request
//     that matches a host + prefix-path route in the middle of Sluice's table
//     (Host: api-K.bench.local, GET /api/v1/rK/items?limit=10); median req/s (and min–max), p50, p99.
//     Rounds make the comparison robust to other load on the machine. Over each round the
//     contender's CPU time (user + system, its whole process tree, from /proc) is divided by the
//     requests wrk completed: CPU µs per request under saturation, which moves less with the
//     machine's noise than req/s does.
//   - Open loop (1 worker only), in every round right after the closed loop: after a 2 s warm-up at
//     the same rate, open-loop.js at a fixed moderate rate (default 2000 req/s, 64 connections) for
//     <duration> s (default 5); p50/p99 from the issue time, and the contender's CPU time per request
//     (/proc, the whole process tree); the medians over the rounds, so one window's stall (of the
//     machine, not the proxy: they hit the Node ceiling as often) does not decide the p99.
//   - Everything shares the machine (wrk, the proxy, the upstream): compare ratios, not absolutes.
//   - --baseline-dir <dir>: a second checkout of Sluice (built, `npm ci` done there), whose
//     bench/sluice-proxy.js runs as the extra contenders sluice-100@base and sluice-10k@base in
//     the same rounds, interleaved with this checkout's: before/after numbers from one session.
// Usage: node bench/proxy-bench.js [--rounds 3] [--round-duration 5] [--duration 5] [--rate 2000] [--workers 1,2] [--only a,b] [--baseline-dir <dir>]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arg } from './cluster-serve.js';
import { benchRequest } from './route-set.js';

const here = dirname(fileURLToPath(import.meta.url));
const duration = Number(arg('duration', '5'));
const rounds = Number(arg('rounds', '3'));
const roundSeconds = Number(arg('round-duration', '5'));
const rate = Number(arg('rate', '2000'));
const workerCounts = arg('workers', '1,2').split(',').map(Number);
const only = arg('only', '') === '' ? null : new Set(arg('only', '').split(','));
const baselineDir = arg('baseline-dir', '');
const UPSTREAM_PORT = 18080;
const request = benchRequest(100);
const request10k = benchRequest(10_000);

const tmp = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
const children = new Set();

function nginxConf(name, body, workers) {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000; keepalive_timeout 60s;
  ${body}
}
`,
  );
  return conf;
}

function start(command, args) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

async function waitReady(port, hostHeader, path) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      // A status line is enough: some proxies keep the connection open despite `Connection: close`.
      const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`));
      let data = '';
      const done = (result) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(result);
      };
      const timer = setTimeout(() => done(false), 2000);
      socket.on('data', (c) => {
        data += c;
        if (data.includes('\r\n')) done(data.startsWith('HTTP/1.1 200'));
      });
      socket.on('close', () => done(data.startsWith('HTTP/1.1 200')));
      socket.on('error', () => done(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} not ready`);
}

function toMs(text) {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

function wrk(port, req, seconds) {
  const out = execFileSync('wrk', ['-t1', '-c64', `-d${seconds}s`, '--latency', '-H', `Host: ${req.host}`, `http://127.0.0.1:${port}${req.path}`], { encoding: 'utf8' });
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/ 50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = toMs(/ 99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  return { requests, rps, p50, p99, errors: Number(errors) };
}

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, ..., utime at 11, stime at 12]. */
function procStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** CPU time (user + system, clock ticks) of `pid` and all its descendants (nginx workers, cluster workers). */
function treeCpuTicks(pid) {
  const parents = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(entry);
    if (stat !== null) parents.set(Number(entry), { ppid: Number(stat[1]), ticks: Number(stat[11]) + Number(stat[12]) });
  }
  let total = 0;
  const pending = [pid];
  while (pending.length > 0) {
    const current = pending.pop();
    total += parents.get(current)?.ticks ?? 0;
    for (const [child, info] of parents) if (info.ppid === current) pending.push(child);
  }
  return total;
}
const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function openLoop(port, req, seconds = duration) {
  const out = execFileSync(process.execPath, [join(here, 'open-loop.js'), '--port', String(port), '--host-header', req.host, '--path', req.path, '--rate', String(rate), '--duration', String(seconds)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1));
}

function contenders(workers) {
  const node = (script, extra = [], dir = here) => () => start(process.execPath, [join(dir, script), '--port', '18090', '--upstream-port', String(UPSTREAM_PORT), '--workers', String(workers), ...extra]);
  const baseline = baselineDir === '' ? [] : [
    { name: 'sluice-100@base', port: 18090, req: request, launch: node('sluice-proxy.js', ['--routes', '100'], join(baselineDir, 'bench')) },
    { name: 'sluice-10k@base', port: 18090, req: request10k, launch: node('sluice-proxy.js', ['--routes', '10000'], join(baselineDir, 'bench')) },
  ];
  return [
    { name: 'direct', port: UPSTREAM_PORT, launch: null, req: request },
    {
      name: 'nginx',
      port: 18090,
      req: request,
      launch: () =>
        start('nginx', [
          '-c',
          nginxConf(
            `proxy-${workers}`,
            `upstream up { server 127.0.0.1:${UPSTREAM_PORT}; keepalive 256; }
  server { listen 127.0.0.1:18090; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
            workers,
          ),
          '-g',
          'daemon off;',
        ]),
    },
    { name: 'bare-undici', port: 18090, req: request, launch: node('bare-undici-proxy.js') },
    { name: 'bare-undici+headers', port: 18090, req: request, launch: node('bare-undici-proxy.js', ['--kong-headers']) },
    { name: 'fastify-http-proxy', port: 18090, req: request, launch: node('fastify-http-proxy.js') },
    { name: 'http-proxy', port: 18090, req: request, launch: node('http-proxy.js') },
    { name: 'sluice-100', port: 18090, req: request, launch: node('sluice-proxy.js', ['--routes', '100']) },
    { name: 'sluice-10k', port: 18090, req: request10k, launch: node('sluice-proxy.js', ['--routes', '10000']) },
    ...baseline,
  ].filter((c) => only === null || only.has(c.name) || c.name === 'direct');
}

const cleanup = () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(1);
});

const results = [];
/** Medians of the fixed-rate runs of a contender (null when it had none). */
function summarizeOpen(runs) {
  if (runs.length === 0) return null;
  const of = (key) => median(runs.map((r) => r[key]));
  return { p50: of('p50'), p99: of('p99'), p999: of('p999'), cpuUsPerRequest: of('cpuUsPerRequest'), p99s: runs.map((r) => r.p99) };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  const upstream = start('nginx', ['-c', nginxConf('upstream', `server { listen 127.0.0.1:${UPSTREAM_PORT}; location / { default_type text/plain; return 200 "hello world\\n"; } }`, 1), '-g', 'daemon off;']);
  await waitReady(UPSTREAM_PORT, 'x', '/');
  for (const workers of workerCounts) {
    const list = contenders(workers);
    const samples = new Map(list.map((c) => [c.name, []]));
    const opens = new Map(list.map((c) => [c.name, []]));
    for (let round = 0; round < rounds; round++) {
      // Rotate the order every round so a burst of outside load does not always hit the same contender.
      const order = list.map((_, i) => list[(i + round) % list.length]);
      for (const c of order) {
        const child = c.launch?.();
        try {
          await waitReady(c.port, c.req.host, c.req.path);
          wrk(c.port, c.req, 1);
          const pid = child?.pid ?? upstream.pid;
          const roundTicksBefore = treeCpuTicks(pid);
          const sample = wrk(c.port, c.req, roundSeconds);
          sample.cpuUsPerRequest = ((treeCpuTicks(pid) - roundTicksBefore) / TICKS_PER_SECOND / sample.requests) * 1e6;
          samples.get(c.name).push(sample);
          console.error(`${c.name} x${workers} round ${round + 1}: ${sample.rps.toFixed(0)} req/s p50 ${sample.p50}ms p99 ${sample.p99}ms, ${sample.cpuUsPerRequest.toFixed(1)} µs CPU/request`);
          if (workers === 1) {
            openLoop(c.port, c.req, 2); // warm-up at the fixed rate, discarded
            // The proxy's own CPU time per request at the fixed rate: its cost, free of the noise
            // of sharing cores under saturation (direct: the upstream's, which every proxy adds to).
            const ticksBefore = treeCpuTicks(pid);
            const open = openLoop(c.port, c.req);
            open.cpuUsPerRequest = ((treeCpuTicks(pid) - ticksBefore) / TICKS_PER_SECOND / open.completed) * 1e6;
            opens.get(c.name).push(open);
            console.error(`${c.name} x${workers}: ${rate}/s p50 ${open.p50.toFixed(2)}ms p99 ${open.p99.toFixed(2)}ms p99.9 ${open.p999.toFixed(2)}ms max ${open.max.toFixed(2)}ms, ${open.cpuUsPerRequest.toFixed(1)} µs CPU/request`);
          }
        } finally {
          if (child) await stop(child);
        }
      }
    }
    for (const c of list) {
      const xs = samples.get(c.name);
      const rps = xs.map((x) => x.rps);
      results.push({
        name: c.name,
        workers,
        rps: median(rps),
        rpsMin: Math.min(...rps),
        rpsMax: Math.max(...rps),
        p50: median(xs.map((x) => x.p50)),
        p99: median(xs.map((x) => x.p99)),
        errors: xs.reduce((n, x) => n + x.errors, 0),
        cpuUsPerRequest: median(xs.map((x) => x.cpuUsPerRequest)),
        open: summarizeOpen(opens.get(c.name)),
      });
    }
  }
  await stop(upstream);
} finally {
  cleanup();
}

const nginxVersion = spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.replace('nginx version: ', '');
console.log(`\nProxy benchmark — ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, ${nginxVersion.trim() || 'nginx'}; ${rounds} interleaved rounds of wrk -t1 -c64 -d${roundSeconds}s (medians); open loop ${rate} req/s, 64 connections, ${duration}s per round (medians)\n`);
console.log('| contender | workers | req/s (median) | req/s (min–max) | p50 (ms) | p99 (ms) | non-2xx | CPU µs/request closed loop | fixed-rate p50 (ms) | fixed-rate p99 (ms) | p99 added vs direct (ms) | CPU µs/request at fixed rate | fixed-rate p99 per round (ms) |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of results) {
  const direct = results.find((d) => d.name === 'direct' && d.workers === r.workers);
  const added = r.open && direct?.open ? (r.open.p99 - direct.open.p99).toFixed(2) : '';
  console.log(`| ${r.name} | ${r.workers} | ${r.rps.toFixed(0)} | ${r.rpsMin.toFixed(0)}–${r.rpsMax.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.errors} | ${r.cpuUsPerRequest.toFixed(1)} | ${r.open ? r.open.p50.toFixed(2) : ''} | ${r.open ? r.open.p99.toFixed(2) : ''} | ${added} | ${r.open ? r.open.cpuUsPerRequest.toFixed(1) : ''} | ${r.open ? r.open.p99s.map((x) => x.toFixed(2)).join(', ') : ''} |`);
}
for (const workers of workerCounts) {
  const by = (name) => results.find((r) => r.name === name && r.workers === workers)?.rps;
  const s = by('sluice-100');
  if (!s) continue;
  const ratio = (name, target) => (by(name) ? `${(s / by(name)).toFixed(2)}x ${name} (target ≥ ${target}x)` : '');
  const headersCeiling = by('bare-undici+headers') ? `; ${(s / by('bare-undici+headers')).toFixed(2)}x bare-undici+headers` : '';
  console.log(`\nworkers=${workers}: sluice-100 = ${[ratio('bare-undici', 0.8), ratio('fastify-http-proxy', 1.6), ratio('http-proxy', 2)].filter(Boolean).join(', ')}${headersCeiling}; sluice-10k/sluice-100 = ${by('sluice-10k') ? (by('sluice-10k') / s).toFixed(2) : '-'}`);
  const open = (name) => results.find((r) => r.name === name && r.workers === workers)?.open;
  const bareOpen = open('bare-undici');
  for (const name of ['sluice-100', 'sluice-10k']) {
    const now = results.find((r) => r.name === name && r.workers === workers);
    const base = results.find((r) => r.name === `${name}@base` && r.workers === workers);
    if (now && base) {
      const pct = (a, b) => `${a >= b ? '+' : ''}${(((a - b) / b) * 100).toFixed(1)} %`;
      const fixed = now.open && base.open ? `; CPU/request at ${rate}/s ${now.open.cpuUsPerRequest.toFixed(1)} vs ${base.open.cpuUsPerRequest.toFixed(1)} µs (${pct(now.open.cpuUsPerRequest, base.open.cpuUsPerRequest)})` : '';
      console.log(`workers=${workers}: ${name} vs ${name}@base — req/s ${now.rps.toFixed(0)} vs ${base.rps.toFixed(0)} (${pct(now.rps, base.rps)}); CPU/request closed loop ${now.cpuUsPerRequest.toFixed(1)} vs ${base.cpuUsPerRequest.toFixed(1)} µs (${pct(now.cpuUsPerRequest, base.cpuUsPerRequest)})${fixed}`);
    }
    if (bareOpen && open(name)) console.log(`workers=${workers}: ${name} fixed-rate p99 ${open(name).p99.toFixed(2)} ms vs bare-undici ${bareOpen.p99.toFixed(2)} ms (added over the Node ceiling: ${(open(name).p99 - bareOpen.p99).toFixed(2)} ms); CPU/request ${open(name).cpuUsPerRequest.toFixed(1)} vs ${bareOpen.cpuUsPerRequest.toFixed(1)} µs`);
  }
}
