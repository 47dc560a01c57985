import type { RateLimitPolicy, RedisSettings } from './rate-limiting-config.js';
import type { RateLimitWindow } from './rate-limit-windows.js';

/** One request to count against its windows. */
export interface RateLimitQuery {
  readonly policy: RateLimitPolicy;
  /** The Redis connection (the redis policy); ignored by the local policy. */
  readonly redis: RedisSettings;
  /**
   * What is counted: Kong's `ratelimit:<route_id>:<service_id>:<identifier>` (the plugin's own
   * scope; the nil UUID for an absent one). Each window's counter is this key with
   * `:<window start ms>:<period>` appended (Kong's key).
   */
  readonly key: string;
  /** The windows to count in, shortest first. */
  readonly windows: readonly RateLimitWindow[];
  /**
   * `fault_tolerant`: when the store (Redis) cannot be reached, decide from the data plane's local
   * share of the limit (degraded mode) rather than fail.
   */
  readonly isFaultTolerant: boolean;
}

/** What the store decided for one {@link RateLimitQuery}. */
export interface RateLimitOutcome {
  /** Each window's count before this request, in the query's order. */
  readonly usages: readonly number[];
  /**
   * The limits enforced, in the query's order: the configured ones, or in degraded mode this data
   * plane's share of them (limit ÷ connected data planes).
   */
  readonly limits: readonly number[];
  /** Whether the decision was taken locally because Redis was unreachable. */
  readonly isDegraded: boolean;
}

/**
 * The counter store a rate-limiting handler counts through (a role: the data plane provides the
 * local table, Redis, and across `--workers` the primary process). `consume` is atomic
 * check-and-increment over every window of the query: if any window's count has reached its
 * limit nothing is counted (a refused request uses no quota), otherwise every window's count goes
 * up by one. It returns synchronously when it can (the local table in-process) and rejects (or
 * throws) when the store fails and the query cannot be decided.
 */
export interface RateLimitCounters {
  consume(query: RateLimitQuery): RateLimitOutcome | PromiseLike<RateLimitOutcome>;
}
