import type { Plugin } from '@sluice/protocol';
import type { PluginHandler } from '../plugin-handler.js';
import { RateLimitingHandler, RATE_LIMITING_PRIORITY } from './handler.js';
import type { RateLimitCounters } from './rate-limit-counters.js';
import { readRateLimitingConfig } from './rate-limiting-config.js';

/** The process-wide services a rate-limiting handler needs (a subset of the data plane's plugin environment). */
export interface RateLimitingEnv {
  /** The counter store: local table, Redis, and across `--workers` the primary's. */
  readonly rateLimitCounters: RateLimitCounters;
}

/**
 * Builds a rate-limiting handler from a `plugins` entity (its config complete, Kong's field names)
 * and the counters of the process. The entity's own route and service scope the counter key.
 * @throws TypeError for a config a data plane cannot run (no window, the `cluster` policy).
 */
export const RATE_LIMITING_FACTORY = Object.freeze({
  name: 'rate-limiting',
  priority: RATE_LIMITING_PRIORITY,
  create(plugin: Plugin, env: RateLimitingEnv): PluginHandler {
    return new RateLimitingHandler({
      config: readRateLimitingConfig(plugin.config),
      routeId: plugin.route?.id ?? null,
      serviceId: plugin.service?.id ?? null,
      counters: env.rateLimitCounters,
    });
  },
});
