/**
 * A plugin's schema in Kong's JSON format: `GET /schemas/plugins/{name}` (the whole subschema:
 * its `consumer`, `protocols` and `config` fields and its entity checks) and the legacy
 * `GET /plugins/schema/{name}` (the `config` record alone).
 */
import { type JsonSchemaDocument, entityChecksToJson, fieldsToJson } from '../entities/schema-json.js';
import { PLUGIN_DESCRIPTORS } from './plugin-catalog.js';

/** The plugin's subschema, or undefined when the catalog has no plugin `name`. */
export function pluginSchemaToJson(name: string): JsonSchemaDocument | undefined {
  const schema = PLUGIN_DESCRIPTORS.get(name)?.schema;
  if (schema === undefined) return undefined;
  return { fields: fieldsToJson(schema.fields), entity_checks: entityChecksToJson(schema.entityChecks) };
}

/** The plugin's `config` record (Kong's legacy, deprecated `/plugins/schema/{name}`), or undefined. */
export function pluginConfigSchemaToJson(name: string): JsonSchemaDocument | undefined {
  const config = PLUGIN_DESCRIPTORS.get(name)?.schema.fields.config;
  if (config?.fields === undefined || config.fields === null) return undefined;
  return { fields: fieldsToJson(config.fields), entity_checks: [] };
}
