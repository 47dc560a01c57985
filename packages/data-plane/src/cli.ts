/**
 * The `sluice-dp` command: parses flags (each also read from `SLUICE_<FLAG>`), starts a DataPlane
 * (or, in a `--workers` child, a proxy worker), prints the addresses it listens on, and drains on
 * SIGTERM/SIGINT. Nothing imports this module.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { isUuid } from '@sluice/protocol';
import { AccessLogDestination } from './access-log-destination.js';
import { DEFAULT_CACHE_DIR } from './config/config-cache.js';
import { BUNDLED_PLUGINS, DEFAULT_PLUGINS_SETTING, pluginFactoriesFor, resolveLoadedPlugins } from './config/loaded-plugins.js';
import { DEFAULT_RESPONSE_HEADERS, DEFAULT_UPSTREAM_HEADERS, injectedHeaders } from './proxy/injected-headers.js';
import { TrustedIps } from './proxy/trusted-ips.js';
import { DataPlane } from './data-plane.js';
import { DataPlaneError, DataPlaneErrorCode, InvalidArgumentError } from './errors.js';
import type { ListenAddress } from './listen-address.js';
import type { Logger } from './logger.js';
import { DEFAULT_STATUS_LISTEN } from './status/status-server.js';
import { ClusterMtlsMode, ClusterTls, type ClusterTlsFiles } from './sync/cluster-tls.js';
import { runProxyWorker } from './workers/proxy-worker.js';

const DEFAULT_CONTROL_PLANE = 'ws://127.0.0.1:8005';
const DEFAULT_PROXY_LISTEN = '0.0.0.0:8000';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** Most proxy workers (default 256): more is a typo, not a deployment. */
const MAX_WORKERS = 256;

const HELP = `Usage: sluice-dp [options]

Sluice data plane: syncs config from a control plane (or serves a declarative file), caches it on
disk, and proxies HTTP traffic. Every flag can also be set through the environment variable shown.

  --control-plane URLS       control plane origin, ws:// or wss://, or several replicas' origins
                             comma-separated: the data plane fails over between them, backing off per
                             address (SLUICE_CONTROL_PLANE; default ${DEFAULT_CONTROL_PLANE})
  --cluster-cert FILE        client certificate (PEM) for a wss:// control plane (SLUICE_CLUSTER_CERT)
  --cluster-cert-key FILE    its private key (PEM) (SLUICE_CLUSTER_CERT_KEY)
  --cluster-ca-cert FILE     CA the control plane's certificate must chain to; pki mode (SLUICE_CLUSTER_CA_CERT)
  --cluster-mtls MODE        shared (the control plane presents this same certificate, pinned) or pki
                             (SLUICE_CLUSTER_MTLS; default pki with --cluster-ca-cert, else shared)
  --cluster-server-name NAME name the control plane's certificate must carry, also sent as SNI
                             (SLUICE_CLUSTER_SERVER_NAME; default the host of each --control-plane address)
  --proxy-listen HOST:PORT   proxy listener, or "off" (SLUICE_PROXY_LISTEN; default ${DEFAULT_PROXY_LISTEN})
  --status-listen HOST:PORT  status/metrics listener, or "off" (SLUICE_STATUS_LISTEN; default ${DEFAULT_STATUS_LISTEN})
  --cache-dir DIR            config cache and node id (SLUICE_CACHE_DIR; default ${DEFAULT_CACHE_DIR})
  --node-id UUID             node id (SLUICE_NODE_ID; default: a UUID persisted in the cache dir)
  --label KEY=VALUE          label sent to the control plane; repeatable (SLUICE_LABEL: k=v,k2=v2)
  --workers N                proxy worker processes; 0 runs the proxy in this process (SLUICE_WORKERS; default 0)
  --plugins LIST             plugins to load, as Kong's plugins property: names and/or "bundled"
                             (every plugin this build has: ${[...BUNDLED_PLUGINS].join(', ')}),
                             comma-separated, or "off" (SLUICE_PLUGINS; default ${DEFAULT_PLUGINS_SETTING}).
                             Announced to the control plane, which never sends a config using
                             another plugin; such a config (or cache) is refused
  --declarative-config FILE  serve this JSON {services, routes} without a control plane (SLUICE_DECLARATIVE_CONFIG)
  --log-level LEVEL          ${LOG_LEVELS.join('|')} (SLUICE_LOG_LEVEL; default info)
  --access-log TARGET        one JSON line per proxied request to "stdout" or a file (appended), or
                             "off" (SLUICE_ACCESS_LOG; default off)
  --trusted-ips LIST         addresses and CIDR blocks whose X-Forwarded-* and X-Real-IP are kept as
                             sent, comma-separated (SLUICE_TRUSTED_IPS; default none)
  --headers LIST             the proxy's own response headers: server_tokens, latency_tokens, Server,
                             Via, X-Sluice-Proxy-Latency, X-Sluice-Upstream-Latency,
                             X-Sluice-Response-Latency, X-Sluice-Request-Id, X-Sluice-Upstream-Status,
                             or off (SLUICE_HEADERS;
                             default server_tokens,latency_tokens,X-Sluice-Request-Id)
  --headers-upstream LIST    X-Sluice-Request-Id or off (SLUICE_HEADERS_UPSTREAM; default X-Sluice-Request-Id)
  --allow-debug-header       a request with a Sluice-Debug header gets the matched route and service
                             ids and names on its response (SLUICE_ALLOW_DEBUG_HEADER=on; default off)
  -h, --help                 show this help

Port 0 picks a free port; the chosen addresses are printed as
  sluice-dp proxy listening on http://HOST:PORT
  sluice-dp status listening on http://HOST:PORT
`;

