/**
 * `sluice-cp`: the control-plane command. Every flag also reads from `SLUICE_<FLAG>` (upper case,
 * dashes as underscores); a flag on the command line wins over the environment.
 */
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import pino, { type Logger } from 'pino';
import {
  AdminAuthenticator,
  type AdminTls,
  AdminTokenSet,
  DEFAULT_ADMIN_BODY_LIMIT_BYTES,
  ENV_ADMIN_TOKEN_NAME,
  MAX_ADMIN_TOKENS_FILE_BYTES,
  parseAllowedOrigin,
} from './admin/index.js';
import { assertAdminExposure } from './admin/admin-exposure.js';
import { runConfigCommand } from './config-command.js';
import { drillCommand } from './drill/drill-command.js';
import { ControlPlane, DEFAULT_ADMIN_GUI_LISTEN, DEFAULT_ADMIN_LISTEN, DEFAULT_CLUSTER_LISTEN, formatListenAddress, packageVersion, parseListenAddress } from './control-plane.js';
import { ConfigurationError } from './errors.js';
import { DEFAULT_DATABASE_TIMEOUTS, DEFAULT_DATA_DIR, type DatabaseTimeouts } from './store/index.js';
import { DEFAULT_CHANGE_LOG_RETENTION_VERSIONS } from './changes/change-log-janitor.js';
import { ClusterMtlsMode, ClusterTls } from './stream/cluster-tls.js';
import { MAX_DATA_PLANE_ROWS } from './stream/registry-admission.js';
import { DRAIN_TIMEOUT_MS } from './stream/stream-limits.js';

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
  'database-connect-timeout-ms': {
    default: String(DEFAULT_DATABASE_TIMEOUTS.connectTimeoutMs),
    help: 'longest wait for a database connection (pool queue and TCP/startup), in ms; past it a request answers 503',
  },
  'database-statement-timeout-ms': {
    default: String(DEFAULT_DATABASE_TIMEOUTS.statementTimeoutMs),
    help: 'longest one SQL statement may run (server statement_timeout; the client cuts the connection 0.5 s later), in ms',
  },
  'database-transaction-timeout-ms': {
    default: String(DEFAULT_DATABASE_TIMEOUTS.transactionTimeoutMs),
    help: 'longest a write may take to commit, in ms; a COMMIT reaching the database later is rolled back there, and the write answers 503',
  },
  'admin-body-limit': { default: String(DEFAULT_ADMIN_BODY_LIMIT_BYTES), help: 'largest Admin API request body, in bytes' },
  'admin-tokens-file': {
    default: undefined,
    help: 'Admin API tokens, one "NAME ROLE TOKEN" a line (role admin or read-only, # comments), re-read on SIGHUP; one admin token may also come from the environment variable SLUICE_ADMIN_TOKEN',
  },
  'admin-allow-open': { default: undefined, help: 'serve the Admin API without a token on a non-loopback address (refused otherwise); a flag, env true/1' },
  'admin-cert': { default: undefined, help: 'Admin API certificate (PEM); with --admin-cert-key the Admin API is https://' },
  'admin-cert-key': { default: undefined, help: 'private key of --admin-cert (PEM)' },
  'admin-gui-listen': { default: DEFAULT_ADMIN_GUI_LISTEN, help: "the Sluice UI's address, host:port, or off" },
  'admin-gui-api-url': { default: undefined, help: 'Admin API URL the UI calls (behind a proxy); default the Admin API address as the browser reaches it' },
  'admin-gui-origin': {
    default: undefined,
    help: 'origin (scheme://host[:port]) whose pages may call the Admin API with credentials; repeatable, env comma-separated; none by default (cross-origin writes answer 403)',
  },
  'cluster-drain-timeout': {
    default: String(DRAIN_TIMEOUT_MS),
    help: 'on SIGTERM, ms to wait after GoAway for data planes to move to another replica before closing their streams',
  },
  'change-log-retention': { default: String(DEFAULT_CHANGE_LOG_RETENTION_VERSIONS), help: 'config versions kept in the change log; data planes further behind get a snapshot' },
  'max-data-planes': { default: String(MAX_DATA_PLANE_ROWS), help: 'data-plane registry rows kept, across replicas; when full, a new node evicts the oldest disconnected row or is told to retry later' },
  'log-level': { default: 'info', help: 'fatal, error, warn, info, debug, trace or silent' },
} as const;
type FlagName = keyof typeof FLAGS;

/** Flags that may be given more than once (their environment variable is comma-separated). */
const REPEATABLE_FLAGS: ReadonlySet<FlagName> = new Set(['admin-gui-origin']);

