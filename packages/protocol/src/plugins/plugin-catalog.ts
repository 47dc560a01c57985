/**
 * The plugins Sluice implements, as data: each plugin's name, Kong's PRIORITY and VERSION, the
 * scopes it may not be attached to, and its schema (`<name>/schema.ts`). The control plane
 * validates `plugins` entities against it; a data plane announces the names and versions it implements in its Hello (capability
 * negotiation), and the control plane never sends a config using a plugin a data plane lacks.
 */
import { ACL_PLUGIN_SCHEMA } from './acl/schema.js';
import { BASIC_AUTH_SCHEMA } from './basic-auth/schema.js';
import { KEY_AUTH_SCHEMA } from './key-auth/schema.js';
import type { PluginSchema } from './plugin-schema.js';
import { RATE_LIMITING_SCHEMA } from './rate-limiting/schema.js';

/** Kong's plugin VERSION for every bundled plugin (`kong_meta.version`); Sluice speaks Kong 3.10's schemas. */
export const PLUGIN_SCHEMA_VERSION = '3.10.0';

/** What the catalog knows of one plugin. */
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
  /** Its schema: the plugin entity fields it overrides (`config` among them) and its entity checks. */
  readonly schema: PluginSchema;
}

/** The plugins this build implements, by name. */
export const PLUGIN_DESCRIPTORS: ReadonlyMap<string, PluginDescriptor> = new Map(
  (
    [
      { name: 'key-auth', priority: 1250, version: PLUGIN_SCHEMA_VERSION, noConsumer: true, schema: KEY_AUTH_SCHEMA },
      { name: 'basic-auth', priority: 1100, version: PLUGIN_SCHEMA_VERSION, noConsumer: true, schema: BASIC_AUTH_SCHEMA },
      { name: 'acl', priority: 950, version: PLUGIN_SCHEMA_VERSION, noConsumer: true, schema: ACL_PLUGIN_SCHEMA },
      { name: 'rate-limiting', priority: 910, version: PLUGIN_SCHEMA_VERSION, schema: RATE_LIMITING_SCHEMA },
    ] satisfies PluginDescriptor[]
  ).map((d) => [d.name, Object.freeze(d)]),
);

/** Kong's message for a plugin name this build does not implement. */
export function pluginNotEnabledMessage(name: string): string {
  return `plugin '${name}' not enabled; add it to the 'plugins' configuration property`;
}

// A descriptor's scope flags and its schema say the same thing.
for (const d of PLUGIN_DESCRIPTORS.values()) {
  if (d.schema.name !== d.name) throw new TypeError(`plugin catalog: ${d.name} has the schema of ${d.schema.name}`);
  if ((d.noConsumer ?? false) !== (d.schema.fields.consumer?.mustBeNull !== undefined)) {
    throw new TypeError(`plugin catalog: ${d.name}: noConsumer and its schema's consumer field disagree`);
  }
}