/** Most --control-plane addresses (default 16): more is a typo, not a deployment. */
const MAX_CONTROL_PLANES = 16;

interface CliOptions {
  /** The control-plane origins (one or more), or null without a control plane. */
  readonly controlPlane: readonly string[] | null;
  readonly clusterTls: ClusterTlsFiles | null;
  readonly declarativeConfig: string | null;
  readonly proxyListen: ListenAddress | null;
  readonly statusListen: ListenAddress | null;
  readonly cacheDir: string;
  readonly nodeId: string | undefined;
  readonly labels: Record<string, string>;
  readonly workers: number;
  /** The plugins to load (`--plugins`, resolved). */
  readonly loadedPlugins: ReadonlySet<string>;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** "stdout", a file path, or null (off). */
  readonly accessLog: string | null;
  /** The proxy options the flags set (the same in every worker). */
  readonly proxy: { readonly trustedIps: readonly string[]; readonly headers: readonly string[]; readonly headersUpstream: readonly string[]; readonly allowDebugHeader: boolean };
}

/** An on/off environment switch: `on`/`true`/`1` or `off`/`false`/`0`/unset. */
function onOff(name: string, value: string | undefined): boolean {
  if (value === undefined || value === '') return false;
  const v = value.toLowerCase();
  if (v === 'on' || v === 'true' || v === '1') return true;
  if (v === 'off' || v === 'false' || v === '0') return false;
  throw new InvalidArgumentError(`${name} must be on or off, got ${JSON.stringify(value)}`);
}

/** A comma-separated flag value as a list (blanks dropped); undefined stays undefined. */
function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((v) => v.trim()).filter((v) => v !== '');
}

/** `host:port` or `[v6]:port` → address; "off" → null. */
function parseListen(flag: string, value: string): ListenAddress | null {
  if (value === 'off') return null;
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new InvalidArgumentError(`--${flag} must be HOST:PORT (port 0-65535) or "off", got ${JSON.stringify(value)}`);
  return { host: m[1] ?? m[2], port };
}

