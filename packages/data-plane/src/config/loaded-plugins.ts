/**
 * Which plugins a data plane loads: Kong's `plugins` property (`sluice-dp --plugins`,
 * `SLUICE_PLUGINS`), resolved as Kong's conf_loader does it. A comma-separated list of plugin
 * names and/or `bundled` (every plugin this build implements); `off` as the first item loads
 * none (elsewhere it is ignored, as in Kong); default `bundled`. The resolved set is what Hello
 * announces (capability negotiation) and what the apply accepts (config/plugin-availability.ts):
 * a config using any other plugin is refused, never served without it.
 */
import { PLUGIN_DESCRIPTORS, type PluginCapabilityMessage } from '@sluice/protocol';
import { InvalidArgumentError } from '../errors.js';

/** The plugins this build implements (`bundled`), by name. */
export const BUNDLED_PLUGINS: ReadonlySet<string> = new Set(PLUGIN_DESCRIPTORS.keys());

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
