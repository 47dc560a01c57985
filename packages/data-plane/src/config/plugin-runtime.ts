/**
 * The plugin runtime of a process: the factories it runs and the services their handlers share
 * (`PluginEnv`), made here rather than in plugins/ because the env holds the data plane's stores
 * (the rate-limit counters and their Redis connections), which plugin folders may not import.
 */
import { BASIC_AUTH_CACHE_MAX_ENTRIES, PasswordVerificationCache } from '../plugins/basic-auth/password-verification-cache.js';
import { SlowHashQueue } from '../plugins/basic-auth/slow-hash-queue.js';
import { BUNDLED_PLUGIN_FACTORIES } from '../plugins/plugin-factories.js';
import type { PluginEnv, PluginFactory, PluginLogger, PluginRuntime } from '../plugins/plugin-factory.js';
import type { RateLimitCounters } from '../plugins/rate-limiting/rate-limit-counters.js';
import { RateLimitService } from '../rate-limiting/rate-limit-service.js';

/** Options of {@link createPluginEnv}; everything optional. */
export interface PluginEnvOptions {
  /** Default `Date.now`. */
  readonly now?: () => number;
  /** Default: drops everything. */
  readonly logger?: PluginLogger;
  /** Successful basic-auth verifications kept (default {@link BASIC_AUTH_CACHE_MAX_ENTRIES}). */
  readonly basicAuthCacheEntries?: number;
  /** Default: an in-process `RateLimitService` (local table; Redis when a plugin asks for it). */
  readonly rateLimitCounters?: RateLimitCounters;
}

const SILENT: PluginLogger = { warn() {}, error() {} };

/** The process-wide services of plugin handlers: one per process (each proxy worker makes its own). */
export function createPluginEnv(options: PluginEnvOptions = {}): PluginEnv {
  return Object.freeze({
    now: options.now ?? Date.now,
    logger: options.logger ?? SILENT,
    basicAuthVerifications: new PasswordVerificationCache(options.basicAuthCacheEntries ?? BASIC_AUTH_CACHE_MAX_ENTRIES),
    basicAuthSlowHashes: new SlowHashQueue(),
    rateLimitCounters: options.rateLimitCounters ?? new RateLimitService(),
  });
}

/**
 * A runtime with `factories` (default every bundled plugin: pass a subset to restrict which
 * plugins this data plane runs) and a new env.
 */
export function createPluginRuntime(factories: ReadonlyMap<string, PluginFactory> = BUNDLED_PLUGIN_FACTORIES, env: PluginEnv = createPluginEnv()): PluginRuntime {
  return Object.freeze({ factories, env });
}

let defaultRuntime: PluginRuntime | null = null;

/** The process's default runtime (every bundled plugin, `Date.now`, no logging), made on first use. */
export function defaultPluginRuntime(): PluginRuntime {
  return (defaultRuntime ??= createPluginRuntime());
}

