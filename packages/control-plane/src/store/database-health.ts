/**
 * Whether this replica can reach its database, as the outcomes of its own queries say: any
 * statement that got an answer marks it reachable, any connection-level fault or timeout
 * (`database-faults.ts`) unreachable. Read from memory by `/status`, `/clustering/status` and the
 * metrics, so they never wait on the database; while it is unreachable, entity reads are served
 * from the config mirror and `probe` (set by the store) is run every `probeIntervalMs` until it
 * answers again.
 */
import { EventEmitter } from 'node:events';
import type { DatabaseFault } from '../errors.js';

/** How often an unreachable database is probed by default, in ms. */
export const DEFAULT_DATABASE_PROBE_INTERVAL_MS = 1_000;

/** Options of {@link DatabaseHealth}. */
export interface DatabaseHealthOptions {
  /** A trivial query; resolves when the database answered (the store's `ping`). */
  probe?: () => Promise<unknown>;
  /** How often to probe while unreachable, in ms (default 1 s). */
  probeIntervalMs?: number;
}

/** See the module comment. Emits `change` with the new `isReachable`. */
export class DatabaseHealth extends EventEmitter {
  #isReachable = true;
  #sinceMs = Date.now();
  #lastFault: { fault: DatabaseFault; error: Error } | null = null;
  #faults = 0;
  #probe: (() => Promise<unknown>) | undefined;
  readonly #probeIntervalMs: number;
  #probeTimer: NodeJS.Timeout | null = null;
  #isProbeRunning = false;
  #isClosed = false;

  constructor(options: DatabaseHealthOptions = {}) {
    super();
    this.#probe = options.probe;
    this.#probeIntervalMs = options.probeIntervalMs ?? DEFAULT_DATABASE_PROBE_INTERVAL_MS;
  }

  /** Whether the last query that ended got an answer from the database. */
  get isReachable(): boolean {
    return this.#isReachable;
  }

  /** Since when (ms since the Unix epoch) the database has been reachable or unreachable. */
  get sinceMs(): number {
    return this.#sinceMs;
  }

  /** The fault that made it unreachable, while it is. */
  get lastFault(): { fault: DatabaseFault; error: Error } | null {
    return this.#lastFault;
  }

  /** Connection-level faults and timeouts counted since start. */
  get faults(): number {
    return this.#faults;
  }

  /** Sets the probe run while unreachable (the store's ping). */
  setProbe(probe: () => Promise<unknown>): void {
    this.#probe = probe;
  }

  /** A statement got an answer (a result or an ordinary SQL error). */
  noteAnswer(): void {
    if (this.#isReachable) return;
    this.#isReachable = true;
    this.#sinceMs = Date.now();
    this.#lastFault = null;
    this.#stopProbing();
    this.emit('change', true);
  }

  /** A connection-level fault or a timeout. */
  noteFault(fault: DatabaseFault, error: Error): void {
    this.#faults++;
    this.#lastFault = { fault, error };
    if (!this.#isReachable) return;
    this.#isReachable = false;
    this.#sinceMs = Date.now();
    this.#startProbing();
    this.emit('change', false);
  }

  #startProbing(): void {
    if (this.#isClosed || this.#probeTimer || this.#isProbeRunning || !this.#probe) return;
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = null;
      this.#isProbeRunning = true;
      void this.#probe!()
        .catch(() => undefined)
        .finally(() => {
          this.#isProbeRunning = false;
          if (!this.#isReachable) this.#startProbing();
        });
    }, this.#probeIntervalMs);
    this.#probeTimer.unref();
  }

  #stopProbing(): void {
    if (this.#probeTimer) clearTimeout(this.#probeTimer);
    this.#probeTimer = null;
  }

  /** Stops probing. */
  close(): void {
    this.#isClosed = true;
    this.#stopProbing();
  }
}
