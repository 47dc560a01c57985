/**
 * What a drill does, parsed from `sluice-cp drill` flags: the cluster it runs against (by URLs),
 * the traffic it keeps up, and the phases the operator names with the commands that break and
 * restore each part. Pure: reads no file and touches no network.
 */
import { parseArgs } from 'node:util';
import { ConfigurationError } from '../errors.js';

/** The parts of a cluster a drill can take down, in the order they run by default. */
export const PhaseKind = {
  /** A control-plane replica: `--cp-stop-cmd` / `--cp-start-cmd`. */
  CONTROL_PLANE: 'control-plane',
  /** PostgreSQL (stopped or partitioned): `--db-stop-cmd` / `--db-start-cmd`. */
  DATABASE: 'database',
  /** One data plane (`--dp-target`): `--dp-stop-cmd` / `--dp-start-cmd`. */
  DATA_PLANE: 'data-plane',
} as const;
export type PhaseKind = (typeof PhaseKind)[keyof typeof PhaseKind];
const PHASE_KINDS: readonly PhaseKind[] = Object.values(PhaseKind);

/** Requests per second sent to each data plane (default 20). */
export const DEFAULT_RATE_PER_SECOND = 20;
/** Most requests per second per data plane a drill sends (1000): a drill must stay a light load in production. */
export const MAX_RATE_PER_SECOND = 1_000;
/** Traffic before the first phase, in ms (default 2000). */
export const DEFAULT_BASELINE_MS = 2_000;
/** How long a part stays down between its stop and start commands, in ms (default 5000). */
export const DEFAULT_OUTAGE_MS = 5_000;
/** How long the cluster has to reconverge after a restore, in ms (default 60 s); past it the phase fails. */
export const DEFAULT_CONVERGE_TIMEOUT_MS = 60_000;
/** How long a stop or start command may run, in ms (default 60 s); then it is killed and the phase fails. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;
/** How long one proxied request may take, in ms (default 5000); a slower one counts as failed. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/** One data plane of the drill: its proxy and its status listener. */
export interface DrillDataPlane {
  /** The proxy origin, e.g. `http://127.0.0.1:8000`. */
  readonly proxyUrl: string;
  /** The status origin, e.g. `http://127.0.0.1:8100` (`GET /status`). */
  readonly statusUrl: string;
}

/** A phase: take one part down by a command, wait, bring it back by another, wait for convergence. */
export interface DrillPhasePlan {
  readonly kind: PhaseKind;
  readonly stopCommand: string;
  readonly startCommand: string;
  /** The data plane taken down (data-plane phases only: it gets no traffic until it is back), as an index into `dataPlanes`. */
  readonly dataPlaneIndex: number | null;
}

/** Everything a drill needs; see {@link parseDrillArgs}. */
export interface DrillPlan {
  /** The Admin API of each control-plane replica; the first that answers is used. */
  readonly adminUrls: readonly string[];
  readonly dataPlanes: readonly DrillDataPlane[];
  /** The path requests go to; null: the drill creates its own service and route, to an upstream it serves itself. */
  readonly path: string | null;
  /** Where the drill's own upstream listens (`--upstream-listen`, default `127.0.0.1:0`); the data planes must reach it. */
  readonly upstreamListen: { readonly host: string; readonly port: number };
  /** The status a request must get to count as served (default 200). */
  readonly expectStatus: number;
  readonly ratePerSecond: number;
  readonly baselineMs: number;
  readonly outageMs: number;
  readonly convergeTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Failed requests a phase may have and still pass (default 0). */
  readonly maxFailed: number;
  readonly phases: readonly DrillPhasePlan[];
  /** Print the report as JSON (for CI). */
  readonly json: boolean;
}

