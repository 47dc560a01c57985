/** Base delay of the reconnect backoff, in ms (default 500). Also the bound of the first connect's jitter. */
export const RECONNECT_BASE_MS = 500;

/** Longest wait between reconnect attempts, in ms (default 30 s). */
export const RECONNECT_CAP_MS = 30_000;

/** A connection that stayed up this long, in ms (default 60 s), resets the backoff. */
export const RECONNECT_RESET_AFTER_MS = 60_000;

/** Options of `ReconnectBackoff`; every field has the protocol's default. */
export interface ReconnectBackoffOptions {
  readonly baseMs?: number;
  readonly capMs?: number;
  /** A uniform random number in [0, 1) (default `Math.random`); injectable for tests. */
  readonly random?: () => number;
}

/**
 * Exponential backoff with full jitter (docs/protocol.md "Reconnect"): the n-th retry (n from 0)
 * waits `random(0, min(cap, base × 2^n))`. Full jitter spreads a fleet of data planes that lost the
 * same control plane over the whole window instead of synchronising them into waves.
 */
export class ReconnectBackoff {
  readonly baseMs: number;
  readonly capMs: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: ReconnectBackoffOptions = {}) {
    this.baseMs = options.baseMs ?? RECONNECT_BASE_MS;
    this.capMs = options.capMs ?? RECONNECT_CAP_MS;
    this.random = options.random ?? Math.random;
  }

  /** Retries since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The upper bound of the n-th retry's window, in ms. */
  ceilingMs(n: number): number {
    return Math.min(this.capMs, this.baseMs * 2 ** Math.min(n, 52));
  }

  /** The delay before the next retry, in ms, and counts the retry. */
  next(): number {
    const delay = this.random() * this.ceilingMs(this.attempt);
    this.attempt++;
    return Math.floor(delay);
  }

  /** The jittered delay of the first connect after boot, in ms: `random(0, base)`. */
  initial(): number {
    return Math.floor(this.random() * this.baseMs);
  }

  /** A uniformly random delay in [minMs, maxMs], for GoAway and RETRY_LATER windows. */
  within(minMs: number, maxMs: number): number {
    const lo = Math.max(0, Math.min(minMs, maxMs));
    const hi = Math.max(lo, maxMs);
    return Math.floor(lo + this.random() * (hi - lo));
  }

  /** Starts over from the base (after a connection stayed up long enough). */
  reset(): void {
    this.attempt = 0;
  }
}
