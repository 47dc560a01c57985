#!/usr/bin/env node
// Fleet benchmark (issue 14): propagation, control-plane CPU and memory with N data planes.
//
// Method:
//   1. Start a real sluice-cp (embedded PGlite in a temp dir, or a fresh database on the server of
//      --database-url) on a fixed cluster port; load --routes routes on one service through the
//      Admin API (8 concurrent writers).
//   2. Start the fleet: --data-planes N simulated data planes in this process (bench/fleet-sim.mjs:
//      real WebSockets, Hello, snapshot assembly, delta apply with epoch/base/hash checks, Acks,
//      heartbeats), or with --real, N real sluice-dp processes. Wait until every one holds the head.
//   3. Measure the control plane's idle CPU (heartbeats only) for --idle-ms.
//   4. --writes times, one after another: POST one route; from the moment the Admin API answer
//      arrives, time until every data plane has applied the write's version (simulated: the
//      moment its apply commits, in this process; real: the `config applied` line the data plane
//      logs, in ms) and, in parallel, until `GET /clustering/propagation/{v}?min_data_planes=N`
//      answers. Print p50/p90/p99/max of both.
//   5. CPU of the control plane (utime+stime from /proc/<pid>/stat) over the writes, less its idle
//      rate, per version; the reference is the same number of writes made before the fleet joined
//      (Admin API, store, mirror), and the difference divided by N is the CPU per version per data
//      plane. Its RSS (VmRSS) before the fleet joined and at the end.
//   6. --storm: stop the control plane (SIGTERM: it sends GoAway, reconnect window 0-5 s), start it
//      again on the same data and port; time until every data plane is connected to the new one
//      and holds the head; snapshots the new one sent (should be 0), its CPU and peak RSS (VmHWM).
//   7. --new-epoch (needs --database-url): give the database a new epoch as a restore would
//      (`update config_state set epoch = gen_random_uuid()`); time until every data plane holds
//      the new epoch; snapshots sent and the concurrency bound they were paced by.
// Usage: node bench/fleet.mjs [--data-planes 100] [--real] [--routes 500] [--writes 30] [--storm] [--new-epoch] [--database-url postgres://...]
//        [--json] [--cp-node-args=--cpu-prof] (node flags of the control plane only, space-separated, e.g. to profile it)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SimulatedFleet } from './fleet-sim.mjs';
import { CP_BIN, DP_BIN, cpuSeconds, formatSummary as fmt, freePort, json, memMiB, nowMs, sleep, startSluice, summary, until } from './sluice-process.mjs';

const { values: opts } = parseArgs({
  options: {
    'data-planes': { type: 'string', default: '100' },
    real: { type: 'boolean', default: false },
    routes: { type: 'string', default: '500' },
    writes: { type: 'string', default: '30' },
    'idle-ms': { type: 'string', default: '3000' },
    storm: { type: 'boolean', default: false },
    'new-epoch': { type: 'boolean', default: false },
    'database-url': { type: 'string' },
    json: { type: 'boolean', default: false },
    'cp-node-args': { type: 'string', default: '' },
  },
});
const N = Number(opts['data-planes']);
const ROUTES = Number(opts.routes);
const WRITES = Number(opts.writes);
const IDLE_MS = Number(opts['idle-ms']);
const cpNodeArgs = opts['cp-node-args'] ? opts['cp-node-args'].split(' ') : [];
const start = (bin, args, options = {}) => startSluice(bin, args, { ...options, nodeArgs: bin === CP_BIN ? cpNodeArgs : [] });

// --- database -------------------------------------------------------------------------------
const dirs = [];
const tempDir = (prefix) => {
  const d = mkdtempSync(join(tmpdir(), `sluice-fleet-${prefix}-`));
  dirs.push(d);
  return d;
};
let databaseUrl = null;
let pgAdmin = null;
let databaseName = null;
if (opts['database-url']) {
  const pg = (await import('pg')).default;
  databaseName = `sluice_fleet_${randomBytes(5).toString('hex')}`;
  pgAdmin = new pg.Client({ connectionString: opts['database-url'] });
  await pgAdmin.connect();
  await pgAdmin.query(`create database ${databaseName}`);
  const u = new URL(opts['database-url']);
  u.pathname = `/${databaseName}`;
  databaseUrl = u.toString();
} else if (opts['new-epoch']) {
  throw new Error('--new-epoch needs --database-url (the epoch is changed from outside the control plane)');
}

