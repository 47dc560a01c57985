/**
 * The write pipeline shared by every entity, modelled on Kong's DAO `check_insert` /
 * `check_upsert` / `check_update`: pick the subschema (a plugin's, by `name`), expand shorthands
 * (nested records' deprecated ones included), merge (PATCH: records field by field, Kong's
 * `merge_values`) or fill defaults (nested records' too), deduplicate sets, validate every field,
 * then run the entity's cross-field checks. Pure: no I/O, no clock, no
 * randomness (the caller passes `now` and the id to use).
 *
 * Input is hostile: only its own properties are read, and no working object (the copy of the
 * input, the merged entity, the error tree) inherits anything (no prototype, or for the copies an
 * empty one without any: `workingRecord`), so a key such as `__proto__`, `constructor` or
 * `toString` is an ordinary unknown field and never reaches `Object.prototype`.
 *
 * Each schema's field lists and compiled validators are worked out once (`schema-plan.ts`,
 * `field-validation.ts`); `test/validation-corpus.test.ts` holds the pipeline to Kong's results byte for byte.
 */
import { runEntityChecks } from './entity-checks.js';
import { type FieldErrors, VALIDATION_MESSAGES, hasErrors } from './field-errors.js';
import { type EntitySchema, isPlainObject } from './field-spec.js';
import { fieldValidator } from './field-validation.js';
import { bare, clone, expandRecordShorthands, mergeValues, workingRecord } from './record-values.js';
import { isUuid } from './field-validators.js';
import { AUTO_FIELDS, isAutoField, schemaPlan } from './schema-plan.js';

/** How a write treats the input: create (POST), replace (PUT, an upsert), or merge (PATCH). */
export const WRITE_MODES = ['create', 'replace', 'update'] as const;
export type WriteMode = (typeof WRITE_MODES)[number];

/** The outcome of preparing an entity for a write. */
export type PrepareResult<T> = { ok: true; entity: T } | { ok: false; errors: FieldErrors };

/** Options of a write. */
export interface PrepareOptions<T> {
  mode: WriteMode;
  /** The stored entity: required for `update`; for `replace`, the one being replaced (if any). */
  existing?: T | null;
  /** The write time, integer seconds since the epoch. */
  now: number;
  /** The id to give a new entity when the input has none (e.g. `crypto.randomUUID()`). */
  newId: string;
}

/** Entity-specific steps plugged into {@link prepareEntity}. */
export interface EntityHooks {
  /** Expands shorthand fields of `data` in place; errors go to `errors`. */
  expandShorthands?(data: Record<string, unknown>, errors: FieldErrors): void;
  /** Runs before field validation; a non-null result stops validation (a route's protocols, which pick its checks). */
  precheck?(data: Record<string, unknown>): FieldErrors | null;
  /** Cross-field checks run after field validation (Kong's `entity_checks`). */
  entityChecks?(data: Record<string, unknown>, errors: FieldErrors): void;
}

/** The auto fields' own checks, run on the input before the merge. */
const validateId = fieldValidator({ type: 'string', uuid: true });
const validateCreatedAt = fieldValidator({ type: 'integer', between: [0, Number.MAX_SAFE_INTEGER] });
const validateUpdatedAt = fieldValidator({ type: 'integer' });

/**
 * Picks the subschema named by the entity's subschema key (Kong's `get_subschema`); a PATCH
 * without the key uses the stored entity's. Only the key's error comes back when it names none.
 */
function selectSchema(schema: EntitySchema, data: Record<string, unknown>, existing: object | null): { schema: EntitySchema } | { errors: FieldErrors } {
  const sub = schema.subschemas;
  if (sub === undefined) return { schema };
  const value = Object.hasOwn(data, sub.key) ? data[sub.key] : (existing as Record<string, unknown> | null)?.[sub.key];
  const fail = (message: string) => ({ errors: Object.assign(bare(), { [sub.key]: message }) as FieldErrors });
  if (value === null || value === undefined) return fail(VALIDATION_MESSAGES.required);
  if (typeof value !== 'string') return fail(VALIDATION_MESSAGES.string);
  const chosen = sub.schemas.get(value);
  return chosen === undefined ? fail(sub.error(value)) : { schema: chosen };
}

