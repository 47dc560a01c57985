/**
 * A declarative description of an entity's fields, the subset of Kong's schema language
 * (`kong/db/schema/init.lua`) that services and routes use, and the field validator that
 * interprets it with Kong's messages and order of checks.
 */
import { type FieldError, VALIDATION_MESSAGES } from './field-errors.js';
import type { EntityCheck } from './entity-check.js';
import { isUuid, validateUtf8String } from './field-validators.js';

interface FieldSpecBase {
  /** `null` (or, on create, absence) is refused with `required field missing`. */
  required?: boolean;
  /** Filled in on create/replace when the field is absent. */
  default?: unknown;
  /**
   * An explicit `null` is replaced by the default. Kong stores `null` for these optional fields;
   * Sluice's entity types keep them non-null, so `null` means "reset to the default".
   */
  nullMeansDefault?: boolean;
  /** The field must stay `null`; any other value is refused with this message (Kong's `eq = null` + `err`). */
  mustBeNull?: string;
}

/**
 * A string field; strings are never empty (`length must be at least 1`) and always valid UTF-8
 * (`invalid utf-8 character sequence detected at position N`, checked before `check`).
 */
export interface StringFieldSpec extends FieldSpecBase {
  type: 'string';
  oneOf?: readonly string[];
  uuid?: boolean;
  /** The typedef's custom validator: the error message, or `null`. */
  check?: (value: string) => string | null;
}

/** An integer field (a JSON number without a fractional part). */
export interface IntegerFieldSpec extends FieldSpecBase {
  type: 'integer';
  oneOf?: readonly number[];
  between?: readonly [number, number];
}

export interface BooleanFieldSpec extends FieldSpecBase {
  type: 'boolean';
}

/** An array, or a set (an array whose duplicates are removed before validation). */
export interface ListFieldSpec extends FieldSpecBase {
  type: 'array' | 'set';
  elements: StringFieldSpec;
  lenMin?: number;
}

/** A map from a validated string key to a list of strings (route `headers`). */
export interface MapFieldSpec extends FieldSpecBase {
  type: 'map';
  keys: StringFieldSpec;
  values: ListFieldSpec;
}

/**
 * What deleting a referenced entity does to the entities that reference it (Kong's `on_delete`):
 * `restrict` refuses the delete with Kong's `@referenced_by` error (Kong's default, through the
 * database's foreign key), `cascade` deletes them in the same write.
 */
export const ON_DELETE = ['restrict', 'cascade'] as const;
export type OnDelete = (typeof ON_DELETE)[number];

/** A reference to another entity, written `{"id": "<uuid>"}`. */
export interface ForeignFieldSpec extends FieldSpecBase {
  type: 'foreign';
  /** The referenced kind's collection name (a kind Sluice may not have yet, e.g. `certificates`). */
  reference: string;
  /** Default `restrict`. */
  onDelete?: OnDelete;
}

/**
 * A nested record (Kong's `type = "record"`): a JSON object with its own fields. `fields: null`
 * is Kong's `abstract = true`: the entity's hooks validate it (a plugin's `config`, whose fields
 * come from the plugin named by the entity).
 */
export interface RecordFieldSpec extends FieldSpecBase {
  type: 'record';
  fields: Readonly<Record<string, FieldSpec>> | null;
}

/** One field of an entity schema. */
export type FieldSpec = StringFieldSpec | IntegerFieldSpec | BooleanFieldSpec | ListFieldSpec | MapFieldSpec | ForeignFieldSpec | RecordFieldSpec;

/**
 * An entity's fields in Kong's schema order (the order responses list them in). Look fields up
 * with {@link fieldSpecOf} / {@link shorthandSpecOf}, never `fields[name]`: a name from a request
 * (`constructor`, `__proto__`) would otherwise find `Object.prototype`'s members.
 */
export interface EntitySchema {
  /** The Admin API collection name. */
  name: string;
  fields: Readonly<Record<string, FieldSpec>>;
  /** Shorthand fields accepted on input and expanded before validation (never stored). */
  shorthands: Readonly<Record<string, StringFieldSpec>>;
  /** The entity checks the kind's hooks enforce, as Kong writes them (descriptive; default none). */
  entityChecks?: readonly EntityCheck[];
}

/** The schema's own field called `name`, or `undefined` (inherited members are not fields). */
export function fieldSpecOf(schema: EntitySchema, name: string): FieldSpec | undefined {
  return Object.hasOwn(schema.fields, name) ? schema.fields[name] : undefined;
}

