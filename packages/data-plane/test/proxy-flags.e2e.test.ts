import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DP_BIN, startDeclarativeDataPlane, type DeclarativeDataPlaneHandle } from '../../../test/support/processes.js';
import { send, startUpstream } from './proxy-helpers.js';

// The proxy flags of a real `sluice-dp` process with --workers 2 (each worker reads the flags
// itself): --headers, --headers-upstream (Kong's headers / headers_upstream), --trusted-ips and
// --allow-debug-header.

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let dataPlane: DeclarativeDataPlaneHandle | undefined;
let proxyPort = 0;
let dir = '';

beforeAll(async () => {
  upstream = await startUpstream();
  dir = mkdtempSync(join(tmpdir(), 'sluice-flags-e2e-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ _format_version: '3.0', services: [{ name: 'echo', url: `http://127.0.0.1:${upstream.port}`, routes: [{ name: 'echo', paths: ['/echo'] }] }] }));
  dataPlane = await startDeclarativeDataPlane({
    configFile: file,
    cacheDir: join(dir, 'cache'),
    statusListen: 'off',
    args: ['--workers', '2', '--headers', 'latency_tokens', '--headers-upstream', 'off', '--trusted-ips', '127.0.0.0/8,::1', '--allow-debug-header'],
  });
  proxyPort = Number(new URL(dataPlane.proxy).port);
});

afterAll(async () => {
  await dataPlane?.proc.kill();
  await upstream?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('sluice-dp process: proxy flags, in every worker', () => {
  it('--headers latency_tokens, --headers-upstream off, --trusted-ips 127.0.0.0/8', async () => {
    // Fresh connections, spread over both workers.
    const replies = await Promise.all(Array.from({ length: 6 }, () => send(proxyPort, { path: '/echo/x', headers: { 'x-forwarded-proto': 'https' } })));
    const seen = upstream.requests.slice(-6);
    for (const reply of replies) {
      expect(reply.status).toBe(200);
      expect(reply.headers['x-sluice-upstream-latency']).toMatch(/^\d+$/);
      expect(reply.headers['x-sluice-proxy-latency']).toMatch(/^\d+$/);
      for (const name of ['via', 'server', 'x-sluice-request-id']) expect(reply.headers[name], name).toBeUndefined();
    }
    for (const echo of seen) {
      expect(echo.headers['x-sluice-request-id']).toBeUndefined();
      // The client is trusted: its X-Forwarded-Proto is kept.
      expect(echo.headers['x-forwarded-proto']).toBe('https');
    }
  });

  it('--allow-debug-header: a request with Sluice-Debug learns which route and service served it', async () => {
    const replies = await Promise.all(Array.from({ length: 4 }, () => send(proxyPort, { path: '/echo/x', headers: { 'sluice-debug': '1' } })));
    for (const reply of replies) expect(reply.headers).toMatchObject({ 'sluice-route-name': 'echo', 'sluice-service-name': 'echo' });
  });

  it.each([
    [['--headers', 'server_tokens,X-Kong-Upstream-Latency'], /headers: unknown value "x-kong-upstream-latency"/],
    [['--headers-upstream', 'Via'], /headers_upstream: unknown value "via"/],
    [['--trusted-ips', '10.0.0.0/40'], /invalid trusted IP or CIDR/],
    [['--allow-debug-header=yes'], /allow-debug-header/],
  ])('refuses %j at start: exit 2 with the reason', async (args, reason) => {
    const child = spawn(process.execPath, [DP_BIN, '--declarative-config', join(dir, 'config.json'), '--cache-dir', join(dir, 'cache-bad'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(reason);
  });
});
