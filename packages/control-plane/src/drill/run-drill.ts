/**
 * Runs a drill: creates its entities, waits until they reached every data plane, keeps steady
 * traffic through the data planes for a baseline, then for each phase of the plan stops the part
 * it names, waits `outageMs`, starts it again, writes a new config version and waits until every
 * data plane has it (convergence), and reports. The pieces: `drill-plan` (what to do),
 * `steady-traffic` (the requests), `shell-command` (the operator's commands), `convergence` and
 * `version-watch` (what must hold), `drill-report` (the result).
 */
import { randomBytes } from 'node:crypto';
import { ClusterProbe } from './cluster-probe.js';
import { waitForConvergence, type Convergence } from './convergence.js';
import { DrillFixture } from './drill-fixture.js';
import { PhaseKind, type DrillPlan, type DrillPhasePlan } from './drill-plan.js';
import { commandReport, type DataPlaneReport, type DrillReport, type PhaseReport } from './drill-report.js';
import { runShellCommand, type CommandResult } from './shell-command.js';
import { SteadyTraffic } from './steady-traffic.js';
import { VersionWatch } from './version-watch.js';

/** Options of {@link runDrill}. */
export interface RunDrillOptions {
  /** Progress lines for people (default: none). */
  readonly log?: (line: string) => void;
  /**
   * Ends the drill early (Ctrl-C): the phase under way still runs its start command if its stop
   * command ran (nothing is left down), no further phase starts, and the drill's entities are
   * deleted; the report says it was interrupted and fails.
   */
  readonly signal?: AbortSignal;
}

