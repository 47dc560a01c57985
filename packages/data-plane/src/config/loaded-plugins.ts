/**
 * Which plugins a data plane loads: Kong's `plugins` property (`sluice-dp --plugins`,
 * `SLUICE_PLUGINS`), resolved as Kong's conf_loader does it. A comma-separated list of plugin
 * names and/or `bundled` (every plugin this build implements); `off` as the first item loads
 * none (elsewhere it is ignored, as in Kong); default `bundled`. The resolved set picks the
 * factories of the data plane's plugin runtime (`pluginFactoriesFor`): Hello announces their names
 * (capability negotiation), and a config using any other plugin is refused by the plugin chains'
 * projection, never served without it.
 */
import { PLUGIN_DESCRIPTORS, type PluginCapabilityMessage } from '@sluice/protocol';
import { InvalidArgumentError } from '../errors.js';
import { BUNDLED_PLUGIN_FACTORIES } from '../plugins/plugin-factories.js';
import { defaultPluginRuntime } from './plugin-runtime.js';
import type { PluginFactory, PluginRuntime } from '../plugins/plugin-factory.js';

/** The plugins this build implements (`bundled`): those it has a handler factory for. */
export const BUNDLED_PLUGINS: ReadonlySet<string> = new Set(BUNDLED_PLUGIN_FACTORIES.keys());

/** The bundled factories of the `loaded` plugins, for `createPluginRuntime`. */
export function pluginFactoriesFor(loaded: ReadonlySet<string>): ReadonlyMap<string, PluginFactory> {
  return new Map([...BUNDLED_PLUGIN_FACTORIES].filter(([name]) => loaded.has(name)));
}

/** The names of the plugins a runtime runs (default: the process's default runtime, every bundled plugin). */
export function loadedPluginNames(runtime: PluginRuntime | undefined): ReadonlySet<string> {
  return new Set((runtime ?? defaultPluginRuntime()).factories.keys());
}

/** The default of `--plugins`. */
export const DEFAULT_PLUGINS_SETTING = 'bundled';

/**
 * The set of loaded plugins for a `plugins` setting (the list's items, already split on commas).
 * A name this build does not implement is an `InvalidArgumentError`: a data plane cannot load a
 * plugin it does not have, and starting without it would announce a set the operator did not ask for.
 */
export function resolveLoadedPlugins(items: readonly string[], implemented: ReadonlySet<string> = BUNDLED_PLUGINS): ReadonlySet<string> {
  const names = items.map((item) => item.trim()).filter((item) => item !== '');
  const loaded = new Set<string>();
  if (names.length === 0 || names[0] === 'off') return loaded;
  for (const name of names) {
    if (name === 'off') continue;
    if (name === 'bundled') {
      for (const bundled of implemented) loaded.add(bundled);
      continue;
    }
    if (!implemented.has(name)) {
      throw new InvalidArgumentError(`--plugins: plugin '${name}' is not implemented by this data plane (it implements ${[...implemented].join(', ')}; or use bundled, off)`);
    }
    loaded.add(name);
  }
  return loaded;
}

/** What Hello announces for a set of loaded plugins: each name with its schema version, sorted by name. */
export function pluginCapabilities(loaded: ReadonlySet<string>): PluginCapabilityMessage[] {
  return [...loaded].sort().map((name) => ({ name, version: PLUGIN_DESCRIPTORS.get(name)?.version ?? '' }));
}