function parseCli(argv: string[], env: NodeJS.ProcessEnv): CliOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      'control-plane': { type: 'string' },
      'cluster-cert': { type: 'string' },
      'cluster-cert-key': { type: 'string' },
      'cluster-ca-cert': { type: 'string' },
      'cluster-mtls': { type: 'string' },
      'cluster-server-name': { type: 'string' },
      'proxy-listen': { type: 'string' },
      'status-listen': { type: 'string' },
      'cache-dir': { type: 'string' },
      'node-id': { type: 'string' },
      label: { type: 'string', multiple: true },
      workers: { type: 'string' },
      plugins: { type: 'string' },
      'declarative-config': { type: 'string' },
      'log-level': { type: 'string' },
      'access-log': { type: 'string' },
      'trusted-ips': { type: 'string' },
      headers: { type: 'string' },
      'headers-upstream': { type: 'string' },
      'allow-debug-header': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const pick = (flag: keyof typeof values, envName: string): string | undefined => {
    const v = values[flag];
    if (typeof v === 'string') return v;
    const e = env[envName];
    return e === undefined || e === '' ? undefined : e;
  };
  const declarativeConfig = pick('declarative-config', 'SLUICE_DECLARATIVE_CONFIG') ?? null;
  const explicitCp = pick('control-plane', 'SLUICE_CONTROL_PLANE');
  if (declarativeConfig && explicitCp) throw new InvalidArgumentError('--control-plane and --declarative-config are exclusive');
  const controlPlane = declarativeConfig ? null : parseControlPlanes(explicitCp ?? DEFAULT_CONTROL_PLANE);
  const clusterTls = parseClusterTls(controlPlane, {
    certFile: pick('cluster-cert', 'SLUICE_CLUSTER_CERT'),
    keyFile: pick('cluster-cert-key', 'SLUICE_CLUSTER_CERT_KEY'),
    caFile: pick('cluster-ca-cert', 'SLUICE_CLUSTER_CA_CERT'),
    mode: pick('cluster-mtls', 'SLUICE_CLUSTER_MTLS'),
    serverName: pick('cluster-server-name', 'SLUICE_CLUSTER_SERVER_NAME'),
  });
  const labelList = values.label ?? (env.SLUICE_LABEL ? env.SLUICE_LABEL.split(',').filter(Boolean) : []);
  const labels: Record<string, string> = {};
  for (const label of labelList) {
    const i = label.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`--label must be KEY=VALUE, got ${JSON.stringify(label)}`);
    labels[label.slice(0, i).trim()] = label.slice(i + 1).trim();
  }
  const workersText = pick('workers', 'SLUICE_WORKERS') ?? '0';
  const workers = Number(workersText);
  if (!/^\d+$/.test(workersText) || workers > MAX_WORKERS) throw new InvalidArgumentError(`--workers must be an integer 0-${MAX_WORKERS}, got ${JSON.stringify(workersText)}`);
  const loadedPlugins = resolveLoadedPlugins(list(pick('plugins', 'SLUICE_PLUGINS') ?? DEFAULT_PLUGINS_SETTING) ?? []);
  const nodeId = pick('node-id', 'SLUICE_NODE_ID');
  if (nodeId !== undefined && !isUuid(nodeId)) throw new InvalidArgumentError(`--node-id must be a UUID, got ${JSON.stringify(nodeId)}`);
  const logLevel = pick('log-level', 'SLUICE_LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new InvalidArgumentError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const accessLog = pick('access-log', 'SLUICE_ACCESS_LOG') ?? 'off';
  const proxy = {
    trustedIps: list(pick('trusted-ips', 'SLUICE_TRUSTED_IPS')) ?? [],
    headers: list(pick('headers', 'SLUICE_HEADERS')) ?? DEFAULT_RESPONSE_HEADERS,
    headersUpstream: list(pick('headers-upstream', 'SLUICE_HEADERS_UPSTREAM')) ?? DEFAULT_UPSTREAM_HEADERS,
    allowDebugHeader: values['allow-debug-header'] === true || onOff('SLUICE_ALLOW_DEBUG_HEADER', env.SLUICE_ALLOW_DEBUG_HEADER),
  };
  // Checked here so that a typo stops the start with exit 2, as any other bad flag.
  new TrustedIps(proxy.trustedIps);
  injectedHeaders(proxy.headers, proxy.headersUpstream);
  return {
    controlPlane,
    clusterTls,
    declarativeConfig,
    proxyListen: parseListen('proxy-listen', pick('proxy-listen', 'SLUICE_PROXY_LISTEN') ?? DEFAULT_PROXY_LISTEN),
    statusListen: parseListen('status-listen', pick('status-listen', 'SLUICE_STATUS_LISTEN') ?? DEFAULT_STATUS_LISTEN),
    cacheDir: pick('cache-dir', 'SLUICE_CACHE_DIR') ?? DEFAULT_CACHE_DIR,
    nodeId: nodeId?.toLowerCase(),
    labels,
    workers,
    loadedPlugins,
    logLevel: logLevel as CliOptions['logLevel'],
    accessLog: accessLog === 'off' ? null : accessLog,
    proxy,
  };
}

