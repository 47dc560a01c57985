import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. End-to-end tests run the built binaries from there. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CP_BIN = join(ROOT, 'packages', 'control-plane', 'bin', 'sluice-cp.js');
export const DP_BIN = join(ROOT, 'packages', 'data-plane', 'bin', 'sluice-dp.js');

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A real sluice-cp or sluice-dp process, with the addresses it printed. */
export class SluiceProcess {
  readonly child: ChildProcess;
  output = '';
  private readonly addresses = new Map<string, string>();
  readonly exited: Promise<number | null>;

  constructor(readonly name: string, bin: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [bin, ...args], { cwd: ROOT, env: { ...process.env, SLUICE_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (d: Buffer) => {
      this.output += d.toString();
      if (this.output.length > 2_000_000) this.output = this.output.slice(-1_000_000);
      for (const m of d.toString().matchAll(/sluice-(?:cp|dp) (\w[\w-]*) listening on (\S+)/g)) this.addresses.set(m[1], m[2]);
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Waits until the process printed `sluice-xx <what> listening on <url>` and returns the url. */
  address(what: string, timeoutMs = 45_000): Promise<string> {
    return waitFor(() => {
      if (this.child.exitCode !== null) throw new Error(`${this.name} exited with ${this.child.exitCode}:\n${this.output.slice(-4000)}`);
      return this.addresses.get(what);
    }, `${this.name} to listen (${what})`, timeoutMs);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** A temporary directory removed by `cleanup()`. */
export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `sluice-${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export interface ControlPlaneHandle {
  proc: SluiceProcess;
  admin: string;
  cluster: string;
  /** The Sluice UI's URL, when started with `gui: true`. */
  gui: string | null;
}

/**
 * Starts sluice-cp on random ports. Pass `databaseUrl` for Postgres, else `dataDir` for PGlite. The
 * UI is off unless `gui` is true (then on a random port too), so parallel test files never compete
 * for its default port.
 */
export async function startControlPlane(opts: {
  dataDir?: string;
  databaseUrl?: string;
  args?: string[];
  clusterPort?: number;
  adminPort?: number;
  gui?: boolean;
  /** More environment variables (e.g. `SLUICE_ADMIN_TOKEN`). */
  env?: NodeJS.ProcessEnv;
}): Promise<ControlPlaneHandle> {
  const args = [
    '--admin-listen',
    `127.0.0.1:${opts.adminPort ?? 0}`,
    '--cluster-listen',
    `127.0.0.1:${opts.clusterPort ?? 0}`,
    '--admin-gui-listen',
    opts.gui ? '127.0.0.1:0' : 'off',
    ...(opts.args ?? []),
  ];
  if (opts.databaseUrl) args.push('--database-url', opts.databaseUrl);
  else args.push('--data-dir', opts.dataDir!);
  const proc = new SluiceProcess('sluice-cp', CP_BIN, args, { SLUICE_DATABASE_URL: '', ...opts.env });
  const [admin, cluster, gui] = await Promise.all([proc.address('admin'), proc.address('cluster'), opts.gui ? proc.address('admin-gui') : null]);
  return { proc, admin, cluster, gui };
}

export interface DataPlaneHandle {
  proc: SluiceProcess;
  proxy: string;
  status: string;
}

/** Starts sluice-dp on random ports against a control plane's cluster address. */
export async function startDataPlane(opts: { controlPlane: string; cacheDir: string; args?: string[] }): Promise<DataPlaneHandle> {
  const args = ['--control-plane', opts.controlPlane, '--cache-dir', opts.cacheDir, '--proxy-listen', '127.0.0.1:0', '--status-listen', '127.0.0.1:0', ...(opts.args ?? [])];
  const proc = new SluiceProcess('sluice-dp', DP_BIN, args);
  const [proxy, status] = await Promise.all([proc.address('proxy'), proc.address('status')]);
  return { proc, proxy, status };
}

/** A sluice-dp serving a declarative (DB-less) config file; `status` is null with `statusListen: 'off'`. */
export interface DeclarativeDataPlaneHandle {
  proc: SluiceProcess;
  proxy: string;
  status: string | null;
}

/** Starts sluice-dp on random ports serving `configFile` (Kong's declarative format), no control plane. */
export async function startDeclarativeDataPlane(opts: { configFile: string; cacheDir: string; args?: string[]; statusListen?: 'off' }): Promise<DeclarativeDataPlaneHandle> {
  const status = opts.statusListen ?? '127.0.0.1:0';
  const args = ['--declarative-config', opts.configFile, '--cache-dir', opts.cacheDir, '--proxy-listen', '127.0.0.1:0', '--status-listen', status, ...(opts.args ?? [])];
  const proc = new SluiceProcess('sluice-dp', DP_BIN, args);
  try {
    const [proxy, statusUrl] = await Promise.all([proc.address('proxy'), status === 'off' ? null : proc.address('status')]);
    return { proc, proxy, status: statusUrl };
  } catch (err) {
    await proc.kill('SIGKILL');
    throw err;
  }
}

/** JSON over fetch with a bounded time. */
export async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed: any = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}