/** Prepares an entity for a write; see the module comment. */
export function prepareEntity<T extends object>(
  baseSchema: EntitySchema,
  hooks: EntityHooks,
  input: unknown,
  options: PrepareOptions<T>,
): PrepareResult<T> {
  if (!isPlainObject(input)) return { ok: false, errors: { '@entity': [VALIDATION_MESSAGES.record] } };
  const errors = bare() as FieldErrors;
  const data = workingRecord();
  for (const k of Object.keys(input)) data[k] = clone(input[k]);
  const existing = options.existing ?? null;

  const selected = selectSchema(baseSchema, data, options.mode === 'update' ? existing : null);
  if ('errors' in selected) return { ok: false, errors: selected.errors };
  const schema = selected.schema;
  const plan = schemaPlan(schema);

  for (const [name, validate] of plan.shorthands) {
    if (!Object.hasOwn(data, name)) continue;
    const err = validate(data[name]);
    if (err !== null) {
      errors[name] = err;
      delete data[name];
    }
  }
  if (!hasErrors(errors)) hooks.expandShorthands?.(data, errors);
  for (const [name] of plan.shorthands) delete data[name];
  if (plan.hasRecordShorthands) {
    const shorthandErrors = bare() as FieldErrors;
    expandRecordShorthands(schema.fields, data, shorthandErrors);
    if (hasErrors(shorthandErrors)) return { ok: false, errors: Object.assign(errors, shorthandErrors) };
  }

  const idErr = data.id === undefined ? null : validateId(data.id);
  if (idErr !== null) errors.id = idErr;
  const createdErr = data.created_at === undefined ? null : validateCreatedAt(data.created_at);
  if (createdErr !== null) errors.created_at = createdErr;
  const updatedErr = data.updated_at === undefined ? null : validateUpdatedAt(data.updated_at);
  if (updatedErr !== null) errors.updated_at = updatedErr;

  let merged: Record<string, unknown>;
  if (options.mode === 'update') {
    if (existing === null) throw new TypeError('prepareEntity: update needs the existing entity');
    merged = mergeValues(schema.fields, data, clone(existing) as Record<string, unknown>);
    merged.id = (existing as Record<string, unknown>).id;
    merged.created_at = (existing as Record<string, unknown>).created_at;
  } else {
    const givenId = typeof data.id === 'string' && isUuid(data.id) ? data.id.toLowerCase() : undefined;
    const createdAt =
      typeof data.created_at === 'number' && createdErr === null ? data.created_at : ((existing as Record<string, unknown> | null)?.created_at ?? options.now);
    // The input's copy is the merged entity (its keys in its order): nothing reads it as input from here on.
    merged = data;
    merged.id = givenId ?? (existing as Record<string, unknown> | null)?.id ?? options.newId;
    merged.created_at = createdAt;
  }
  merged.updated_at = options.now;

  for (const [name, normalize] of plan.ownFields) {
    const value = normalize(merged[name]);
    if (value !== undefined) merged[name] = value;
  }

  const pre = hooks.precheck?.(merged);
  if (pre) return { ok: false, errors: Object.assign(errors, pre) };

  for (const name of Object.keys(merged)) {
    if (isAutoField(name)) continue;
    const validate = plan.validators.get(name);
    if (validate === undefined) {
      errors[name] = VALIDATION_MESSAGES.unknown;
      continue;
    }
    const err = validate(merged[name]);
    if (err !== null) errors[name] = err;
  }
  for (const name of plan.required) {
    if (merged[name] === null || merged[name] === undefined) errors[name] = VALIDATION_MESSAGES.required;
  }
  hooks.entityChecks?.(merged, errors);
  if (schema.entityChecks) runEntityChecks(schema.entityChecks, merged, errors, options.mode === 'update');
  if (hasErrors(errors)) return { ok: false, errors };

  const entity: Record<string, unknown> = {};
  for (const name of plan.fieldNames) {
    const value = merged[name];
    entity[name] = value === undefined ? null : value;
  }
  for (const name of AUTO_FIELDS) entity[name] = merged[name];
  return { ok: true, entity: entity as T };
}

/** The schema an entity is validated with: its subschema when the schema has them (a plugin's, by `name`). */
export function schemaFor(schema: EntitySchema, entity: object): EntitySchema {
  const sub = schema.subschemas;
  if (sub === undefined) return schema;
  const key = (entity as Record<string, unknown>)[sub.key];
  return (typeof key === 'string' ? sub.schemas.get(key) : undefined) ?? schema;
}
