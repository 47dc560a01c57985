import { ACL_FACTORY } from './acl/handler.js';
import { BASIC_AUTH_FACTORY } from './basic-auth/handler.js';
import { BASIC_AUTH_CACHE_MAX_ENTRIES, PasswordVerificationCache } from './basic-auth/password-verification-cache.js';
import { SlowHashQueue } from './basic-auth/slow-hash-queue.js';
import { KEY_AUTH_FACTORY } from './key-auth/handler.js';
import type { PluginEnv, PluginFactory, PluginLogger, PluginRuntime } from './plugin-factory.js';

export type { PluginEnv, PluginFactory, PluginLogger, PluginRuntime } from './plugin-factory.js';

/** The plugins this build of the data plane runs, by name (Kong's `plugins = bundled`). */
export const BUNDLED_PLUGIN_FACTORIES: ReadonlyMap<string, PluginFactory> = new Map([KEY_AUTH_FACTORY, BASIC_AUTH_FACTORY, ACL_FACTORY].map((f) => [f.name, f]));

/** Options of {@link createPluginEnv}; everything optional. */
export interface PluginEnvOptions {
  /** Default `Date.now`. */
  readonly now?: () => number;
  /** Default: drops everything. */
  readonly logger?: PluginLogger;
  /** Successful basic-auth verifications kept (default {@link BASIC_AUTH_CACHE_MAX_ENTRIES}). */
  readonly basicAuthCacheEntries?: number;
}

const SILENT: PluginLogger = { warn() {}, error() {} };

/** The process-wide services of plugin handlers: one per process (each proxy worker makes its own). */
export function createPluginEnv(options: PluginEnvOptions = {}): PluginEnv {
  return Object.freeze({
    now: options.now ?? Date.now,
    logger: options.logger ?? SILENT,
    basicAuthVerifications: new PasswordVerificationCache(options.basicAuthCacheEntries ?? BASIC_AUTH_CACHE_MAX_ENTRIES),
    basicAuthSlowHashes: new SlowHashQueue(),
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

