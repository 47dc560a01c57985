#!/usr/bin/env node
// `npm start`: a local cluster — one control plane on the embedded database (.sluice/cp), serving
// the Admin API and the web UI (its default --admin-gui-listen, 127.0.0.1:8002), and one
// data plane beside it (.sluice/dp); `npm start -- --data-planes 2` adds a second (.sluice/dp2,
// proxy :8010, status :8110). Ctrl-C stops them all; a member that exits on its own stops the
// cluster too.
//
// For drills, each member can be stopped and started again from another terminal without ending
// the cluster (the running cluster listens on .sluice/dev-cluster.sock):
//   node scripts/dev-cluster.js stop cp     # SIGTERM, waits until it exited
//   node scripts/dev-cluster.js start cp    # starts it again, waits until it listens
// Members: cp, dp, dp2. Exit 0 on success, 1 otherwise.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const socketPath = join(root, '.sluice', 'dev-cluster.sock');

/** How long a member may take to stop or to listen, in ms (default 30 s). */
const MEMBER_TIMEOUT_MS = 30_000;

/** The members: how to start each, and the line it prints once it listens. */
const MEMBERS = {
  cp: { script: 'packages/control-plane/bin/sluice-cp.js', args: ['--data-dir', '.sluice/cp'], ready: 'sluice-cp cluster listening' },
  dp: {
    script: 'packages/data-plane/bin/sluice-dp.js',
    args: ['--control-plane', 'ws://127.0.0.1:8005', '--cache-dir', '.sluice/dp'],
    ready: 'sluice-dp status listening',
  },
  dp2: {
    script: 'packages/data-plane/bin/sluice-dp.js',
    args: ['--control-plane', 'ws://127.0.0.1:8005', '--cache-dir', '.sluice/dp2', '--proxy-listen', '0.0.0.0:8010', '--status-listen', '127.0.0.1:8110'],
    ready: 'sluice-dp status listening',
  },
};

const [command, memberName] = process.argv.slice(2);
if (command === 'stop' || command === 'start') await control(command, memberName);
else await runCluster();

/** `stop NAME` / `start NAME`: asks the running cluster, exits 0 when it did it. */
async function control(action, name) {
  if (!(name in MEMBERS)) {
    console.error(`usage: node scripts/dev-cluster.js ${action} ${Object.keys(MEMBERS).join('|')}`);
    process.exit(2);
  }
  const req = request({ socketPath, method: 'POST', path: `/${action}/${name}`, timeout: MEMBER_TIMEOUT_MS + 5_000 }, (res) => {
    let body = '';
    res.on('data', (d) => (body += d));
    res.on('end', () => {
      if (body) console.log(body.trim());
      process.exit(res.statusCode === 200 ? 0 : 1);
    });
  });
  req.on('error', (err) => {
    console.error(`no running dev cluster at ${socketPath} (npm start): ${err.message}`);
    process.exit(1);
  });
  req.end();
}

async function runCluster() {
  const flag = process.argv.indexOf('--data-planes');
  const dataPlanes = flag > 0 ? Number(process.argv[flag + 1]) : 1;
  if (dataPlanes !== 1 && dataPlanes !== 2) {
    console.error('--data-planes must be 1 or 2');
    process.exit(2);
  }
  const members = ['cp', 'dp', ...(dataPlanes >= 2 ? ['dp2'] : [])];
  /** Running children by member name. */
  const running = new Map();
  let stopping = false;

  function start(name) {
    const member = MEMBERS[name];
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(root, member.script), ...member.args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      running.set(name, child);
      child.stoppedOnPurpose = false;
      const timer = setTimeout(() => reject(new Error(`${name} did not listen within ${MEMBER_TIMEOUT_MS} ms`)), MEMBER_TIMEOUT_MS);
      const prefix = (stream, out) => {
        let buf = '';
        stream.on('data', (d) => {
          buf += d;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            out.write(`[${name}] ${line}\n`);
            if (line.startsWith(member.ready)) {
              clearTimeout(timer);
              resolve();
            }
            buf = buf.slice(i + 1);
          }
        });
      };
      prefix(child.stdout, process.stdout);
      prefix(child.stderr, process.stderr);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (running.get(name) === child) running.delete(name);
        if (!stopping && !child.stoppedOnPurpose) {
          console.error(`[${name}] exited (${signal ?? code}); stopping the cluster`);
          stopAll(code ?? 1);
        }
        reject(new Error(`${name} exited (${signal ?? code})`));
      });
    });
  }

  function stop(name) {
    const child = running.get(name);
    if (!child) return Promise.resolve();
    child.stoppedOnPurpose = true;
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  const control = createServer((req, res) => {
    const [, action, name] = (req.url ?? '').split('/');
    const reply = (status, text) => res.writeHead(status, { 'content-type': 'text/plain' }).end(`${text}\n`);
    if (req.method !== 'POST' || !members.includes(name) || (action !== 'stop' && action !== 'start')) return reply(404, `unknown: ${req.url}`);
    if (action === 'stop') return void stop(name).then(() => reply(200, `${name} stopped`));
    if (running.has(name)) return reply(200, `${name} is running`);
    start(name).then(
      () => reply(200, `${name} started`),
      (err) => reply(500, err.message),
    );
  });

  function stopAll(code = 0) {
    stopping = true;
    control.close();
    rmSync(socketPath, { force: true });
    for (const c of running.values()) if (c.exitCode === null) c.kill('SIGTERM');
    setTimeout(() => process.exit(code), 15_000).unref();
    Promise.all([...running.values()].map((c) => (c.exitCode !== null ? null : new Promise((r) => c.on('exit', r))))).then(() => process.exit(code));
  }

  process.on('SIGINT', () => stopAll(0));
  process.on('SIGTERM', () => stopAll(0));

  mkdirSync(dirname(socketPath), { recursive: true });
  rmSync(socketPath, { force: true });
  control.listen(socketPath);

  // The data planes start once the control plane listens, so their first connect succeeds.
  try {
    await start('cp');
    await Promise.all(members.filter((m) => m !== 'cp').map(start));
  } catch (err) {
    if (!stopping) {
      console.error(`the cluster did not start: ${err.message}`);
      stopAll(1);
    }
    return;
  }
  console.log(`Sluice local cluster:
  Web UI         http://127.0.0.1:8002
  Admin API      http://127.0.0.1:8001
  proxy          http://127.0.0.1:8000${dataPlanes >= 2 ? '  and http://127.0.0.1:8010' : ''}
  data-plane     http://127.0.0.1:8100/status${dataPlanes >= 2 ? '  and http://127.0.0.1:8110/status' : ''}
  cluster stream ws://127.0.0.1:8005
Try: curl -i -X POST http://127.0.0.1:8001/services --data name=example --data url=http://httpbin.org/anything
Stop or start a member for a drill: node scripts/dev-cluster.js stop|start ${members.join('|')}
Ctrl-C stops the cluster.`);
}
