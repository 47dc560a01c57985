/**
 * The plugins Sluice implements, as data: each plugin's name, Kong's PRIORITY and VERSION, and the
 * scopes it may not be attached to. The control plane validates `plugins` entities against it; a
 * data plane announces the names and versions it implements in its Hello (capability
 * negotiation), and the control plane never sends a config using a plugin a data plane lacks.
 */

/** Kong's plugin VERSION for every bundled plugin (`kong_meta.version`); Sluice speaks Kong 3.10's schemas. */
export const PLUGIN_SCHEMA_VERSION = '3.10.0';

/** What the catalog knows of one plugin, apart from its config schema. */
export interface PluginDescriptor {
  readonly name: string;
  /** Kong's PRIORITY: higher runs first. */
  readonly priority: number;
  /** The plugin's schema version (`x.y.z`). */
  readonly version: string;
  /** Kong's `typedefs.no_consumer`: the plugin may not be scoped to a consumer (auth plugins). */
  readonly noConsumer?: boolean;
  readonly noRoute?: boolean;
  readonly noService?: boolean;
}

/** The plugins this build implements, by name. */
export const PLUGIN_DESCRIPTORS: ReadonlyMap<string, PluginDescriptor> = new Map(
  (
    [
      { name: 'key-auth', priority: 1250, version: PLUGIN_SCHEMA_VERSION, noConsumer: true },
      { name: 'basic-auth', priority: 1100, version: PLUGIN_SCHEMA_VERSION, noConsumer: true },
      { name: 'acl', priority: 950, version: PLUGIN_SCHEMA_VERSION, noConsumer: true },
      { name: 'rate-limiting', priority: 910, version: PLUGIN_SCHEMA_VERSION },
    ] satisfies PluginDescriptor[]
  ).map((d) => [d.name, Object.freeze(d)]),
);

/** Kong's message for a plugin name this build does not implement. */
export function pluginNotEnabledMessage(name: string): string {
  return `plugin '${name}' not enabled; add it to the 'plugins' configuration property`;
}
