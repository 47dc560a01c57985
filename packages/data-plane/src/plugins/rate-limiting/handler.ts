import type { PluginContext } from '../plugin-context.js';
import type { PluginHandler } from '../plugin-handler.js';
import { RATE_LIMIT_POLICIES, type RateLimitingConfig, type RateLimitPeriod } from './rate-limiting-config.js';
import type { RateLimitCounters, RateLimitOutcome, RateLimitQuery } from './rate-limit-counters.js';
import { rateLimitIdentifier } from './rate-limit-identifier.js';
import { WindowClock, type RateLimitWindow } from './rate-limit-windows.js';

/** Kong's PRIORITY of rate-limiting: after the authentication plugins (key-auth 1250, basic-auth 1100) and acl (950). */
export const RATE_LIMITING_PRIORITY = 910;

/** The id Kong puts in a counter key for an absent route or service. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** Kong's header names per period (`X-RateLimit-Limit-Minute`, …). */
const LIMIT_HEADER: Readonly<Record<RateLimitPeriod, string>> = {
  second: 'X-RateLimit-Limit-Second',
  minute: 'X-RateLimit-Limit-Minute',
  hour: 'X-RateLimit-Limit-Hour',
  day: 'X-RateLimit-Limit-Day',
  month: 'X-RateLimit-Limit-Month',
  year: 'X-RateLimit-Limit-Year',
};
const REMAINING_HEADER: Readonly<Record<RateLimitPeriod, string>> = {
  second: 'X-RateLimit-Remaining-Second',
  minute: 'X-RateLimit-Remaining-Minute',
  hour: 'X-RateLimit-Remaining-Hour',
  day: 'X-RateLimit-Remaining-Day',
  month: 'X-RateLimit-Remaining-Month',
  year: 'X-RateLimit-Remaining-Year',
};

/** Options of {@link RateLimitingHandler}. */
export interface RateLimitingHandlerOptions {
  /** The plugin's config (complete, Kong's field names). */
  readonly config: RateLimitingConfig;
  /** The plugin's own route and service ids (its scope, not the request's): the counter key's. Null when unscoped. */
  readonly routeId: string | null;
  readonly serviceId: string | null;
  readonly counters: RateLimitCounters;
  /** The clock, in ms since the Unix epoch (default `Date.now`). */
  readonly now?: () => number;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/**
 * Kong's rate-limiting plugin, access phase (`kong/plugins/rate-limiting/handler.lua`): fixed
 * calendar windows in UTC; the request is counted against its identifier (see
 * {@link rateLimitIdentifier}) under the plugin's own scope (a global instance shares one counter
 * across services); it passes while every window's count is below its limit (requests 1..limit)
 * and a refused request is not counted. Check and count are one atomic step of the store
 * ({@link RateLimitCounters}), never a read followed by a later increment.
 *
 * Headers, as Kong: `X-RateLimit-Limit-<Period>` and `X-RateLimit-Remaining-<Period>` per period,
 * `RateLimit-Limit`/`-Remaining`/`-Reset` from the period with the lowest remaining (a tie goes to
 * the longer period), and on refusal `Retry-After` (that reset) with `error_code` and
 * `error_message` (a status outside 400–599 gives 500, as Kong's `kong.response.error` raises).
 * `hide_client_headers` drops them all. When the store fails: `fault_tolerant` proxies the request
 * without headers, otherwise it fails with 500.
 */
export class RateLimitingHandler implements PluginHandler {
  readonly name = 'rate-limiting';
  readonly priority = RATE_LIMITING_PRIORITY;
  private readonly config: RateLimitingConfig;
  private readonly keyPrefix: string;
  private readonly counters: RateLimitCounters;
  private readonly clock: WindowClock;
  private readonly now: () => number;
  private readonly isErrorCodeValid: boolean;

  constructor(options: RateLimitingHandlerOptions) {
    const config = options.config;
    if (!(RATE_LIMIT_POLICIES as readonly string[]).includes(config.policy)) {
      throw new TypeError(`rate-limiting policy '${String(config.policy)}' is not available on a data plane (expected one of: ${RATE_LIMIT_POLICIES.join(', ')})`);
    }
    this.config = config;
    this.keyPrefix = `ratelimit:${options.routeId ?? NIL_UUID}:${options.serviceId ?? NIL_UUID}:`;
    this.counters = options.counters;
    this.clock = new WindowClock(config);
    if (this.clock.isEmpty) throw new TypeError('rate-limiting needs at least one of second, minute, hour, day, month, year');
    this.now = options.now ?? Date.now;
    this.isErrorCodeValid = Number.isInteger(config.error_code) && config.error_code >= 400 && config.error_code <= 599;
  }

  access(ctx: PluginContext): void | PromiseLike<void> {
    const nowMs = this.now();
    const windows = this.clock.at(nowMs);
    const query: RateLimitQuery = {
      policy: this.config.policy,
      redis: this.config.redis,
      key: this.keyPrefix + rateLimitIdentifier(ctx, this.config),
      windows,
      isFaultTolerant: this.config.fault_tolerant,
    };
    let outcome: RateLimitOutcome | PromiseLike<RateLimitOutcome>;
    try {
      outcome = this.counters.consume(query);
    } catch (err) {
      return this.storeFailed(err);
    }
    if (isThenable(outcome)) {
      return outcome.then(
        (decided) => this.decide(ctx, decided, windows, nowMs),
        (err: unknown) => this.storeFailed(err),
      );
    }
    this.decide(ctx, outcome, windows, nowMs);
  }

  /** The store could not decide: `fault_tolerant` lets the request through with no headers; otherwise a 500. */
  private storeFailed(err: unknown): void {
    if (this.config.fault_tolerant) return;
    throw err;
  }

  private decide(ctx: PluginContext, outcome: RateLimitOutcome, windows: readonly RateLimitWindow[], nowMs: number): void {
    const { usages, limits } = outcome;
    let stop = -1;
    for (let i = 0; i < windows.length; i++) if (limits[i]! - usages[i]! <= 0) stop = i;
    const isHidden = this.config.hide_client_headers;
    let reset = 0;
    if (!isHidden) {
      let best = -1;
      let bestRemaining = 0;
      const response = ctx.response;
      for (let i = 0; i < windows.length; i++) {
        const window = windows[i]!;
        let remaining = limits[i]! - usages[i]!;
        // Kong counts the request in every window when it passes, and only in the refusing one when it does not.
        if (stop === -1 || stop === i) remaining -= 1;
        if (remaining < 0) remaining = 0;
        // Windows run shortest first: on a tie, the later (longer) one wins.
        if (best === -1 || remaining <= bestRemaining) {
          best = i;
          bestRemaining = remaining;
        }
        response.set(LIMIT_HEADER[window.period], String(limits[i]));
        response.set(REMAINING_HEADER[window.period], String(remaining));
      }
      const window = windows[best]!;
      reset = Math.max(1, Math.floor((window.endMs - window.startMs) / 1000) - Math.floor((nowMs - window.startMs) / 1000));
      response.set('RateLimit-Limit', String(limits[best]));
      response.set('RateLimit-Remaining', String(bestRemaining));
      response.set('RateLimit-Reset', String(reset));
    }
    if (stop === -1) return;
    if (!this.isErrorCodeValid) throw new RangeError(`rate-limiting error_code ${this.config.error_code} is not an HTTP error status (400-599)`);
    ctx.answer(this.config.error_code, this.config.error_message, isHidden ? undefined : { 'Retry-After': String(reset) });
  }
}
