import { RATE_LIMIT_PERIODS, type RateLimitPeriod } from './rate-limiting-config.js';

/** One period's current window: `[startMs, endMs)` in ms since the Unix epoch, UTC calendar boundaries. */
export interface RateLimitWindow {
  readonly period: RateLimitPeriod;
  /** The limit configured for the period. */
  readonly limit: number;
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * The window of `period` that holds `nowMs`: the current second, the minute, hour and day (UTC),
 * the calendar month (from the 1st) and the calendar year (from 1 January), as Kong's
 * `kong/tools/timestamp.lua get_timestamps` aligns them. The end is the next boundary, so a month
 * or a year is as long as it really is (Kong counts 30 and 365 days for its reset and TTLs).
 */
export function windowBounds(period: RateLimitPeriod, nowMs: number): { startMs: number; endMs: number } {
  switch (period) {
    case 'second': {
      const startMs = Math.floor(nowMs / 1000) * 1000;
      return { startMs, endMs: startMs + 1000 };
    }
    case 'minute': {
      const startMs = Math.floor(nowMs / 60_000) * 60_000;
      return { startMs, endMs: startMs + 60_000 };
    }
    case 'hour': {
      const startMs = Math.floor(nowMs / 3_600_000) * 3_600_000;
      return { startMs, endMs: startMs + 3_600_000 };
    }
    case 'day': {
      const startMs = Math.floor(nowMs / 86_400_000) * 86_400_000;
      return { startMs, endMs: startMs + 86_400_000 };
    }
    case 'month': {
      const d = new Date(nowMs);
      return { startMs: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), endMs: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
    }
    case 'year': {
      const y = new Date(nowMs).getUTCFullYear();
      return { startMs: Date.UTC(y, 0, 1), endMs: Date.UTC(y + 1, 0, 1) };
    }
  }
}

/** The configured limits, by period: a null limit is not counted. */
export type RateLimits = { readonly [P in RateLimitPeriod]: number | null };

/**
 * The current window of every configured period, shortest first. Memoised per second: requests
 * in the same second share one frozen array (no per-request date arithmetic or allocation).
 */
export class WindowClock {
  private readonly periods: readonly { readonly period: RateLimitPeriod; readonly limit: number }[];
  private cachedSecondMs = Number.NaN;
  private cached: readonly RateLimitWindow[] = [];

  constructor(limits: RateLimits) {
    this.periods = RATE_LIMIT_PERIODS.flatMap((period) => {
      const limit = limits[period];
      return limit === null ? [] : [{ period, limit }];
    });
  }

  /** Whether any period has a limit (Kong's schema requires one). */
  get isEmpty(): boolean {
    return this.periods.length === 0;
  }

  /** The windows holding `nowMs`. */
  at(nowMs: number): readonly RateLimitWindow[] {
    const secondMs = Math.floor(nowMs / 1000) * 1000;
    if (secondMs !== this.cachedSecondMs) {
      this.cached = Object.freeze(this.periods.map(({ period, limit }) => Object.freeze({ period, limit, ...windowBounds(period, nowMs) })));
      this.cachedSecondMs = secondMs;
    }
    return this.cached;
  }
}
