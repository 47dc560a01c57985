/**
 * The drill's steady traffic: one request loop per data plane, `ratePerSecond` requests a second
 * each (one at a time: a slow answer delays the next, it never piles up), every result counted
 * against the phase running when the request started. A data plane can be paused (the one a phase
 * takes down) so that only failures a client behind a load balancer would see are counted.
 */

/** Failures kept per phase as examples for the report (default 5); the others are only counted. */
export const FAILURE_SAMPLES_PER_PHASE = 5;

/** The requests of one phase: served and failed, in total and per data plane (in the drill's order). */
export interface PhaseTraffic {
  served: number;
  failed: number;
  readonly byDataPlane: { served: number; failed: number }[];
  /** The first failures: which data plane, and the status or error. */
  readonly failures: { dataPlane: string; at: string; error: string }[];
}

/** Options of {@link SteadyTraffic}. */
export interface SteadyTrafficOptions {
  /** The proxy origin of each data plane. */
  readonly proxyUrls: readonly string[];
  /** The path requested, e.g. `/sluice-drill-1a2b/ping`. */
  readonly path: string;
  readonly ratePerSecond: number;
  readonly expectStatus: number;
  readonly requestTimeoutMs: number;
}

/** See the module comment. */
export class SteadyTraffic {
  private readonly options: SteadyTrafficOptions;
  private readonly phases = new Map<string, PhaseTraffic>();
  private phase = 'baseline';
  private readonly paused = new Set<number>();
  private isRunning = false;
  private loops: Promise<void>[] = [];

  constructor(options: SteadyTrafficOptions) {
    this.options = options;
  }

  /** Starts a loop per data plane; results count against `phase`. */
  start(phase: string): void {
    this.setPhase(phase);
    this.isRunning = true;
    this.loops = this.options.proxyUrls.map((_, i) => this.loop(i));
  }

  /** Results of requests started from now on count against `phase`. */
  setPhase(phase: string): void {
    this.phase = phase;
    this.traffic(phase);
  }

  /** Stops sending to data plane `index` (it is about to be taken down); its request in flight still counts. */
  pause(index: number): void {
    this.paused.add(index);
  }

  resume(index: number): void {
    this.paused.delete(index);
  }

  /** The counts of `phase` so far (zeros when none ran). */
  traffic(phase: string): PhaseTraffic {
    let t = this.phases.get(phase);
    if (!t) {
      t = { served: 0, failed: 0, byDataPlane: this.options.proxyUrls.map(() => ({ served: 0, failed: 0 })), failures: [] };
      this.phases.set(phase, t);
    }
    return t;
  }

  /** Stops the loops; resolves once the requests in flight have finished. */
  async stop(): Promise<void> {
    this.isRunning = false;
    await Promise.all(this.loops);
  }

  private async loop(index: number): Promise<void> {
    const intervalMs = 1000 / this.options.ratePerSecond;
    let nextAt = performance.now();
    while (this.isRunning) {
      if (!this.paused.has(index)) await this.once(index);
      nextAt += intervalMs;
      const waitMs = nextAt - performance.now();
      if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
      else nextAt = performance.now();
    }
  }

  private async once(index: number): Promise<void> {
    const url = this.options.proxyUrls[index] + this.options.path;
    const t = this.traffic(this.phase);
    let error: string | null = null;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.options.requestTimeoutMs) });
      await res.arrayBuffer();
      if (res.status !== this.options.expectStatus) error = `HTTP ${res.status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      error = e.cause?.code ?? e.name ?? e.message;
    }
    if (error === null) {
      t.served++;
      t.byDataPlane[index].served++;
      return;
    }
    t.failed++;
    t.byDataPlane[index].failed++;
    if (t.failures.length < FAILURE_SAMPLES_PER_PHASE) t.failures.push({ dataPlane: this.options.proxyUrls[index], at: new Date().toISOString(), error });
  }
}
