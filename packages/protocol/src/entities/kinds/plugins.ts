/**
 * The `plugins` kind (`kong/db/schema/entities/plugins.lua`): a plugin instance, scoped to a route,
 * a service and/or a consumer (all three null = global), deleted with any of them. Its `config` is
 * abstract here: the plugin named by `name` supplies the fields (see `plugins/`).
 */
import { pb } from '../../proto.js';
import { PLUGIN_DESCRIPTORS, pluginNotEnabledMessage } from '../../plugins/plugin-catalog.js';
import { defineEntity } from '../entity-definition.js';
import type { EntitySchema } from '../field-spec.js';
import { NAME_FIELD, TAGS_FIELD } from '../service-schema.js';
import type { Plugin } from '../types.js';
import { decodeOrThrow, foreign, list, opt, unlist } from './wire.js';

/** Kong's default `protocols` of a plugin: the HTTP subsystem's, sorted. */
export const DEFAULT_PLUGIN_PROTOCOLS = ['grpc', 'grpcs', 'http', 'https'] as const;

/** The plugin schema in Kong's field order. */
export const PLUGIN_SCHEMA: EntitySchema = {
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
    config: { type: 'record', fields: null, required: true, default: {} },
    protocols: {
      type: 'set',
      required: true,
      default: [...DEFAULT_PLUGIN_PROTOCOLS],
      elements: { type: 'string', oneOf: ['grpc', 'grpcs', 'http', 'https', 'tcp', 'tls', 'tls_passthrough', 'udp', 'ws', 'wss'] },
    },
    enabled: { type: 'boolean', required: true, default: true },
    tags: TAGS_FIELD,
  },
  shorthands: {},
};

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

/** Decodes protobuf bytes into a Plugin in Kong's JSON shape. Throws ProtocolError on undecodable bytes or config. */
export function decodePlugin(bytes: Uint8Array): Plugin {
  const m = decodeOrThrow('plugin', () => pb.Plugin.decode(bytes));
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
    name: m.name,
    instance_name: opt(m.instanceName),
    route: foreign(m.route),
    service: foreign(m.service),
    consumer: foreign(m.consumer),
    config: config as Record<string, unknown>,
    protocols: unlist(m.protocols) ?? [],
    enabled: m.enabled,
    tags: unlist(m.tags),
  };
}

/** The `plugins` definition: nested under routes, services and consumers. */
export const PLUGINS = defineEntity<Plugin>({
  kind: 'plugins',
  singular: 'plugin',
  wireType: pb.EntityType.ENTITY_TYPE_PLUGIN,
  schema: PLUGIN_SCHEMA,
  hooks: {
    precheck(data) {
      if (typeof data.name === 'string' && !PLUGIN_DESCRIPTORS.has(data.name)) return { name: pluginNotEnabledMessage(data.name) };
      return null;
    },
  },
  endpointKey: 'instance_name',
  parents: ['route', 'service', 'consumer'],
  encode: encodePlugin,
  decode: decodePlugin,
});
