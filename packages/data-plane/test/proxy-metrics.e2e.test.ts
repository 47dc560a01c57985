import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    // The config metrics are still there.
    expect(sampleOf(text, 'sluice_dp_ready')).toBe(1);
  });
});