const cpDir = tempDir('cp');
const clusterPort = await freePort();
const cpArgs = ['--admin-listen', '127.0.0.1:0', '--admin-gui-listen', 'off', '--cluster-listen', `127.0.0.1:${clusterPort}`, ...(databaseUrl ? ['--database-url', databaseUrl] : ['--data-dir', cpDir])];
let cp = start(CP_BIN, cpArgs);
let admin = await cp.address('admin');
const cluster = await cp.address('cluster');
const results = { dataPlanes: N, kind: opts.real ? 'real sluice-dp' : 'simulated', routes: ROUTES, writes: WRITES, database: databaseUrl ? 'postgres' : 'pglite' };
console.log(`control plane: admin ${admin}, cluster ${cluster}, ${results.database}; fleet: ${N} ${results.kind} data planes; ${ROUTES} routes; node ${process.version}`);

let t0 = performance.now();
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
console.log(`loaded ${ROUTES} routes in ${(performance.now() - t0).toFixed(0)} ms`);

/** CPU of the control plane per write (µs), from `count` writes one after another, less the idle rate; and the writes' answer times. */
async function writePhase(prefix, count, idleCpuPerS, onWrite = async () => {}) {
  const cpu0 = cpuSeconds(cp.child.pid);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const res = await json('POST', `${admin}/services/bench/routes`, { name: `${prefix}${i}`, paths: [`/${prefix}${i}`] });
    const answeredAt = nowMs();
    if (res.status !== 201) throw new Error(`write ${prefix}${i}: ${res.status}`);
    await onWrite(Number(res.headers.get('x-sluice-config-version')), res.headers.get('x-sluice-config-epoch'), answeredAt);
  }
  const seconds = (performance.now() - t0) / 1000;
  return ((cpuSeconds(cp.child.pid) - cpu0 - idleCpuPerS * seconds) / count) * 1e6;
}

/** The control plane's CPU rate (s per s) over `ms` of quiet. */
async function idleRate(ms) {
  const cpu0 = cpuSeconds(cp.child.pid);
  const t0 = performance.now();
  await sleep(ms);
  return (cpuSeconds(cp.child.pid) - cpu0) / ((performance.now() - t0) / 1000);
}

// The reference: the same writes with no data plane connected (the Admin API write, the mirror).
const baselineIdle = await idleRate(IDLE_MS);
const baselineUs = await writePhase('b', WRITES, baselineIdle);
const baselineRss = memMiB(cp.child.pid);

// --- the fleet ------------------------------------------------------------------------------
/** Per data plane (index): the versions it applied and when (ms since the Unix epoch). */
const pendingWaits = new Set();
const noteApplied = (index, epoch, version, atMs) => {
  for (const w of [...pendingWaits]) w(index, epoch, version, atMs);
};
let fleet = null;
const real = [];
if (opts.real) {
  for (let i = 0; i < N; i++) {
    const dp = start(DP_BIN, ['--control-plane', cluster, '--cache-dir', tempDir(`dp${i}`), '--proxy-listen', '127.0.0.1:0', '--status-listen', '127.0.0.1:0'], {
      onLine: (line) => {
        if (!line.includes('"config applied"')) return;
        const entry = JSON.parse(line);
        real[i].epoch = entry.epoch;
        real[i].version = entry.version;
        noteApplied(i, entry.epoch, entry.version, entry.time);
      },
    });
    real.push({ proc: dp, epoch: '', version: 0 });
  }
  for (const dp of real) dp.status = await dp.proc.address('status');
} else {
  fleet = new SimulatedFleet({ url: cluster, size: N, onApplied: (dp, config) => noteApplied(dp.index, config.epoch, config.version, nowMs()) });
  fleet.dataPlanes.forEach((dp, i) => (dp.index = i));
}
const fleetState = (i) => (fleet ? fleet.dataPlanes[i].config : real[i]);

/** Resolves with the times (ms since the Unix epoch) at which the first and the last data plane held `version` of `epoch` or later. */
function allApplied(epoch, version) {
  const missing = new Set();
  for (let i = 0; i < N; i++) {
    const s = fleetState(i);
    if (s.epoch !== epoch || s.version < version) missing.add(i);
  }
  if (missing.size === 0) return Promise.resolve({ firstAt: nowMs(), lastAt: nowMs() });
  return new Promise((resolve) => {
    let last = 0;
    let first = Infinity;
    const w = (index, e, v, atMs) => {
      if (e !== epoch || v < version || !missing.has(index)) return;
      missing.delete(index);
      last = Math.max(last, atMs);
      first = Math.min(first, atMs);
      if (missing.size === 0) {
        pendingWaits.delete(w);
        resolve({ firstAt: first, lastAt: last });
      }
    };
    pendingWaits.add(w);
  });
}