/** Flags without a value (their environment variable is `true`/`1` or `false`/`0`). */
const BOOLEAN_FLAGS: ReadonlySet<FlagName> = new Set(['admin-allow-open']);

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The environment variable of a flag: `--database-url` → `SLUICE_DATABASE_URL`. */
export function envName(flag: string): string {
  return `SLUICE_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** The usage text. */
export function usage(): string {
  const lines = [
    'Usage: sluice-cp [options]',
    '       sluice-cp config dump|diff|sync FILE [--admin-url URL]   (see sluice-cp config --help)',
    '       sluice-cp drill [options]   run a failover drill against a running cluster (sluice-cp drill --help)',
    '',
    'Sluice control plane: Admin API and configuration store.',
    '',
    'Options:',
  ];
  for (const [name, flag] of Object.entries(FLAGS)) {
    const def = flag.default === undefined ? '' : ` (default: ${flag.default})`;
    lines.push(`  --${name.padEnd(31)} ${flag.help}${def}`, `  ${''.padEnd(33)} env ${envName(name)}`);
  }
  lines.push(`  --${'help'.padEnd(31)} show this help`, `  --${'version'.padEnd(31)} print the version`);
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
  /** Timeouts of the database server (unused with the embedded database). */
  databaseTimeouts: DatabaseTimeouts;
  /** `--cluster-drain-timeout`, in ms. */
  clusterDrainTimeoutMs: number;
  logLevel: string;
  /** The `--admin-tokens-file`, read by {@link loadAdminTokens} (and again on SIGHUP). */
  adminTokensFile?: string;
  /** `--admin-allow-open`: an Admin API without tokens may listen on a non-loopback address. */
  adminAllowOpen: boolean;
  /** TLS on the Admin API, or null for plain http://. */
  adminTls: { certFile: string; keyFile: string } | null;
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

/**
 * The Admin API tokens of a run: `SLUICE_ADMIN_TOKEN` from `env` and the `--admin-tokens-file`
 * (read here, at most `MAX_ADMIN_TOKENS_FILE_BYTES`). Throws {@link ConfigurationError} naming the
 * faulty line, never a token.
 */
export function loadAdminTokens(settings: Pick<CliSettings, 'adminTokensFile'>, env: NodeJS.ProcessEnv): AdminTokenSet {
  const file = settings.adminTokensFile;
  let fileText: string | undefined;
  if (file !== undefined) {
    try {
      const info = statSync(file);
      if (info.size > MAX_ADMIN_TOKENS_FILE_BYTES) throw new Error(`${info.size} bytes exceeds the limit of ${MAX_ADMIN_TOKENS_FILE_BYTES} bytes`);
      fileText = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigurationError(`--admin-tokens-file: cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  return AdminTokenSet.from({ envToken: env[ENV_ADMIN_TOKEN_NAME], fileText, fileName: file });
}

