import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CP_BIN, ROOT, startControlPlane, startDeclarativeDataPlane, tempDir, waitFor, http, type ControlPlaneHandle, type DeclarativeDataPlaneHandle } from './support/processes.js';
import { makeTestCerts, opensslUnavailable, type TestCerts } from './support/test-certs.js';
import { startEchoUpstream } from './support/upstream.js';

// A locked, TLS-served Admin API and declarative configuration, with real processes: a sluice-cp
// with --admin-cert and --admin-tokens-file (and SLUICE_ADMIN_TOKEN), its tokens reloaded on
// SIGHUP, its audit lines on stdout; `sluice-cp config dump|diff|sync` against it; a sluice-dp
// serving the YAML the control plane exported. Certificates are made with openssl at test time.

const skipReason = opensslUnavailable();
if (skipReason) console.warn(`admin-ops.e2e.test.ts skipped: ${skipReason}`);
const describeTls = skipReason ? describe.skip : describe;

const ENV_TOKEN = 'env-admin-token-5d1c9a0b7e';
const CI_TOKEN = 'ci-admin-token-0f3b8e2d6a';
const READER_TOKEN = 'reader-token-7e2a1c9f4b';
const ROTATED_TOKEN = 'rotated-token-3c8d5e1f0a';

/** An https request trusting `ca`; answers status, headers and the body as text. */
function https(url: string, ca: Buffer, options: { method?: string; token?: string; body?: unknown } = {}): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = httpsRequest(
      url,
      {
        method: options.method ?? 'GET',
        ca,
        headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...(payload ? { 'content-type': 'application/json' } : {}) },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs `sluice-cp` to completion; answers its exit code and output. */
function runCp(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CP_BIN, ...args], { cwd: ROOT, env: { ...process.env, SLUICE_LOG_LEVEL: 'silent', SLUICE_ADMIN_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The audit lines a process printed. */
function auditLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes('"audit":true'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('sluice-cp refuses an open Admin API on a non-loopback address', () => {
  it('exits 2 with a clear message, before opening any database', async () => {
    const dir = tempDir('open-admin');
    try {
      const run = await runCp(['--admin-listen', '0.0.0.0:0', '--cluster-listen', '127.0.0.1:0', '--data-dir', join(dir.path, 'cp')]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/refusing to serve the Admin API on 0\.0\.0\.0 without a token.*SLUICE_ADMIN_TOKEN or --admin-tokens-file.*--admin-allow-open/);
      const malformed = join(dir.path, 'tokens');
      writeFileSync(malformed, `ci admin ${CI_TOKEN}\nbroken line\n`);
      const bad = await runCp(['--admin-tokens-file', malformed, '--data-dir', join(dir.path, 'cp')]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(`${malformed}:2: expected NAME ROLE TOKEN, got 2 fields`);
      expect(bad.stderr).not.toContain(CI_TOKEN);
    } finally {
      dir.cleanup();
    }
  });
});

describeTls('a locked Admin API over TLS, and declarative configuration (real processes)', () => {
  let certs: TestCerts;
  let ca: Buffer;
  let cp: ControlPlaneHandle;
  let dp: DeclarativeDataPlaneHandle | null = null;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  const dir = tempDir('admin-ops');
  const tokensFile = join(dir.path, 'admin-tokens');

  beforeAll(async () => {
    certs = makeTestCerts();
    ca = readFileSync(certs.ca.cert);
    upstream = await startEchoUpstream('billing');
    writeFileSync(tokensFile, `# name role token\nci admin ${CI_TOKEN}\nreader read-only ${READER_TOKEN}\n`);
    cp = await startControlPlane({
      dataDir: join(dir.path, 'cp'),
      args: ['--admin-cert', certs.cp.cert, '--admin-cert-key', certs.cp.key, '--admin-tokens-file', tokensFile],
      env: { SLUICE_ADMIN_TOKEN: ENV_TOKEN },
    });
  }, 120_000);

  afterAll(async () => {
    await dp?.proc.kill();
    await cp?.proc.kill();
    await upstream?.close();
    certs?.cleanup();
    dir.cleanup();
  });

  it('serves https only, and answers 401 and 403 without writing', async () => {
    expect(cp.admin).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    await expect(http('GET', `${cp.admin.replace('https:', 'http:')}/status`)).rejects.toThrow();
    expect((await https(`${cp.admin}/status`, ca)).status).toBe(401);
    const head = JSON.parse((await https(`${cp.admin}/status`, ca, { token: READER_TOKEN })).text).config.version;
    const refused = await https(`${cp.admin}/services`, ca, { method: 'POST', body: { name: 'x', host: 'x.test' } });
    expect([refused.status, JSON.parse(refused.text)]).toEqual([401, { message: 'Invalid credentials. Token or User credentials required' }]);
    const forbidden = await https(`${cp.admin}/services`, ca, { method: 'POST', token: READER_TOKEN, body: { name: 'x', host: 'x.test' } });
    expect([forbidden.status, JSON.parse(forbidden.text)]).toEqual([403, { message: 'reader, you do not have permissions to create this resource' }]);
    expect(JSON.parse((await https(`${cp.admin}/status`, ca, { token: ENV_TOKEN })).text).config.version).toBe(head);
    const created = await https(`${cp.admin}/services`, ca, { method: 'POST', token: ENV_TOKEN, body: { name: 'billing', url: `${upstream.url}/billing` } });
    expect(created.status).toBe(201);
    expect((await https(`${cp.admin}/services/billing/routes`, ca, { method: 'POST', token: CI_TOKEN, body: { name: 'invoices', paths: ['/invoices'] } })).status).toBe(201);
    await waitFor(() => auditLines(cp.proc.output).length >= 4, 'the audit lines');
    const audit = auditLines(cp.proc.output);
    expect(audit.map((l) => [l.token, l.method, l.path, l.status])).toEqual([
      [null, 'POST', '/services', 401],
      ['reader', 'POST', '/services', 403],
      ['SLUICE_ADMIN_TOKEN', 'POST', '/services', 201],
      ['ci', 'POST', '/services/:service/routes', 201],
    ]);
    expect(audit[2]).toMatchObject({ entity: { kind: 'services', id: JSON.parse(created.text).id }, version: Number(created.headers['x-sluice-config-version']) });
    for (const token of [ENV_TOKEN, CI_TOKEN, READER_TOKEN]) expect(cp.proc.output).not.toContain(token);
  });

  it('re-reads the tokens file on SIGHUP, and keeps the previous tokens when the new file is malformed', async () => {
    writeFileSync(tokensFile, `ci admin ${ROTATED_TOKEN}\nreader read-only ${READER_TOKEN}\n`);
    cp.proc.child.kill('SIGHUP');
    await waitFor(async () => (await https(`${cp.admin}/services`, ca, { token: ROTATED_TOKEN })).status === 200, 'the rotated token to work');
    expect((await https(`${cp.admin}/services`, ca, { token: CI_TOKEN })).status).toBe(401);
    expect((await https(`${cp.admin}/services`, ca, { token: ENV_TOKEN })).status).toBe(200); // SLUICE_ADMIN_TOKEN stays
    writeFileSync(tokensFile, `ci admin ${CI_TOKEN}\nci admin\n`);
    cp.proc.child.kill('SIGHUP');
    await waitFor(() => cp.proc.output.includes('Admin API tokens not reloaded'), 'the refused reload in the log');
    expect(cp.proc.output).toMatch(/"reason":"[^"]*admin-tokens:2: expected NAME ROLE TOKEN, got 2 fields"/);
    expect((await https(`${cp.admin}/services`, ca, { token: ROTATED_TOKEN })).status).toBe(200);
    expect((await https(`${cp.admin}/services`, ca, { token: CI_TOKEN })).status).toBe(401);
    expect(cp.proc.output).not.toContain(CI_TOKEN);
  });

  it('dumps, diffs and syncs with sluice-cp config, and a data plane serves the dumped YAML', async () => {
    const env = { SLUICE_ADMIN_TOKEN: ENV_TOKEN, NODE_EXTRA_CA_CERTS: certs.ca.cert };
    const file = join(dir.path, 'kong.yaml');
    const dump = await runCp(['config', 'dump', file, '--admin-url', cp.admin], env);
    expect(dump.code, dump.stderr).toBe(0);
    const document = parseYaml(readFileSync(file, 'utf8'));
    expect(document).toMatchObject({ _format_version: '3.0', services: [{ name: 'billing' }], routes: [{ name: 'invoices', paths: ['/invoices'] }] });

    const unchanged = await runCp(['config', 'diff', file, '--admin-url', cp.admin], env);
    expect([unchanged.code, unchanged.stdout]).toEqual([0, 'no changes\n']);

    const edited = join(dir.path, 'edited.json');
    document.services[0].retries = 2;
    document.routes.push({ name: 'payments', paths: ['/payments'], service: 'billing' });
    document.consumers = [{ username: 'alice' }];
    writeFileSync(edited, JSON.stringify(document));
    const diff = await runCp(['config', 'diff', edited, '--admin-url', cp.admin], env);
    expect(diff.code, diff.stderr).toBe(0);
    const serviceId = document.services[0].id;
    expect(diff.stdout.split('\n')).toEqual([
      `~ services billing (${serviceId}): retries`,
      expect.stringMatching(/^\+ routes payments \([0-9a-f-]{36}\)$/),
      expect.stringMatching(/^\+ consumers alice \([0-9a-f-]{36}\)$/),
      '2 to create, 1 to change, 0 to delete',
      '',
    ]);
    const before = JSON.parse((await https(`${cp.admin}/status`, ca, { token: ENV_TOKEN })).text).config.version;
    const sync = await runCp(['config', 'sync', edited, '--admin-url', cp.admin], env);
    expect([sync.code, sync.stdout]).toEqual([0, `synced: 2 created, 1 changed, 0 deleted; config version ${before + 1}\n`]);
    expect((await runCp(['config', 'diff', edited, '--admin-url', cp.admin], env)).stdout).toBe('no changes\n');
    const denied = await runCp(['config', 'sync', edited, '--admin-url', cp.admin], { ...env, SLUICE_ADMIN_TOKEN: READER_TOKEN });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('POST /config: 403 reader, you do not have permissions to create this resource');

    const served = join(dir.path, 'served.yml');
    expect((await runCp(['config', 'dump', served, '--admin-url', cp.admin], env)).code).toBe(0);
    dp = await startDeclarativeDataPlane({ configFile: served, cacheDir: join(dir.path, 'dp') });
    const proxied = await http('GET', `${dp.proxy}/payments/42`);
    expect(proxied.status).toBe(200);
    expect(proxied.body).toMatchObject({ name: 'billing', url: '/billing/42' });
  }, 120_000);
});
