import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envName, resolveSettings, usage } from '../src/cli.js';
import { ControlPlane, parseListenAddress } from '../src/control-plane.js';
import { ConfigurationError, StoreError } from '../src/errors.js';
import { openStore } from '../src/store/index.js';
import { silentLogger } from './support/admin.js';

describe('sluice-cp settings', () => {
  it('reads flags, then SLUICE_* variables, then defaults', () => {
    expect(resolveSettings([], {})).toMatchObject({
      adminListen: '127.0.0.1:8001',
      databaseUrl: undefined,
      dataDir: '.sluice/cp',
      adminBodyLimitBytes: 10 * 1024 * 1024,
      maxDataPlanes: 20_000,
      logLevel: 'info',
    });
    const env = { SLUICE_DATABASE_URL: 'postgres://db/x', SLUICE_ADMIN_LISTEN: '0.0.0.0:9001', SLUICE_ADMIN_BODY_LIMIT: '2048', SLUICE_MAX_DATA_PLANES: '500' };
    expect(resolveSettings(['--admin-listen', '127.0.0.1:7001', '--log-level', 'debug'], env)).toMatchObject({
      adminListen: '127.0.0.1:7001',
      databaseUrl: 'postgres://db/x',
      dataDir: '.sluice/cp',
      adminBodyLimitBytes: 2048,
      maxDataPlanes: 500,
      logLevel: 'debug',
    });
    expect(envName('admin-body-limit')).toBe('SLUICE_ADMIN_BODY_LIMIT');
    expect(resolveSettings(['--help'], {})).toBe('help');
    expect(usage()).toContain('SLUICE_DATA_DIR');
  });

  it('bounds the database with connect, statement and transaction timeouts: 5 s, 5 s, 10 s by default, from flags or SLUICE_DATABASE_*_TIMEOUT_MS', () => {
    expect(resolveSettings([], {})).toMatchObject({ databaseTimeouts: { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, transactionTimeoutMs: 10_000 } });
    const env = { SLUICE_DATABASE_STATEMENT_TIMEOUT_MS: '1500', SLUICE_DATABASE_TRANSACTION_TIMEOUT_MS: '3000' };
    expect(resolveSettings(['--database-connect-timeout-ms', '700', '--database-transaction-timeout-ms', '4000'], env)).toMatchObject({
      databaseTimeouts: { connectTimeoutMs: 700, statementTimeoutMs: 1500, transactionTimeoutMs: 4000 },
    });
    for (const bad of ['0', '-1', '1.5', 'soon']) {
      expect(() => resolveSettings(['--database-statement-timeout-ms', bad], {})).toThrow(ConfigurationError);
    }
    expect(usage()).toContain('SLUICE_DATABASE_TRANSACTION_TIMEOUT_MS');
  });

  it('allows no browser origin by default; --admin-gui-origin is repeatable, SLUICE_ADMIN_GUI_ORIGIN comma-separated', () => {
    expect(resolveSettings([], {})).toMatchObject({ adminAllowedOrigins: [] });
    const argv = ['--admin-gui-origin', 'https://gui.example', '--admin-gui-origin', 'HTTP://Localhost:8002/'];
    expect(resolveSettings(argv, { SLUICE_ADMIN_GUI_ORIGIN: 'https://ignored.example' })).toMatchObject({
      adminAllowedOrigins: ['https://gui.example', 'http://localhost:8002'],
    });
    expect(resolveSettings([], { SLUICE_ADMIN_GUI_ORIGIN: 'https://a.example, https://b.example:8443,' })).toMatchObject({
      adminAllowedOrigins: ['https://a.example', 'https://b.example:8443'],
    });
    expect(usage()).toContain('--admin-gui-origin');
    expect(usage()).toContain('SLUICE_ADMIN_GUI_ORIGIN');
  });

  it('serves the UI on 127.0.0.1:8002 unless told otherwise; off disables it', () => {
    expect(resolveSettings([], {})).toMatchObject({ adminGuiListen: '127.0.0.1:8002' });
    expect(resolveSettings([], { SLUICE_ADMIN_GUI_LISTEN: '0.0.0.0:9002' })).toMatchObject({ adminGuiListen: '0.0.0.0:9002' });
    expect(resolveSettings(['--admin-gui-listen', 'off'], { SLUICE_ADMIN_GUI_LISTEN: '0.0.0.0:9002' })).toMatchObject({ adminGuiListen: null });
    expect(resolveSettings(['--admin-gui-api-url', 'https://admin.example/api'], {})).toMatchObject({ adminGuiApiUrl: 'https://admin.example/api' });
    expect(usage()).toContain('SLUICE_ADMIN_GUI_LISTEN');
  });

  it.each([[['--nope']], [['--admin-listen', 'nohost']], [['--admin-body-limit', '-1']], [['--max-data-planes', '0']], [['--log-level', 'loud']], [['--admin-gui-origin', '*']], [['--admin-gui-origin', 'https://gui.example/path']], [['--admin-gui-listen', 'nohost']], [['--admin-gui-api-url', 'admin.example']]])('refuses %j', (argv) => {
    expect(() => resolveSettings(argv, {})).toThrow(ConfigurationError);
  });

  it('parses listen addresses', () => {
    expect(parseListenAddress('127.0.0.1:8001')).toEqual({ host: '127.0.0.1', port: 8001 });
    expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListenAddress(':8001')).toEqual({ host: '0.0.0.0', port: 8001 });
  });
});