const status = async () => (await json('GET', `${admin}/clustering/status`)).body;
let head = (await status()).config;
t0 = performance.now();
const joined = allApplied(head.epoch, head.version);
fleet?.start();
await joined;
const joinMs = performance.now() - t0;
await until(async () => (await status()).replica.connections === N, 'every data plane registered', 120_000, 250);
const afterJoin = await status();
results.join = { ms: Math.round(joinMs), snapshots: afterJoin.replica.snapshots_sent, snapshotBytes: afterJoin.replica.bytes_sent };
console.log(`fleet joined (every data plane at version ${head.version}) in ${joinMs.toFixed(0)} ms; snapshots sent ${afterJoin.replica.snapshots_sent}`);

// --- idle CPU, then the writes --------------------------------------------------------------
const idleCpuPerS = await idleRate(IDLE_MS);
const applied = [];
const firstApplied = [];
const waited = [];
const stats0 = await status();
const perVersionUs = await writePhase('w', WRITES, idleCpuPerS, async (version, epoch, answeredAt) => {
  const [{ firstAt, lastAt: doneAt }, wait] = await Promise.all([
    allApplied(epoch ?? head.epoch, version),
    json('GET', `${admin}/clustering/propagation/${version}?min_data_planes=${N}&timeout_ms=30000`).then((w) => ({ ...w, at: nowMs() })),
  ]);
  if (wait.status !== 200) throw new Error(`propagation wait for ${version}: ${wait.status} ${JSON.stringify(wait.body).slice(0, 300)}`);
  applied.push(Math.max(0, doneAt - answeredAt));
  firstApplied.push(Math.max(0, firstAt - answeredAt));
  waited.push(wait.at - answeredAt);
});
const stats1 = await status();
results.propagation = { applied: summary(applied), wait: summary(waited), first: summary(firstApplied) };
results.cpu = {
  idlePerSecondMs: +(idleCpuPerS * 1000).toFixed(1),
  idleNoFleetPerSecondMs: +(baselineIdle * 1000).toFixed(1),
  perVersionNoFleetUs: Math.round(baselineUs),
  perVersionUs: Math.round(perVersionUs),
  perVersionPerDataPlaneUs: +((perVersionUs - baselineUs) / Math.max(1, N)).toFixed(1),
  deltasSent: stats1.replica.deltas_sent - stats0.replica.deltas_sent,
  deltaFramesEncoded: (stats1.replica.delta_frames_encoded ?? 0) - (stats0.replica.delta_frames_encoded ?? 0),
  registryWriteBatches: (stats1.replica.registry_write_batches ?? 0) - (stats0.replica.registry_write_batches ?? 0),
};
results.cpRssMiB = +memMiB(cp.child.pid).toFixed(1);
results.cpRssNoFleetMiB = +baselineRss.toFixed(1);
console.log(`propagation, write answered → every data plane applied (${WRITES} writes): ${fmt(results.propagation.applied)}`);
console.log(`(the first data plane to apply it: ${fmt(results.propagation.first)})`);
console.log(`propagation, write answered → /clustering/propagation?min_data_planes=${N} answered: ${fmt(results.propagation.wait)}`);
console.log(
  `control-plane CPU: idle ${results.cpu.idlePerSecondMs} ms/s (${results.cpu.idleNoFleetPerSecondMs} without the fleet); per version ${results.cpu.perVersionUs} µs (${results.cpu.perVersionNoFleetUs} µs for the same writes without the fleet: Admin API, store, mirror), ` +
    `so ${results.cpu.perVersionPerDataPlaneUs} µs per version per data plane; deltas sent ${results.cpu.deltasSent}, delta frames encoded ${results.cpu.deltaFramesEncoded}, registry write batches ${results.cpu.registryWriteBatches}; ` +
    `control-plane RSS ${results.cpRssMiB} MiB (${results.cpRssNoFleetMiB} MiB before the fleet joined)`,
);
if (opts.real) {
  const rss = real.map((d) => memMiB(d.proc.child.pid)).sort((a, b) => a - b);
  results.dpRssMiB = +rss[Math.floor(rss.length / 2)].toFixed(1);
  console.log(`data-plane RSS (median): ${results.dpRssMiB} MiB`);
} else {
  results.simulatorRssMiB = +memMiB(process.pid).toFixed(1);
}

