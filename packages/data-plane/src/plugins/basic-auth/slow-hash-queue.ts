/** Slow-hash verifications (scrypt) run at once per process (default 2: half of libuv's default pool of 4, which DNS lookups share). */
export const SLOW_HASH_CONCURRENCY = 2;
/** Slow-hash verifications waiting for a slot, past which a request is refused (default 512). */
export const SLOW_HASH_MAX_WAITING = 512;

/**
 * The bound on basic-auth's slow password hashes: at most `concurrency` run on the thread pool at
 * once and at most `maxWaiting` wait, so a flood of wrong passwords (never cached) cannot take
 * the whole pool from the proxy's DNS lookups and file I/O, nor queue without end. `run` returns
 * null when the queue is full (the caller refuses the request).
 */
export class SlowHashQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly concurrency: number = SLOW_HASH_CONCURRENCY,
    readonly maxWaiting: number = SLOW_HASH_MAX_WAITING,
  ) {}

  /** Verifications running now. */
  get active(): number {
    return this.running;
  }

  /** Verifications waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `task` when a slot is free; null (and `task` never runs) when the queue is full. */
  run<T>(task: () => Promise<T>): Promise<T> | null {
    if (this.running < this.concurrency) {
      this.running++;
      return this.execute(task);
    }
    if (this.waiting.length >= this.maxWaiting) return null;
    // The slot is handed over by the task that frees it (running stays counted).
    return new Promise<void>((resolve) => this.waiting.push(resolve)).then(() => this.execute(task));
  }

  private execute<T>(task: () => Promise<T>): Promise<T> {
    const release = (): void => {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running--;
    };
    let result: Promise<T>;
    try {
      result = task();
    } catch (err) {
      release();
      return Promise.reject(err);
    }
    return result.finally(release);
  }
}