/** The usage text of `sluice-cp drill`. */
export const DRILL_USAGE = `Usage: sluice-cp drill [options]

Runs a failover drill against a running cluster: keeps steady traffic through the data planes,
takes down what the phases name (by the commands given), restores it, waits until every data
plane is at the head version and hash again, and prints a report with a pass/fail verdict
(exit 0 pass, 1 fail, 2 bad options).

  --admin-url URL            Admin API of a control-plane replica; repeatable (the first that answers is used)
  --data-plane URL           proxy origin of a data plane; repeatable
  --data-plane-status URL    status origin of that data plane (same order as --data-plane); repeatable
  --path PATH                send traffic to this existing route instead of a route the drill creates
  --expect-status N          status a request must get to count as served (default 200)
  --upstream-listen H:P      where the drill's own upstream listens (default 127.0.0.1:0)
  --cp-stop-cmd CMD          stops a control-plane replica (shell command)
  --cp-start-cmd CMD         starts it again
  --db-stop-cmd CMD          stops or partitions PostgreSQL
  --db-start-cmd CMD         restores it
  --dp-stop-cmd CMD          stops one data plane (--dp-target; it gets no traffic until it is back)
  --dp-start-cmd CMD         starts it again
  --dp-target URL            which --data-plane the dp commands stop (default the last)
  --phases LIST              phases to run, in order: ${PHASE_KINDS.join(', ')}
                             (default every phase whose commands are given)
  --rate N                   requests per second to each data plane (default ${DEFAULT_RATE_PER_SECOND}, at most ${MAX_RATE_PER_SECOND})
  --baseline-ms MS           traffic before the first phase (default ${DEFAULT_BASELINE_MS})
  --outage-ms MS             time between a stop and its start (default ${DEFAULT_OUTAGE_MS})
  --converge-timeout-ms MS   time to reconverge after a restore (default ${DEFAULT_CONVERGE_TIMEOUT_MS})
  --command-timeout-ms MS    time a stop or start command may run (default ${DEFAULT_COMMAND_TIMEOUT_MS})
  --request-timeout-ms MS    time one proxied request may take (default ${DEFAULT_REQUEST_TIMEOUT_MS})
  --max-failed N             failed requests a phase may have and pass (default 0)
  --json                     print the report as JSON
  -h, --help                 show this help
`;

