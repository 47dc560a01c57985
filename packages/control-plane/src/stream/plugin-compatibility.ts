/**
 * Capability negotiation, the control plane's rule: a data plane announces in Hello the plugins it
 * has loaded with their schema versions; a config that uses a plugin it did not announce, or
 * announced with another major version than this control plane's catalog, is never sent to it
 * (the control plane never strips a plugin: a missing auth plugin must fail closed, not open).
 * Every configured instance counts, disabled ones included, as in Kong (`plugins_configured`): a
 * data plane that does not know a plugin cannot validate its instance either, and enabling it
 * later must not be the change that opens a route.
 */
import { PLUGIN_DESCRIPTORS, type HelloMessage, type PluginDescriptor } from '@sluice/protocol';

/** What a data plane announced: plugin name → schema version (`x.y.z`). */
export type AnnouncedPlugins = ReadonlyMap<string, string>;

/** A plugin the data plane announced with a major version other than this control plane's. */
export interface PluginVersionMismatch {
  readonly name: string;
  readonly dataPlaneVersion: string;
  readonly controlPlaneVersion: string;
}

/** Why a config cannot go to a data plane: the plugins it uses that the data plane lacks. */
export interface PluginIncompatibility {
  /** Plugins in use that the data plane did not announce, sorted by name. */
  readonly missingPlugins: readonly string[];
  /** Plugins in use that it announced with another major version, sorted by name. */
  readonly versionMismatches: readonly PluginVersionMismatch[];
}

/** The plugins a Hello announces (a later duplicate of a name wins). */
export function announcedPlugins(hello: Pick<HelloMessage, 'plugins'>): AnnouncedPlugins {
  const out = new Map<string, string>();
  for (const p of hello.plugins ?? []) if (p.name) out.set(p.name, p.version ?? '');
  return out;
}

/** The major of an `x.y.z` version, or null when it does not start with a number. */
function majorOf(version: string): number | null {
  const m = /^(\d+)(?:\.|$)/.exec(version);
  return m ? Number(m[1]) : null;
}

/**
 * The plugins of `inUse` (the names used by the config about to be sent) that `announced` lacks,
 * or null when the data plane can take the config. A name the catalog does not know is
 * compatible once announced (there is no version to compare); an announced version whose major
 * cannot be read is a mismatch. O(names in use).
 */
export function pluginIncompatibility(
  inUse: Iterable<string>,
  announced: AnnouncedPlugins,
  catalog: ReadonlyMap<string, Pick<PluginDescriptor, 'version'>> = PLUGIN_DESCRIPTORS,
): PluginIncompatibility | null {
  const missingPlugins: string[] = [];
  const versionMismatches: PluginVersionMismatch[] = [];
  for (const name of inUse) {
    const dataPlaneVersion = announced.get(name);
    if (dataPlaneVersion === undefined) {
      missingPlugins.push(name);
      continue;
    }
    const controlPlaneVersion = catalog.get(name)?.version;
    if (controlPlaneVersion === undefined) continue;
    const dpMajor = majorOf(dataPlaneVersion);
    if (dpMajor === null || dpMajor !== majorOf(controlPlaneVersion)) versionMismatches.push({ name, dataPlaneVersion, controlPlaneVersion });
  }
  if (missingPlugins.length === 0 && versionMismatches.length === 0) return null;
  missingPlugins.sort();
  versionMismatches.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { missingPlugins, versionMismatches };
}

/** Whether two findings say the same (so an unchanged one is not written to the registry again). */
export function isSameIncompatibility(a: PluginIncompatibility | null, b: PluginIncompatibility | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.missingPlugins.length === b.missingPlugins.length &&
    a.missingPlugins.every((n, i) => n === b.missingPlugins[i]) &&
    a.versionMismatches.length === b.versionMismatches.length &&
    a.versionMismatches.every((m, i) => m.name === b.versionMismatches[i].name && m.dataPlaneVersion === b.versionMismatches[i].dataPlaneVersion)
  );
}

/** The plugin names of a finding, for the Heartbeat's `missing_plugins` and logs. */
export function incompatiblePluginNames(finding: PluginIncompatibility): string[] {
  return [...finding.missingPlugins, ...finding.versionMismatches.map((m) => m.name)].sort();
}
