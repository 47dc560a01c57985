/**
 * The drill's report: per phase, the requests served and failed (in total and per data plane),
 * the commands run, the time to reconverge, each data plane's version and hash afterwards, and a
 * verdict with its reasons; then the verdict of the whole drill. `formatReport` prints it for
 * people; `--json` prints the object itself (its field names are snake_case, as the Admin API's).
 */
import type { ConfigHead } from './cluster-probe.js';
import type { CommandResult } from './shell-command.js';
import type { VersionRegression } from './version-watch.js';

/** `pass` or `fail`. */
export type Verdict = 'pass' | 'fail';

/** A data plane as the report shows it after a phase. */
export interface DataPlaneReport {
  readonly proxy_url: string;
  readonly status_url: string;
  readonly node_id: string | null;
  readonly epoch: string | null;
  readonly version: number | null;
  readonly hash: string | null;
  /** The control-plane address it was connected to, and the registry's view of it. */
  readonly control_plane: string | null;
  readonly sync_status: string | null;
}

/** A command as the report shows it. */
export interface CommandReport {
  readonly command: string;
  readonly exit_code: number | null;
  readonly ms: number;
  readonly timed_out: boolean;
  readonly output: string;
}

/** One phase of the report; `baseline` is the traffic before the first phase. */
export interface PhaseReport {
  readonly name: string;
  readonly verdict: Verdict;
  /** Why it failed (empty when it passed). */
  readonly reasons: readonly string[];
  readonly duration_ms: number;
  readonly requests: {
    readonly served: number;
    readonly failed: number;
    readonly by_data_plane: readonly { readonly url: string; readonly served: number; readonly failed: number }[];
    readonly failures: readonly { readonly dataPlane: string; readonly at: string; readonly error: string }[];
  };
  readonly stop: CommandReport | null;
  readonly start: CommandReport | null;
  /** The data plane taken down (data-plane phases), by proxy URL. */
  readonly target: string | null;
  /** From the restore (start command done) to convergence, in ms; null when it did not converge. */
  readonly reconverge_ms: number | null;
  /** The version the drill wrote after the restore (convergence means every data plane has it). */
  readonly marker_version: number | null;
  readonly head: ConfigHead | null;
  readonly data_planes: readonly DataPlaneReport[];
}

/** The whole report. */
export interface DrillReport {
  readonly verdict: Verdict;
  readonly started_at: string;
  readonly duration_ms: number;
  readonly path: string;
  readonly route_created: boolean;
  readonly rate_per_second: number;
  readonly phases: readonly PhaseReport[];
  /** Versions seen going backwards on a data plane within an epoch (never, for a pass). */
  readonly version_regressions: readonly VersionRegression[];
  /** Status reads of the version watch. */
  readonly status_samples: number;
  /** Anything that went wrong outside a phase (setup, cleanup). */
  readonly errors: readonly string[];
}

/** A command result as the report shows it. */
export function commandReport(result: CommandResult | null): CommandReport | null {
  return result === null ? null : { command: result.command, exit_code: result.exitCode, ms: result.ms, timed_out: result.isTimedOut, output: result.output };
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

/** The report as text, for a terminal. */
export function formatReport(report: DrillReport): string {
  const lines: string[] = [];
  lines.push(`sluice drill ${report.started_at}: ${report.verdict.toUpperCase()} in ${(report.duration_ms / 1000).toFixed(1)} s`);
  lines.push(`traffic: ${report.rate_per_second} req/s per data plane to ${report.path}${report.route_created ? ' (route created by the drill)' : ''}`);
  lines.push('');
  lines.push(`${pad('phase', 15)}${pad('verdict', 9)}${pad('served', 9)}${pad('failed', 9)}${pad('reconverge', 12)}head`);
  for (const p of report.phases) {
    const reconverge = p.reconverge_ms === null ? '-' : `${p.reconverge_ms} ms`;
    const head = p.head ? `${p.head.version} ${p.head.hash.slice(0, 12)}` : '-';
    lines.push(`${pad(p.name, 15)}${pad(p.verdict, 9)}${pad(String(p.requests.served), 9)}${pad(String(p.requests.failed), 9)}${pad(reconverge, 12)}${head}`);
  }
  for (const p of report.phases) {
    lines.push('');
    lines.push(`${p.name}:${p.target ? ` (stopped ${p.target})` : ''}`);
    for (const c of [p.stop, p.start]) if (c) lines.push(`  ran ${JSON.stringify(c.command)}: ${c.timed_out ? 'timed out' : `exit ${c.exit_code}`} in ${c.ms} ms`);
    for (const d of p.data_planes) {
      lines.push(`  ${pad(d.proxy_url, 28)} node ${d.node_id?.slice(0, 8) ?? '?'}  version ${d.version ?? '-'}  hash ${d.hash?.slice(0, 12) ?? '-'}  via ${d.control_plane ?? '-'}  ${d.sync_status ?? ''}`);
    }
    for (const f of p.requests.failures) lines.push(`  failed: ${f.dataPlane} ${f.error} at ${f.at}`);
    for (const r of p.reasons) lines.push(`  FAIL: ${r}`);
  }
  for (const r of report.version_regressions) lines.push(`version went backwards on ${r.dataPlane}: ${r.from} -> ${r.to} at ${r.at}`);
  for (const e of report.errors) lines.push(`error: ${e}`);
  lines.push('');
  lines.push(`verdict: ${report.verdict}`);
  return lines.join('\n');
}