describe('ControlPlane', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('stop() lets an Admin API request in flight finish (its body still arriving) and takes no new one', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-cp-'));
    dirs.push(dataDir);
    const cp = new ControlPlane({ logger: silentLogger, dataDir, adminListen: { host: '127.0.0.1', port: 0 }, clusterListen: null });
    const { admin } = await cp.start();
    const base = `http://127.0.0.1:${admin.port}`;
    const body = JSON.stringify({ name: 'in-flight', url: 'http://upstream.test' });
    const req = request({ host: '127.0.0.1', port: admin.port, method: 'POST', path: '/services', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
    const answered = new Promise<{ status: number; version: string | undefined }>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, version: res.headers['x-sluice-config-version'] as string | undefined }));
      });
      req.on('error', reject);
    });
    req.write(body.slice(0, 10));
    // The POST is in flight once the server counts it (its headers read): it and this /status.
    const inFlight = async () => ((await (await fetch(`${base}/status`)).json()) as { server: { connections_writing: number } }).server.connections_writing >= 2;
    for (let deadline = Date.now() + 10_000; !(await inFlight()); ) if (Date.now() > deadline) throw new Error('the POST never reached the server');
    const stopped = cp.stop();
    await expect(fetch(`${base}/services`)).rejects.toThrow();
    req.end(body.slice(10));
    expect(await answered).toEqual({ status: 201, version: '1' });
    // The client's keep-alive connection does not hold the stop for its keep-alive timeout (5 s).
    const answeredAt = Date.now();
    await stopped;
    expect(Date.now() - answeredAt).toBeLessThan(2_000);
  });

  it('serves the Admin API on a real socket over the embedded database, survives a restart, and stops cleanly', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-cp-'));
    dirs.push(dataDir);
    const cp = new ControlPlane({ logger: silentLogger, dataDir, adminListen: { host: '127.0.0.1', port: 0 }, clusterListen: null });
    const { admin } = await cp.start();
    expect(admin.port).toBeGreaterThan(0);
    const base = `http://127.0.0.1:${admin.port}`;
    const created = await fetch(`${base}/services`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'live', url: 'http://upstream.test' }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('x-sluice-config-version')).toBe('1');
    const epoch = created.headers.get('x-sluice-config-epoch');
    const status = (await (await fetch(`${base}/status`)).json()) as { database: { reachable: boolean }; server: { connections_accepted: number } };
    expect(status.database.reachable).toBe(true);
    expect(status.server.connections_accepted).toBeGreaterThan(0);

    await expect(openStore({ dataDir })).rejects.toBeInstanceOf(StoreError);
    await cp.stop();
    await cp.stop();

    const again = new ControlPlane({ logger: silentLogger, dataDir, adminListen: { host: '127.0.0.1', port: 0 }, clusterListen: null });
    const second = await again.start();
    const res = await fetch(`http://127.0.0.1:${second.admin.port}/services/live`);
    expect(res.status).toBe(200);
    expect((await again.store.readHead()).epoch).toBe(epoch);
    await again.stop();
  });
});
