import type { Plugin } from '@sluice/protocol';
import type { PasswordVerificationCache } from './basic-auth/password-verification-cache.js';
import type { SlowHashQueue } from './basic-auth/slow-hash-queue.js';
import type { RateLimitCounters } from './rate-limiting/rate-limit-counters.js';
import type { PluginHandler } from './plugin-handler.js';

/** The logging a handler may do: the data plane's logger shape (structured object first). */
export interface PluginLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * The process-wide services plugin handlers share, made once per process (and per proxy worker)
 * and handed to every factory call: handlers are rebuilt when their plugin entity changes, these
 * are not. A plugin that needs another service adds a field here.
 */
export interface PluginEnv {
  /** The clock, in ms since the Unix epoch (credential expiry, rate-limiting windows). */
  readonly now: () => number;
  readonly logger: PluginLogger;
  /** basic-auth's bounded cache of successful password verifications (so a slow hash runs once per credential). */
  readonly basicAuthVerifications: PasswordVerificationCache;
  /** basic-auth's bound on slow hashes running and waiting at once. */
  readonly basicAuthSlowHashes: SlowHashQueue;
  /** rate-limiting's counters: the data plane's local table and Redis connections (with `--workers`, the primary's). */
  readonly rateLimitCounters: RateLimitCounters;
}

/**
 * How a plugin's handler is made from a `plugins` entity: the plugin's name and Kong PRIORITY, and
 * `create`, called once per version of each plugin entity when a config is applied (the handler is
 * then shared by every chain the instance applies to). `create` reads `plugin.config`, which
 * reaches the data plane complete (every default filled in by the control plane); it throws for a
 * config it cannot run, and the config is refused (`SLUICE_DP_ENTITY_PLUGIN_CONFIG`).
 */
export interface PluginFactory {
  readonly name: string;
  readonly priority: number;
  create(plugin: Plugin, env: PluginEnv): PluginHandler;
}

/**
 * The plugins a data plane runs and the services their handlers share: what the `plugins`
 * projection compiles chains with. A config naming a plugin missing from `factories` is refused
 * (fail closed: never served with the plugin skipped).
 */
export interface PluginRuntime {
  readonly factories: ReadonlyMap<string, PluginFactory>;
  readonly env: PluginEnv;
}