function origin(flag: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(`--${flag} must be an http:// or https:// URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigurationError(`--${flag} must be an http:// or https:// URL, got ${JSON.stringify(value)}`);
  return value.replace(/\/+$/, '');
}

function integer(flag: string, value: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new ConfigurationError(`--${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

/** Parses the flags after `sluice-cp drill`; throws {@link ConfigurationError}. */
export function parseDrillArgs(argv: readonly string[]): DrillPlan | 'help' {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'admin-url': { type: 'string', multiple: true },
        'data-plane': { type: 'string', multiple: true },
        'data-plane-status': { type: 'string', multiple: true },
        path: { type: 'string' },
        'expect-status': { type: 'string' },
        'upstream-listen': { type: 'string' },
        'cp-stop-cmd': { type: 'string' },
        'cp-start-cmd': { type: 'string' },
        'db-stop-cmd': { type: 'string' },
        'db-start-cmd': { type: 'string' },
        'dp-stop-cmd': { type: 'string' },
        'dp-start-cmd': { type: 'string' },
        'dp-target': { type: 'string' },
        phases: { type: 'string' },
        rate: { type: 'string' },
        'baseline-ms': { type: 'string' },
        'outage-ms': { type: 'string' },
        'converge-timeout-ms': { type: 'string' },
        'command-timeout-ms': { type: 'string' },
        'request-timeout-ms': { type: 'string' },
        'max-failed': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new ConfigurationError((err as Error).message, { cause: err });
  }
  if (values.help) return 'help';
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const all = (name: string): string[] => (values[name] as string[] | undefined) ?? [];

  const adminUrls = all('admin-url').map((u) => origin('admin-url', u));
  if (adminUrls.length === 0) throw new ConfigurationError('--admin-url is required (the Admin API of a control-plane replica)');
  const proxies = all('data-plane').map((u) => origin('data-plane', u));
  const statuses = all('data-plane-status').map((u) => origin('data-plane-status', u));
  if (proxies.length === 0) throw new ConfigurationError('--data-plane is required (the proxy origin of a data plane), with its --data-plane-status');
  if (proxies.length !== statuses.length) throw new ConfigurationError(`every --data-plane needs its --data-plane-status, in the same order (got ${proxies.length} and ${statuses.length})`);
  const dataPlanes = proxies.map((proxyUrl, i) => ({ proxyUrl, statusUrl: statuses[i] }));

  const path = str('path') ?? null;
  if (path !== null && !path.startsWith('/')) throw new ConfigurationError(`--path must start with /, got ${JSON.stringify(path)}`);
  const listen = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(str('upstream-listen') ?? '127.0.0.1:0');
  if (!listen || Number(listen[3]) > 65535) throw new ConfigurationError(`--upstream-listen must be HOST:PORT, got ${JSON.stringify(str('upstream-listen'))}`);

  const commands = {
    [PhaseKind.CONTROL_PLANE]: [str('cp-stop-cmd'), str('cp-start-cmd')],
    [PhaseKind.DATABASE]: [str('db-stop-cmd'), str('db-start-cmd')],
    [PhaseKind.DATA_PLANE]: [str('dp-stop-cmd'), str('dp-start-cmd')],
  } as const;
  const flagOf = { [PhaseKind.CONTROL_PLANE]: 'cp', [PhaseKind.DATABASE]: 'db', [PhaseKind.DATA_PLANE]: 'dp' } as const;
  for (const kind of PHASE_KINDS) {
    const [stop, start] = commands[kind];
    if ((stop === undefined) !== (start === undefined)) throw new ConfigurationError(`--${flagOf[kind]}-stop-cmd and --${flagOf[kind]}-start-cmd go together`);
  }
  const named = str('phases');
  const kinds = named === undefined ? PHASE_KINDS.filter((k) => commands[k][0] !== undefined) : named.split(',').map((k) => k.trim()).filter((k) => k !== '');
  for (const k of kinds) {
    if (!(PHASE_KINDS as readonly string[]).includes(k)) throw new ConfigurationError(`--phases: unknown phase ${JSON.stringify(k)} (known: ${PHASE_KINDS.join(', ')})`);
    if (commands[k as PhaseKind][0] === undefined) throw new ConfigurationError(`--phases names ${k}, which needs --${flagOf[k as PhaseKind]}-stop-cmd and --${flagOf[k as PhaseKind]}-start-cmd`);
  }
  const target = str('dp-target');
  const dataPlaneIndex = target === undefined ? dataPlanes.length - 1 : proxies.indexOf(origin('dp-target', target));
  if (dataPlaneIndex < 0) throw new ConfigurationError(`--dp-target must be one of the --data-plane URLs, got ${JSON.stringify(target)}`);
  const phases = kinds.map((k) => {
    const kind = k as PhaseKind;
    return { kind, stopCommand: commands[kind][0]!, startCommand: commands[kind][1]!, dataPlaneIndex: kind === PhaseKind.DATA_PLANE ? dataPlaneIndex : null };
  });

  return {
    adminUrls,
    dataPlanes,
    path,
    upstreamListen: { host: listen[1] ?? listen[2], port: Number(listen[3]) },
    expectStatus: integer('expect-status', str('expect-status'), 200, 100, 599),
    ratePerSecond: integer('rate', str('rate'), DEFAULT_RATE_PER_SECOND, 1, MAX_RATE_PER_SECOND),
    baselineMs: integer('baseline-ms', str('baseline-ms'), DEFAULT_BASELINE_MS, 0),
    outageMs: integer('outage-ms', str('outage-ms'), DEFAULT_OUTAGE_MS, 0),
    convergeTimeoutMs: integer('converge-timeout-ms', str('converge-timeout-ms'), DEFAULT_CONVERGE_TIMEOUT_MS, 1),
    commandTimeoutMs: integer('command-timeout-ms', str('command-timeout-ms'), DEFAULT_COMMAND_TIMEOUT_MS, 1),
    requestTimeoutMs: integer('request-timeout-ms', str('request-timeout-ms'), DEFAULT_REQUEST_TIMEOUT_MS, 1),
    maxFailed: integer('max-failed', str('max-failed'), 0, 0),
    phases,
    json: values.json === true,
  };
}
