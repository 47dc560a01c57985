/**
 * The `plugins` kind (`kong/db/schema/entities/plugins.lua`): a plugin instance, scoped to a route,
 * a service and/or a consumer (all three null = global), deleted with any of them. Its `config` is
 * abstract here: the plugin named by `name` supplies the fields (Kong's subschemas, see
 * `plugins/<name>/schema.ts`), and may forbid the consumer scope and narrow `protocols`.
 */
import { pb } from '../../proto.js';
import { PLUGIN_DESCRIPTORS, pluginNotEnabledMessage } from '../../plugins/plugin-catalog.js';
import { defineEntity } from '../entity-definition.js';
import type { EntitySchema } from '../field-spec.js';
import { schemaFor } from '../prepare-entity.js';
import { withShorthandEcho } from '../record-values.js';
import type { PluginSchema } from '../../plugins/plugin-schema.js';
import { NAME_FIELD, TAGS_FIELD } from '../service-schema.js';
import type { EntityInterner } from '../entity-interner.js';
import type { Plugin } from '../types.js';
import { decodeOrThrow, entityReader, foreign, list, opt, unlist, unlistWords } from './wire.js';

/** Kong's default `protocols` of a plugin: the HTTP subsystem's, sorted. */
export const DEFAULT_PLUGIN_PROTOCOLS = ['grpc', 'grpcs', 'http', 'https'] as const;

/** Kong's protocols (`constants.PROTOCOLS`, sorted): what a plugin's `protocols` may hold. */
export const PLUGIN_PROTOCOLS = ['grpc', 'grpcs', 'http', 'https', 'tcp', 'tls', 'tls_passthrough', 'udp'] as const;

/** The plugin entity's own fields in Kong's order; `config` is abstract until a plugin's subschema fills it. */
const BASE_PLUGIN_SCHEMA: EntitySchema = {
  name: 'plugins',
  fields: {
    id: { type: 'string', uuid: true },
    name: { type: 'string', required: true },
    instance_name: NAME_FIELD,
    created_at: { type: 'integer' },
    updated_at: { type: 'integer' },
    route: { type: 'foreign', reference: 'routes', onDelete: 'cascade' },
    service: { type: 'foreign', reference: 'services', onDelete: 'cascade' },
    consumer: { type: 'foreign', reference: 'consumers', onDelete: 'cascade' },
    config: { type: 'record', fields: null, description: "The plugin's configuration; its fields are the plugin's (`/schemas/plugins/{name}`)." },
    protocols: {
      type: 'set',
      required: true,
      default: [...DEFAULT_PLUGIN_PROTOCOLS],
      elements: { type: 'string', oneOf: PLUGIN_PROTOCOLS },
    },
    enabled: { type: 'boolean', required: true, default: true },
    tags: TAGS_FIELD,
  },
  shorthands: {},
};

/** The plugin entity as one plugin sees it: its overrides in place of the base fields, its entity checks added. */
function effectiveSchema(plugin: PluginSchema): EntitySchema {
  const fields = { ...BASE_PLUGIN_SCHEMA.fields };
  for (const [name, spec] of Object.entries(plugin.fields)) {
    if (!Object.hasOwn(fields, name)) throw new TypeError(`plugin ${plugin.name}: ${name} is not a field of plugins`);
    fields[name] = spec;
  }
  return { ...BASE_PLUGIN_SCHEMA, fields, entityChecks: [...(BASE_PLUGIN_SCHEMA.entityChecks ?? []), ...plugin.entityChecks] };
}

/**
 * The plugin schema in Kong's field order, with one subschema per plugin of the catalog, picked by
 * `name`; an unknown name is Kong's `plugin 'x' not enabled; …`.
 */
export const PLUGIN_SCHEMA: EntitySchema = {
  ...BASE_PLUGIN_SCHEMA,
  subschemas: {
    key: 'name',
    schemas: new Map([...PLUGIN_DESCRIPTORS.values()].map((d) => [d.name, effectiveSchema(d.schema)])),
    error: pluginNotEnabledMessage,
  },
};

/** The complete schema a plugin named `name` is validated with, or undefined when the catalog has no such plugin. */
export function pluginEntitySchema(name: string): EntitySchema | undefined {
  return PLUGIN_SCHEMA.subschemas?.schemas.get(name);
}

/** Encodes a Plugin into its protobuf bytes (deterministic: the config's keys keep their order). */
export function encodePlugin(p: Plugin): Uint8Array {
  return pb.Plugin.encode({
    id: p.id,
    createdAt: p.created_at,
    updatedAt: p.updated_at,
    name: p.name,
    instanceName: p.instance_name,
    route: p.route,
    service: p.service,
    consumer: p.consumer,
    configJson: JSON.stringify(p.config),
    protocols: list(p.protocols),
    enabled: p.enabled,
    tags: list(p.tags),
  }).finish();
}

/**
 * Decodes protobuf bytes into a Plugin in Kong's JSON shape; with `shared`, its name, references and
 * repeated values are the interner's (its config is its own). Throws ProtocolError on undecodable bytes or config.
 */
export function decodePlugin(bytes: Uint8Array, shared?: EntityInterner): Plugin {
  const m = decodeOrThrow('plugin', () => pb.Plugin.decode(entityReader(bytes)));
  const config = decodeOrThrow('plugin', () => JSON.parse(m.configJson) as unknown);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    return decodeOrThrow('plugin', () => {
      throw new TypeError('config is not a JSON object');
    });
  }
  return {
    id: m.id,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    name: shared ? shared.string(m.name) : m.name,
    instance_name: opt(m.instanceName),
    route: foreign(m.route, shared),
    service: foreign(m.service, shared),
    consumer: foreign(m.consumer, shared),
    config: config as Record<string, unknown>,
    protocols: unlistWords(m.protocols, shared) ?? [],
    enabled: m.enabled,
    tags: unlist(m.tags, shared),
  };
}

/** The `plugins` definition: nested under routes, services and consumers. */
export const PLUGINS = defineEntity<Plugin>({
  kind: 'plugins',
  singular: 'plugin',
  wireType: pb.EntityType.ENTITY_TYPE_PLUGIN,
  schema: PLUGIN_SCHEMA,
  endpointKey: 'instance_name',
  uniqueKeys: [['name', 'route', 'service', 'consumer']],
  present: (plugin) => withShorthandEcho(schemaFor(PLUGIN_SCHEMA, plugin), plugin),
  parents: ['route', 'service', 'consumer'],
  encode: encodePlugin,
  decode: decodePlugin,
});