/** Waits `ms`, or less when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function dataPlaneReports(convergence: Convergence): DataPlaneReport[] {
  const rows = new Map((convergence.registry ?? []).map((r) => [r.id, r]));
  return convergence.dataPlanes.map((d) => ({
    proxy_url: d.proxyUrl,
    status_url: d.statusUrl,
    node_id: d.nodeId,
    epoch: d.epoch,
    version: d.version,
    hash: d.hash,
    control_plane: d.controlPlaneUrl,
    sync_status: d.nodeId === null ? null : (rows.get(d.nodeId)?.sync_status ?? null),
  }));
}

/** Runs `plan` against the cluster; resolves with the report (its verdict says whether the drill passed). */
export async function runDrill(plan: DrillPlan, options: RunDrillOptions = {}): Promise<DrillReport> {
  const log = options.log ?? (() => undefined);
  const signal = options.signal;
  const startedAt = new Date();
  const t0 = performance.now();
  const probe = new ClusterProbe(plan.adminUrls, plan.dataPlanes);
  const errors: string[] = [];
  const phases: PhaseReport[] = [];
  const { fixture, version } = await DrillFixture.create(probe, { runId: randomBytes(4).toString('hex'), path: plan.path, upstreamListen: plan.upstreamListen });
  const traffic = new SteadyTraffic({
    proxyUrls: plan.dataPlanes.map((d) => d.proxyUrl),
    path: fixture.path,
    ratePerSecond: plan.ratePerSecond,
    expectStatus: plan.expectStatus,
    requestTimeoutMs: plan.requestTimeoutMs,
  });
  const watch = new VersionWatch(probe);

  const phaseReport = (
    name: string,
    phaseStartMs: number,
    convergence: Convergence,
    extra: { stop?: CommandResult | null; start?: CommandResult | null; target?: string | null; reconvergeMs: number | null; markerVersion: number | null; reasons: string[] },
  ): PhaseReport => {
    const t = traffic.traffic(name);
    const reasons = [...extra.reasons];
    if (t.failed > plan.maxFailed) reasons.push(`${t.failed} proxied requests failed (at most ${plan.maxFailed} allowed)`);
    if (!convergence.isConverged) reasons.push(`did not reconverge within ${plan.convergeTimeoutMs} ms: ${convergence.reasons.join('; ')}`);
    return {
      name,
      verdict: reasons.length === 0 ? 'pass' : 'fail',
      reasons,
      duration_ms: Math.round(performance.now() - phaseStartMs),
      requests: { served: t.served, failed: t.failed, by_data_plane: t.byDataPlane.map((c, i) => ({ url: plan.dataPlanes[i].proxyUrl, ...c })), failures: t.failures },
      stop: commandReport(extra.stop ?? null),
      start: commandReport(extra.start ?? null),
      target: extra.target ?? null,
      reconverge_ms: extra.reconvergeMs,
      marker_version: extra.markerVersion,
      head: convergence.head,
      data_planes: dataPlaneReports(convergence),
    };
  };

  const runPhase = async (phase: DrillPhasePlan): Promise<PhaseReport> => {
    const name = phase.kind;
    const phaseStartMs = performance.now();
    const regressionsBefore = watch.regressions.length;
    traffic.setPhase(name);
    const target = phase.kind === PhaseKind.DATA_PLANE && phase.dataPlaneIndex !== null ? plan.dataPlanes[phase.dataPlaneIndex] : null;
    if (target && phase.dataPlaneIndex !== null) {
      // As a load balancer would: no new requests to the data plane about to go down.
      traffic.pause(phase.dataPlaneIndex);
      watch.forget(target.statusUrl);
    }
    log(`${name}: stopping (${phase.stopCommand})`);
    const stop = await runShellCommand(phase.stopCommand, plan.commandTimeoutMs);
    await sleep(plan.outageMs, signal);
    log(`${name}: starting (${phase.startCommand})`);
    const start = await runShellCommand(phase.startCommand, plan.commandTimeoutMs);
    const restoredMs = performance.now();
    const reasons: string[] = [];
    for (const c of [stop, start]) if (c.exitCode !== 0) reasons.push(`${JSON.stringify(c.command)} ${c.isTimedOut ? `timed out after ${plan.commandTimeoutMs} ms` : `exited with ${c.exitCode}`}`);
    const deadline = Date.now() + plan.convergeTimeoutMs;
    const markerVersion = await fixture.mark(name, deadline, signal);
    if (markerVersion === null) reasons.push(`no control-plane replica took a write within ${plan.convergeTimeoutMs} ms of the restore`);
    log(`${name}: restored; waiting for every data plane to reach version ${markerVersion ?? '?'}`);
    const convergence = await waitForConvergence(probe, markerVersion ?? Number.MAX_SAFE_INTEGER, Math.max(1, deadline - Date.now()), signal);
    const reconvergeMs = convergence.isConverged ? Math.round(performance.now() - restoredMs) : null;
    if (target && phase.dataPlaneIndex !== null) traffic.resume(phase.dataPlaneIndex);
    for (const r of watch.regressions.slice(regressionsBefore)) reasons.push(`version went backwards on ${r.dataPlane}: ${r.from} -> ${r.to}`);
    const report = phaseReport(name, phaseStartMs, convergence, { stop, start, target: target?.proxyUrl ?? null, reconvergeMs, markerVersion, reasons });
    log(`${name}: ${report.verdict} (${report.requests.served} served, ${report.requests.failed} failed, reconverged in ${reconvergeMs ?? '-'} ms)`);
    return report;
  };

  try {
    log(`waiting for the drill's entities (version ${version}) to reach every data plane`);
    const baselineStartMs = performance.now();
    const initial = await waitForConvergence(probe, version, plan.convergeTimeoutMs, signal);
    traffic.start('baseline');
    watch.start();
    await sleep(plan.baselineMs, signal);
    const baseline = phaseReport('baseline', baselineStartMs, initial, { reconvergeMs: initial.isConverged ? initial.ms : null, markerVersion: version, reasons: [] });
    phases.push(baseline);
    log(`baseline: ${baseline.verdict} (${baseline.requests.served} served, ${baseline.requests.failed} failed)`);
    if (baseline.verdict === 'fail') errors.push('the cluster was not healthy before the first phase: no phase was run');
    else {
      for (const phase of plan.phases) {
        if (signal?.aborted) break;
        phases.push(await runPhase(phase));
      }
    }
    if (signal?.aborted) errors.push(`interrupted after ${phases.length - 1} of ${plan.phases.length} phases`);
  } finally {
    await traffic.stop();
    await watch.stop();
    const problem = await fixture.remove();
    if (problem) errors.push(`cleanup: ${problem}`);
  }
  const isPass = phases.every((p) => p.verdict === 'pass') && watch.regressions.length === 0 && errors.length === 0;
  return {
    verdict: isPass ? 'pass' : 'fail',
    started_at: startedAt.toISOString(),
    duration_ms: Math.round(performance.now() - t0),
    path: fixture.path,
    route_created: fixture.ownsRoute,
    rate_per_second: plan.ratePerSecond,
    phases,
    version_regressions: watch.regressions,
    status_samples: watch.samples,
    errors,
  };
}