/** Reads the Admin API's certificate and key; throws {@link ConfigurationError}. */
export function loadAdminTls(settings: Pick<CliSettings, 'adminTls'>): AdminTls | null {
  if (!settings.adminTls) return null;
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigurationError(`--${flag}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  const tls = { cert: read('admin-cert', settings.adminTls.certFile), key: read('admin-cert-key', settings.adminTls.keyFile) };
  try {
    createSecureContext(tls);
  } catch (err) {
    throw new ConfigurationError(`--admin-cert/--admin-cert-key: not a PEM certificate and its key: ${(err as Error).message}`, { cause: err });
  }
  return tls;
}

/** Resolves flags, then environment variables, then defaults; throws {@link ConfigurationError}. */
export function resolveSettings(argv: string[], env: NodeJS.ProcessEnv): CliSettings | 'help' | 'version' {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = Object.fromEntries(
    Object.keys(FLAGS).map((name) => [name, BOOLEAN_FLAGS.has(name as FlagName) ? { type: 'boolean' } : { type: 'string', multiple: REPEATABLE_FLAGS.has(name as FlagName) }]),
  );
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }).values as Record<string, string | string[] | boolean | undefined>;
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
  const timeoutMs = (name: FlagName): number => {
    const value = Number(get(name));
    if (!Number.isSafeInteger(value) || value < 1) throw new ConfigurationError(`--${name} must be a positive integer number of ms`);
    return value;
  };
  const databaseTimeouts: DatabaseTimeouts = {
    connectTimeoutMs: timeoutMs('database-connect-timeout-ms'),
    statementTimeoutMs: timeoutMs('database-statement-timeout-ms'),
    transactionTimeoutMs: timeoutMs('database-transaction-timeout-ms'),
  };
  const drainTimeout = Number(get('cluster-drain-timeout'));
  if (!Number.isSafeInteger(drainTimeout) || drainTimeout < 0) throw new ConfigurationError('--cluster-drain-timeout must be a non-negative integer number of milliseconds');
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
  const allowOpenEnv = env[envName('admin-allow-open')];
  if (allowOpenEnv !== undefined && allowOpenEnv !== '' && !['true', '1', 'false', '0'].includes(allowOpenEnv)) {
    throw new ConfigurationError(`${envName('admin-allow-open')} must be true, 1, false or 0`);
  }
  const adminAllowOpen = values['admin-allow-open'] === true || allowOpenEnv === 'true' || allowOpenEnv === '1';
  const adminCert = get('admin-cert');
  const adminCertKey = get('admin-cert-key');
  if (Boolean(adminCert) !== Boolean(adminCertKey)) throw new ConfigurationError('--admin-cert and --admin-cert-key go together');
  return {
    adminListen,
    clusterListen,
    databaseUrl,
    dataDir: get('data-dir') ?? DEFAULT_DATA_DIR,
    adminBodyLimitBytes: bodyLimit,
    adminGuiListen,
    ...(adminGuiApiUrl === undefined ? {} : { adminGuiApiUrl }),
    adminAllowedOrigins,
    adminTokensFile: get('admin-tokens-file'),
    adminAllowOpen,
    adminTls: adminCert && adminCertKey ? { certFile: adminCert, keyFile: adminCertKey } : null,
    changeLogRetentionVersions: retention,
    maxDataPlanes,
    databaseTimeouts,
    clusterDrainTimeoutMs: drainTimeout,
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

/** Runs `sluice-cp` until SIGINT/SIGTERM (or `sluice-cp drill …` to its end); resolves with the exit code. */
export async function main(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv[0] === 'config') return runConfigCommand(argv.slice(1), env);
  if (argv[0] === 'drill') return drillCommand(argv.slice(1));
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
  let adminTls: AdminTls | null;
  let adminTokens: AdminTokenSet;
  const adminHost = parseListenAddress(settings.adminListen).host;
  try {
    clusterTls = loadClusterTls(settings);
    adminTls = loadAdminTls(settings);
    adminTokens = loadAdminTokens(settings, env);
    assertAdminExposure({ host: adminHost, hasTokens: adminTokens.size > 0, allowOpen: settings.adminAllowOpen });
  } catch (err) {
    process.stderr.write(`sluice-cp: ${(err as Error).message}\n`);
    return 2;
  }
  const adminAuth = new AdminAuthenticator(adminTokens);
  const logger: Logger = pino({ level: settings.logLevel, base: { service: 'sluice-cp' } });
  const cp = new ControlPlane({
    logger,
    adminListen: parseListenAddress(settings.adminListen),
    clusterListen: parseListenAddress(settings.clusterListen),
    databaseUrl: settings.databaseUrl,
    dataDir: settings.dataDir,
    adminLimits: { bodyLimitBytes: settings.adminBodyLimitBytes },
    adminAllowedOrigins: settings.adminAllowedOrigins,
    adminAuth,
    adminAllowOpen: settings.adminAllowOpen,
    adminTls: adminTls ?? undefined,
    adminGuiListen: settings.adminGuiListen === null ? null : parseListenAddress(settings.adminGuiListen),
    adminGuiApiUrl: settings.adminGuiApiUrl,
    changeLogRetentionVersions: settings.changeLogRetentionVersions,
    maxDataPlanes: settings.maxDataPlanes,
    databaseTimeouts: settings.databaseTimeouts,
    clusterTls: clusterTls ?? undefined,
    streamLimits: { drainTimeoutMs: settings.clusterDrainTimeoutMs },
  });
  logger.info(settings.databaseUrl ? { database: maskUrl(settings.databaseUrl) } : { dataDir: settings.dataDir }, 'starting control plane');
  let addresses;
  try {
    addresses = await cp.start();
  } catch (err) {
    logger.fatal({ err }, 'control plane failed to start');
    return 1;
  }
  const adminUrl = `${addresses.adminScheme}://${formatListenAddress(addresses.admin)}`;
  if (adminTokens.size === 0) logger.warn({ admin: adminUrl }, 'the Admin API is open: no token is configured (SLUICE_ADMIN_TOKEN, --admin-tokens-file)');
  else logger.info({ tokens: adminTokens.identities }, 'Admin API tokens loaded');
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
      process.off('SIGHUP', reload);
      logger.info({ signal }, 'stopping control plane');
      cp.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'error while stopping');
          resolve(1);
        },
      );
    };
    // SIGHUP re-reads the tokens file; a file that does not parse (or that would leave a
    // non-loopback Admin API open) keeps the tokens in force.
    const reload = (): void => {
      try {
        const next = loadAdminTokens(settings, env);
        assertAdminExposure({ host: adminHost, hasTokens: next.size > 0, allowOpen: settings.adminAllowOpen });
        adminAuth.replace(next);
        logger.info({ tokens: next.identities }, 'Admin API tokens reloaded');
      } catch (err) {
        logger.error({ reason: (err as Error).message, tokens: adminAuth.tokens.identities }, 'Admin API tokens not reloaded: keeping the previous tokens');
      }
    };
    process.on('SIGHUP', reload);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