/** `--control-plane`: one origin or a comma-separated list, all ws:// or all wss://, no duplicates. */
function parseControlPlanes(value: string): string[] {
  const urls = list(value) ?? [];
  if (urls.length === 0) throw new InvalidArgumentError(`--control-plane must name at least one ws:// or wss:// origin, got ${JSON.stringify(value)}`);
  if (urls.length > MAX_CONTROL_PLANES) throw new InvalidArgumentError(`--control-plane takes at most ${MAX_CONTROL_PLANES} addresses, got ${urls.length}`);
  for (const url of urls) {
    if (!/^wss?:\/\/[^/,]+\/?$/.test(url)) throw new InvalidArgumentError(`--control-plane must be ws:// or wss:// origins such as ${DEFAULT_CONTROL_PLANE}, got ${JSON.stringify(url)}`);
  }
  const normalized = urls.map((u) => u.replace(/\/+$/, ''));
  if (new Set(normalized.map((u) => u.startsWith('wss://'))).size > 1) throw new InvalidArgumentError(`--control-plane addresses must all be ws:// or all wss://, got ${JSON.stringify(value)}`);
  if (new Set(normalized).size !== normalized.length) throw new InvalidArgumentError(`--control-plane lists an address twice: ${JSON.stringify(value)}`);
  return normalized;
}

/**
 * Checks how the `--cluster-*` TLS flags combine with the control plane URLs (reads no file): a
 * wss:// control plane needs a certificate and key, and certificates are refused with ws:// (they
 * would silently not be used) and without a control plane. The same TLS applies to every address.
 */
function parseClusterTls(
  controlPlanes: readonly string[] | null,
  flags: { certFile?: string; keyFile?: string; caFile?: string; mode?: string; serverName?: string },
): ClusterTlsFiles | null {
  const { certFile, keyFile, caFile, mode, serverName } = flags;
  const given = Object.entries({ 'cluster-cert': certFile, 'cluster-cert-key': keyFile, 'cluster-ca-cert': caFile, 'cluster-mtls': mode, 'cluster-server-name': serverName })
    .filter(([, v]) => v !== undefined)
    .map(([k]) => `--${k}`);
  if (mode !== undefined && mode !== ClusterMtlsMode.SHARED && mode !== ClusterMtlsMode.PKI) throw new InvalidArgumentError(`--cluster-mtls must be shared or pki, got ${JSON.stringify(mode)}`);
  if (controlPlanes === null) {
    if (given.length > 0) throw new InvalidArgumentError(`${given.join(', ')} only apply with a --control-plane`);
    return null;
  }
  if (!controlPlanes[0].startsWith('wss://')) {
    if (given.length > 0) throw new InvalidArgumentError(`${given.join(', ')} need a wss:// --control-plane, got ${JSON.stringify(controlPlanes.join(','))}`);
    return null;
  }
  if (!certFile || !keyFile) throw new InvalidArgumentError('a wss:// --control-plane needs --cluster-cert and --cluster-cert-key (mutual TLS)');
  const resolved = (mode as ClusterMtlsMode | undefined) ?? (caFile ? ClusterMtlsMode.PKI : ClusterMtlsMode.SHARED);
  if (resolved === ClusterMtlsMode.PKI && !caFile) throw new InvalidArgumentError('--cluster-mtls pki needs --cluster-ca-cert');
  if (resolved === ClusterMtlsMode.SHARED && caFile) throw new InvalidArgumentError('--cluster-ca-cert is only used with --cluster-mtls pki');
  return { mode: resolved, certFile, keyFile, caFile, serverName };
}

