/**
 * Watches every data plane's `/status` during the drill and records any version that went
 * backwards within an epoch (the monotonic property: whichever replica a data plane talks to, its
 * applied version never decreases).
 */
import type { ClusterProbe } from './cluster-probe.js';

/** Time between two status reads of the watch, in ms (default 200). */
export const VERSION_WATCH_INTERVAL_MS = 200;

/** A version seen lower than one seen before, in the same epoch. */
export interface VersionRegression {
  readonly dataPlane: string;
  readonly epoch: string;
  readonly from: number;
  readonly to: number;
  readonly at: string;
}

/** See the module comment. */
export class VersionWatch {
  readonly regressions: VersionRegression[] = [];
  /** Status reads that answered. */
  samples = 0;
  private readonly last = new Map<string, { epoch: string; version: number }>();
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;

  constructor(private readonly probe: ClusterProbe) {}

  start(): void {
    this.timer = setInterval(() => {
      this.inFlight ??= this.sample().finally(() => (this.inFlight = null));
    }, VERSION_WATCH_INTERVAL_MS);
  }

  /** Forgets what `statusUrl` served: it is being restarted, and a restart may serve its disk cache, a little behind. */
  forget(statusUrl: string): void {
    this.last.delete(statusUrl);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.inFlight;
  }

  private async sample(): Promise<void> {
    for (const s of await this.probe.dataPlaneStates()) {
      if (!s.reachable || s.epoch === null || s.version === null) continue;
      this.samples++;
      const prev = this.last.get(s.statusUrl);
      if (prev && prev.epoch === s.epoch && s.version < prev.version) {
        this.regressions.push({ dataPlane: s.statusUrl, epoch: s.epoch, from: prev.version, to: s.version, at: new Date().toISOString() });
      }
      if (!prev || prev.epoch !== s.epoch || s.version > prev.version) this.last.set(s.statusUrl, { epoch: s.epoch, version: s.version });
    }
  }
}
