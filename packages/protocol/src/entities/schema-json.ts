/**
 * Schemas in Kong's JSON format (`kong/api/api_helpers.lua schema_to_jsonable`), the body of the
 * Admin API's `GET /schemas/{entity}` and `GET /schemas/plugins/{name}`, from which forms are
 * built: `{"fields": [{"<name>": {...}}, ...], "entity_checks": [...]}`, each field with Kong's
 * attribute names (`required`, `default`, `one_of`, `between`, `len_min`, `elements`, `fields`,
 * `shorthand_fields`, …). Custom validators are code and are left out, as Kong leaves out functions;
 * a foreign field carries its `reference`, never the referenced schema.
 */
import type { EntityCheck } from './entity-checks.js';
import type { EntitySchema, FieldSpec, RecordFieldSpec } from './field-spec.js';

/** A JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A schema in Kong's JSON format. */
export interface JsonSchemaDocument {
  fields: { [name: string]: JsonValue }[];
  entity_checks: JsonValue[];
  /** Input-only fields (Kong's shorthand fields, e.g. a service's `url`), when the schema has any. */
  shorthand_fields?: { [name: string]: JsonValue }[];
}

function json(value: unknown): JsonValue {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as JsonValue);
}

/** One field in Kong's JSON shape. */
export function fieldToJson(spec: FieldSpec): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = { type: spec.type };
  if (spec.type === 'record' && spec.fields === null) out.abstract = true;
  if (spec.required !== undefined) out.required = spec.required;
  if (spec.default !== undefined) out.default = json(spec.default);
  if (spec.mustBeNull !== undefined) out.eq = null;
  switch (spec.type) {
    case 'string':
      if (spec.oneOf) out.one_of = [...spec.oneOf];
      if (spec.uuid) out.uuid = true;
      if (spec.lenMin !== undefined) out.len_min = spec.lenMin;
      if (spec.lenMax !== undefined) out.len_max = spec.lenMax;
      if (spec.startsWith !== undefined) out.starts_with = spec.startsWith;
      if (spec.matchNone) out.match_none = spec.matchNone.map((r) => ({ pattern: r.pattern.source, err: r.err }));
      if (spec.match) out.match = spec.match.source;
      break;
    case 'integer':
    case 'number':
      if (spec.oneOf) out.one_of = [...spec.oneOf];
      if (spec.gt !== undefined) out.gt = spec.gt;
      if (spec.between) out.between = [...spec.between];
      break;
    case 'array':
    case 'set':
      out.elements = fieldToJson(spec.elements);
      if (spec.lenMin !== undefined) out.len_min = spec.lenMin;
      if (spec.lenMax !== undefined) out.len_max = spec.lenMax;
      break;
    case 'map':
      out.keys = fieldToJson(spec.keys);
      out.values = fieldToJson(spec.values);
      break;
    case 'foreign':
      out.reference = spec.reference;
      if (spec.onDelete !== undefined) out.on_delete = spec.onDelete;
      break;
    case 'record':
      if (spec.fields !== null) out.fields = fieldsToJson(spec.fields);
      if (spec.shorthands) out.shorthand_fields = shorthandsToJson(spec);
      break;
    case 'boolean':
      break;
  }
  if (spec.description !== undefined) out.description = spec.description;
  return out;
}

function shorthandsToJson(spec: RecordFieldSpec): { [name: string]: JsonValue }[] {
  return Object.entries(spec.shorthands ?? {}).map(([name, s]) => ({
    [name]: {
      ...fieldToJson(s.spec),
      deprecation: {
        message: s.deprecation.message,
        removal_in_version: s.deprecation.removalInVersion,
        replaced_with: [{ path: [...s.path] }],
      },
    },
  }));
}

const TIMESTAMP_FIELDS: readonly string[] = ['created_at', 'updated_at'];

/** Fields as Kong's array of single-key objects, in schema order. */
export function fieldsToJson(fields: Readonly<Record<string, FieldSpec>>): { [name: string]: JsonValue }[] {
  return Object.entries(fields).map(([name, spec]) => ({ [name]: fieldToJson(spec) }));
}

/**
 * An entity schema (`GET /schemas/{entity}`): its fields (id and timestamps marked `auto`, the
 * `uniqueFields` marked `unique`, as Kong's forms read them) and entity checks.
 */
export function entitySchemaToJson(schema: EntitySchema, uniqueFields: readonly string[] = []): JsonSchemaDocument {
  const fields = fieldsToJson(schema.fields).map((entry) => {
    const [name] = Object.keys(entry) as [string];
    const field = entry[name] as { [key: string]: JsonValue };
    if (name === 'id') return { [name]: { ...field, auto: true } };
    if (TIMESTAMP_FIELDS.includes(name)) return { [name]: { ...field, timestamp: true, auto: true } };
    if (uniqueFields.includes(name)) return { [name]: { ...field, unique: true } };
    return entry;
  });
  const doc: JsonSchemaDocument = { fields, entity_checks: [...entityChecksToJson(schema.entityChecks ?? []), ...(schema.describedChecks ?? []).map(json)] };
  // Input-only fields (a service's `url`), in the same array form: forms offer them on create.
  const shorthands = fieldsToJson(schema.shorthands);
  return shorthands.length === 0 ? doc : { ...doc, shorthand_fields: shorthands };
}

/** Entity checks as Kong writes them. */
export function entityChecksToJson(checks: readonly EntityCheck[]): JsonValue[] {
  return checks.map((c) => json(c));
}
