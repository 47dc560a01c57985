/**
 * Kong's `Schema:validate_field` for the field specs of `field-spec.ts`, compiled: each spec is
 * turned once into a function that holds what the spec says (its validators, its element and field
 * validators) and checks a value in Kong's order with Kong's messages. Interpreting the spec on
 * every call read a dozen optional properties of differently shaped spec objects per value and
 * copied a list's element spec per list; the data plane validates every field of 100,000 routes on
 * a fresh start, and the control plane every field of every Admin API write.
 *
 * A spec is compiled on first use and the function kept as long as the spec lives: specs are
 * schema constants, never mutated after they are built. `test/validation-corpus.test.ts` holds the
 * results to those of the interpreted validator, byte for byte.
 */
import { compiledOnce } from './compiled-once.js';
import { type FieldError, VALIDATION_MESSAGES } from './field-errors.js';
import {
  type FieldSpec,
  type IntegerFieldSpec,
  type ListFieldSpec,
  type MapFieldSpec,
  type NumberFieldSpec,
  type RecordFieldSpec,
  type StringFieldSpec,
  isPlainObject,
} from './field-spec.js';
import { isUuid, validateUtf8String } from './field-validators.js';

/** A compiled field spec: the value's error, or `null` when it is valid. */
export type FieldValidator = (value: unknown) => FieldError | null;

/** The compiled validator of `spec` (compiled on first use, then the same function). */
export const fieldValidator: (spec: FieldSpec) => FieldValidator = compiledOnce(compileField);

/**
 * Validates one field value as Kong's `Schema:validate_field` does: `null` (refused only when
 * required), then the type, then the elements of a list or the fields of a record, then the
 * validators in Kong's order. Returns the error, or `null` when the value is valid.
 */
export function validateField(spec: FieldSpec, value: unknown): FieldError | null {
  return fieldValidator(spec)(value);
}

function compileField(spec: FieldSpec): FieldValidator {
  const isRequired = Boolean(spec.required);
  const mustBeNull = spec.mustBeNull;
  const ofType = compileType(spec);
  return (value) => {
    if (value === null || value === undefined) return isRequired ? VALIDATION_MESSAGES.required : null;
    if (mustBeNull !== undefined) return mustBeNull;
    return ofType(value);
  };
}

/** The checks of a present (non-null) value: its type, then the type's validators. */
function compileType(spec: FieldSpec): FieldValidator {
  switch (spec.type) {
    case 'string':
      return compileString(spec);
    case 'integer': {
      const inRange = compileNumber(spec);
      return (value) => (typeof value !== 'number' || !Number.isInteger(value) ? VALIDATION_MESSAGES.integer : inRange(value));
    }
    case 'number': {
      const inRange = compileNumber(spec);
      return (value) => (typeof value !== 'number' || !Number.isFinite(value) ? VALIDATION_MESSAGES.number : inRange(value));
    }
    case 'boolean':
      return (value) => (typeof value === 'boolean' ? null : VALIDATION_MESSAGES.boolean);
    case 'array':
    case 'set':
      return compileList(spec);
    case 'map':
      return compileMap(spec);
    case 'foreign':
      return validateForeign;
    case 'record':
      return compileRecord(spec);
  }
}

/** Kong's string validators in order: `one_of`, `uuid`, `len_min`, `len_max`, `starts_with`, `match_none`, `match`, UTF-8, then the typedef's check. */
function compileString(spec: StringFieldSpec): FieldValidator {
  const { oneOf, uuid, lenMax, startsWith, match, check } = spec;
  const lenMin = spec.lenMin ?? 1;
  const matchNone = spec.matchNone ?? [];
  return (value) => {
    if (typeof value !== 'string') return VALIDATION_MESSAGES.string;
    if (oneOf && !oneOf.includes(value)) return `expected one of: ${oneOf.join(', ')}`;
    if (uuid && !isUuid(value)) return VALIDATION_MESSAGES.uuid;
    if (value.length < lenMin) return `length must be at least ${lenMin}`;
    if (lenMax !== undefined && value.length > lenMax) return `length must be at most ${lenMax}`;
    if (startsWith !== undefined && !value.startsWith(startsWith)) return `should start with: ${startsWith}`;
    for (const rule of matchNone) if (rule.pattern.test(value)) return rule.err;
    if (match && !match.test(value)) return `invalid value: ${value}`;
    const utf8 = validateUtf8String(value);
    if (utf8 !== null) return utf8;
    return check ? check.call(spec, value) : null;
  };
}

