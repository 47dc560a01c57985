import { RATE_LIMIT_PERIODS, type RateLimitPeriod } from '../plugins/rate-limiting/rate-limiting-config.js';
import type { RateLimitWindow } from '../plugins/rate-limiting/rate-limit-windows.js';

/** Counter entries a data plane keeps for the local policy (and degraded mode), by default: 100,000 (about 30 MB). */
export const DEFAULT_LOCAL_COUNTER_CAPACITY = 100_000;

const PERIOD_INDEX: Readonly<Record<RateLimitPeriod, number>> = Object.fromEntries(RATE_LIMIT_PERIODS.map((p, i) => [p, i])) as Record<RateLimitPeriod, number>;
const SLOTS = RATE_LIMIT_PERIODS.length;

/** Counters of the table since it was made. */
export interface LocalCounterStats {
  /** Entries held now. */
  readonly entries: number;
  readonly capacity: number;
  /** Entries dropped to make room while one of their windows was still running (their counts were lost). */
  readonly evictions: number;
}

/**
 * The local policy's counters: one entry per counter key (`ratelimit:<route>:<service>:<identifier>`)
 * holding, per period, the start and end of the window it counts and its count. A window that has
 * moved on is reset on the next use. Bounded: at most `capacity` entries, least recently used
 * dropped first (a JavaScript Map in use order); dropping one whose window still runs is counted
 * in {@link LocalCounterStats.evictions}. Single-threaded, so {@link consume} is atomic; a data plane
 * with `--workers` keeps one table in its primary process and the workers count through it.
 */
export class LocalCounterTable {
  readonly capacity: number;
  /** Per key: [start × 6, end × 6, count × 6] by period index. */
  private readonly entries = new Map<string, Float64Array>();
  private evictionCount = 0;

  constructor(capacity = DEFAULT_LOCAL_COUNTER_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`the local counter capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
  }

  /**
   * Check-and-increment: each window's count before this request; when every count is below its
   * limit (`limits[i]`, default the window's), all of them go up by one, otherwise none does.
   */
  consume(key: string, windows: readonly RateLimitWindow[], nowMs: number, limits?: readonly number[]): number[] {
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = new Float64Array(SLOTS * 3);
      if (this.entries.size >= this.capacity) this.evictOne(nowMs);
    } else {
      // Moved to the end: the Map's order is the use order.
      this.entries.delete(key);
    }
    this.entries.set(key, entry);
    const usages = new Array<number>(windows.length);
    let isBlocked = false;
    for (let i = 0; i < windows.length; i++) {
      const window = windows[i]!;
      const slot = PERIOD_INDEX[window.period];
      if (entry[slot] !== window.startMs) {
        entry[slot] = window.startMs;
        entry[SLOTS + slot] = window.endMs;
        entry[2 * SLOTS + slot] = 0;
      }
      const usage = entry[2 * SLOTS + slot]!;
      usages[i] = usage;
      if ((limits === undefined ? window.limit : limits[i]!) - usage <= 0) isBlocked = true;
    }
    if (!isBlocked) for (const window of windows) entry[2 * SLOTS + PERIOD_INDEX[window.period]]++;
    return usages;
  }

  private evictOne(nowMs: number): void {
    const oldest = this.entries.keys().next();
    if (oldest.done) return;
    const entry = this.entries.get(oldest.value)!;
    this.entries.delete(oldest.value);
    for (let slot = 0; slot < SLOTS; slot++) {
      if (entry[2 * SLOTS + slot]! > 0 && entry[SLOTS + slot]! > nowMs) {
        this.evictionCount++;
        return;
      }
    }
  }

  get stats(): LocalCounterStats {
    return { entries: this.entries.size, capacity: this.capacity, evictions: this.evictionCount };
  }
}
