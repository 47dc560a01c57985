// Runs `start()` in N node:cluster workers (round-robin scheduling, Node's default on Linux) or,
// with N = 1, in this process; prints READY once every worker listens. Shared by the Node proxies
// of the benchmark so they all scale the same way.
import cluster from 'node:cluster';

export async function serve(workers, start) {
  if (workers > 1 && cluster.isPrimary) {
    let ready = 0;
    for (let i = 0; i < workers; i++) {
      cluster.fork().on('message', (m) => {
        if (m === 'ready' && ++ready === workers) console.log('READY');
      });
    }
    const stop = () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(0);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    return;
  }
  await start();
  if (cluster.isWorker) process.send('ready');
  else console.log('READY');
  process.on('SIGTERM', () => process.exit(0));
}

export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}
