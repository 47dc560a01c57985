/**
 * What the write pipeline (`prepare-entity.ts`) needs of a schema, worked out once per schema
 * instead of once per write: its field lists in schema order, each field's compiled validator, and
 * whether any nested record has deprecated shorthands to expand (most schemas have none, and the
 * expansion walked every field of every entity to find that out). Schemas are constants, never
 * mutated once built, so a plan stays true for as long as its schema lives.
 */
import { compiledOnce } from './compiled-once.js';
import type { EntitySchema, FieldSpec } from './field-spec.js';
import { type FieldValidator, fieldValidator } from './field-validation.js';
import { type FieldNormalizer, fieldNormalizer } from './record-values.js';

/** The fields every entity has, which the pipeline fills itself (never defaulted or validated as fields). */
export const AUTO_FIELDS = ['id', 'created_at', 'updated_at'] as const;

const AUTO_FIELD_NAMES: ReadonlySet<string> = new Set(AUTO_FIELDS);

/** True for one of {@link AUTO_FIELDS}. */
export function isAutoField(name: string): boolean {
  return AUTO_FIELD_NAMES.has(name);
}

/** One schema's plan; see the module comment. */
export interface SchemaPlan {
  /** The top-level shorthands (a service's `url`) with their validators, in schema order. */
  readonly shorthands: readonly (readonly [string, FieldValidator])[];
  /** Whether a record field, at any depth of records, has deprecated shorthands (`expandRecordShorthands` has work). */
  readonly hasRecordShorthands: boolean;
  /** Every field name, in schema order. */
  readonly fieldNames: readonly string[];
  /** The fields other than {@link AUTO_FIELDS} with their normalizers ({@link FieldNormalizer}), in schema order: the ones defaults fill. */
  readonly ownFields: readonly (readonly [string, FieldNormalizer])[];
  /** Each field's validator, by name: exactly the schema's own fields (`fieldSpecOf`). */
  readonly validators: ReadonlyMap<string, FieldValidator>;
  /** The required fields' names, in schema order. */
  readonly required: readonly string[];
}

/** The plan of `schema` (worked out on first use, then the same object). */
export const schemaPlan: (schema: EntitySchema) => SchemaPlan = compiledOnce(planOf);

function planOf(schema: EntitySchema): SchemaPlan {
  const entries = Object.entries(schema.fields);
  const validators = new Map<string, FieldValidator>();
  for (const [name, spec] of entries) validators.set(name, fieldValidator(spec));
  return Object.freeze({
    shorthands: Object.entries(schema.shorthands).map(([name, spec]) => [name, fieldValidator(spec)] as const),
    hasRecordShorthands: hasRecordShorthands(schema.fields),
    fieldNames: entries.map(([name]) => name),
    ownFields: entries.filter(([name]) => !isAutoField(name)).map(([name, spec]) => [name, fieldNormalizer(spec)] as const),
    validators,
    required: entries.filter(([, spec]) => spec.required).map(([name]) => name),
  });
}

/** Whether a record among `fields`, or among its records' fields, declares shorthands (what `expandRecordShorthands` visits). */
function hasRecordShorthands(fields: Readonly<Record<string, FieldSpec>>): boolean {
  for (const spec of Object.values(fields)) {
    if (spec.type !== 'record' || spec.fields === null) continue;
    if (Object.keys(spec.shorthands ?? {}).length > 0 || hasRecordShorthands(spec.fields)) return true;
  }
  return false;
}