/** The schema's own shorthand called `name`, or `undefined`. */
export function shorthandSpecOf(schema: EntitySchema, name: string): StringFieldSpec | undefined {
  return Object.hasOwn(schema.shorthands, name) ? schema.shorthands[name] : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when the value is "non-empty" in Kong's sense (`is_nonempty`). */
export function isNonEmpty(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  return true;
}

/** Removes duplicate elements of a set, keeping the first occurrence (Kong's `make_set`). */
export function dedupeSet(values: unknown[]): unknown[] {
  const seen = new Set<unknown>();
  const out: unknown[] = [];
  for (const v of values) {
    const key = typeof v === 'object' && v !== null ? JSON.stringify(v) : v;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(v);
  }
  return out;
}

function validateString(spec: StringFieldSpec, value: unknown): FieldError | null {
  if (typeof value !== 'string') return VALIDATION_MESSAGES.string;
  if (spec.oneOf && !spec.oneOf.includes(value)) return `expected one of: ${spec.oneOf.join(', ')}`;
  if (spec.uuid && !isUuid(value)) return VALIDATION_MESSAGES.uuid;
  if (value.length < 1) return 'length must be at least 1';
  const utf8 = validateUtf8String(value);
  if (utf8 !== null) return utf8;
  return spec.check ? spec.check(value) : null;
}

function validateList(spec: ListFieldSpec, value: unknown): FieldError | null {
  if (!Array.isArray(value)) return spec.type === 'set' ? VALIDATION_MESSAGES.set : VALIDATION_MESSAGES.array;
  const elementSpec: StringFieldSpec = { ...spec.elements, required: true };
  const errors: (FieldError | null)[] = [];
  let failed = false;
  value.forEach((element, i) => {
    const err = validateField(elementSpec, element);
    if (err !== null) {
      errors[i] = err;
      failed = true;
    }
  });
  if (failed) return Array.from(errors, (e) => e ?? null);
  if (spec.lenMin !== undefined && value.length < spec.lenMin) return `length must be at least ${spec.lenMin}`;
  return null;
}

function validateMap(spec: MapFieldSpec, value: unknown): FieldError | null {
  if (!isPlainObject(value)) return VALIDATION_MESSAGES.map;
  const keySpec: StringFieldSpec = { ...spec.keys, required: true };
  const valueSpec: ListFieldSpec = { ...spec.values, required: true };
  for (const [k, v] of Object.entries(value)) {
    const keyErr = validateField(keySpec, k);
    if (keyErr !== null) return keyErr;
    const valueErr = validateField(valueSpec, v);
    if (valueErr !== null) return valueErr;
  }
  return null;
}

function validateRecord(spec: RecordFieldSpec, value: unknown): FieldError | null {
  if (!isPlainObject(value)) return VALIDATION_MESSAGES.record;
  if (spec.fields === null) return null;
  const errors: Record<string, FieldError> = Object.create(null) as Record<string, FieldError>;
  let failed = false;
  for (const [name, v] of Object.entries(value)) {
    const fieldSpec = Object.hasOwn(spec.fields, name) ? spec.fields[name] : undefined;
    const err = fieldSpec === undefined ? VALIDATION_MESSAGES.unknown : validateField(fieldSpec, v);
    if (err !== null) {
      errors[name] = err;
      failed = true;
    }
  }
  for (const [name, fieldSpec] of Object.entries(spec.fields)) {
    if (fieldSpec.required && (value[name] === null || value[name] === undefined) && errors[name] === undefined) {
      errors[name] = VALIDATION_MESSAGES.required;
      failed = true;
    }
  }
  return failed ? errors : null;
}

/** Validates a foreign key value: an object whose `id` is a UUID; other keys are ignored. */
function validateForeign(value: unknown): FieldError | null {
  const id = isPlainObject(value) ? value.id : undefined;
  if (id === undefined) return { id: VALIDATION_MESSAGES.missingPrimaryKey };
  if (id === null) return { id: VALIDATION_MESSAGES.required };
  if (typeof id !== 'string') return { id: VALIDATION_MESSAGES.string };
  if (!isUuid(id)) return { id: VALIDATION_MESSAGES.uuid };
  return null;
}

/**
 * Validates one field value as Kong's `Schema:validate_field` does: `null` (refused only when
 * required), then the type, then the elements of a list, then the validators in Kong's order.
 * Returns the error, or `null` when the value is valid.
 */
export function validateField(spec: FieldSpec, value: unknown): FieldError | null {
  if (value === null || value === undefined) return spec.required ? VALIDATION_MESSAGES.required : null;
  if (spec.mustBeNull !== undefined) return spec.mustBeNull;
  switch (spec.type) {
    case 'string':
      return validateString(spec, value);
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return VALIDATION_MESSAGES.integer;
      if (spec.oneOf && !spec.oneOf.includes(value)) return `expected one of: ${spec.oneOf.join(', ')}`;
      if (spec.between && (value < spec.between[0] || value > spec.between[1])) {
        return `value should be between ${spec.between[0]} and ${spec.between[1]}`;
      }
      return null;
    case 'boolean':
      return typeof value === 'boolean' ? null : VALIDATION_MESSAGES.boolean;
    case 'array':
    case 'set':
      return validateList(spec, value);
    case 'map':
      return validateMap(spec, value);
    case 'foreign':
      return validateForeign(value);
    case 'record':
      return validateRecord(spec, value);
  }
}
