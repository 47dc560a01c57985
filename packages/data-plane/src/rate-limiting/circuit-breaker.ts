/** First pause after a Redis failure before the background probe, in ms (default 250). */
export const BREAKER_MIN_BACKOFF_MS = 250;

/** Longest pause between two probes while Redis stays down, in ms (default 5 s). */
export const BREAKER_MAX_BACKOFF_MS = 5_000;

/** Options of {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Checks the store once (a PING with the command timeout); resolves when it answers. */
  readonly probe: () => Promise<unknown>;
  /** Called on every change of state. */
  readonly onChange?: (isOpen: boolean) => void;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly now?: () => number;
}

/**
 * A circuit breaker in front of one Redis connection, so that an outage costs one timeout, not
 * one per request. Closed: requests go to Redis. A failure opens it: requests skip Redis (the
 * caller decides locally) while a probe runs in the background after a backoff (doubling from
 * {@link BREAKER_MIN_BACKOFF_MS} to {@link BREAKER_MAX_BACKOFF_MS}); the first probe that
 * succeeds closes it again, by itself.
 */
export class CircuitBreaker {
  private readonly options: CircuitBreakerOptions;
  private readonly now: () => number;
  private isOpenValue = false;
  private sinceMs: number;
  private backoffMs: number;
  private timer: NodeJS.Timeout | null = null;
  private isStopped = false;
  /** Times it opened since it was made. */
  opens = 0;
  /** The failure that opened it last, or null. */
  lastError: Error | null = null;

  constructor(options: CircuitBreakerOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.sinceMs = this.now();
    this.backoffMs = options.minBackoffMs ?? BREAKER_MIN_BACKOFF_MS;
  }

  /** Whether requests skip the store now. */
  get isOpen(): boolean {
    return this.isOpenValue;
  }

  /** When the current state began, in ms since the Unix epoch. */
  get since(): number {
    return this.sinceMs;
  }

  /** A request to the store failed: opens the breaker (if closed) and schedules the probe. */
  failure(err: Error): void {
    this.lastError = err;
    if (this.isOpenValue || this.isStopped) return;
    this.isOpenValue = true;
    this.opens++;
    this.sinceMs = this.now();
    this.backoffMs = this.options.minBackoffMs ?? BREAKER_MIN_BACKOFF_MS;
    this.options.onChange?.(true);
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.isStopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.options.probe().then(
        () => this.close(),
        (err: unknown) => {
          this.lastError = err instanceof Error ? err : new Error(String(err));
          this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? BREAKER_MAX_BACKOFF_MS);
          this.scheduleProbe();
        },
      );
    }, this.backoffMs);
    this.timer.unref();
  }

  private close(): void {
    if (!this.isOpenValue || this.isStopped) return;
    this.isOpenValue = false;
    this.sinceMs = this.now();
    this.options.onChange?.(false);
  }

  /** Stops probing (the store is being closed). */
  stop(): void {
    this.isStopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
