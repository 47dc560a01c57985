import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRAFFIC_STATS_TIMEOUT_MS } from '../src/index.js';
import { startDeclarativeDataPlane } from '../../../test/support/processes.js';
import { send, startUpstream } from './proxy-helpers.js';

// The proxied-traffic metrics on /metrics of a real `sluice-dp` process (the built dist/, serving a
// declarative config): in-process, and with --workers 2, where the primary merges the workers'
// counts at scrape time.

const REQUESTS = 24;
const SCRAPE_DEADLINE_MS = 10_000;

let upstream: Awaited<ReturnType<typeof startUpstream>>;

beforeAll(async () => {
  upstream = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-length': '2' });
    res.end('ok');
  });
});

afterAll(async () => {
  await upstream?.close();
});

/** A running sluice-dp and where it listens. */
interface DataPlaneProcess {
  /** The sluice-dp (primary) process id. */
  readonly pid: number;
  readonly proxyPort: number;
  readonly statusPort: number;
  stop(): Promise<void>;
}

async function startDataPlane(extraArgs: readonly string[]): Promise<DataPlaneProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-e2e-'));
  const file = join(dir, 'config.json');
  const config = {
    _format_version: '3.0',
    services: [{ name: 'echo', url: `http://127.0.0.1:${upstream.port}`, routes: [{ name: 'echo-route', hosts: ['echo.test'], paths: ['/'] }] }],
  };
  writeFileSync(file, JSON.stringify(config));
  try {
    const handle = await startDeclarativeDataPlane({ configFile: file, cacheDir: join(dir, 'cache'), args: [...extraArgs] });
    return {
      pid: handle.proc.child.pid!,
      proxyPort: Number(new URL(handle.proxy).port),
      statusPort: Number(new URL(handle.status!).port),
      stop: async () => {
        await handle.proc.kill();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The value of one exposition line (`name{labels}`), or undefined when absent. */
function sampleOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Scrapes /metrics until `isDone(text)`, or fails at the deadline with the last scrape. */
async function scrapeUntil(statusPort: number, isDone: (text: string) => boolean): Promise<string> {
  const deadline = Date.now() + SCRAPE_DEADLINE_MS;
  for (;;) {
    const reply = await send(statusPort, { path: '/metrics' });
    expect(reply.status).toBe(200);
    if (isDone(reply.body)) return reply.body;
    if (Date.now() > deadline) throw new Error(`metrics not as expected before the deadline; last scrape:\n${reply.body}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const LABELS = 'service="echo",route="echo-route"';

describe.each([
  { mode: 'in-process proxy', args: [] as string[] },
  { mode: '--workers 2', args: ['--workers', '2'] },
])('sluice-dp process, $mode: proxied-traffic metrics', ({ args }) => {
  let dp: DataPlaneProcess;

  beforeAll(async () => {
    dp = await startDataPlane(args);
  });

  afterAll(async () => {
    await dp?.stop();
  });

  it(`counts ${REQUESTS} proxied requests and a 404 on /metrics`, async () => {
    // Fresh connections: with workers, the primary spreads them over both.
    const replies = await Promise.all(Array.from({ length: REQUESTS }, () => send(dp.proxyPort, { path: '/x', headers: { host: 'echo.test' } })));
    expect(replies.map((r) => r.status)).toEqual(Array<number>(REQUESTS).fill(200));
    expect((await send(dp.proxyPort, { path: '/x', headers: { host: 'nowhere.test' } })).status).toBe(404);

    const text = await scrapeUntil(
      dp.statusPort,
      (t) => sampleOf(t, `sluice_dp_http_requests_total{${LABELS},code="200"}`) === REQUESTS && sampleOf(t, 'sluice_dp_http_requests_total{service="",route="",code="404"}') === 1,
    );
    expect(sampleOf(text, `sluice_dp_request_latency_ms_count{${LABELS}}`)).toBe(REQUESTS);
    expect(sampleOf(text, `sluice_dp_request_latency_ms_bucket{${LABELS},le="+Inf"}`)).toBe(REQUESTS);
    expect(sampleOf(text, `sluice_dp_upstream_latency_ms_count{${LABELS}}`)).toBe(REQUESTS);
    expect(sampleOf(text, `sluice_dp_upstream_latency_ms_bucket{${LABELS},le="+Inf"}`)).toBe(REQUESTS);
    expect(sampleOf(text, 'sluice_dp_request_latency_ms_count{service="",route=""}')).toBe(1);
    expect(sampleOf(text, 'sluice_dp_http_requests_in_flight')).toBe(0);
    expect(sampleOf(text, 'sluice_dp_websocket_tunnels')).toBe(0);
    // The upstream pools (each worker's, summed): kept-alive connections, nothing in progress.
    expect(sampleOf(text, `sluice_dp_upstream_connections{upstream="127.0.0.1:${upstream.port}"}`)).toBeGreaterThanOrEqual(1);
    expect(sampleOf(text, `sluice_dp_upstream_requests_active{upstream="127.0.0.1:${upstream.port}"}`)).toBe(0);
    expect(sampleOf(text, `sluice_dp_upstream_requests_pending{upstream="127.0.0.1:${upstream.port}"}`)).toBe(0);
    // The config metrics are still there.
    expect(sampleOf(text, 'sluice_dp_ready')).toBe(1);
  });
});

/** The ids of `pid`'s live child processes (its proxy workers), from /proc. */
function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

describe('sluice-dp process, --workers 2: metrics when a worker stalls or dies', () => {
  let dp: DataPlaneProcess;

  beforeAll(async () => {
    dp = await startDataPlane(['--workers', '2']);
  });

  afterAll(async () => {
    await dp?.stop();
  });

  it('a stalled worker counts with its last counts after the bound; a killed one keeps its counts across its restart', async () => {
    const total = `sluice_dp_http_requests_total{${LABELS},code="200"}`;
    const replies = await Promise.all(Array.from({ length: REQUESTS }, () => send(dp.proxyPort, { path: '/x', headers: { host: 'echo.test' } })));
    expect(replies.map((r) => r.status)).toEqual(Array<number>(REQUESTS).fill(200));
    // Both workers have answered a scrape with their share (round-robin: about half each).
    await scrapeUntil(dp.statusPort, (t) => sampleOf(t, total) === REQUESTS);
    const workers = childPids(dp.pid);
    expect(workers).toHaveLength(2);

    // One worker stops answering (SIGSTOP): the scrape waits for it no longer than the bound and
    // still counts what it sent last.
    process.kill(workers[0]!, 'SIGSTOP');
    try {
      const startedMs = Date.now();
      const reply = await send(dp.statusPort, { path: '/metrics' });
      expect(reply.status).toBe(200);
      expect(Date.now() - startedMs).toBeGreaterThanOrEqual(TRAFFIC_STATS_TIMEOUT_MS - 50);
      expect(sampleOf(reply.body, total)).toBe(REQUESTS);
    } finally {
      process.kill(workers[0]!, 'SIGCONT');
    }

    // One worker dies: the primary restarts it, and the counters do not go down.
    process.kill(workers[1]!, 'SIGKILL');
    const deadline = Date.now() + SCRAPE_DEADLINE_MS;
    while (!(childPids(dp.pid).length === 2 && !childPids(dp.pid).includes(workers[1]!))) {
      if (Date.now() > deadline) throw new Error('the killed worker was not restarted');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const after = await scrapeUntil(dp.statusPort, () => true);
    expect(sampleOf(after, total)).toBe(REQUESTS);
    expect(sampleOf(after, 'sluice_dp_http_requests_in_flight')).toBe(0);
    // New traffic adds to them.
    const more = await Promise.all(Array.from({ length: 4 }, () => send(dp.proxyPort, { path: '/x', headers: { host: 'echo.test' } })));
    expect(more.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    await scrapeUntil(dp.statusPort, (t) => sampleOf(t, total) === REQUESTS + 4);
  });
});
