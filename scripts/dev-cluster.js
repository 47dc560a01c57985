#!/usr/bin/env node
// `npm start`: a local cluster — one control plane on the embedded database (.sluice/cp), serving
// the Admin API and the web UI (its default --admin-gui-listen, 127.0.0.1:8002), and one data plane
// beside it (.sluice/dp). Ctrl-C stops both. Flags after `--` go to both binaries'
// environment-free defaults; use the binaries directly for anything else.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const children = [];
let stopping = false;

function run(name, script, args, onLine = () => {}) {
  const child = spawn(process.execPath, [join(root, script), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = (stream, out) => {
    let buf = '';
    stream.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        out.write(`[${name}] ${line}\n`);
        onLine(line);
        buf = buf.slice(i + 1);
      }
    });
  };
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[${name}] exited (${signal ?? code}); stopping the cluster`);
      stop(code ?? 1);
    }
  });
  children.push(child);
  return child;
}

function stop(code = 0) {
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  setTimeout(() => process.exit(code), 5000).unref();
  Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.on('exit', r))))).then(() => process.exit(code));
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

// The data plane starts once the control plane listens, so its first connect succeeds.
let dpStarted = false;
run('cp', 'packages/control-plane/bin/sluice-cp.js', ['--data-dir', '.sluice/cp'], (line) => {
  if (dpStarted || !line.startsWith('sluice-cp cluster listening')) return;
  dpStarted = true;
  run('dp', 'packages/data-plane/bin/sluice-dp.js', ['--control-plane', 'ws://127.0.0.1:8005', '--cache-dir', '.sluice/dp'], (l) => {
    if (l.startsWith('sluice-dp status listening')) printSummary();
  });
});

function printSummary() {
  console.log(`Sluice local cluster:
  Web UI         http://127.0.0.1:8002
  Admin API      http://127.0.0.1:8001
  proxy          http://127.0.0.1:8000
  data-plane     http://127.0.0.1:8100/status
  cluster stream ws://127.0.0.1:8005
Try: curl -i -X POST http://127.0.0.1:8001/services --data name=example --data url=http://httpbin.org/anything
Ctrl-C stops both.`);
}