function url(address: ListenAddress): string {
  return `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

function buildVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

async function main(): Promise<void> {
  let options: CliOptions | 'help';
  try {
    options = parseCli(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`sluice-dp: ${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(HELP);
    return;
  }
  const logger: Logger = pino({ level: options.logLevel, base: { pid: process.pid, component: cluster.isWorker ? 'sluice-dp-worker' : 'sluice-dp' } }, pino.destination(2));

  // Opened in the primary too, so a bad path fails at start; each worker appends through its own.
  let accessLog: AccessLogDestination | null;
  try {
    accessLog = options.accessLog === null ? null : AccessLogDestination.open(options.accessLog, logger);
  } catch (err) {
    process.stderr.write(`sluice-dp: --access-log ${JSON.stringify(options.accessLog)} cannot be opened: ${(err as Error).message}\n`);
    process.exit(2);
  }

  if (cluster.isWorker && process.env.SLUICE_DP_WORKER === '1') {
    const listen = parseListen('proxy-listen', process.env.SLUICE_DP_WORKER_LISTEN ?? DEFAULT_PROXY_LISTEN)!;
    await runProxyWorker({ listen, logger, pluginFactories: pluginFactoriesFor(options.loadedPlugins), proxy: { ...options.proxy, accessLog } });
    return;
  }

  let clusterTls: ClusterTls | null;
  try {
    clusterTls = options.clusterTls ? ClusterTls.fromFiles(options.clusterTls) : null;
  } catch (err) {
    process.stderr.write(`sluice-dp: ${(err as Error).message}\n`);
    process.exit(2);
  }
  let dp: DataPlane;
  try {
    dp = await DataPlane.start({
      controlPlane: options.controlPlane,
      clusterTls,
      declarativeConfig: options.declarativeConfig,
      proxyListen: options.proxyListen,
      statusListen: options.statusListen,
      cacheDir: options.cacheDir,
      nodeId: options.nodeId,
      labels: options.labels,
      workers: options.workers,
      pluginFactories: pluginFactoriesFor(options.loadedPlugins),
      proxy: { ...options.proxy, accessLog },
      buildVersion: buildVersion(),
      logger,
    });
  } catch (err) {
    const code = err instanceof DataPlaneError ? err.code : DataPlaneErrorCode.START;
    logger.error({ err, code }, 'sluice-dp failed to start');
    process.stderr.write(`sluice-dp: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (dp.proxyAddress) process.stdout.write(`sluice-dp proxy listening on ${url(dp.proxyAddress)}\n`);
  if (dp.statusAddress) process.stdout.write(`sluice-dp status listening on ${url(dp.statusAddress)}\n`);
  if (options.controlPlane) process.stdout.write(`sluice-dp node ${dp.nodeId} syncing from ${options.controlPlane.join(',')}\n`);

  let signals = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    if (++signals > 1) process.exit(1);
    logger.info({ signal }, 'draining');
    dp.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

await main();