/** Kong's number validators in order: `one_of`, `gt`, `between`. */
function compileNumber(spec: IntegerFieldSpec | NumberFieldSpec): (value: number) => FieldError | null {
  const { oneOf, gt, between } = spec;
  return (value) => {
    if (oneOf && !oneOf.includes(value)) return `expected one of: ${oneOf.join(', ')}`;
    if (gt !== undefined && !(value > gt)) return `value must be greater than ${gt}`;
    if (between && (value < between[0] || value > between[1])) return `value should be between ${between[0]} and ${between[1]}`;
    return null;
  };
}

/**
 * Each element (always required) in order, holes skipped as `forEach` skips them; element errors
 * come back as an array by position (`null` for a valid element), before any length check.
 */
function compileList(spec: ListFieldSpec): FieldValidator {
  const element = compileField({ ...spec.elements, required: true } as FieldSpec);
  const notList = spec.type === 'set' ? VALIDATION_MESSAGES.set : VALIDATION_MESSAGES.array;
  const { lenMin, lenMax } = spec;
  return (value) => {
    if (!Array.isArray(value)) return notList;
    let errors: (FieldError | null)[] | null = null;
    const length = value.length;
    for (let i = 0; i < length; i++) {
      if (!(i in value)) continue;
      const err = element(value[i]);
      if (err !== null) (errors ??= [])[i] = err;
    }
    if (errors !== null) return Array.from(errors, (e) => e ?? null);
    if (lenMin !== undefined && length < lenMin) return `length must be at least ${lenMin}`;
    if (lenMax !== undefined && length > lenMax) return `length must be at most ${lenMax}`;
    return null;
  };
}

/** Each entry in order: its key (a required string), then its value (a required list); the first error is the map's. */
function compileMap(spec: MapFieldSpec): FieldValidator {
  const key = compileField({ ...spec.keys, required: true });
  const values = compileField({ ...spec.values, required: true });
  return (value) => {
    if (!isPlainObject(value)) return VALIDATION_MESSAGES.map;
    for (const [k, v] of Object.entries(value)) {
      const keyErr = key(k);
      if (keyErr !== null) return keyErr;
      const valueErr = values(v);
      if (valueErr !== null) return valueErr;
    }
    return null;
  };
}

/**
 * A record's fields (unknown ones refused, required ones present), then, when they are valid,
 * the record's custom validator. Nested errors come back as an object keyed by field name.
 */
function compileRecord(spec: RecordFieldSpec): FieldValidator {
  const fields = spec.fields;
  if (fields === null) return (value) => (isPlainObject(value) ? null : VALIDATION_MESSAGES.record);
  const validators = new Map<string, FieldValidator>();
  const required: string[] = [];
  for (const [name, fieldSpec] of Object.entries(fields)) {
    validators.set(name, fieldValidator(fieldSpec));
    if (fieldSpec.required) required.push(name);
  }
  const customValidator = spec.customValidator;
  return (value) => {
    if (!isPlainObject(value)) return VALIDATION_MESSAGES.record;
    const errors: Record<string, FieldError> = Object.create(null) as Record<string, FieldError>;
    let failed = false;
    for (const [name, v] of Object.entries(value)) {
      const validator = validators.get(name);
      const err = validator === undefined ? VALIDATION_MESSAGES.unknown : validator(v);
      if (err !== null) {
        errors[name] = err;
        failed = true;
      }
    }
    for (const name of required) {
      if ((value[name] === null || value[name] === undefined) && errors[name] === undefined) {
        errors[name] = VALIDATION_MESSAGES.required;
        failed = true;
      }
    }
    if (failed) return errors;
    return customValidator ? customValidator.call(spec, value) : null;
  };
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
