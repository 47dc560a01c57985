/**
 * `sluice-cp`: the control-plane command. Every flag also reads from `SLUICE_<FLAG>` (upper case,
 * dashes as underscores); a flag on the command line wins over the environment.
 */
import { parseArgs } from 'node:util';
import pino, { type Logger } from 'pino';
import { DEFAULT_ADMIN_BODY_LIMIT_BYTES, parseAllowedOrigin } from './admin/index.js';
import { ControlPlane, DEFAULT_ADMIN_GUI_LISTEN, DEFAULT_ADMIN_LISTEN, DEFAULT_CLUSTER_LISTEN, formatListenAddress, packageVersion, parseListenAddress } from './control-plane.js';
import { ConfigurationError } from './errors.js';
import { DEFAULT_DATA_DIR } from './store/index.js';
import { DEFAULT_CHANGE_LOG_RETENTION_VERSIONS } from './changes/change-log-janitor.js';
import { ClusterMtlsMode, ClusterTls } from './stream/cluster-tls.js';
import { MAX_DATA_PLANE_ROWS } from './stream/registry-admission.js';

/** The flags of `sluice-cp`, their defaults and help. */
const FLAGS = {
  'admin-listen': { default: DEFAULT_ADMIN_LISTEN, help: 'Admin API address, host:port' },
  'cluster-listen': { default: DEFAULT_CLUSTER_LISTEN, help: 'cluster stream address for data planes, host:port' },
  'cluster-cert': { default: undefined, help: 'cluster certificate (PEM); with --cluster-cert-key the stream is wss:// with mutual TLS' },
  'cluster-cert-key': { default: undefined, help: 'private key of --cluster-cert (PEM)' },
  'cluster-ca-cert': { default: undefined, help: 'CA that data-plane certificates must chain to (PEM); pki mode only' },
  'cluster-mtls': { default: undefined, help: 'shared (data planes present this same certificate) or pki (certificates from --cluster-ca-cert); default pki with a CA, else shared' },
  'database-url': { default: undefined, help: 'PostgreSQL URL (postgres://user:pass@host:5432/db); without it the embedded database is used' },
  'data-dir': { default: DEFAULT_DATA_DIR, help: 'embedded database directory (used when no --database-url)' },
  'admin-body-limit': { default: String(DEFAULT_ADMIN_BODY_LIMIT_BYTES), help: 'largest Admin API request body, in bytes' },
  'admin-gui-listen': { default: DEFAULT_ADMIN_GUI_LISTEN, help: "the Sluice UI's address, host:port, or off" },
  'admin-gui-api-url': { default: undefined, help: 'Admin API URL the UI calls (behind a proxy); default the Admin API address as the browser reaches it' },
  'admin-gui-origin': {
    default: undefined,
    help: 'origin (scheme://host[:port]) whose pages may call the Admin API with credentials; repeatable, env comma-separated; none by default (cross-origin writes answer 403)',
  },
  'change-log-retention': { default: String(DEFAULT_CHANGE_LOG_RETENTION_VERSIONS), help: 'config versions kept in the change log; data planes further behind get a snapshot' },
  'max-data-planes': { default: String(MAX_DATA_PLANE_ROWS), help: 'data-plane registry rows kept, across replicas; when full, a new node evicts the oldest disconnected row or is told to retry later' },
  'log-level': { default: 'info', help: 'fatal, error, warn, info, debug, trace or silent' },
} as const;
type FlagName = keyof typeof FLAGS;

