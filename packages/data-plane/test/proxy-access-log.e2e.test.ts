import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeclarativeDataPlane, type DeclarativeDataPlaneHandle } from '../../../test/support/processes.js';
import { send, startUpstream, waitFor } from './proxy-helpers.js';

// `--access-log FILE` of a real `sluice-dp` process (the built dist/, serving a declarative config):
// in-process, and with --workers 2, where every worker appends its own lines to the same file.

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'sluice-dp.js');
const REQUESTS = 24;
/** Lines may wait up to the access log's flush interval (1 s) before they are written. */
const LOG_DEADLINE_MS = 10_000;

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let dir = '';

beforeAll(async () => {
  upstream = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-length': '2' });
    res.end('ok');
  });
  dir = mkdtempSync(join(tmpdir(), 'sluice-access-log-e2e-'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      _format_version: '3.0',
      services: [{ name: 'echo', url: `http://127.0.0.1:${upstream.port}`, routes: [{ name: 'echo-route', hosts: ['echo.test'], paths: ['/'] }] }],
    }),
  );
});

afterAll(async () => {
  await upstream?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The file's lines parsed as JSON (a line that does not parse fails the test). */
function entriesOf(file: string): Array<Record<string, unknown>> {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe.each([
  { mode: 'in-process proxy', args: [] as string[] },
  { mode: '--workers 2', args: ['--workers', '2'] },
])('sluice-dp process, $mode: --access-log FILE', ({ mode, args }) => {
  let dataPlane: DeclarativeDataPlaneHandle | undefined;
  let proxyPort = 0;
  const logFile = (): string => join(dir, `access-${mode.replace(/\W+/g, '-')}.log`);

  beforeAll(async () => {
    dataPlane = await startDeclarativeDataPlane({ configFile: join(dir, 'config.json'), cacheDir: join(dir, 'cache'), statusListen: 'off', args: ['--access-log', logFile(), ...args] });
    proxyPort = Number(new URL(dataPlane.proxy).port);
  });

  afterAll(async () => {
    await dataPlane?.proc.kill();
  });

  it(`writes one parseable JSON line per request (${REQUESTS} proxied, one 404), and the last on SIGTERM`, async () => {
    const replies = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => send(proxyPort, { path: `/x?i=${i}`, headers: { host: 'echo.test' } })));
    expect(replies.map((r) => r.status)).toEqual(Array<number>(REQUESTS).fill(200));
    await waitFor(() => entriesOf(logFile()).length === REQUESTS, LOG_DEADLINE_MS);
    const entries = entriesOf(logFile());
    expect(new Set(entries.map((e) => e.uri))).toEqual(new Set(Array.from({ length: REQUESTS }, (_, i) => `/x?i=${i}`)));
    expect(new Set(entries.map((e) => e.request_id))).toEqual(new Set(replies.map((r) => r.headers['x-sluice-request-id'])));
    for (const entry of entries) {
      expect(entry).toMatchObject({ status: 200, host: 'echo.test', route: { name: 'echo-route' }, service: { name: 'echo' }, upstream: `127.0.0.1:${upstream.port}`, body_bytes_sent: 2 });
    }

    // A line still queued when the process is told to stop is flushed on the way out.
    expect((await send(proxyPort, { path: '/nowhere', headers: { host: 'nowhere.test' } })).status).toBe(404);
    await dataPlane!.proc.kill('SIGTERM');
    const last = entriesOf(logFile());
    expect(last).toHaveLength(REQUESTS + 1);
    expect(last.filter((e) => e.status === 404)).toHaveLength(1);
  });
});

describe('sluice-dp --access-log', () => {
  it('refuses to start (exit 2) when the file cannot be opened', () => {
    const args = ['--declarative-config', join(dir, 'config.json'), '--proxy-listen', '127.0.0.1:0', '--status-listen', 'off', '--cache-dir', join(dir, 'cache')];
    const result = spawnSync(process.execPath, [BIN, ...args, '--access-log', join(dir, 'no-such-dir', 'access.log')], { encoding: 'utf8', timeout: 10_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--access-log');
  });
});
