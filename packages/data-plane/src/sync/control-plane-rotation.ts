import { ReconnectBackoff, type ReconnectBackoffOptions } from './reconnect-backoff.js';

/** How a connection to one control-plane address ended, as far as choosing the next attempt goes. */
export type ConnectionOutcome =
  /** The connection failed or dropped (refused, timed out, closed without GoAway): that address backs off. */
  | { readonly kind: 'failed' }
  /** The replica answered RETRY_LATER (it is behind, or full): it is left alone for `retryAfterMs` (jittered up to 1.5×). */
  | { readonly kind: 'retry-later'; readonly retryAfterMs: number }
  /**
   * The replica sent GoAway: the next connection starts at `reconnectAtMs` (a time the data plane
   * drew within the announced window), and the draining replica is avoided until `windowEndMs`.
   */
  | { readonly kind: 'go-away'; readonly reconnectAtMs: number; readonly windowEndMs: number };

/** The next connection attempt: which address, and after how long. */
export interface NextAttempt {
  readonly index: number;
  readonly url: string;
  readonly delayMs: number;
}

/**
 * The control-plane addresses a data plane may connect to (`--control-plane a,b,c`), each with
 * its own {@link ReconnectBackoff} (full jitter) and the time before which it is not tried again.
 * After a connection ends it names the next attempt: the next address in order that may be tried
 * now, after a jitter of up to the backoff base (so a fleet that lost one replica does not land on
 * the next in one wave); when every address is backing off, the one free soonest. The address
 * that just failed, asked to retry later or went away comes last, so a data plane moves to
 * another replica rather than waiting on a behind or draining one. With one address it behaves as
 * the single-address backoff did.
 */
export class ControlPlaneRotation {
  readonly urls: readonly string[];
  private readonly backoffs: ReconnectBackoff[];
  private readonly notBeforeMs: number[];
  private readonly random: () => number;
  private currentIndex = 0;

  constructor(urls: readonly string[], options: ReconnectBackoffOptions = {}) {
    if (urls.length === 0) throw new RangeError('at least one control-plane address is needed');
    this.urls = [...urls];
    this.random = options.random ?? Math.random;
    this.backoffs = this.urls.map(() => new ReconnectBackoff({ ...options, random: this.random }));
    this.notBeforeMs = this.urls.map(() => 0);
  }

  /** The index of the address connected, or being connected, now. */
  get index(): number {
    return this.currentIndex;
  }

  /** The address connected, or being connected, now. */
  get current(): string {
    return this.urls[this.currentIndex];
  }

  /** The first attempt after boot: the first address, after `random(0, base)` (herd control after a fleet restart). */
  first(): NextAttempt {
    this.currentIndex = 0;
    return { index: 0, url: this.urls[0], delayMs: this.backoffs[0].initial() };
  }

  /** Starts the backoff of the current address over (its connection stayed up long enough). */
  resetCurrent(): void {
    this.backoffs[this.currentIndex].reset();
  }

  /** The connection to the current address ended with `outcome` at `nowMs`: records it and names the next attempt. */
  next(outcome: ConnectionOutcome, nowMs: number): NextAttempt {
    const i = this.currentIndex;
    const only = this.urls.length === 1;
    const backoff = this.backoffs[i];
    let earliestMs: number;
    switch (outcome.kind) {
      case 'failed':
        this.notBeforeMs[i] = nowMs + backoff.next();
        earliestMs = nowMs + Math.floor(this.random() * backoff.baseMs);
        break;
      case 'retry-later':
        this.notBeforeMs[i] = nowMs + backoff.within(outcome.retryAfterMs, outcome.retryAfterMs * 1.5);
        earliestMs = nowMs + Math.floor(this.random() * backoff.baseMs);
        break;
      case 'go-away':
        this.notBeforeMs[i] = only ? outcome.reconnectAtMs : Math.max(outcome.reconnectAtMs, outcome.windowEndMs);
        earliestMs = Math.max(nowMs, outcome.reconnectAtMs);
        break;
    }
    const n = this.urls.length;
    let chosen = -1;
    for (let step = 1; step < n && chosen < 0; step++) {
      const j = (i + step) % n;
      if (this.notBeforeMs[j] <= earliestMs) chosen = j;
    }
    if (chosen < 0) {
      chosen = i;
      for (let step = 1; step < n; step++) {
        const j = (i + step) % n;
        if (this.notBeforeMs[j] < this.notBeforeMs[chosen]) chosen = j;
      }
    }
    this.currentIndex = chosen;
    const atMs = Math.max(earliestMs, this.notBeforeMs[chosen]);
    return { index: chosen, url: this.urls[chosen], delayMs: Math.max(0, atMs - nowMs) };
  }
}
