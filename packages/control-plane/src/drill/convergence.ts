/**
 * Convergence, as the drill checks it: every replica that answers has the same head, at least the
 * version the drill last wrote; every data plane serves that exact epoch, version and hash
 * (`/status`); and the registry (`/clustering/data-planes`) lists each of them connected and in
 * sync. Polled every {@link CONVERGENCE_POLL_MS} until it holds or the deadline passes.
 */
import type { ClusterProbe, ConfigHead, DataPlaneState, RegistryRow } from './cluster-probe.js';

/** Time between two convergence checks, in ms (default 100). */
export const CONVERGENCE_POLL_MS = 100;

/** The outcome of {@link waitForConvergence}. */
export interface Convergence {
  readonly isConverged: boolean;
  /** Time from the call to convergence (or to giving up), in ms. */
  readonly ms: number;
  /** The head every replica agreed on (null when none answered). */
  readonly head: ConfigHead | null;
  readonly dataPlanes: readonly DataPlaneState[];
  /** The registry rows of the drill's data planes (by node id), or null when no replica answered. */
  readonly registry: readonly RegistryRow[] | null;
  /** Why it did not converge (empty when it did). */
  readonly reasons: readonly string[];
}

/** One check: why the cluster is not converged at `minVersion` (empty: it is). */
async function check(probe: ClusterProbe, minVersion: number): Promise<Omit<Convergence, 'isConverged' | 'ms'>> {
  const [heads, dataPlanes, registry] = await Promise.all([probe.replicaHeads(), probe.dataPlaneStates(), probe.registry()]);
  const reasons: string[] = [];
  const distinct = new Map([...heads.values()].map((h) => [`${h.epoch}@${h.version}#${h.hash}`, h]));
  const head = distinct.size === 1 ? [...distinct.values()][0] : null;
  if (heads.size === 0) reasons.push('no control-plane replica answers');
  else if (head === null) reasons.push(`replicas disagree on the head: ${[...distinct.keys()].join(', ')}`);
  else if (head.version < minVersion) reasons.push(`head ${head.version} is below the drill's last write ${minVersion}`);
  const rows = new Map((registry ?? []).map((r) => [r.id, r]));
  for (const dp of dataPlanes) {
    if (!dp.reachable) reasons.push(`${dp.statusUrl}: no answer`);
    else if (head && (dp.epoch !== head.epoch || dp.version !== head.version || dp.hash !== head.hash)) reasons.push(`${dp.statusUrl}: at ${dp.version} (${dp.hash?.slice(0, 12)}), head is ${head.version}`);
    else if (registry && dp.nodeId) {
      const row = rows.get(dp.nodeId);
      if (!row || !row.connected || row.sync_status !== 'in_sync') reasons.push(`${dp.statusUrl}: registry says ${row ? `${row.connected ? 'connected' : 'disconnected'}, ${row.sync_status}` : 'not listed'}`);
    }
  }
  if (registry === null) reasons.push('no replica answers /clustering/data-planes');
  const ids = new Set(dataPlanes.map((d) => d.nodeId));
  return { head, dataPlanes, registry: registry === null ? null : registry.filter((r) => ids.has(r.id)), reasons };
}

/** Polls until the cluster converged at `minVersion`, `timeoutMs` passed or `signal` aborted. */
export async function waitForConvergence(probe: ClusterProbe, minVersion: number, timeoutMs: number, signal?: AbortSignal): Promise<Convergence> {
  const startedAt = performance.now();
  for (;;) {
    const result = await check(probe, minVersion);
    const ms = Math.round(performance.now() - startedAt);
    if (result.reasons.length === 0) return { ...result, isConverged: true, ms };
    if (signal?.aborted) return { ...result, reasons: [...result.reasons, 'interrupted'], isConverged: false, ms };
    if (ms >= timeoutMs) return { ...result, isConverged: false, ms };
    await new Promise((r) => setTimeout(r, CONVERGENCE_POLL_MS));
  }
}
