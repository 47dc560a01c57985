/**
 * The data plane's half of capability negotiation: a config that uses a plugin this data plane
 * has not loaded (`--plugins`, config/loaded-plugins.ts) is refused as a whole, never applied
 * without it (fail closed: a missing auth plugin must not mean an open route). Every instance
 * counts, disabled ones included, as on the control plane, which withholds such a config in the
 * first place; this check is the last line for a control plane that did not (an older one) and
 * for a cache written under another `--plugins`.
 */
import { ENTITY_TYPE_BY_KIND } from '@sluice/protocol';
import { ResourceErrorCode } from '../errors.js';
import type { CheckedEntity, ResourceErrorList } from './entity-checks.js';

/** The message of a plugin instance whose plugin is not loaded. */
export function pluginNotLoadedMessage(name: string): string {
  return `plugin '${name}' is not loaded on this data plane (--plugins)`;
}

/**
 * Records a `PLUGIN_NOT_LOADED` error for each `plugins` entity among `upserts` whose name is not
 * in `loaded`; true when there is none. O(upserts): a delta checks only the instances it puts in
 * (those of the current config passed this check when they came).
 */
export function checkPluginAvailability(upserts: Iterable<CheckedEntity>, loaded: ReadonlySet<string>, errors: ResourceErrorList): boolean {
  let isAvailable = true;
  for (const u of upserts) {
    if (u.kind !== 'plugins' || loaded.has(u.entity.name)) continue;
    errors.add(ENTITY_TYPE_BY_KIND.plugins, 'plugins', u.id, ResourceErrorCode.PLUGIN_NOT_LOADED, pluginNotLoadedMessage(u.entity.name));
    isAvailable = false;
  }
  return isAvailable;
}
