/**
 * `GET /schemas/{entity}` and `POST /schemas/{entity}/validate` (`kong/api/routes/kong.lua`): every
 * kind of the registry, by its kind name (Kong's DAO name: `services`, `keyauth_credentials`), its
 * schema in Kong's JSON form. Kong Manager and the Sluice UI build their forms from it.
 *
 * Kong's JSON form (`api_helpers.schema_to_jsonable`): `fields` is an array of single-key objects in
 * schema order, `{"port": {"type": "integer", "required": true, "default": 80, "between": [0, 65535]}}`;
 * validators that are code (a typedef's custom validator) are left out; `entity_checks` lists the
 * kind's cross-field checks as data. Sluice adds `shorthand_fields` (input-only fields such as a
 * service's `url`) in the same array form.
 */
import { ENTITIES, type EntitySchema, type FieldSpec, isEntityKind } from '@sluice/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ConfigOperations } from './config-operations.js';
import { registerEndpoint } from './endpoint.js';
import { inferFormArguments } from './form-arguments.js';
import { bodyOf } from './request-body.js';

/** A JSON value as the schema endpoints emit it. */
export type KongJson = string | number | boolean | null | readonly KongJson[] | { readonly [key: string]: KongJson };

/** One field in Kong's JSON form. */
export type KongFieldJson = { readonly type: string; readonly [attribute: string]: KongJson };

/** A schema in Kong's JSON form. */
export interface KongSchemaJson {
  fields: { [name: string]: KongFieldJson }[];
  entity_checks?: KongJson[];
  shorthand_fields?: { [name: string]: KongFieldJson }[];
}

/** Options of {@link schemaToKongJson}: what the schema itself does not say. */
export interface SchemaJsonOptions {
  /** Fields whose values are unique across the kind (`unique: true`). */
  uniqueFields?: readonly string[];
  /** Fields filled in by the server (Kong's `auto`): default `id`, `created_at`, `updated_at`. */
  autoFields?: readonly string[];
}

const DEFAULT_AUTO_FIELDS = ['id', 'created_at', 'updated_at'] as const;
const TIMESTAMP_FIELDS: ReadonlySet<string> = new Set(['created_at', 'updated_at']);

/** A plain JSON copy of a value (drops functions and undefined). */
function jsonOf(value: unknown): KongJson {
  return JSON.parse(JSON.stringify(value ?? null)) as KongJson;
}

/** One field spec in Kong's JSON form; nested elements, keys, values and record fields included. */
export function fieldToKongJson(spec: FieldSpec): KongFieldJson {
  const out: { type: string; [attribute: string]: KongJson } = { type: spec.type };
  if (spec.required) out.required = true;
  if (spec.default !== undefined) out.default = jsonOf(spec.default);
  if (spec.mustBeNull !== undefined) out.eq = null;
  switch (spec.type) {
    case 'string':
      if (spec.oneOf) out.one_of = [...spec.oneOf];
      if (spec.uuid) out.uuid = true;
      break;
    case 'integer':
      if (spec.oneOf) out.one_of = [...spec.oneOf];
      if (spec.between) out.between = [...spec.between];
      break;
    case 'array':
    case 'set':
      out.elements = fieldToKongJson(spec.elements);
      if (spec.lenMin !== undefined) out.len_min = spec.lenMin;
      break;
    case 'map':
      out.keys = fieldToKongJson(spec.keys);
      out.values = fieldToKongJson(spec.values);
      break;
    case 'foreign':
      out.reference = spec.reference;
      if (spec.onDelete !== undefined) out.on_delete = spec.onDelete;
      break;
    case 'record':
      if (spec.fields === null) out.abstract = true;
      else out.fields = Object.entries(spec.fields).map(([name, field]) => ({ [name]: fieldToKongJson(field) }));
      break;
    case 'boolean':
      break;
  }
  return out;
}

/**
 * A schema in Kong's JSON form (see the module comment). Takes any `fields` map, so a plugin's
 * config schema (a record's fields) converts the same way as an entity's.
 */
export function schemaToKongJson(
  schema: Pick<EntitySchema, 'fields'> & Partial<Pick<EntitySchema, 'shorthands' | 'entityChecks'>>,
  options: SchemaJsonOptions = {},
): KongSchemaJson {
  const unique = new Set(options.uniqueFields ?? []);
  const auto = new Set(options.autoFields ?? DEFAULT_AUTO_FIELDS);
  const fields = Object.entries(schema.fields).map(([name, spec]) => {
    const json: { type: string; [attribute: string]: KongJson } = { ...fieldToKongJson(spec) };
    if (auto.has(name)) json.auto = true;
    if (auto.has(name) && TIMESTAMP_FIELDS.has(name)) json.timestamp = true;
    if (unique.has(name)) json.unique = true;
    return { [name]: json };
  });
  const out: KongSchemaJson = { fields, entity_checks: (schema.entityChecks ?? []).map(jsonOf) };
  const shorthands = Object.entries(schema.shorthands ?? {});
  if (shorthands.length > 0) out.shorthand_fields = shorthands.map(([name, spec]) => ({ [name]: fieldToKongJson(spec) }));
  return out;
}

/** `GET /schemas/{entity}` of a registered kind, or null. */
export function entitySchemaJson(kind: string): KongSchemaJson | null {
  if (!isEntityKind(kind)) return null;
  const def = ENTITIES[kind];
  return schemaToKongJson(def.schema, { uniqueFields: def.uniqueFields });
}

/** Kong's 404 body for a schema name that is not a kind. */
function noEntity(name: string): { message: string } {
  return { message: `No entity named '${name}'` };
}

/** Registers `/schemas/:entity` and `/schemas/:entity/validate`. */
export function registerSchemaEndpoints(app: FastifyInstance, ops: ConfigOperations): void {
  const nameOf = (request: FastifyRequest) => (request.params as { entity: string }).entity;

  registerEndpoint(app, '/schemas/:entity', {
    GET: async (request, reply) => {
      const name = nameOf(request);
      const json = entitySchemaJson(name);
      return json === null ? reply.code(404).send(noEntity(name)) : json;
    },
  });

  registerEndpoint(app, '/schemas/:entity/validate', {
    POST: async (request, reply) => {
      const name = nameOf(request);
      if (!isEntityKind(name)) return reply.code(404).send(noEntity(name));
      const def = ENTITIES[name];
      const body = bodyOf(request.body);
      const input = body.kind === 'json' ? body.value : inferFormArguments(body.args, def.schema);
      ops.validate(name, input);
      return { message: 'schema validation successful' };
    },
  });
}
