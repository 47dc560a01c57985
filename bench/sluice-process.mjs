// Real sluice-cp / sluice-dp processes for the benchmarks, and what /proc says about them.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CP_BIN = 'packages/control-plane/bin/sluice-cp.js';
export const DP_BIN = 'packages/data-plane/bin/sluice-dp.js';

/**
 * Starts a binary of the repository with `node [nodeArgs] bin args`. `onLine` gets every log line
 * (the log level is then info, else warn). Returns the child, `address(what)` resolving with the
 * URL it printed as `sluice-xx <what> listening on <url>`, and `stop(signal)`.
 */
export function startSluice(bin, args, { onLine, nodeArgs = [], env = {} } = {}) {
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, bin), ...args], {
    env: { ...process.env, SLUICE_LOG_LEVEL: onLine ? 'info' : 'warn', SLUICE_DATABASE_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const addrs = new Map();
  let tail = '';
  let partial = '';
  const waiters = new Set();
  const onData = (d) => {
    const text = String(d);
    tail = (tail + text).slice(-4000);
    for (const m of text.matchAll(/sluice-(?:cp|dp) (\w[\w-]*) listening on (\S+)/g)) addrs.set(m[1], m[2]);
    if (onLine) {
      const lines = (partial + text).split('\n');
      partial = lines.pop();
      for (const line of lines) onLine(line);
    }
    for (const w of [...waiters]) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const address = (what) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (addrs.has(what)) {
          waiters.delete(check);
          return resolve(addrs.get(what));
        }
        if (child.exitCode !== null) return reject(new Error(`${bin} exited: ${tail}`));
      };
      waiters.add(check);
      child.on('exit', check);
      check();
    });
  const stop = (signal = 'SIGTERM') => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill(signal))));
  return { child, address, stop };
}

/** A free TCP port on loopback (for a control plane restarted on the same cluster port). */
export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat times are in 1/100 s

/** CPU time of a process so far, user + system, in seconds (10 ms resolution). */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14 and 15)
}

/** A memory figure of a process in MiB: VmRSS (resident now) or VmHWM (peak resident). */
export function memMiB(pid, field = 'VmRSS') {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
}

/** JSON over fetch. */
export async function json(method, url, body) {
  const res = await fetch(url, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** p50/p90/p99/max of samples in ms (nearest rank). */
export function summary(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const pct = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return { p50: pct(50), p90: pct(90), p99: pct(99), max: s[s.length - 1] };
}

export const formatSummary = (s) => `p50 ${s.p50.toFixed(1)} ms, p90 ${s.p90.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms`;

/** Wall-clock milliseconds since the Unix epoch, sub-millisecond (comparable with Date.now() in other processes). */
export const nowMs = () => performance.timeOrigin + performance.now();

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `intervalMs` until it returns a truthy value; throws after `timeoutMs`. */
export async function until(check, what, timeoutMs = 120_000, intervalMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}