// --- reconnect storm after a control-plane restart ------------------------------------------
if (opts.storm) {
  head = (await status()).config;
  const connectsBefore = new Map(fleet?.dataPlanes.map((dp) => [dp, dp.stats.connects]) ?? []);
  const stoppedAt = performance.now();
  await cp.stop('SIGTERM');
  const downMs = performance.now() - stoppedAt;
  cp = start(CP_BIN, cpArgs);
  admin = await cp.address('admin');
  await cp.address('cluster');
  const startedAt = performance.now();
  const cpuStart = cpuSeconds(cp.child.pid);
  // Watched without asking the control plane (its /clustering/status reads the whole registry):
  // the simulated data planes say when they are connected again; real ones are polled every 250 ms.
  if (fleet) await fleet.until((dp) => dp.isConnected && dp.stats.connects > connectsBefore.get(dp), 'every data plane to reconnect', 120_000);
  else await until(async () => (await status()).replica.connections === N, 'every data plane to reconnect', 120_000, 250);
  const stormMs = performance.now() - startedAt;
  const cpuStorm = cpuSeconds(cp.child.pid) - cpuStart;
  const back = await status();
  for (let i = 0; i < N; i++) if (fleetState(i).version !== head.version) throw new Error(`data plane ${i} is at ${fleetState(i).version}, not ${head.version}`);
  results.storm = { stopMs: Math.round(downMs), reconnectMs: Math.round(stormMs), snapshots: back.replica.snapshots_sent, deltas: back.replica.deltas_sent, cpuMs: Math.round(cpuStorm * 1000), peakRssMiB: +memMiB(cp.child.pid, 'VmHWM').toFixed(1), rssMiB: +memMiB(cp.child.pid).toFixed(1) };
  console.log(
    `restart storm: control plane stopped in ${results.storm.stopMs} ms (GoAway, reconnect window 0-5 s); every data plane reconnected ${results.storm.reconnectMs} ms after the new one listened; ` +
      `snapshots sent ${results.storm.snapshots}, deltas ${results.storm.deltas}; its CPU meanwhile ${results.storm.cpuMs} ms; peak RSS ${results.storm.peakRssMiB} MiB (now ${results.storm.rssMiB} MiB)`,
  );
}

// --- a new epoch: every data plane needs a snapshot -----------------------------------------
if (opts['new-epoch']) {
  const db = new (await import('pg')).default.Client({ connectionString: databaseUrl });
  await db.connect();
  const before = await status();
  const { rows } = await db.query('update config_state set epoch = gen_random_uuid() where id = 1 returning epoch, version');
  const changedAt = performance.now();
  await db.end();
  const epoch = rows[0].epoch;
  let maxInFlight = 0;
  let allSentMs = null;
  const sampler = setInterval(async () => {
    const s = await status().catch(() => null);
    if (!s) return;
    maxInFlight = Math.max(maxInFlight, s.replica.snapshots_in_flight);
    if (allSentMs === null && s.replica.snapshots_sent - before.replica.snapshots_sent >= N) allSentMs = performance.now() - changedAt;
  }, 250);
  const cpuStart = cpuSeconds(cp.child.pid);
  await allApplied(epoch, Number(rows[0].version));
  const epochMs = performance.now() - changedAt;
  clearInterval(sampler);
  const after = await status();
  results.newEpoch = { ms: Math.round(epochMs), allSentMs: allSentMs === null ? null : Math.round(allSentMs), snapshots: after.replica.snapshots_sent - before.replica.snapshots_sent, maxSnapshotsInFlightSeen: maxInFlight, cpuMs: Math.round((cpuSeconds(cp.child.pid) - cpuStart) * 1000), peakRssMiB: +memMiB(cp.child.pid, 'VmHWM').toFixed(1) };
  console.log(
    `new epoch: every data plane holds it ${results.newEpoch.ms} ms after the epoch changed (the mirror polls every 1 s); the control plane had sent ${N} snapshots after ${results.newEpoch.allSentMs} ms (sampled every 250 ms); ` +
      `snapshots sent ${results.newEpoch.snapshots}, at most ${maxInFlight} in flight seen (bound 8); CPU ${results.newEpoch.cpuMs} ms; peak RSS ${results.newEpoch.peakRssMiB} MiB`,
  );
}

if (opts.json) console.log(JSON.stringify(results));
await fleet?.stop();
await Promise.all(real.map((d) => d.proc.stop()));
await cp.stop();
if (pgAdmin) {
  await pgAdmin.query(`drop database if exists ${databaseName} with (force)`);
  await pgAdmin.end();
}
for (const d of dirs) rmSync(d, { recursive: true, force: true });
