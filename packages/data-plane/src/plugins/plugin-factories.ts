import { ACL_FACTORY } from './acl/handler.js';
import { BASIC_AUTH_FACTORY } from './basic-auth/handler.js';
import { KEY_AUTH_FACTORY } from './key-auth/handler.js';
import { RATE_LIMITING_FACTORY } from './rate-limiting/factory.js';
import type { PluginFactory } from './plugin-factory.js';

export type { PluginEnv, PluginFactory, PluginLogger, PluginRuntime } from './plugin-factory.js';

/** The plugins this build of the data plane runs, by name (Kong's `plugins = bundled`). */
export const BUNDLED_PLUGIN_FACTORIES: ReadonlyMap<string, PluginFactory> = new Map(
  [KEY_AUTH_FACTORY, BASIC_AUTH_FACTORY, ACL_FACTORY, RATE_LIMITING_FACTORY as PluginFactory].map((f) => [f.name, f]),
);