/** Flags that may be given more than once (their environment variable is comma-separated). */
const REPEATABLE_FLAGS: ReadonlySet<FlagName> = new Set(['admin-gui-origin']);

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The environment variable of a flag: `--database-url` → `SLUICE_DATABASE_URL`. */
export function envName(flag: string): string {
  return `SLUICE_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** The usage text. */
export function usage(): string {
  const lines = ['Usage: sluice-cp [options]', '', 'Sluice control plane: Admin API and configuration store.', '', 'Options:'];
  for (const [name, flag] of Object.entries(FLAGS)) {
    const def = flag.default === undefined ? '' : ` (default: ${flag.default})`;
    lines.push(`  --${name.padEnd(18)} ${flag.help}${def}`, `  ${''.padEnd(20)} env ${envName(name)}`);
  }
  lines.push('  --help               show this help', '  --version            print the version');
  return lines.join('\n');
}

/** Effective settings of one run. */
export interface CliSettings {
  adminListen: string;
  clusterListen: string;
  databaseUrl?: string;
  dataDir: string;
  adminBodyLimitBytes: number;
  /** The Sluice UI's address, or null (`off`). */
  adminGuiListen: string | null;
  /** The Admin API URL the UI calls, when set. */
  adminGuiApiUrl?: string;
  /** Serialized origins allowed to call the Admin API from a browser (empty: none besides the UI's). */
  adminAllowedOrigins: string[];
  changeLogRetentionVersions: number;
  maxDataPlanes: number;
  logLevel: string;
  /** Mutual TLS on the cluster stream, or null for plain ws://. The files are read by {@link loadClusterTls}. */
  clusterTls: { mode: ClusterMtlsMode; certFile: string; keyFile: string; caFile?: string } | null;
}

/** Checks how the `--cluster-*` TLS flags combine; reads no file. */
function resolveClusterTls(get: (name: FlagName) => string | undefined): CliSettings['clusterTls'] {
  const certFile = get('cluster-cert');
  const keyFile = get('cluster-cert-key');
  const caFile = get('cluster-ca-cert');
  const mode = get('cluster-mtls');
  if (mode !== undefined && mode !== ClusterMtlsMode.SHARED && mode !== ClusterMtlsMode.PKI) {
    throw new ConfigurationError(`--cluster-mtls must be shared or pki, got ${JSON.stringify(mode)}`);
  }
  if (!certFile && !keyFile) {
    if (caFile || mode) throw new ConfigurationError(`--${caFile ? 'cluster-ca-cert' : 'cluster-mtls'} needs --cluster-cert and --cluster-cert-key`);
    return null;
  }
  if (!certFile || !keyFile) throw new ConfigurationError('--cluster-cert and --cluster-cert-key go together');
  const resolved = mode ?? (caFile ? ClusterMtlsMode.PKI : ClusterMtlsMode.SHARED);
  if (resolved === ClusterMtlsMode.PKI && !caFile) throw new ConfigurationError('--cluster-mtls pki needs --cluster-ca-cert');
  if (resolved === ClusterMtlsMode.SHARED && caFile) throw new ConfigurationError('--cluster-ca-cert is only used with --cluster-mtls pki');
  return { mode: resolved, certFile, keyFile, ...(caFile ? { caFile } : {}) };
}

/** Reads and checks the certificate files of the settings; throws {@link ConfigurationError}. */
export function loadClusterTls(settings: CliSettings): ClusterTls | null {
  return settings.clusterTls ? ClusterTls.fromFiles(settings.clusterTls) : null;
}

/** Resolves flags, then environment variables, then defaults; throws {@link ConfigurationError}. */
export function resolveSettings(argv: string[], env: NodeJS.ProcessEnv): CliSettings | 'help' | 'version' {
  const options = Object.fromEntries(
    Object.keys(FLAGS).map((name) => [name, { type: 'string' as const, multiple: REPEATABLE_FLAGS.has(name as FlagName) }]),
  );
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ConfigurationError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  if (values.help) return 'help';
  if (values.version) return 'version';
  const get = (name: FlagName): string | undefined => {
    const fromFlag = values[name];
    if (typeof fromFlag === 'string') return fromFlag;
    const fromEnv = env[envName(name)];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    return FLAGS[name].default;
  };
  /** A repeatable flag's values, else its environment variable split on commas. */
  const getAll = (name: FlagName): string[] => {
    const fromFlag = values[name];
    const raw = Array.isArray(fromFlag) && fromFlag.length > 0 ? fromFlag : [env[envName(name)] ?? ''];
    return raw.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  };
  const retention = Number(get('change-log-retention'));
  if (!Number.isSafeInteger(retention) || retention < 1) throw new ConfigurationError('--change-log-retention must be a positive integer number of versions');
  const maxDataPlanes = Number(get('max-data-planes'));
  if (!Number.isSafeInteger(maxDataPlanes) || maxDataPlanes < 1) throw new ConfigurationError('--max-data-planes must be a positive integer number of rows');
  const bodyLimit = Number(get('admin-body-limit'));
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 1) throw new ConfigurationError(`--admin-body-limit must be a positive integer number of bytes`);
  const logLevel = get('log-level') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigurationError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const adminListen = get('admin-listen') ?? DEFAULT_ADMIN_LISTEN;
  try {
    parseListenAddress(adminListen);
  } catch (err) {
    throw new ConfigurationError(`--admin-listen: ${(err as Error).message}`, { cause: err });
  }
  const clusterListen = get('cluster-listen') ?? DEFAULT_CLUSTER_LISTEN;
  try {
    parseListenAddress(clusterListen);
  } catch (err) {
    throw new ConfigurationError(`--cluster-listen: ${(err as Error).message}`, { cause: err });
  }
  const guiListenValue = get('admin-gui-listen') ?? DEFAULT_ADMIN_GUI_LISTEN;
  const adminGuiListen = guiListenValue.trim() === 'off' ? null : guiListenValue;
  if (adminGuiListen !== null) {
    try {
      parseListenAddress(adminGuiListen);
    } catch (err) {
      throw new ConfigurationError(`--admin-gui-listen: ${(err as Error).message} (or off)`, { cause: err });
    }
  }
  const adminGuiApiUrl = get('admin-gui-api-url');
  if (adminGuiApiUrl !== undefined && parseHttpUrl(adminGuiApiUrl) === null) {
    throw new ConfigurationError(`--admin-gui-api-url: ${JSON.stringify(adminGuiApiUrl)} is not an http(s) URL`);
  }
  const databaseUrl = get('database-url');
  const clusterTls = resolveClusterTls(get);
  const adminAllowedOrigins = [...new Set(getAll('admin-gui-origin').map(parseAllowedOrigin))];
  return {
    adminListen,
    clusterListen,
    databaseUrl,
    dataDir: get('data-dir') ?? DEFAULT_DATA_DIR,
    adminBodyLimitBytes: bodyLimit,
    adminGuiListen,
    ...(adminGuiApiUrl === undefined ? {} : { adminGuiApiUrl }),
    adminAllowedOrigins,
    changeLogRetentionVersions: retention,
    maxDataPlanes,
    logLevel,
    clusterTls,
  };
}

/** `value` as an http(s) URL, or null. */
function parseHttpUrl(value: string): URL | null {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

/** Masks the password of a database URL for logs. */
function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable url)';
  }
}

/** Runs `sluice-cp` until SIGINT/SIGTERM; resolves with the exit code. */
export async function main(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let settings: ReturnType<typeof resolveSettings>;
  try {
    settings = resolveSettings(argv, env);
  } catch (err) {
    process.stderr.write(`sluice-cp: ${(err as Error).message}\n\n${usage()}\n`);
    return 2;
  }
  if (settings === 'help') {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (settings === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  let clusterTls: ClusterTls | null;
  try {
    clusterTls = loadClusterTls(settings);
  } catch (err) {
    process.stderr.write(`sluice-cp: ${(err as Error).message}\n`);
    return 2;
  }
  const logger: Logger = pino({ level: settings.logLevel, base: { service: 'sluice-cp' } });
  const cp = new ControlPlane({
    logger,
    adminListen: parseListenAddress(settings.adminListen),
    clusterListen: parseListenAddress(settings.clusterListen),
    databaseUrl: settings.databaseUrl,
    dataDir: settings.dataDir,
    adminLimits: { bodyLimitBytes: settings.adminBodyLimitBytes },
    adminAllowedOrigins: settings.adminAllowedOrigins,
    adminGuiListen: settings.adminGuiListen === null ? null : parseListenAddress(settings.adminGuiListen),
    adminGuiApiUrl: settings.adminGuiApiUrl,
    changeLogRetentionVersions: settings.changeLogRetentionVersions,
    maxDataPlanes: settings.maxDataPlanes,
    clusterTls: clusterTls ?? undefined,
  });
  logger.info(settings.databaseUrl ? { database: maskUrl(settings.databaseUrl) } : { dataDir: settings.dataDir }, 'starting control plane');
  let addresses;
  try {
    addresses = await cp.start();
  } catch (err) {
    logger.fatal({ err }, 'control plane failed to start');
    return 1;
  }
  const adminUrl = `http://${formatListenAddress(addresses.admin)}`;
  const clusterUrl = addresses.cluster ? `${addresses.clusterScheme}://${formatListenAddress(addresses.cluster)}` : null;
  logger.info({ admin: adminUrl, cluster: clusterUrl, adminGui: addresses.adminGui ? formatListenAddress(addresses.adminGui) : null }, 'control plane started');
  process.stdout.write(`sluice-cp admin listening on ${adminUrl}\n`);
  if (clusterUrl) process.stdout.write(`sluice-cp cluster listening on ${clusterUrl}\n`);
  if (addresses.adminGui) process.stdout.write(`sluice-cp admin-gui listening on http://${formatListenAddress(addresses.adminGui)}\n`);
  return new Promise<number>((resolve) => {
    let isStopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (isStopping) return;
      isStopping = true;
      logger.info({ signal }, 'stopping control plane');
      cp.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'error while stopping');
          resolve(1);
        },
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

