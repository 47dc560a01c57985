/**
 * A declarative description of an entity's fields, the subset of Kong's schema language
 * (`kong/db/schema/init.lua`) that services and routes use, and the field validator that
 * interprets it with Kong's messages and order of checks.
 */
import { type FieldError, VALIDATION_MESSAGES } from './field-errors.js';
import type { EntityCheck } from './entity-checks.js';
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
  /** What the field is, for people (the Admin API's schema endpoints and the forms built from them). */
  description?: string;
}

/** A `match_none` rule: a value matching `pattern` is refused with `err`. */
export interface PatternRule {
  readonly pattern: RegExp;
  readonly err: string;
}

/**
 * A string field; strings are never empty unless `lenMin` says so (`length must be at least 1`)
 * and always valid UTF-8 (`invalid utf-8 character sequence detected at position N`, checked
 * before `check`). Validators run in Kong's order: `oneOf`, `uuid`, `lenMin`, `lenMax`,
 * `startsWith`, `matchNone`, `match`, then `check`.
 */
export interface StringFieldSpec extends FieldSpecBase {
  type: 'string';
  oneOf?: readonly string[];
  uuid?: boolean;
  /** Shortest length in characters; default 1 (Kong's default for every string). */
  lenMin?: number;
  lenMax?: number;
  /** `should start with: <prefix>`. */
  startsWith?: string;
  /** Kong's `match_none`: the first matching rule's `err`. */
  matchNone?: readonly PatternRule[];
  /** Kong's `match`: a value that does not match is `invalid value: <v>`. */
  match?: RegExp;
  /** The typedef's custom validator: the error message, or `null`. */
  check?: (value: string) => string | null;
}

/** An integer field (a JSON number without a fractional part). */
export interface IntegerFieldSpec extends FieldSpecBase {
  type: 'integer';
  oneOf?: readonly number[];
  /** `value must be greater than <gt>`. */
  gt?: number;
  between?: readonly [number, number];
}

/** A number field (Kong's `number`: any JSON number, fractions included). */
export interface NumberFieldSpec extends FieldSpecBase {
  type: 'number';
  oneOf?: readonly number[];
  /** `value must be greater than <gt>`. */
  gt?: number;
  between?: readonly [number, number];
}

export interface BooleanFieldSpec extends FieldSpecBase {
  type: 'boolean';
}

/**
 * An array, or a set (an array whose duplicates are removed before validation). Elements are
 * any field spec (strings, numbers, integers, booleans, records), always required.
 */
export interface ListFieldSpec extends FieldSpecBase {
  type: 'array' | 'set';
  elements: FieldSpec;
  lenMin?: number;
  lenMax?: number;
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
 * A deprecated alias of a nested field (Kong's `shorthand_fields` with `deprecation.replaced_with`):
 * accepted on input and moved to `path` inside the record, refused when both are given with
 * different values, never stored, and echoed on reads (Kong echoes deprecated shorthands).
 */
export interface ShorthandFieldSpec {
  /** The shorthand's own type and checks (validated before it is moved). */
  readonly spec: FieldSpec;
  /** Where its value goes, relative to the record (`['redis', 'host']`). */
  readonly path: readonly string[];
  readonly deprecation: { readonly message: string; readonly removalInVersion: string };
}

/**
 * A nested record (Kong's `type = "record"`): a JSON object with its own fields. `fields: null`
 * is Kong's `abstract = true`: a subschema supplies the fields (a plugin's `config`, whose fields
 * come from the plugin named by the entity). A required record that is absent is produced whole
 * from its fields' defaults (Kong makes records of entities required, so an omitted `config` is
 * every default).
 */
export interface RecordFieldSpec extends FieldSpecBase {
  type: 'record';
  fields: Readonly<Record<string, FieldSpec>> | null;
  /** Deprecated aliases of nested fields, by name. */
  shorthands?: Readonly<Record<string, ShorthandFieldSpec>>;
  /** Kong's `custom_validator` on the record: runs when its fields are valid; the message is the record's error. */
  customValidator?: (value: Readonly<Record<string, unknown>>) => string | null;
}

/** One field of an entity schema. */
export type FieldSpec =
  | StringFieldSpec
  | IntegerFieldSpec
  | NumberFieldSpec
  | BooleanFieldSpec
  | ListFieldSpec
  | MapFieldSpec
  | ForeignFieldSpec
  | RecordFieldSpec;

/**
 * Kong's subschemas (`subschema_key`): the value of `key` picks the schema an entity is validated
 * with (a plugin's `name` picks its config fields). Each schema in `schemas` is complete (the
 * parent's fields with the subschema's overrides, and both sets of entity checks).
 */
export interface Subschemas {
  readonly key: string;
  readonly schemas: ReadonlyMap<string, EntitySchema>;
  /** The error for a value with no subschema (Kong's `subschema_error`). */
  error(value: string): string;
}

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
  /** Cross-field checks as data, run after field validation (see `entity-checks.ts`). */
  entityChecks?: readonly EntityCheck[];
  /**
   * Checks the kind's hooks enforce in code (Kong's messages and order need it), described in
   * Kong's schema language for `GET /schemas/{entity}` only, so forms (Kong Manager, the Sluice UI)
   * can tell a user beforehand. Never run.
   */
  describedChecks?: readonly Readonly<Record<string, unknown>>[];
  subschemas?: Subschemas;
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
  const lenMin = spec.lenMin ?? 1;
  if (value.length < lenMin) return `length must be at least ${lenMin}`;
  if (spec.lenMax !== undefined && value.length > spec.lenMax) return `length must be at most ${spec.lenMax}`;
  if (spec.startsWith !== undefined && !value.startsWith(spec.startsWith)) return `should start with: ${spec.startsWith}`;
  for (const rule of spec.matchNone ?? []) if (rule.pattern.test(value)) return rule.err;
  if (spec.match && !spec.match.test(value)) return `invalid value: ${value}`;
  const utf8 = validateUtf8String(value);
  if (utf8 !== null) return utf8;
  return spec.check ? spec.check(value) : null;
}

/** Kong's number validators in order: `one_of`, `gt`, `between`. */
function validateNumber(spec: IntegerFieldSpec | NumberFieldSpec, value: number): FieldError | null {
  if (spec.oneOf && !spec.oneOf.includes(value)) return `expected one of: ${spec.oneOf.join(', ')}`;
  if (spec.gt !== undefined && !(value > spec.gt)) return `value must be greater than ${spec.gt}`;
  if (spec.between && (value < spec.between[0] || value > spec.between[1])) {
    return `value should be between ${spec.between[0]} and ${spec.between[1]}`;
  }
  return null;
}

function validateList(spec: ListFieldSpec, value: unknown): FieldError | null {
  if (!Array.isArray(value)) return spec.type === 'set' ? VALIDATION_MESSAGES.set : VALIDATION_MESSAGES.array;
  const elementSpec = { ...spec.elements, required: true } as FieldSpec;
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
  if (spec.lenMax !== undefined && value.length > spec.lenMax) return `length must be at most ${spec.lenMax}`;
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

/**
 * A record's fields (unknown ones refused, required ones present), then, when they are valid,
 * the record's custom validator. Nested errors come back as an object keyed by field name.
 */
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
  if (failed) return errors;
  return spec.customValidator ? spec.customValidator(value) : null;
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
 * required), then the type, then the elements of a list or the fields of a record, then the
 * validators in Kong's order. Returns the error, or `null` when the value is valid.
 */
export function validateField(spec: FieldSpec, value: unknown): FieldError | null {
  if (value === null || value === undefined) return spec.required ? VALIDATION_MESSAGES.required : null;
  if (spec.mustBeNull !== undefined) return spec.mustBeNull;
  switch (spec.type) {
    case 'string':
      return validateString(spec, value);
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return VALIDATION_MESSAGES.integer;
      return validateNumber(spec, value);
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return VALIDATION_MESSAGES.number;
      return validateNumber(spec, value);
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
